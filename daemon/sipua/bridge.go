package sipua

// This file holds the media bridge of a warm transfer: each leg's inbound
// audio feeds the other leg's outbound prompt through a small ring buffer,
// so both legs keep ticking on the one shared media clock.

import (
	"context"
	"sync"
	"time"

	"callbox/media"
)

// bridgeFrames is the ring depth per direction: 10 frames (200 ms) absorb
// the phase difference between the two sessions' ticks; older audio is
// dropped rather than letting delay grow.
const bridgeFrames = 10

// frameRing is a bounded FIFO of frames. WriteFrame is the inbound sink of
// one leg, ReadFrame the outbound source of the other; both run on clock
// workers and never block.
type frameRing struct {
	mu     sync.Mutex
	buf    [bridgeFrames][media.FrameSamples]int16 // guarded by mu
	r, n   int                                     // guarded by mu
	closed bool                                    // guarded by mu
}

func (q *frameRing) WriteFrame(pcm []int16) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == bridgeFrames { // drop the oldest: latency stays bounded
		q.r = (q.r + 1) % bridgeFrames
		q.n--
	}
	w := (q.r + q.n) % bridgeFrames
	copy(q.buf[w][:], pcm)
	clear(q.buf[w][min(len(pcm), media.FrameSamples):])
	q.n++
	return nil
}

// ReadFrame gives the oldest frame, or silence when empty, so the far leg
// keeps a steady packet stream.
func (q *frameRing) ReadFrame(pcm []int16) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, errBridgeClosed
	}
	n := min(len(pcm), media.FrameSamples)
	if q.n == 0 {
		clear(pcm[:n])
		return n, nil
	}
	copy(pcm[:n], q.buf[q.r][:n])
	q.r = (q.r + 1) % bridgeFrames
	q.n--
	return n, nil
}

func (q *frameRing) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

type bridgeErr string

func (e bridgeErr) Error() string { return string(e) }

const errBridgeClosed = bridgeErr("sipua: bridge closed")

// BridgeMedia connects two media sessions both ways (a's caller hears b's
// and the reverse) and returns the function that undoes it. It replaces
// both sessions' inbound sinks and current prompts; recorders keep
// recording each leg.
func BridgeMedia(a, b *media.Session) (unbridge func()) {
	ab, ba := &frameRing{}, &frameRing{}
	a.SetInboundSink(ab)
	b.SetInboundSink(ba)
	a.Play(ba)
	b.Play(ab)
	var once sync.Once
	return func() {
		once.Do(func() {
			a.SetInboundSink(nil)
			b.SetInboundSink(nil)
			ab.close()
			ba.close()
			a.StopPlay()
			b.StopPlay()
		})
	}
}

// Bridge connects the media of two calls until either ends (then the
// other is hung up) or ctx ends (then both are); it returns when the
// bridge is down.
func Bridge(ctx context.Context, a, b *Call) {
	unbridge := BridgeMedia(a.media, b.media)
	defer unbridge()
	var hang []*Call
	select {
	case <-a.Done():
		hang = []*Call{b}
	case <-b.Done():
		hang = []*Call{a}
	case <-ctx.Done():
		hang = []*Call{a, b}
	}
	unbridge()
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, c := range hang {
		if err := c.Hangup(hctx); err != nil {
			c.log.Warn("hangup after bridge failed", "err", err)
		}
	}
}
