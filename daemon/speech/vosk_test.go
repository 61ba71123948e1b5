package speech

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// voskServer implements the Vosk server protocol as documented on Vosk:
// config first (no reply), one reply per binary message, the byte-exact
// eof message answered with the final result, then a normal close. The
// "recognized" words are scripted: one more word of transcript per 100 ms
// of audio. behaviour selects misbehaviour for error-path tests.
type voskServer struct {
	t          *testing.T
	transcript []string
	behaviour  string // "", "garbage", "binary", "stall", "segment", "drop", "unknown"
	mu         sync.Mutex
	config     map[string]any // guarded by mu
	audioBytes int            // guarded by mu
	eofExact   bool           // guarded by mu
}

func (v *voskServer) handler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	typ, b, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText {
		c.Close(websocket.StatusPolicyViolation, "config first")
		return
	}
	var cfg struct {
		Config map[string]any `json:"config"`
	}
	if json.Unmarshal(b, &cfg) != nil || cfg.Config["sample_rate"] == nil {
		c.Close(websocket.StatusPolicyViolation, "bad config")
		return
	}
	v.mu.Lock()
	v.config = cfg.Config
	v.mu.Unlock()
	total := 0
	words := func() string {
		n := min(total/1600, len(v.transcript)) // 100 ms of 8 kHz 16-bit = 1600 bytes
		return strings.Join(v.transcript[:n], " ")
	}
	segmentSent := false
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageText {
			v.mu.Lock()
			v.eofExact = string(b) == `{"eof" : 1}`
			v.mu.Unlock()
			if string(b) != `{"eof" : 1}` {
				c.Close(websocket.StatusUnsupportedData, "unexpected text")
				return
			}
			if v.behaviour == "stall" {
				<-ctx.Done()
				return
			}
			text := words()
			var result []map[string]any
			for i, w := range strings.Fields(text) {
				result = append(result, map[string]any{"conf": 0.5 + 0.1*float64(i%2), "word": w, "start": i, "end": i + 1})
			}
			if segmentSent {
				text = strings.Join(v.transcript[1:], " ")
				result = result[1:]
			}
			out, _ := json.Marshal(map[string]any{"text": text, "result": result})
			c.Write(ctx, websocket.MessageText, out)
			c.Close(websocket.StatusNormalClosure, "")
			return
		}
		v.mu.Lock()
		v.audioBytes += len(b)
		v.mu.Unlock()
		total += len(b)
		var reply []byte
		switch {
		case v.behaviour == "garbage":
			reply = []byte("\x00not json{")
		case v.behaviour == "unknown":
			reply = []byte(`{"hello": "world"}`)
		case v.behaviour == "binary":
			c.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
			continue
		case v.behaviour == "drop":
			return // abrupt close mid-utterance
		case v.behaviour == "segment" && !segmentSent && total >= 1600:
			// End of a segment mid-stream: a final for the first word.
			segmentSent = true
			reply = []byte(fmt.Sprintf(`{"text": %q, "result": [{"conf": 1, "word": %q}]}`, v.transcript[0], v.transcript[0]))
		default:
			reply = []byte(fmt.Sprintf(`{"partial": %q}`, words()))
		}
		if err := c.Write(ctx, websocket.MessageText, reply); err != nil {
			return
		}
	}
}

func startVosk(t *testing.T, behaviour string) (*voskServer, string) {
	v := &voskServer{t: t, transcript: []string{"stop", "calling", "me"}, behaviour: behaviour}
	srv := httptest.NewServer(http.HandlerFunc(v.handler))
	t.Cleanup(srv.Close)
	return v, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// speak writes d of a test tone in 20 ms frames.
func speak(t *testing.T, s Stream, d time.Duration) {
	t.Helper()
	frame := make([]int16, 160)
	for i := range frame {
		frame[i] = int16(3000 * (i % 2))
	}
	for i := 0; i < int(d/(20*time.Millisecond)); i++ {
		if err := s.Write(frame); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
}

func collect(s Stream) []Result {
	var out []Result
	for r := range s.Results() {
		out = append(out, r)
	}
	return out
}

func TestVoskProtocol(t *testing.T) {
	v, url := startVosk(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec := &Vosk{URL: url, Grammar: true}
	s, err := rec.Start(ctx, ListenOptions{Lang: "en", Phrases: []string{"Stop calling me", "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	speak(t, s, 400*time.Millisecond)
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	rs := collect(s)
	if s.Err() != nil {
		t.Fatalf("Err %v", s.Err())
	}
	last := rs[len(rs)-1]
	if !last.Final || last.Text != "stop calling me" || last.Confidence < 0.5 || last.Confidence > 0.6 {
		t.Fatalf("final %+v", last)
	}
	for _, r := range rs[:len(rs)-1] {
		if r.Final {
			t.Fatalf("unexpected final before the end: %+v", r)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.eofExact {
		t.Error("eof message not byte-exact")
	}
	if v.audioBytes != 2*3200 {
		t.Errorf("server got %d audio bytes, want %d", v.audioBytes, 2*3200)
	}
	if v.config["sample_rate"] != float64(8000) {
		t.Errorf("config %v", v.config)
	}
	pl, _ := v.config["phrase_list"].([]any)
	if len(pl) != 3 || pl[0] != "stop calling me" || pl[2] != "[unk]" {
		t.Errorf("phrase_list %v", v.config["phrase_list"])
	}
}

func TestVoskSegmentsAndResampling(t *testing.T) {
	v, url := startVosk(t, "segment")
	s, err := (&Vosk{URL: url, SampleRate: 16000}).Start(context.Background(), ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	speak(t, s, 600*time.Millisecond)
	s.CloseSend()
	var finals []string
	for _, r := range collect(s) {
		if r.Final {
			finals = append(finals, r.Text)
		}
	}
	if s.Err() != nil || strings.Join(finals, "|") != "stop|calling me" {
		t.Fatalf("finals %q err %v", finals, s.Err())
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.audioBytes != 2*9600 { // 600 ms at 16 kHz
		t.Errorf("server got %d bytes, want %d", v.audioBytes, 2*9600)
	}
	if _, ok := v.config["phrase_list"]; ok {
		t.Error("phrase_list sent without Grammar")
	}
}

func TestVoskFailures(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		want      error
	}{
		{"garbage", ErrBadResponse},
		{"unknown", ErrBadResponse},
		{"binary", ErrBadResponse},
		{"drop", ErrEngineFailed},
		{"stall", ErrTimeout},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			_, url := startVosk(t, tc.behaviour)
			s, err := (&Vosk{URL: url, FinalTimeout: 300 * time.Millisecond}).Start(context.Background(), ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			frame := make([]int16, 160)
			for i := 0; i < 20; i++ {
				if s.Write(frame) != nil {
					break // the stream already failed: that is allowed
				}
			}
			s.CloseSend()
			collect(s)
			if !errors.Is(s.Err(), tc.want) {
				t.Fatalf("Err %v, want %v", s.Err(), tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestVoskContextDeadline(t *testing.T) {
	_, url := startVosk(t, "stall")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s, err := (&Vosk{URL: url}).Start(ctx, ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// No CloseSend: the caller just stops; the deadline must end the stream.
	select {
	case <-drain(s):
	case <-time.After(5 * time.Second):
		t.Fatal("Results not closed after the context deadline")
	}
	if !errors.Is(s.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err %v", s.Err())
	}
	if err := s.Write(make([]int16, 160)); err == nil {
		t.Fatal("write after deadline succeeded")
	}
}

func drain(s Stream) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range s.Results() {
		}
	}()
	return done
}

func TestVoskConnectErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := (&Vosk{URL: "http://127.0.0.1:1"}).Start(ctx, ListenOptions{}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("http URL: %v", err)
	}
	if _, err := (&Vosk{URL: "ws://127.0.0.1:1"}).Start(ctx, ListenOptions{}); !errors.Is(err, ErrEngineFailed) {
		t.Errorf("refused: %v", err)
	}
	// A server that never completes the handshake.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	start := time.Now()
	_, err := (&Vosk{URL: "ws" + strings.TrimPrefix(hang.URL, "http"), DialTimeout: 200 * time.Millisecond}).Start(ctx, ListenOptions{})
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Errorf("hanging handshake: %v after %v", err, time.Since(start))
	}
}

func TestVoskCloseWhileReading(t *testing.T) {
	_, url := startVosk(t, "stall")
	s, err := (&Vosk{URL: url}).Start(context.Background(), ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	speak(t, s, 100*time.Millisecond)
	done := drain(s)
	s.Close()
	s.Close()
	<-done
	if !errors.Is(s.Err(), ErrStreamClosed) {
		t.Fatalf("Err %v", s.Err())
	}
}

func TestParseVoskMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Result
		err  bool
	}{
		{`{"partial": "stop call"}`, Result{Text: "stop call"}, false},
		{`{"partial": ""}`, Result{}, false},
		{`{"text": "yes", "result": [{"conf": 0.8, "word": "yes"}]}`, Result{Text: "yes", Final: true, Confidence: 0.8}, false},
		{`{"text": "[unk] yes [unk]"}`, Result{Text: "yes", Final: true}, false},
		{`{"alternatives": [{"text": "no", "confidence": 231.5}]}`, Result{Text: "no", Final: true}, false},
		{`{"text": 5}`, Result{}, true},
		{`[]`, Result{}, true},
		{`null`, Result{}, true},
		{`{}`, Result{}, true},
		{`garbage`, Result{}, true},
	} {
		got, err := parseVoskMessage([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: got %+v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadResponse) {
			t.Errorf("%s: error %v is not ErrBadResponse", tc.in, err)
		}
	}
}

func FuzzVoskMessage(f *testing.F) {
	f.Add([]byte(`{"partial": "stop call"}`))
	f.Add([]byte(`{"text": "yes", "result": [{"conf": 0.8, "word": "yes"}]}`))
	f.Add([]byte(`{"alternatives": [{"text": "no", "confidence": 231.5}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseVoskMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("error %v is not ErrBadResponse", err)
			}
			return
		}
		if r.Confidence < 0 || r.Confidence > 1 || r.Confidence != r.Confidence {
			t.Fatalf("confidence %v", r.Confidence)
		}
		if strings.Contains(r.Text, "[unk]") {
			t.Fatalf("text %q keeps [unk]", r.Text)
		}
	})
}
