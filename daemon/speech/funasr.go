package speech

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// FunASR streams to a FunASR runtime server (funasr-wss-server /
// funasr-wss-server-2pass, or the Python funasr_wss_server.py) over its
// WebSocket protocol:
//
//   - client → first text message:
//     {"mode": "2pass"|"online"|"offline", "chunk_size": [5, 10, 5],
//     "chunk_interval": 10, "wav_name": "...", "wav_format": "pcm",
//     "audio_fs": 16000, "is_speaking": true, "itn": true,
//     "hotwords": "{\"phrase\": 20, ...}"}   (hotwords only with Phrases)
//   - client → PCM 16-bit little-endian mono at audio_fs (binary messages)
//   - client → {"is_speaking": false} (text) at the end of the utterance
//   - server → {"mode": "online"|"2pass-online"|"offline"|"2pass-offline",
//     "text": "...", "wav_name": "...", "is_final": bool, ...}
//
// Fields relied on: "mode", "text", "is_final". "online"/"2pass-online"
// texts are increments: they are accumulated into partial Results.
// "offline"/"2pass-offline" texts are final sentences (Final Results).
// The stream ends cleanly at "is_final": true (the C++ 2pass server's last
// message), at the first offline result after the end of the utterance in
// "offline" mode (the C++ offline server always sends is_final false), or
// QuietTime after a 2pass-offline result following the end of the utterance
// (the Python server's is_final does not mark the end). FunASR reports no
// confidence (0).
//
// ListenOptions.Lang is not sent: the server's models fix the language.
//
// Audio is upsampled to 16 kHz by default: the FunASR models are 16 kHz and
// not every server resamples.
type FunASR struct {
	URL    string      // e.g. "ws://127.0.0.1:10095"; required
	Header http.Header // extra handshake headers
	Mode   string      // "2pass" (default), "online" or "offline"
	// ChunkSize is the streaming chunk configuration [lookback, chunk,
	// lookahead] in 60 ms units; default [5, 10, 5].
	ChunkSize [3]int
	// SampleRate sent as audio_fs; default 16000.
	SampleRate int
	WavName    string // default "callbox"
	// HotwordWeight for Phrases sent as hotwords; default 20.
	HotwordWeight int
	DialTimeout   time.Duration // default 5 s
	WriteTimeout  time.Duration // default 5 s
	FinalTimeout  time.Duration // from CloseSend to the end; default 10 s
	QuietTime     time.Duration // see above; default 500 ms
	Now           func() time.Time
}

var funasrEOF = []byte(`{"is_speaking": false}`)

// Start implements Recognizer.
func (f *FunASR) Start(ctx context.Context, opts ListenOptions) (Stream, error) {
	opts, err := checkListen(opts)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(f.URL, "ws://") && !strings.HasPrefix(f.URL, "wss://") {
		return nil, fmt.Errorf("%w: funasr URL %q must start with ws:// or wss://", ErrBadOptions, f.URL)
	}
	mode := f.Mode
	if mode == "" {
		mode = "2pass"
	}
	if mode != "2pass" && mode != "online" && mode != "offline" {
		return nil, fmt.Errorf("%w: funasr mode %q, want 2pass, online or offline", ErrBadOptions, mode)
	}
	chunk := f.ChunkSize
	if chunk == [3]int{} {
		chunk = [3]int{5, 10, 5}
	}
	if chunk[1] <= 0 || chunk[0] < 0 || chunk[2] < 0 {
		return nil, fmt.Errorf("%w: funasr chunk_size %v", ErrBadOptions, chunk)
	}
	rate := f.SampleRate
	if rate == 0 {
		rate = asrRate
	}
	name := f.WavName
	if name == "" {
		name = "callbox"
	}
	first := map[string]any{
		"mode":           mode,
		"chunk_size":     chunk[:],
		"chunk_interval": 10,
		"wav_name":       name,
		"wav_format":     "pcm",
		"audio_fs":       rate,
		"is_speaking":    true,
		"itn":            true,
	}
	if len(opts.Phrases) > 0 {
		w := f.HotwordWeight
		if w <= 0 {
			w = 20
		}
		hw := map[string]int{}
		for _, p := range opts.Phrases {
			hw[strings.TrimSpace(p)] = w
		}
		b, _ := json.Marshal(hw)
		first["hotwords"] = string(b) // a JSON object inside a string, as the server expects
	}
	fb, err := json.Marshal(first)
	if err != nil {
		return nil, err
	}
	h := &funasrHandler{mode: mode}
	return dialWS(ctx, wsConfig{
		engine:       "funasr",
		url:          f.URL,
		header:       f.Header,
		first:        fb,
		eof:          funasrEOF,
		inRate:       opts.SampleRate,
		outRate:      rate,
		chunk:        time.Duration(chunk[1]) * 60 * time.Millisecond / 10, // chunk_interval 10
		dialTimeout:  f.DialTimeout,
		writeTimeout: f.WriteTimeout,
		finalTimeout: f.FinalTimeout,
		quiet:        f.QuietTime,
		now:          f.Now,
		handle:       h.handle,
	})
}

// funasrMessage is a FunASR server message.
type funasrMessage struct {
	Mode    string `json:"mode"`
	Text    string `json:"text"`
	IsFinal bool   `json:"is_final"`
}

// parseFunASRMessage parses and validates one server message.
func parseFunASRMessage(b []byte) (funasrMessage, error) {
	var raw struct {
		Mode    *string `json:"mode"`
		Text    *string `json:"text"`
		IsFinal *bool   `json:"is_final"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return funasrMessage{}, fmt.Errorf("%w: %v: %q", ErrBadResponse, err, snippet(b))
	}
	if raw.Text == nil {
		return funasrMessage{}, fmt.Errorf("%w: no \"text\": %q", ErrBadResponse, snippet(b))
	}
	m := funasrMessage{Text: *raw.Text}
	if raw.IsFinal != nil {
		m.IsFinal = *raw.IsFinal
	}
	if raw.Mode == nil {
		// Only the server's error notice lacks a mode.
		if strings.HasPrefix(m.Text, "ERROR") {
			return m, fmt.Errorf("%w: funasr: %s", ErrEngineFailed, snippet([]byte(m.Text)))
		}
		return m, fmt.Errorf("%w: no \"mode\": %q", ErrBadResponse, snippet(b))
	}
	m.Mode = *raw.Mode
	switch m.Mode {
	case "online", "2pass-online", "offline", "2pass-offline":
	default:
		return m, fmt.Errorf("%w: unknown mode %q", ErrBadResponse, snippet([]byte(m.Mode)))
	}
	return m, nil
}

// funasrHandler turns messages into Results; used by the reader goroutine
// only.
type funasrHandler struct {
	mode    string // requested mode
	partial string // accumulated online text of the current sentence
}

func (h *funasrHandler) handle(b []byte, p wsProgress) ([]Result, wsNext, error) {
	m, err := parseFunASRMessage(b)
	if err != nil {
		return nil, wsContinue, err
	}
	var out []Result
	offline := m.Mode == "offline" || m.Mode == "2pass-offline"
	if offline {
		out = append(out, Result{Text: strings.TrimSpace(m.Text), Final: true})
		h.partial = ""
	} else {
		h.partial += m.Text
		if m.IsFinal {
			out = append(out, Result{Text: strings.TrimSpace(h.partial), Final: true})
			h.partial = ""
		} else {
			out = append(out, Result{Text: strings.TrimSpace(h.partial)})
		}
	}
	switch {
	case m.IsFinal:
		return out, wsDone, nil
	case p.eofSent && offline && h.mode == "offline":
		return out, wsDone, nil
	case p.eofSent && offline:
		return out, wsDoneIfQuiet, nil
	}
	return out, wsContinue, nil
}
