package speech

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"callbox/media"
)

// wsNext tells the reader what a parsed engine message means for the stream.
type wsNext int

const (
	wsContinue    wsNext = iota // more results may follow
	wsDone                      // that was the last result: end cleanly
	wsDoneIfQuiet               // probably the last: end cleanly unless another message follows within the quiet time
)

// wsProgress tells a handler where the conversation stands when a message
// arrives.
type wsProgress struct {
	eofSent  bool // the end-of-utterance message was sent
	sent     int  // binary audio messages sent, plus one for the eof message
	received int  // engine messages received, including this one
}

// wsHandler parses one text message from an engine. Results with empty text
// are not delivered.
type wsHandler func(msg []byte, p wsProgress) ([]Result, wsNext, error)

// wsConfig is what an adapter gives the shared WebSocket stream.
type wsConfig struct {
	engine       string // for errors and logs: "vosk", "funasr"
	url          string
	header       http.Header
	client       *http.Client
	first        []byte // text message sent right after connecting
	eof          []byte // text message sent on CloseSend
	inRate       int    // rate of PCM given to Write
	outRate      int    // rate the engine is sent
	chunk        time.Duration
	dialTimeout  time.Duration
	writeTimeout time.Duration
	finalTimeout time.Duration
	quiet        time.Duration
	now          func() time.Time
	handle       wsHandler
}

const (
	defaultDialTimeout  = 5 * time.Second
	defaultWriteTimeout = 5 * time.Second
	defaultFinalTimeout = 10 * time.Second
	defaultQuiet        = 500 * time.Millisecond
	defaultChunk        = 100 * time.Millisecond
	maxEngineMessage    = 1 << 20
)

// Causes the stream's context is cancelled with.
var (
	errQuietEnd     = errors.New("speech: quiet after final result")
	errFinalTimeout = errors.New("speech: no final result in time")
)

// wsStream is the Stream of streaming WebSocket engines (Vosk, FunASR): one
// connection, audio sent as binary messages of about cfg.chunk, results
// read by one goroutine that owns the Results channel.
type wsStream struct {
	cfg     wsConfig
	conn    *websocket.Conn
	ctx     context.Context
	cancel  context.CancelCauseFunc
	results chan Result
	wg      sync.WaitGroup

	writeMu sync.Mutex       // serializes Write and CloseSend: audio order
	rs      *media.Resampler // guarded by writeMu
	rsOut   []int16          // resampler output, reused per frame; guarded by writeMu
	pending []byte           // audio not yet sent; guarded by writeMu

	mu         sync.Mutex
	lastAudio  time.Time   // last Write or CloseSend; guarded by mu
	eofSent    bool        // CloseSend done; guarded by mu
	sentMsgs   int         // audio messages + eof sent; guarded by mu
	err        error       // guarded by mu
	finalTimer *time.Timer // guarded by mu
	quietTimer *time.Timer // guarded by mu
}

func dialWS(ctx context.Context, cfg wsConfig) (*wsStream, error) {
	if cfg.now == nil {
		cfg.now = time.Now
	}
	orDefault(&cfg.dialTimeout, defaultDialTimeout)
	orDefault(&cfg.writeTimeout, defaultWriteTimeout)
	orDefault(&cfg.finalTimeout, defaultFinalTimeout)
	orDefault(&cfg.quiet, defaultQuiet)
	orDefault(&cfg.chunk, defaultChunk)
	dctx, cancel := context.WithTimeout(ctx, cfg.dialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, cfg.url, &websocket.DialOptions{HTTPClient: cfg.client, HTTPHeader: cfg.header})
	if err != nil {
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		if dctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s %s: connect: %v", ErrTimeout, cfg.engine, cfg.url, err)
		}
		return nil, fmt.Errorf("%w: %s %s: connect: %v", ErrEngineFailed, cfg.engine, cfg.url, err)
	}
	conn.SetReadLimit(maxEngineMessage)
	if err := conn.Write(dctx, websocket.MessageText, cfg.first); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("%w: %s %s: send config: %v", ErrEngineFailed, cfg.engine, cfg.url, err)
	}
	sctx, scancel := context.WithCancelCause(ctx)
	s := &wsStream{
		cfg:       cfg,
		conn:      conn,
		ctx:       sctx,
		cancel:    scancel,
		results:   make(chan Result, 16),
		rs:        media.NewResampler(cfg.inRate, cfg.outRate, media.ShortFilter),
		lastAudio: cfg.now(),
	}
	s.wg.Add(1)
	go s.read()
	return s, nil
}

// read owns the Results channel: it parses engine messages until the stream
// ends, then closes Results and the connection.
func (s *wsStream) read() {
	defer s.wg.Done()
	defer s.cancel(ErrStreamClosed) // release the context; later Writes fail
	defer s.conn.CloseNow()
	defer close(s.results)
	defer s.stopTimers()
	received := 0
	for {
		typ, data, err := s.conn.Read(s.ctx)
		if err != nil {
			s.setErr(s.readErr(err))
			return
		}
		if typ != websocket.MessageText {
			s.fail(fmt.Errorf("%w: %s sent a %d-byte binary message", ErrBadResponse, s.cfg.engine, len(data)))
			return
		}
		received++
		s.mu.Lock()
		prog := wsProgress{eofSent: s.eofSent, sent: s.sentMsgs, received: received}
		last := s.lastAudio
		s.mu.Unlock()
		rs, next, err := s.cfg.handle(data, prog)
		if err != nil {
			s.fail(fmt.Errorf("%s: %w", s.cfg.engine, err))
			return
		}
		now := s.cfg.now()
		for _, r := range rs {
			if r.Text == "" {
				continue
			}
			r.Latency = now.Sub(last)
			if !sendResult(s.results, r, s.ctx.Done()) {
				s.setErr(context.Cause(s.ctx))
				return
			}
		}
		switch next {
		case wsDone:
			return
		case wsDoneIfQuiet:
			s.armQuiet()
		default:
			s.stopQuiet()
		}
	}
}

// readErr classifies why Read failed; nil means a clean end.
func (s *wsStream) readErr(err error) error {
	cause := context.Cause(s.ctx)
	s.mu.Lock()
	sent := s.eofSent
	s.mu.Unlock()
	switch {
	case errors.Is(cause, errQuietEnd):
		return nil
	case errors.Is(cause, errFinalTimeout):
		return fmt.Errorf("%w: %s sent no final result within %v of the end of the utterance", ErrTimeout, s.cfg.engine, s.cfg.finalTimeout)
	case cause != nil:
		return cause
	}
	status := websocket.CloseStatus(err)
	if sent && (status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway || errors.Is(err, io.EOF)) {
		return nil // the engine closed after the final result
	}
	if status != -1 {
		return fmt.Errorf("%w: %s closed the connection (%v)", ErrEngineFailed, s.cfg.engine, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrEngineFailed, s.cfg.engine, err)
}

func (s *wsStream) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// fail records err and ends the stream.
func (s *wsStream) fail(err error) {
	s.setErr(err)
	s.cancel(err)
}

// armQuiet (re)starts the quiet timer: the stream ends cleanly unless
// another message arrives first.
func (s *wsStream) armQuiet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quietTimer != nil {
		s.quietTimer.Stop()
	}
	s.quietTimer = time.AfterFunc(s.cfg.quiet, func() { s.cancel(errQuietEnd) })
}

// stopQuiet disarms the quiet timer: a message arrived after all.
func (s *wsStream) stopQuiet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quietTimer != nil {
		s.quietTimer.Stop()
		s.quietTimer = nil
	}
}

func (s *wsStream) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range []*time.Timer{s.finalTimer, s.quietTimer} {
		if t != nil {
			t.Stop()
		}
	}
}

// Write implements Stream.
func (s *wsStream) Write(pcm []int16) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	s.mu.Lock()
	s.lastAudio = s.cfg.now()
	s.mu.Unlock()
	s.rsOut = s.rs.Push(s.rsOut[:0], pcm)
	s.pending = appendPCM(s.pending, s.rsOut)
	if len(s.pending) >= 2*int(s.cfg.chunk.Seconds()*float64(s.cfg.outRate)) {
		return s.sendPending()
	}
	return nil
}

// usable reports why the stream cannot take audio. Caller holds writeMu.
func (s *wsStream) usable() error {
	s.mu.Lock()
	sent, err := s.eofSent, s.err
	s.mu.Unlock()
	switch {
	case sent:
		return ErrStreamClosed
	case err != nil:
		return err
	case s.ctx.Err() != nil:
		return context.Cause(s.ctx)
	}
	return nil
}

// sendPending sends buffered audio. Caller holds writeMu.
func (s *wsStream) sendPending() error {
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.send(websocket.MessageBinary, s.pending); err != nil {
		return err
	}
	s.pending = s.pending[:0]
	s.mu.Lock()
	s.sentMsgs++
	s.mu.Unlock()
	return nil
}

func (s *wsStream) send(typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.writeTimeout)
	defer cancel()
	if err := s.conn.Write(ctx, typ, b); err != nil {
		if cause := context.Cause(s.ctx); cause != nil {
			return cause
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w: %s did not accept audio within %v", ErrTimeout, s.cfg.engine, s.cfg.writeTimeout)
		} else {
			err = fmt.Errorf("%w: %s: send: %v", ErrEngineFailed, s.cfg.engine, err)
		}
		s.fail(err)
		return err
	}
	return nil
}

// CloseSend implements Stream: flush audio, send the end-of-utterance
// message and start the final-result timer.
func (s *wsStream) CloseSend() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	s.pending = appendPCM(s.pending, s.rs.Flush(nil))
	if err := s.sendPending(); err != nil {
		return err
	}
	// Count the eof before sending it: its reply may arrive before Write
	// returns.
	s.mu.Lock()
	s.eofSent = true
	s.sentMsgs++
	s.lastAudio = s.cfg.now()
	s.finalTimer = time.AfterFunc(s.cfg.finalTimeout, func() { s.cancel(errFinalTimeout) })
	s.mu.Unlock()
	return s.send(websocket.MessageText, s.cfg.eof)
}

// Results implements Stream.
func (s *wsStream) Results() <-chan Result { return s.results }

// Close implements Stream.
func (s *wsStream) Close() error {
	s.cancel(ErrStreamClosed)
	s.conn.CloseNow()
	s.wg.Wait()
	return nil
}

// Err implements Stream.
func (s *wsStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// orDefault sets *d to def when it is not positive.
func orDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}
