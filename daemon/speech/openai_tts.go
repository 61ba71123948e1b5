package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// OpenAITTS synthesizes through an on-prem server speaking the OpenAI speech
// protocol:
//
//	POST {BaseURL}/v1/audio/speech
//	Authorization: Bearer {APIKey}            (omitted when APIKey is "")
//	{"model": Model, "input": text, "voice": voice, "response_format": "wav"|"pcm", "speed": s}
//
// The answer is a WAV file (any rate, 16-bit PCM) for "wav", or raw 24 kHz
// 16-bit little-endian mono samples for "pcm". Either is resampled to 8 kHz.
// Errors come back as non-2xx with {"error":{"message":...}}.
type OpenAITTS struct {
	BaseURL string // e.g. "http://127.0.0.1:8880"; required
	APIKey  string
	Model   string // e.g. "tts-1"; required
	Voice   string // server voice, e.g. "alloy"; used when Voices has no entry for Voice.Name
	// Voices maps Voice.Name (e.g. "en-us", "cmn-latn-pinyin") to a server
	// voice, so one flow can address both engines. Optional.
	Voices map[string]string
	// Format is "wav" (default) or "pcm" (24 kHz raw).
	Format  string
	Client  *http.Client  // default http.DefaultClient
	Timeout time.Duration // per request; default 30 s
}

const (
	openAIPCMRate        = 24000
	openAIDefaultTimeout = 30 * time.Second
	maxErrorBody         = 4 << 10
	// defaultWPM is the words-per-minute rate that maps to speed 1.0.
	defaultWPM = 175
)

// EngineID implements EngineIdentifier.
func (o *OpenAITTS) EngineID() string {
	return "openai-tts:" + strings.TrimRight(o.BaseURL, "/") + ":" + o.Model + ":" + o.format()
}

func (o *OpenAITTS) format() string {
	if o.Format == "" {
		return "wav"
	}
	return o.Format
}

func (o *OpenAITTS) client() *http.Client {
	if o.Client == nil {
		return http.DefaultClient
	}
	return o.Client
}

// Synthesize implements Synthesizer.
func (o *OpenAITTS) Synthesize(ctx context.Context, text string, v Voice) ([]int16, error) {
	if err := checkText(text); err != nil {
		return nil, err
	}
	if o.BaseURL == "" || o.Model == "" {
		return nil, fmt.Errorf("%w: openai tts: BaseURL and Model are required", ErrBadOptions)
	}
	format := o.format()
	if format != "wav" && format != "pcm" {
		return nil, fmt.Errorf("%w: openai tts: format %q, want \"wav\" or \"pcm\"", ErrBadOptions, format)
	}
	voice := o.Voice
	if sv, ok := o.Voices[v.Name]; ok {
		voice = sv
	}
	if voice == "" {
		return nil, fmt.Errorf("%w: openai tts: no server voice for %q (set Voice or Voices)", ErrBadVoice, v.Name)
	}
	req := map[string]any{"model": o.Model, "input": text, "voice": voice, "response_format": format}
	if v.Rate != 0 {
		speed := float64(v.Rate) / defaultWPM
		if speed < 0.25 || speed > 4 {
			return nil, fmt.Errorf("%w: rate %d words/min gives speed %.2f, want 0.25..4", ErrBadVoice, v.Rate, speed)
		}
		req["speed"] = speed
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = openAIDefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := strings.TrimRight(o.BaseURL, "/") + "/v1/audio/speech"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: openai tts: %v", ErrBadOptions, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if o.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := o.client().Do(hreq)
	if err != nil {
		return nil, httpErr("openai tts", url, ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, statusErr("openai tts", url, resp)
	}
	audio, err := io.ReadAll(io.LimitReader(resp.Body, maxEngineAudioBytes+1))
	if err != nil {
		return nil, httpErr("openai tts", url, ctx, err)
	}
	if len(audio) > maxEngineAudioBytes {
		return nil, fmt.Errorf("%w: openai tts: response exceeds %d bytes", ErrBadAudio, maxEngineAudioBytes)
	}
	var pcm []int16
	rate := openAIPCMRate
	if format == "wav" {
		pcm, rate, err = decodeWAVMono(audio)
		if err != nil {
			return nil, fmt.Errorf("openai tts %s: %w", url, err)
		}
	} else {
		pcm = decodePCM(audio)
	}
	if len(pcm) == 0 {
		return nil, fmt.Errorf("%w: openai tts %s: no samples", ErrBadAudio, url)
	}
	return resample(pcm, rate, SampleRate), nil
}

// httpErr classifies a transport error.
func httpErr(what, url string, ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s %s: %v", ErrTimeout, what, url, err)
	}
	return fmt.Errorf("%w: %s %s: %v", ErrEngineFailed, what, url, err)
}

// statusErr turns a non-2xx answer into an error carrying the server's
// message ({"error":{"message":...}} or the start of the body).
func statusErr(what, url string, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := strings.TrimSpace(string(b))
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		msg = e.Error.Message
	}
	return fmt.Errorf("%w: %s %s: HTTP %d: %s", ErrEngineFailed, what, url, resp.StatusCode, msg)
}
