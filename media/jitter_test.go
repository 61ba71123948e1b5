package media

import (
	"encoding/binary"
	"testing"
	"time"
)

var jbEpoch = time.Unix(1_700_000_000, 0)

// jbFrame returns a frame whose samples all carry the value id, so the
// tests can tell which packet was played.
func jbFrame(id int) []int16 {
	f := make([]int16, FrameSamples)
	for i := range f {
		f[i] = int16(id)
	}
	return f
}

type jbHarness struct {
	t   *testing.T
	jb  *JitterBuffer
	out [FrameSamples]int16
}

func newJB(t *testing.T) *jbHarness {
	return &jbHarness{t: t, jb: NewJitterBuffer(JitterConfig{})}
}

// push sends packet k (timestamp base + k*160) arriving at k*20ms+late.
func (h *jbHarness) push(k int, base uint32, late time.Duration) JitterPush {
	ts := base + uint32(k)*FrameSamples
	at := jbEpoch.Add(time.Duration(k)*20*time.Millisecond + late)
	return h.jb.Push(1, ts, false, jbFrame(1000+k), at)
}

func (h *jbHarness) pop() (JitterStatus, int) {
	st := h.jb.Pop(h.out[:])
	return st, int(h.out[0])
}

func TestJitterInOrder(t *testing.T) {
	h := newJB(t)
	if st, _ := h.pop(); st != JitterIdle {
		t.Fatalf("empty pop status %v", st)
	}
	for k := range 20 {
		if r := h.push(k, 1000, 0); r != JitterAccepted {
			t.Fatalf("push %d: %v", k, r)
		}
		st, v := h.pop()
		if st != JitterPlayed || v != 1000+k {
			t.Fatalf("pop %d: status %v value %d", k, st, v)
		}
	}
	s := h.jb.Stats()
	if s.Played != 20 || s.Concealed != 0 || s.Late != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestJitterReorderAndDuplicate(t *testing.T) {
	h := newJB(t)
	h.push(0, 0, 0)
	h.push(1, 0, 0)
	if st, v := h.pop(); st != JitterPlayed || v != 1000 {
		t.Fatalf("first pop %v %d", st, v)
	}
	// 3 arrives before 2; 2 arrives twice.
	h.push(3, 0, 0)
	h.push(2, 0, 0)
	if r := h.push(2, 0, 0); r != JitterDuplicate {
		t.Errorf("duplicate push = %v", r)
	}
	for _, want := range []int{1001, 1002, 1003} {
		if st, v := h.pop(); st != JitterPlayed || v != want {
			t.Fatalf("pop: status %v value %d, want %d", st, v, want)
		}
	}
	if s := h.jb.Stats(); s.Duplicate != 1 {
		t.Errorf("Duplicate = %d", s.Duplicate)
	}
}

func TestJitterLossConcealsWithFade(t *testing.T) {
	h := newJB(t)
	h.push(0, 0, 0)
	h.pop()
	// Packets 1..5 lost, 6 arrives early enough.
	h.push(6, 0, 0)
	var levels []int
	for range 5 {
		st, _ := h.pop()
		if st != JitterConcealed {
			t.Fatalf("status %v, want concealed", st)
		}
		levels = append(levels, int(h.out[FrameSamples-1]))
	}
	// Fade: each concealed frame ends quieter, reaching silence.
	for i := 1; i < len(levels); i++ {
		if levels[i] > levels[i-1] {
			t.Errorf("concealment not fading: %v", levels)
		}
	}
	if levels[0] == 0 || levels[len(levels)-1] != 0 {
		t.Errorf("concealment levels %v: want repeat then silence", levels)
	}
	if st, v := h.pop(); st != JitterPlayed || v != 1006 {
		t.Fatalf("after loss: %v %d", st, v)
	}
	if s := h.jb.Stats(); s.Concealed != 5 {
		t.Errorf("Concealed = %d", s.Concealed)
	}
}

func TestJitterLatePacketDropped(t *testing.T) {
	h := newJB(t)
	h.push(0, 0, 0)
	h.pop()
	h.push(2, 0, 0)
	h.pop() // conceals 1
	if r := h.push(1, 0, 0); r != JitterLate {
		t.Errorf("late push = %v", r)
	}
	if st, v := h.pop(); st != JitterPlayed || v != 1002 {
		t.Errorf("pop %v %d", st, v)
	}
	if s := h.jb.Stats(); s.Late != 1 {
		t.Errorf("Late = %d", s.Late)
	}
}

func TestJitterTimestampWrap(t *testing.T) {
	h := newJB(t)
	base := uint32(0xFFFFFFFF - 5*FrameSamples + 1) // wraps after 5 frames
	for k := range 12 {
		h.push(k, base, 0)
		if st, v := h.pop(); st != JitterPlayed || v != 1000+k {
			t.Fatalf("frame %d across wrap: %v %d", k, st, v)
		}
	}
}

func TestJitterSSRCChangeAndJumpReset(t *testing.T) {
	h := newJB(t)
	h.push(0, 0, 0)
	h.pop()
	h.push(1, 0, 0)
	// New SSRC with an unrelated timestamp: re-anchor, no junk.
	if r := h.jb.Push(2, 999999, false, jbFrame(7), jbEpoch); r != JitterReset {
		t.Fatalf("new SSRC push = %v", r)
	}
	if st, v := h.pop(); st != JitterPlayed || v != 7 {
		t.Fatalf("after SSRC change: %v %d", st, v)
	}
	// Big timestamp jump on the same SSRC while idle: immediate re-anchor.
	h.pop()
	if r := h.jb.Push(2, 999999+5_000_000, false, jbFrame(8), jbEpoch); r != JitterReset {
		t.Fatalf("jump push = %v", r)
	}
	if st, v := h.pop(); st != JitterPlayed || v != 8 {
		t.Fatalf("after jump: %v %d", st, v)
	}
	if s := h.jb.Stats(); s.Resets != 2 {
		t.Errorf("Resets = %d", s.Resets)
	}
}

func TestJitterBurstShrinks(t *testing.T) {
	h := newJB(t)
	h.push(0, 0, 0)
	h.pop()
	// The network stalls for 600 ms, then delivers 30 packets at once.
	for k := 1; k <= 30; k++ {
		h.push(k, 0, 600*time.Millisecond-time.Duration(k)*20*time.Millisecond)
	}
	st, _ := h.pop()
	if st != JitterPlayed {
		t.Fatalf("status %v", st)
	}
	s := h.jb.Stats()
	if s.Discarded == 0 || s.Depth > 220*time.Millisecond {
		t.Errorf("after burst: discarded %d depth %v, want the delay cut to <= max", s.Discarded, s.Depth)
	}
}

func TestJitterTargetAdapts(t *testing.T) {
	h := newJB(t)
	low := h.jb.Stats().Target
	// Arrival jitter alternating 0/+30 ms.
	for k := range 200 {
		late := time.Duration(k%2) * 30 * time.Millisecond
		h.push(k, 0, late)
		h.pop()
	}
	s := h.jb.Stats()
	if s.Target <= low || s.Target > 200*time.Millisecond {
		t.Errorf("target %v (was %v): want it raised by ~30ms jitter, within 200ms", s.Target, low)
	}
	if s.JitterMs < 5 {
		t.Errorf("jitter estimate %.1f ms", s.JitterMs)
	}
}

func TestJitterTalkspurtReanchor(t *testing.T) {
	h := newJB(t)
	for k := range 3 {
		h.push(k, 0, 0)
		h.pop()
	}
	// Silence suppression: 1 s without packets...
	for range 50 {
		h.pop()
	}
	// ...then a talkspurt whose timestamp moved on by 3 s.
	ts := uint32(3*FrameSamples + 3*8000)
	if r := h.jb.Push(1, ts, true, jbFrame(55), jbEpoch.Add(2*time.Second)); r != JitterReset {
		t.Fatalf("talkspurt push = %v", r)
	}
	if st, v := h.pop(); st != JitterPlayed || v != 55 {
		t.Fatalf("talkspurt not played promptly: %v %d", st, v)
	}
}

func TestJitterRejectsEmptyAndHuge(t *testing.T) {
	h := newJB(t)
	if r := h.jb.Push(1, 0, false, nil, jbEpoch); r != JitterRejected {
		t.Errorf("empty push = %v", r)
	}
	if r := h.jb.Push(1, 0, false, make([]int16, jbSamples), jbEpoch); r != JitterRejected {
		t.Errorf("huge push = %v", r)
	}
}

func TestJitterNoAlloc(t *testing.T) {
	jb := NewJitterBuffer(JitterConfig{})
	pcm := jbFrame(1)
	var out [FrameSamples]int16
	ts := uint32(0)
	at := jbEpoch
	allocs := testing.AllocsPerRun(500, func() {
		jb.Push(1, ts, false, pcm, at)
		jb.Pop(out[:])
		ts += FrameSamples
		at = at.Add(20 * time.Millisecond)
	})
	if allocs != 0 {
		t.Errorf("jitter buffer allocates %.2f per packet", allocs)
	}
}

// FuzzJitterBuffer feeds a sequence of operations decoded from the input:
// each 8-byte record is either a push (ssrc bit, marker, timestamp delta,
// length) or a pop. The buffer must never panic, always produce a full
// frame, and keep its depth within the ring.
func FuzzJitterBuffer(f *testing.F) {
	f.Add([]byte{0, 0, 0, 160, 0, 160, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 255, 255, 0, 160, 0, 0, 0, 0, 0, 160, 0, 160, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		jb := NewJitterBuffer(JitterConfig{})
		var out [FrameSamples]int16
		pcm := make([]int16, jbSamples)
		for i := range pcm {
			pcm[i] = int16(i)
		}
		ts := uint32(0)
		at := jbEpoch
		for len(data) >= 8 {
			rec := data[:8]
			data = data[8:]
			at = at.Add(time.Duration(rec[7]) * time.Millisecond)
			if rec[0]&1 == 1 {
				jb.Pop(out[:])
				continue
			}
			ts += uint32(int16(binary.BigEndian.Uint16(rec[2:4]))) * 8
			n := int(binary.BigEndian.Uint16(rec[4:6])) % (jbSamples + 1)
			jb.Push(uint32(rec[0]>>1&1), ts, rec[1]&1 == 1, pcm[:n], at)
			if d := jb.Stats().Depth; d > time.Second*jbSamples/SampleRate {
				t.Fatalf("depth %v exceeds the ring", d)
			}
		}
		out[0] = 12345
		jb.Pop(out[:])
		s := jb.Stats()
		if s.Played+s.Concealed > s.Pushed+uint64(len(data))+1000 && s.Pushed == 0 {
			t.Fatal("played without pushes")
		}
	})
}

func BenchmarkJitterBuffer(b *testing.B) {
	jb := NewJitterBuffer(JitterConfig{})
	pcm := jbFrame(1)
	var out [FrameSamples]int16
	ts := uint32(0)
	at := jbEpoch
	b.ReportAllocs()
	for b.Loop() {
		jb.Push(1, ts, false, pcm, at)
		jb.Pop(out[:])
		ts += FrameSamples
		at = at.Add(20 * time.Millisecond)
	}
}
