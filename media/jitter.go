package media

import "time"

// jbSamples is the jitter buffer ring capacity in samples (1.024 s at
// 8 kHz). It must be a power of two.
const jbSamples = 8192

// JitterConfig tunes a JitterBuffer. Zero fields take the defaults.
type JitterConfig struct {
	MinDelay time.Duration // lowest target playout delay; default 20 ms
	MaxDelay time.Duration // highest target playout delay; default 200 ms
}

// JitterStatus says what Pop produced.
type JitterStatus int

// Pop results.
const (
	JitterIdle      JitterStatus = iota // nothing received yet: silence
	JitterBuffering                     // filling up to the target delay: silence
	JitterPlayed                        // received audio (possibly with a few missing samples zeroed)
	JitterConcealed                     // audio missing: last frame repeated, fading to silence
)

// JitterPush says what Push did with a packet.
type JitterPush int

// Push results.
const (
	JitterAccepted  JitterPush = iota // stored for playout
	JitterLate                        // arrived after its playout time: dropped
	JitterDuplicate                   // already buffered: dropped
	JitterReset                       // stored after re-anchoring the buffer (new SSRC, timestamp jump, new talkspurt)
	JitterRejected                    // empty, oversized or implausibly far ahead: dropped
)

// JitterStats counts what the jitter buffer did.
type JitterStats struct {
	Pushed    uint64 // packets offered
	Played    uint64 // frames popped from received audio
	Concealed uint64 // frames synthesised for missing audio
	Late      uint64
	Duplicate uint64
	Rejected  uint64
	Discarded uint64 // frames dropped to shrink the delay after a burst
	Underruns uint64 // pops that found the buffer empty while playing
	Resets    uint64 // re-anchors after the first packet
	Target    time.Duration
	Depth     time.Duration
	JitterMs  float64 // the buffer's own interarrival jitter estimate
}

// JitterBuffer is an adaptive playout buffer for one inbound audio stream
// of 8 kHz PCM. Audio is placed on a ring by RTP timestamp, so reordering,
// duplicates, sequence and timestamp wrap, any packet duration and silence
// suppression gaps are all handled the same way. Pop yields one 20 ms
// frame per clock tick once the buffered audio reaches the target delay,
// which follows the measured jitter between MinDelay and MaxDelay; missing
// audio is concealed by repeating the last frame with a fade to silence.
//
// The buffer preallocates all storage and never allocates afterwards. It
// is not safe for concurrent use: the session guards it with a mutex.
type JitterBuffer struct {
	minSamples int32
	maxSamples int32

	pcm    [jbSamples]int16
	filled [jbSamples]bool
	last   [FrameSamples]int16 // last played frame, for concealment

	started  bool   // anchored on a first packet
	playing  bool   // prebuffering done
	ssrc     uint32 // source being played
	playTS   uint32 // RTP timestamp of the next sample to pop
	end      uint32 // one past the newest buffered sample
	farRun   int    // consecutive packets implausibly far from playTS
	fadeStep int    // consecutive concealed frames
	underrun bool   // the buffer ran dry and has not played since

	// Jitter estimation (RFC 3550 style, in samples).
	epoch       time.Time
	haveTransit bool
	lastTransit int64
	jitter      float64 // samples
	bump        int32   // extra target samples after late packets
	calmPops    int     // pops since the last late packet

	// Shrinking after bursts.
	windowPops int
	windowMin  int32

	stats JitterStats
}

// NewJitterBuffer returns an empty buffer.
func NewJitterBuffer(cfg JitterConfig) *JitterBuffer {
	if cfg.MinDelay <= 0 {
		cfg.MinDelay = FrameDuration * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 200 * time.Millisecond
	}
	cfg.MaxDelay = min(max(cfg.MaxDelay, cfg.MinDelay), 500*time.Millisecond)
	cfg.MinDelay = min(cfg.MinDelay, cfg.MaxDelay)
	j := &JitterBuffer{
		minSamples: durationSamples(cfg.MinDelay),
		maxSamples: durationSamples(cfg.MaxDelay),
	}
	j.windowMin = jbSamples
	return j
}

func durationSamples(d time.Duration) int32 {
	return int32(d * SampleRate / time.Second)
}

func samplesDuration(n int32) time.Duration {
	return time.Duration(n) * time.Second / SampleRate
}

// Reset forgets all buffered audio and the anchor; statistics are kept.
func (j *JitterBuffer) Reset() {
	clear(j.filled[:])
	j.started, j.playing = false, false
	j.haveTransit = false
	j.farRun, j.fadeStep = 0, 0
	j.windowPops, j.windowMin = 0, jbSamples
}

// depth is the number of samples from the playout point to the newest
// buffered sample (<= 0 when nothing is buffered ahead).
func (j *JitterBuffer) depth() int32 {
	if !j.started {
		return 0
	}
	return int32(j.end - j.playTS)
}

// target is the current playout delay in samples, a multiple of a frame.
func (j *JitterBuffer) target() int32 {
	t := int32(3*j.jitter) + j.bump + FrameSamples/2
	t = (t + FrameSamples - 1) / FrameSamples * FrameSamples
	return min(max(t, j.minSamples), j.maxSamples)
}

// anchor restarts playout at ts.
func (j *JitterBuffer) anchor(ssrc, ts uint32) {
	if j.started {
		j.stats.Resets++
		clear(j.filled[:])
	}
	j.started, j.playing = true, false
	j.ssrc = ssrc
	j.playTS, j.end = ts, ts
	j.farRun = 0
	j.haveTransit = false // transit times across a discontinuity mean nothing
	j.windowPops, j.windowMin = 0, jbSamples
}

// Push offers one decoded packet: its SSRC, RTP timestamp, marker bit and
// samples, and its arrival time. pcm is copied.
func (j *JitterBuffer) Push(ssrc, ts uint32, marker bool, pcm []int16, arrival time.Time) JitterPush {
	j.stats.Pushed++
	n := int32(len(pcm))
	if n == 0 || n > jbSamples/2 {
		j.stats.Rejected++
		return JitterRejected
	}
	result := JitterAccepted
	switch {
	case !j.started:
		j.anchor(ssrc, ts)
	case ssrc != j.ssrc:
		j.anchor(ssrc, ts)
		result = JitterReset
	default:
		off := int32(ts - j.playTS)
		far := off+n > jbSamples || off+n <= -jbSamples
		late := off+n <= 0
		empty := j.depth() <= 0
		if empty && late && !far {
			j.lateSeen() // we played ahead of the stream: allow more delay
		}
		if empty && (far || late || (marker && off != 0)) {
			// Nothing buffered and the stream moved on (new talkspurt,
			// timestamp jump, or it paused and resumed behind the
			// playout point): restart playout at this packet.
			j.anchor(ssrc, ts)
			result = JitterReset
		} else if far {
			j.farRun++
			if j.farRun < 3 {
				j.stats.Rejected++
				return JitterRejected
			}
			j.anchor(ssrc, ts) // the stream really jumped
			result = JitterReset
		}
	}
	j.farRun = 0
	j.updateJitter(ts, arrival)

	off := int32(ts - j.playTS)
	if off+n <= 0 {
		j.stats.Late++
		j.lateSeen()
		return JitterLate
	}
	skip := int32(0)
	if off < 0 {
		skip = -off // keep the part still ahead of the playout point
	}
	first := (ts + uint32(skip)) & (jbSamples - 1)
	lastIdx := (ts + uint32(n-1)) & (jbSamples - 1)
	if j.filled[first] && j.filled[lastIdx] {
		j.stats.Duplicate++
		return JitterDuplicate
	}
	for i := skip; i < n; i++ {
		k := (ts + uint32(i)) & (jbSamples - 1)
		j.pcm[k] = pcm[i]
		j.filled[k] = true
	}
	if newEnd := ts + uint32(n); int32(newEnd-j.end) > 0 {
		j.end = newEnd
	}
	return result
}

// lateSeen raises the target delay by a frame after audio came too late.
func (j *JitterBuffer) lateSeen() {
	j.bump = min(j.bump+FrameSamples, j.maxSamples)
	j.calmPops = 0
}

// updateJitter runs the RFC 3550 interarrival jitter estimator.
func (j *JitterBuffer) updateJitter(ts uint32, arrival time.Time) {
	if arrival.IsZero() {
		return
	}
	if j.epoch.IsZero() {
		j.epoch = arrival
	}
	arr := int64(arrival.Sub(j.epoch)) * SampleRate / int64(time.Second)
	transit := arr - int64(ts)
	if j.haveTransit {
		d := transit - j.lastTransit
		// ts wraps at 2^32: bring d back into range.
		d = int64(int32(d))
		if d < 0 {
			d = -d
		}
		j.jitter += (float64(d) - j.jitter) / 16
	}
	j.lastTransit, j.haveTransit = transit, true
}

// Pop fills dst (at least FrameSamples long, else only len(dst) samples
// are produced) with the next 20 ms of audio and reports what it is.
func (j *JitterBuffer) Pop(dst []int16) JitterStatus {
	dst = dst[:min(len(dst), FrameSamples)]
	if !j.started {
		clear(dst)
		return JitterIdle
	}
	target := j.target()
	if !j.playing {
		if j.depth() < target {
			clear(dst)
			return JitterBuffering
		}
		j.playing = true
	}
	j.shrink(target)

	filled := 0
	for i := range FrameSamples {
		if j.filled[(j.playTS+uint32(i))&(jbSamples-1)] {
			filled++
		}
	}
	var status JitterStatus
	if filled == 0 {
		if j.depth() <= 0 && !j.underrun {
			// Either a packet is late (Push then raises the target) or
			// the stream paused (silence suppression, hold): no change.
			j.underrun = true
			j.stats.Underruns++
		}
		j.conceal(dst)
		j.stats.Concealed++
		status = JitterConcealed
	} else {
		for i := range dst {
			k := (j.playTS + uint32(i)) & (jbSamples - 1)
			if j.filled[k] {
				dst[i] = j.pcm[k]
			} else {
				dst[i] = 0
			}
		}
		copy(j.last[:], dst)
		j.fadeStep = 0
		j.underrun = false
		j.stats.Played++
		status = JitterPlayed
	}
	j.advance(FrameSamples)

	j.calmPops++
	if j.calmPops >= 500 && j.bump > 0 { // 10 s without late audio: relax
		j.bump -= FrameSamples
		if j.bump < 0 {
			j.bump = 0
		}
		j.calmPops = 0
	}
	return status
}

// advance moves the playout point by n samples, freeing them.
func (j *JitterBuffer) advance(n int32) {
	for i := range n {
		j.filled[(j.playTS+uint32(i))&(jbSamples-1)] = false
	}
	j.playTS += uint32(n)
	if int32(j.end-j.playTS) < 0 {
		j.end = j.playTS
	}
}

// shrink drops whole frames when the delay has stayed well above target
// for a second, or at once when it exceeds the maximum.
func (j *JitterBuffer) shrink(target int32) {
	d := j.depth()
	if d > j.maxSamples+2*FrameSamples {
		excess := (d - target) / FrameSamples * FrameSamples
		j.stats.Discarded += uint64(excess / FrameSamples)
		j.advance(excess)
		j.windowPops, j.windowMin = 0, jbSamples
		return
	}
	j.windowMin = min(j.windowMin, d)
	j.windowPops++
	if j.windowPops < 50 {
		return
	}
	if excess := (j.windowMin - target) / FrameSamples; excess >= 2 {
		drop := (excess - 1) * FrameSamples
		j.stats.Discarded += uint64(drop / FrameSamples)
		j.advance(drop)
	}
	j.windowPops, j.windowMin = 0, jbSamples
}

// fadeGain is the concealment gain (out of 1024) after step frames.
func fadeGain(step int) int32 {
	return max(1024-256*int32(step), 0)
}

// conceal writes the last frame with a gain ramp down to silence over
// four frames.
func (j *JitterBuffer) conceal(dst []int16) {
	g0, g1 := fadeGain(j.fadeStep), fadeGain(j.fadeStep+1)
	j.fadeStep++
	if g0 == 0 {
		clear(dst)
		return
	}
	for i := range dst {
		g := g0 + (g1-g0)*int32(i)/FrameSamples
		dst[i] = int16(int32(j.last[i]) * g / 1024)
	}
}

// Stats returns the buffer's counters.
func (j *JitterBuffer) Stats() JitterStats {
	s := j.stats
	s.Target = samplesDuration(j.target())
	s.Depth = samplesDuration(max(j.depth(), 0))
	s.JitterMs = j.jitter * 1000 / SampleRate
	return s
}
