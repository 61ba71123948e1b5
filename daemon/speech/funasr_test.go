package speech

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// funasrServer implements the FunASR runtime WebSocket protocol as
// documented on FunASR: a JSON config message, binary PCM at audio_fs, then
// {"is_speaking": false}. In online/2pass modes it sends one word of the
// scripted transcript as an online increment per 600 ms of audio; at the
// end it answers like the C++ servers (2pass: "2pass-offline" with
// is_final true; offline: "offline" with is_final false; online: the last
// increment with is_final true). behaviour selects variants.
type funasrServer struct {
	transcript []string
	behaviour  string // "", "python" (2pass end without is_final), "stall", "garbage", "badmode", "error"
	mu         sync.Mutex
	config     map[string]any // guarded by mu
	audioBytes int            // guarded by mu
}

func (f *funasrServer) handler(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx := r.Context()
	_, b, err := c.Read(ctx)
	if err != nil {
		return
	}
	var cfg map[string]any
	if json.Unmarshal(b, &cfg) != nil || cfg["is_speaking"] != true || cfg["wav_format"] != "pcm" {
		c.Close(websocket.StatusPolicyViolation, "bad config")
		return
	}
	if cs, _ := cfg["chunk_size"].([]any); len(cs) != 3 {
		c.Close(websocket.StatusPolicyViolation, "bad chunk_size")
		return
	}
	f.mu.Lock()
	f.config = cfg
	f.mu.Unlock()
	mode := cfg["mode"].(string)
	fs := int(cfg["audio_fs"].(float64))
	send := func(m map[string]any) {
		m["wav_name"] = cfg["wav_name"]
		b, _ := json.Marshal(m)
		c.Write(ctx, websocket.MessageText, b)
	}
	total, said := 0, 0
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			total += len(b)
			f.mu.Lock()
			f.audioBytes += len(b)
			f.mu.Unlock()
			switch f.behaviour {
			case "garbage":
				c.Write(ctx, websocket.MessageText, []byte("{{{"))
				continue
			case "badmode":
				send(map[string]any{"mode": "3pass", "text": "x", "is_final": false})
				continue
			case "error":
				c.Write(ctx, websocket.MessageText, []byte(`{"text": "ERROR. Real-time transcription service ONLY SUPPORT PCM stream.", "is_final": true}`))
				continue
			}
			for mode != "offline" && said < len(f.transcript)-1 && total >= (said+1)*2*fs*600/1000 {
				send(map[string]any{"mode": strings.Replace(mode, "2pass", "2pass-online", 1), "text": f.transcript[said], "is_final": false})
				said++
			}
			continue
		}
		var m map[string]any
		if json.Unmarshal(b, &m) != nil || m["is_speaking"] != false {
			c.Close(websocket.StatusPolicyViolation, "unexpected text")
			return
		}
		switch {
		case f.behaviour == "stall":
		case mode == "2pass":
			send(map[string]any{"mode": "2pass-offline", "text": strings.Join(f.transcript, ""), "is_final": f.behaviour != "python"})
		case mode == "offline":
			send(map[string]any{"mode": "offline", "text": strings.Join(f.transcript, ""), "is_final": false})
		case mode == "online":
			send(map[string]any{"mode": "online", "text": strings.Join(f.transcript[said:], ""), "is_final": true})
		}
		<-ctx.Done() // the servers keep the connection open
		return
	}
}

func startFunASR(t *testing.T, behaviour string) (*funasrServer, string) {
	f := &funasrServer{transcript: []string{"不要", "再", "打了"}, behaviour: behaviour}
	srv := httptest.NewServer(http.HandlerFunc(f.handler))
	t.Cleanup(srv.Close)
	return f, "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestFunASRModes(t *testing.T) {
	for _, tc := range []struct {
		mode, behaviour string
		partials        bool
	}{
		{"", "", true}, // 2pass, C++ server
		{"2pass", "python", true},
		{"online", "", true},
		{"offline", "", false},
	} {
		t.Run(tc.mode+tc.behaviour, func(t *testing.T) {
			f, url := startFunASR(t, tc.behaviour)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := (&FunASR{URL: url, Mode: tc.mode, FinalTimeout: 5 * time.Second}).Start(ctx,
				ListenOptions{Lang: "zh", Phrases: []string{"不要再打了"}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			speak(t, s, 1400*time.Millisecond)
			start := time.Now()
			s.CloseSend()
			rs := collect(s)
			if s.Err() != nil {
				t.Fatalf("Err %v", s.Err())
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("end took %v", time.Since(start))
			}
			var partials []string
			var finals []string
			for _, r := range rs {
				if r.Final {
					finals = append(finals, r.Text)
				} else {
					partials = append(partials, r.Text)
				}
			}
			if strings.Join(finals, "|") != "不要再打了" {
				t.Fatalf("finals %q", finals)
			}
			if tc.partials && strings.Join(partials, "|") != "不要|不要再" {
				t.Fatalf("partials %q (want accumulated increments)", partials)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.audioBytes != 2*22400 { // 1.4 s at 16 kHz
				t.Errorf("server got %d bytes", f.audioBytes)
			}
			if f.config["audio_fs"] != float64(16000) || f.config["wav_name"] != "callbox" {
				t.Errorf("config %v", f.config)
			}
			var hw map[string]int
			if s, _ := f.config["hotwords"].(string); json.Unmarshal([]byte(s), &hw) != nil || hw["不要再打了"] != 20 {
				t.Errorf("hotwords %v", f.config["hotwords"])
			}
		})
	}
}

func TestFunASRFailures(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		want      error
	}{
		{"garbage", ErrBadResponse},
		{"badmode", ErrBadResponse},
		{"error", ErrEngineFailed},
		{"stall", ErrTimeout},
	} {
		t.Run(tc.behaviour, func(t *testing.T) {
			_, url := startFunASR(t, tc.behaviour)
			s, err := (&FunASR{URL: url, FinalTimeout: 300 * time.Millisecond}).Start(context.Background(), ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			start := time.Now()
			for i := 0; i < 10; i++ {
				if s.Write(make([]int16, 160)) != nil {
					break
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

func TestFunASROptions(t *testing.T) {
	ctx := context.Background()
	for _, f := range []*FunASR{
		{URL: "127.0.0.1:10095"},
		{URL: "ws://127.0.0.1:1", Mode: "3pass"},
		{URL: "ws://127.0.0.1:1", ChunkSize: [3]int{5, 0, 5}},
	} {
		if _, err := f.Start(ctx, ListenOptions{}); !errors.Is(err, ErrBadOptions) {
			t.Errorf("%+v: %v", f, err)
		}
	}
	if _, err := (&FunASR{URL: "ws://127.0.0.1:1"}).Start(ctx, ListenOptions{SampleRate: 100}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("bad rate: %v", err)
	}
}

func TestParseFunASRMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want funasrMessage
		err  error
	}{
		{`{"mode": "2pass-online", "text": "你好", "wav_name": "x", "is_final": false}`, funasrMessage{Mode: "2pass-online", Text: "你好"}, nil},
		{`{"mode": "2pass-offline", "text": "你好。", "is_final": true, "timestamp": "[[1,2]]"}`, funasrMessage{Mode: "2pass-offline", Text: "你好。", IsFinal: true}, nil},
		{`{"mode": "offline", "text": ""}`, funasrMessage{Mode: "offline"}, nil},
		{`{"text": "ERROR. bad"}`, funasrMessage{}, ErrEngineFailed},
		{`{"text": "hi"}`, funasrMessage{}, ErrBadResponse},
		{`{"mode": "online"}`, funasrMessage{}, ErrBadResponse},
		{`{"mode": "x", "text": "a"}`, funasrMessage{}, ErrBadResponse},
		{`{"mode": "online", "text": 1}`, funasrMessage{}, ErrBadResponse},
		{`nope`, funasrMessage{}, ErrBadResponse},
	} {
		got, err := parseFunASRMessage([]byte(tc.in))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s: err %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v", tc.in, got, err)
		}
	}
}

func FuzzFunASRMessage(f *testing.F) {
	f.Add([]byte(`{"mode": "2pass-online", "text": "你好", "wav_name": "x", "is_final": false}`))
	f.Add([]byte(`{"mode": "2pass-offline", "text": "你好。", "is_final": true}`))
	f.Add([]byte(`{"text": "ERROR. Real-time transcription service ONLY SUPPORT PCM stream.", "is_final": true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseFunASRMessage(b)
		if err != nil {
			if !errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrEngineFailed) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			return
		}
		switch m.Mode {
		case "online", "2pass-online", "offline", "2pass-offline":
		default:
			t.Fatalf("accepted mode %q", m.Mode)
		}
		h := &funasrHandler{mode: "2pass"}
		rs, _, err := h.handle(b, wsProgress{eofSent: true})
		if err != nil || len(rs) != 1 {
			t.Fatalf("handle: %v %v", rs, err)
		}
	})
}
