package sim

// This file holds the box listener: the inbound FrameSink that measures the
// box's speech with the media VAD and reports turn events to the call.

import (
	"sync"
	"time"

	"callbox/media"
)

// boxListener runs the VAD over the box's audio, one frame per media tick
// (on a clock worker goroutine), counts speech segments and forwards VAD
// events to the call without ever blocking the media path.
type boxListener struct {
	events chan media.VADEvent // buffered; events are dropped when full

	mu       sync.Mutex
	vad      *media.VAD    // guarded by mu
	segments int           // guarded by mu
	total    time.Duration // guarded by mu: speech time of finished segments
}

func newBoxListener() *boxListener {
	return &boxListener{events: make(chan media.VADEvent, 32), vad: media.NewVAD(media.VADConfig{})}
}

// WriteFrame implements media.FrameSink.
func (b *boxListener) WriteFrame(pcm []int16) error {
	b.mu.Lock()
	ev := b.vad.Process(pcm)
	switch ev {
	case media.VADSpeechStart:
		b.segments++
	case media.VADSpeechEnd:
		b.total += max(0, b.vad.LastEnd()-b.vad.Onset())
	}
	b.mu.Unlock()
	if ev != media.VADNone {
		select {
		case b.events <- ev:
		default:
		}
	}
	return nil
}

// summary returns the segments heard and their total length, counting a
// segment still in progress up to now.
func (b *boxListener) summary() (segments int, total time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	total = b.total
	if b.vad.Speaking() {
		total += max(0, b.vad.Elapsed()-b.vad.Onset())
	}
	return b.segments, total
}

// ringback returns an endless ringback tone: 450 Hz, 1 s on, 4 s off.
func ringback() media.FrameSource {
	on := media.Sine(450, 1000, media.DefaultToneAmplitude/2)
	cycle := make([]int16, len(on)+4*media.SampleRate)
	copy(cycle, on)
	pos := 0
	return media.FrameSourceFunc(func(pcm []int16) (int, error) {
		for i := range pcm {
			pcm[i] = cycle[pos]
			pos = (pos + 1) % len(cycle)
		}
		return len(pcm), nil
	})
}

// beep is the voicemail beep: 1 kHz for 400 ms.
func beep() []int16 { return media.Sine(1000, 400, media.DefaultToneAmplitude) }
