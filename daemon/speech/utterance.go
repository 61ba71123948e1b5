package speech

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// utteranceStream is the Stream of per-utterance recognizers (Pocketsphinx,
// OpenAIASR): Write buffers, CloseSend runs one recognition over the whole
// utterance and delivers at most one Final result.
type utteranceStream struct {
	ctx       context.Context
	cancel    context.CancelCauseFunc
	recognize func(ctx context.Context, pcm []int16) (Result, error) // 8 kHz in
	rate      int                                                    // rate of written PCM
	max       int                                                    // samples at rate
	now       func() time.Time
	results   chan Result
	flush     chan struct{} // closed by CloseSend
	wg        sync.WaitGroup

	mu     sync.Mutex
	buf    []int16   // guarded by mu
	sent   bool      // CloseSend called; guarded by mu
	sentAt time.Time // guarded by mu
	err    error     // guarded by mu
}

func newUtteranceStream(ctx context.Context, rate int, maxDur time.Duration, now func() time.Time,
	recognize func(context.Context, []int16) (Result, error)) *utteranceStream {
	if now == nil {
		now = time.Now
	}
	sctx, cancel := context.WithCancelCause(ctx)
	s := &utteranceStream{
		ctx:       sctx,
		cancel:    cancel,
		recognize: recognize,
		rate:      rate,
		max:       int(maxDur.Seconds() * float64(rate)),
		now:       now,
		results:   make(chan Result, 1),
		flush:     make(chan struct{}),
	}
	s.wg.Add(1)
	go s.run()
	return s
}

func (s *utteranceStream) run() {
	defer s.wg.Done()
	defer s.cancel(ErrStreamClosed) // release the context
	defer close(s.results)
	select {
	case <-s.flush:
	case <-s.ctx.Done():
		s.setErr(context.Cause(s.ctx))
		return
	}
	s.mu.Lock()
	pcm, sentAt := s.buf, s.sentAt
	s.buf = nil
	s.mu.Unlock()
	if len(pcm) == 0 {
		return // nothing said, nothing to recognize
	}
	pcm = resample(pcm, s.rate, SampleRate)
	r, err := s.recognize(s.ctx, pcm)
	if err != nil {
		if s.ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", context.Cause(s.ctx), err)
		}
		s.setErr(err)
		return
	}
	if r.Text == "" {
		return
	}
	r.Final = true
	r.Latency = s.now().Sub(sentAt)
	sendResult(s.results, r, s.ctx.Done())
}

func (s *utteranceStream) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *utteranceStream) Write(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return ErrStreamClosed
	}
	if s.ctx.Err() != nil {
		return context.Cause(s.ctx)
	}
	if len(s.buf)+len(pcm) > s.max {
		return fmt.Errorf("%w: more than %.0f s of audio", ErrUtteranceTooLong, float64(s.max)/float64(s.rate))
	}
	s.buf = append(s.buf, pcm...)
	return nil
}

func (s *utteranceStream) Results() <-chan Result { return s.results }

func (s *utteranceStream) CloseSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent {
		return ErrStreamClosed
	}
	s.sent = true
	s.sentAt = s.now()
	close(s.flush)
	return nil
}

func (s *utteranceStream) Close() error {
	s.cancel(ErrStreamClosed)
	s.wg.Wait()
	return nil
}

func (s *utteranceStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
