package speech

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func needBinary(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

func rms(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var s float64
	for _, v := range pcm {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s / float64(len(pcm)))
}

func TestEspeakSynthesizes(t *testing.T) {
	needBinary(t, "espeak-ng")
	e := &Espeak{}
	for _, tc := range []struct {
		text string
		v    Voice
	}{
		{"hello world", VoiceFor("en")},
		{"ni3 hao3", VoiceFor("zh-CN")},
		{"ni3 hao3", Voice{Name: "cmn"}},
		{"你好，这里是银行。", VoiceFor("zh")},                               // Han characters work with the pinyin voice too
		{"-v xx --help; rm -rf /", Voice{Name: "en-us", Rate: 200}}, // text is never an option
	} {
		pcm, err := e.Synthesize(context.Background(), tc.text, tc.v)
		if err != nil {
			t.Fatalf("%q %+v: %v", tc.text, tc.v, err)
		}
		// espeak-ng speaks these in roughly 0.5-3 s.
		if d := time.Duration(len(pcm)) * time.Second / SampleRate; d < 300*time.Millisecond || d > 10*time.Second {
			t.Errorf("%q: %v of audio", tc.text, d)
		}
		if r := rms(pcm); r < 300 {
			t.Errorf("%q: rms %.0f, want real speech energy", tc.text, r)
		}
	}
}

func TestEspeakErrors(t *testing.T) {
	needBinary(t, "espeak-ng")
	ctx := context.Background()
	cases := []struct {
		name string
		e    *Espeak
		text string
		v    Voice
		want error
	}{
		{"empty", &Espeak{}, " \n\t", Voice{}, ErrEmptyText},
		{"invalid utf8", &Espeak{}, "a\xffb", Voice{}, ErrBadText},
		{"too long", &Espeak{}, string(make([]byte, MaxTextBytes+1)), Voice{}, ErrTextTooLong},
		{"voice option", &Espeak{}, "hi", Voice{Name: "-x"}, ErrBadVoice},
		{"rate", &Espeak{}, "hi", Voice{Rate: 5}, ErrBadVoice},
		{"unknown voice", &Espeak{}, "hi", Voice{Name: "xx-nonexistent"}, ErrEngineFailed},
		{"missing binary", &Espeak{Binary: "espeak-ng-not-installed"}, "hi", Voice{}, ErrEngineMissing},
		{"missing path", &Espeak{Binary: "/nonexistent/espeak-ng"}, "hi", Voice{}, ErrEngineMissing},
	}
	for _, tc := range cases {
		_, err := tc.e.Synthesize(ctx, tc.text, tc.v)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestEspeakTimeout(t *testing.T) {
	dir := t.TempDir()
	slow := filepath.Join(dir, "slow-tts")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	e := &Espeak{Binary: slow, Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err := e.Synthesize(context.Background(), "hi", Voice{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout not enforced: %v", time.Since(start))
	}
	// The caller's cancellation is reported as such, not as an engine timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	e.Timeout = time.Minute
	if _, err := e.Synthesize(ctx, "hi", Voice{}); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("caller deadline: %v", err)
	}
}

// countingSynth is a deterministic engine that counts its calls.
type countingSynth struct {
	calls atomic.Int64
	gate  chan struct{} // if non-nil, each call waits for it
}

func (c *countingSynth) Synthesize(ctx context.Context, text string, v Voice) ([]int16, error) {
	c.calls.Add(1)
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	pcm := make([]int16, 800+len(text))
	for i := range pcm {
		pcm[i] = int16((i*int(text[0]) + v.Rate) % 20000)
	}
	return pcm, nil
}

func equalPCM(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCacheHitsAndKeys(t *testing.T) {
	eng := &countingSynth{}
	c, err := NewCache(t.TempDir(), eng)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := c.Synthesize(ctx, "hello", VoiceFor("en"))
	if err != nil {
		t.Fatal(err)
	}
	a[0] = 12345 // callers own their slice
	b, err := c.Synthesize(ctx, "hello", VoiceFor("en"))
	if err != nil {
		t.Fatal(err)
	}
	if eng.calls.Load() != 1 {
		t.Fatalf("engine called %d times, want 1", eng.calls.Load())
	}
	want, _ := (&countingSynth{}).Synthesize(ctx, "hello", VoiceFor("en"))
	if !equalPCM(b, want) {
		t.Fatal("cached audio differs from the engine's")
	}
	// Different rate, voice or text are different entries.
	c.Synthesize(ctx, "hello", Voice{Name: "en-us", Rate: 150})
	c.Synthesize(ctx, "hello", VoiceFor("zh"))
	c.Synthesize(ctx, "hello!", VoiceFor("en"))
	if n := eng.calls.Load(); n != 4 {
		t.Fatalf("engine called %d times, want 4", n)
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 4 || s.Corrupt != 0 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := c.Synthesize(ctx, "", Voice{}); !errors.Is(err, ErrEmptyText) {
		t.Fatalf("empty text: %v", err)
	}
}

func TestCacheWithEspeak(t *testing.T) {
	needBinary(t, "espeak-ng")
	var calls atomic.Int64
	wrapped := SynthesizerFunc(func(ctx context.Context, text string, v Voice) ([]int16, error) {
		calls.Add(1)
		return (&Espeak{}).Synthesize(ctx, text, v)
	})
	c, err := NewCache(t.TempDir(), wrapped)
	if err != nil {
		t.Fatal(err)
	}
	first, err := c.Synthesize(context.Background(), "hello world", VoiceFor("en"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Synthesize(context.Background(), "hello world", VoiceFor("en"))
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 || !equalPCM(first, second) {
		t.Fatalf("calls %d, identical %v", calls.Load(), equalPCM(first, second))
	}
}

func TestCacheSingleflight(t *testing.T) {
	eng := &countingSynth{gate: make(chan struct{})}
	c, err := NewCache(t.TempDir(), eng)
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	results := make([][]int16, n)
	errs := make([]error, n)
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Synthesize(context.Background(), "same prompt", VoiceFor("en"))
		}()
	}
	// Wait until the leader is inside the engine, then let it finish.
	for eng.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others queue up behind it
	close(eng.gate)
	wg.Wait()
	if eng.calls.Load() != 1 {
		t.Fatalf("engine called %d times for one key, want 1", eng.calls.Load())
	}
	for i := range results {
		if errs[i] != nil || !equalPCM(results[i], results[0]) {
			t.Fatalf("caller %d: err %v", i, errs[i])
		}
	}
}

func TestCacheWaiterHonoursItsContext(t *testing.T) {
	eng := &countingSynth{gate: make(chan struct{})}
	c, _ := NewCache(t.TempDir(), eng)
	leaderDone := make(chan error, 1)
	go func() {
		_, err := c.Synthesize(context.Background(), "slow", Voice{})
		leaderDone <- err
	}()
	for eng.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Synthesize(ctx, "slow", Voice{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiter: %v", err)
	}
	close(eng.gate)
	if err := <-leaderDone; err != nil {
		t.Fatal(err)
	}
}

func TestCacheCorruptFileRecovers(t *testing.T) {
	dir := t.TempDir()
	eng := &countingSynth{}
	c, _ := NewCache(dir, eng)
	ctx := context.Background()
	good, err := c.Synthesize(ctx, "corrupt me", Voice{})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.wav"))
	if len(files) != 1 {
		t.Fatalf("%d cache files, want 1", len(files))
	}
	orig, _ := os.ReadFile(files[0])
	damage := []func([]byte) []byte{
		func(b []byte) []byte { return b[:len(b)-7] },                                         // truncated
		func(b []byte) []byte { b = append([]byte(nil), b...); b[len(b)-100] ^= 1; return b }, // bit flip in audio
		func(b []byte) []byte { return []byte("garbage") },                                    // not a WAV
		func(b []byte) []byte { return nil },                                                  // empty
	}
	for i, d := range damage {
		if err := os.WriteFile(files[0], d(orig), 0o640); err != nil {
			t.Fatal(err)
		}
		got, err := c.Synthesize(ctx, "corrupt me", Voice{})
		if err != nil {
			t.Fatalf("damage %d: %v", i, err)
		}
		if !equalPCM(got, good) {
			t.Fatalf("damage %d: audio differs", i)
		}
		if s := c.Stats(); s.Corrupt != uint64(i+1) || eng.calls.Load() != int64(i+2) {
			t.Fatalf("damage %d: stats %+v calls %d", i, s, eng.calls.Load())
		}
		if b, _ := os.ReadFile(files[0]); string(b) != string(orig) {
			t.Fatalf("damage %d: file not rewritten", i)
		}
	}
	// No temporary files are left behind.
	if tmps, _ := filepath.Glob(filepath.Join(dir, cacheTmpPrefix+"*")); len(tmps) != 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}
}

func TestCacheEngineErrorNotCached(t *testing.T) {
	var calls atomic.Int64
	boom := errors.New("boom")
	c, _ := NewCache(t.TempDir(), SynthesizerFunc(func(context.Context, string, Voice) ([]int16, error) {
		calls.Add(1)
		return nil, boom
	}))
	for i := 0; i < 2; i++ {
		if _, err := c.Synthesize(context.Background(), "x", Voice{}); !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("calls %d", calls.Load())
	}
}

func TestNewCacheErrors(t *testing.T) {
	if _, err := NewCache("", &countingSynth{}); !errors.Is(err, ErrBadOptions) {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := NewCache(t.TempDir(), nil); !errors.Is(err, ErrBadOptions) {
		t.Errorf("nil engine: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := NewCache(filepath.Join(f, "sub"), &countingSynth{}); err == nil {
		t.Errorf("dir under a file: no error")
	}
}

// fakeOpenAITTS speaks /v1/audio/speech: it checks the request the way the
// protocol defines it and answers a tone as WAV (22.05 kHz) or raw 24 kHz PCM.
func fakeOpenAITTS(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/speech" {
			http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sk-local" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"message":"invalid api key"}}`)
			return
		}
		var req struct {
			Model, Input, Voice string
			Format              string  `json:"response_format"`
			Speed               float64 `json:"speed"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Model == "" || req.Input == "" || req.Voice == "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"bad request"}}`)
			return
		}
		if req.Input == "garbage" {
			io.WriteString(w, "this is not audio")
			return
		}
		rate := 22050
		if req.Format == "pcm" {
			rate = 24000
		}
		tone := make([]int16, rate/2) // 0.5 s of 440 Hz
		for i := range tone {
			tone[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/float64(rate)))
		}
		if req.Format == "pcm" {
			b := make([]byte, 2*len(tone))
			for i, s := range tone {
				binary.LittleEndian.PutUint16(b[2*i:], uint16(s))
			}
			w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(encodeWAV(tone, rate))
	}))
}

func TestOpenAITTS(t *testing.T) {
	srv := fakeOpenAITTS(t)
	defer srv.Close()
	ctx := context.Background()
	for _, format := range []string{"", "wav", "pcm"} {
		o := &OpenAITTS{BaseURL: srv.URL, APIKey: "sk-local", Model: "tts-1", Voice: "alloy", Format: format}
		pcm, err := o.Synthesize(ctx, "hello", Voice{Name: "en-us", Rate: 200})
		if err != nil {
			t.Fatalf("format %q: %v", format, err)
		}
		if len(pcm) < 3900 || len(pcm) > 4100 { // 0.5 s at 8 kHz
			t.Fatalf("format %q: %d samples, want ~4000", format, len(pcm))
		}
		if r := rms(pcm); r < 5000 || r > 6000 { // 8000/sqrt(2) survives resampling
			t.Fatalf("format %q: rms %.0f", format, r)
		}
	}
	bad := []struct {
		o    *OpenAITTS
		text string
		want error
	}{
		{&OpenAITTS{BaseURL: srv.URL, APIKey: "wrong", Model: "m", Voice: "v"}, "hi", ErrEngineFailed},
		{&OpenAITTS{BaseURL: srv.URL, APIKey: "sk-local", Model: "m", Voice: "v"}, "garbage", ErrBadAudio},
		{&OpenAITTS{BaseURL: srv.URL, Model: "m"}, "hi", ErrBadVoice},
		{&OpenAITTS{Model: "m", Voice: "v"}, "hi", ErrBadOptions},
		{&OpenAITTS{BaseURL: srv.URL, Model: "m", Voice: "v", Format: "mp3"}, "hi", ErrBadOptions},
		{&OpenAITTS{BaseURL: "http://127.0.0.1:1", Model: "m", Voice: "v"}, "hi", ErrEngineFailed},
	}
	for i, tc := range bad {
		_, err := tc.o.Synthesize(ctx, tc.text, Voice{})
		if !errors.Is(err, tc.want) {
			t.Errorf("case %d: err %v, want %v", i, err, tc.want)
		}
	}
	if _, err := (&OpenAITTS{BaseURL: srv.URL, APIKey: "wrong", Model: "m", Voice: "v"}).Synthesize(ctx, "hi", Voice{}); err == nil || !strings.Contains(err.Error(), "invalid api key") {
		t.Errorf("server message not surfaced: %v", err)
	}
}

func TestOpenAITTSStalledServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	o := &OpenAITTS{BaseURL: srv.URL, Model: "m", Voice: "v", Timeout: 200 * time.Millisecond}
	if _, err := o.Synthesize(context.Background(), "hi", Voice{}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
}
