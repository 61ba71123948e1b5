package hw

import "math"

// sampleRing is a bounded FIFO of samples that drops the oldest samples when
// full, so a stalled consumer costs bounded latency, never memory. It is not
// safe for concurrent use; owners guard it.
type sampleRing struct {
	buf   []int16
	start int // index of the oldest sample
	n     int // samples held
	drops uint64
}

func newSampleRing(capacity int) *sampleRing {
	return &sampleRing{buf: make([]int16, capacity)}
}

func (r *sampleRing) Len() int { return r.n }

// Push appends s, overwriting the oldest samples if it does not fit.
func (r *sampleRing) Push(s []int16) {
	if len(s) >= len(r.buf) { // keep only the newest capacity samples
		r.drops += uint64(r.n + len(s) - len(r.buf))
		copy(r.buf, s[len(s)-len(r.buf):])
		r.start, r.n = 0, len(r.buf)
		return
	}
	if over := r.n + len(s) - len(r.buf); over > 0 {
		r.start = (r.start + over) % len(r.buf)
		r.n -= over
		r.drops += uint64(over)
	}
	end := (r.start + r.n) % len(r.buf)
	k := copy(r.buf[end:], s)
	copy(r.buf, s[k:])
	r.n += len(s)
}

// Pop moves up to len(dst) of the oldest samples into dst and returns how
// many.
func (r *sampleRing) Pop(dst []int16) int {
	m := min(len(dst), r.n)
	k := copy(dst[:m], r.buf[r.start:min(r.start+m, len(r.buf))])
	copy(dst[k:m], r.buf)
	r.start = (r.start + m) % len(r.buf)
	r.n -= m
	return m
}

// mixInto writes the saturated sum a+b into dst (len(dst) ≥ max(len(a),
// len(b))); missing samples count as silence. It returns the mixed length.
func mixInto(dst, a, b []int16) int {
	n := max(len(a), len(b))
	for i := 0; i < n; i++ {
		var s int32
		if i < len(a) {
			s += int32(a[i])
		}
		if i < len(b) {
			s += int32(b[i])
		}
		dst[i] = clamp16(s)
	}
	return n
}

func clamp16(s int32) int16 {
	switch {
	case s > 32767:
		return 32767
	case s < -32768:
		return -32768
	}
	return int16(s)
}

// resampler converts a mono stream between two rates by linear
// interpolation, carrying its phase across calls. It is adequate for a
// monitoring headset (speech band), not for recordings.
type resampler struct {
	step float64 // input samples advanced per output sample
	pos  float64 // position of the next output sample after prev, in [0,1)
	prev int16
}

func newResampler(from, to float64) *resampler { return &resampler{step: from / to} }

// process appends the resampled form of in to out and returns it.
func (r *resampler) process(out, in []int16) []int16 {
	for _, cur := range in {
		for r.pos < 1 {
			v := float64(r.prev) + (float64(cur)-float64(r.prev))*r.pos
			out = append(out, clamp16(int32(math.Round(v))))
			r.pos += r.step
		}
		r.pos--
		r.prev = cur
	}
	return out
}
