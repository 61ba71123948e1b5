package voice

// This file holds the inbound sink: it runs on a clock worker for every
// 20 ms frame of the caller's audio, feeds the VAD, keeps a short history
// for pre-roll, fires barge-in and hands frames to the listening goroutine.

import (
	"sync"
	"time"

	"callbox/media"
)

// frameRec is one frame of caller audio as the sink saw it.
type frameRec struct {
	pcm      [media.FrameSamples]int16
	ev       media.VADEvent
	voiced   bool    // this frame is above the noise floor by the threshold
	speaking bool    // the VAD is inside an utterance
	db       float64 // frame level, dBFS
	at       time.Time
}

// Sizes of the capture buffers.
const (
	historyFrames = 75  // 1.5 s kept for pre-roll
	queueFrames   = 500 // 10 s between the sink and the listener
	prerollFrames = 15  // 300 ms written before a speech onset
)

// capture is the session's inbound sink.
type capture struct {
	now func() time.Time
	vad *media.VAD
	cfg media.VADConfig
	out chan frameRec

	mu      sync.Mutex
	hist    [historyFrames]frameRec // guarded by mu; ring of the last frames
	n       int                     // guarded by mu; frames seen
	armed   bool                    // guarded by mu; frames go to out
	barge   func(onset time.Time)   // guarded by mu; called once on speech start
	dropped int                     // guarded by mu; frames lost because out was full
}

func newCapture(cfg media.VADConfig, now func() time.Time) *capture {
	v := media.NewVAD(cfg)
	return &capture{now: now, vad: v, cfg: v.Config(), out: make(chan frameRec, queueFrames)}
}

// WriteFrame implements media.FrameSink. It never blocks.
func (c *capture) WriteFrame(pcm []int16) error {
	ev := c.vad.Process(pcm)
	db := c.vad.LevelDBFS()
	voiced := db >= c.cfg.MinLevelDBFS && db >= c.vad.NoiseFloorDBFS()+c.cfg.SpeechThresholdDB
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &c.hist[c.n%historyFrames]
	c.n++
	copy(r.pcm[:], pcm)
	clear(r.pcm[min(len(pcm), len(r.pcm)):])
	r.ev, r.voiced, r.speaking, r.db, r.at = ev, voiced, c.vad.Speaking(), db, c.now()
	if ev == media.VADSpeechStart && c.barge != nil {
		// Onset: the speech began MinSpeech (plus bridged gaps) ago.
		back := int((c.vad.Elapsed() - c.vad.Onset()) / (media.FrameDuration * time.Millisecond))
		onset := r.at.Add(-time.Duration(back-1) * media.FrameDuration * time.Millisecond)
		fn := c.barge
		c.barge = nil
		if !c.armed {
			c.armLocked(back + prerollFrames - 1)
		}
		fn(onset)
		return nil
	}
	if c.armed {
		c.push(*r)
	}
	return nil
}

// push hands one frame to the listener. Called with mu held.
func (c *capture) push(r frameRec) {
	select {
	case c.out <- r:
	default:
		c.dropped++
	}
}

// armLocked starts handing frames to out, beginning with the last back
// frames of history (including the current one).
func (c *capture) armLocked(back int) {
	c.armed = true
	back = min(back, historyFrames, c.n)
	for i := c.n - back; i < c.n; i++ {
		c.push(c.hist[i%historyFrames])
	}
}

// arm starts capture for a listening turn with pre-roll; a capture already
// armed by barge-in keeps its frames.
func (c *capture) arm(preroll int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		c.armLocked(preroll)
	}
}

// disarm stops capture and discards queued frames.
func (c *capture) disarm() {
	c.mu.Lock()
	c.armed = false
	c.mu.Unlock()
	for {
		select {
		case <-c.out:
		default:
			return
		}
	}
}

// setBarge sets (or clears with nil) the barge-in hook.
func (c *capture) setBarge(fn func(onset time.Time)) {
	c.mu.Lock()
	c.barge = fn
	c.mu.Unlock()
}

// droppedFrames reports frames lost because the listener fell behind.
func (c *capture) droppedFrames() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}
