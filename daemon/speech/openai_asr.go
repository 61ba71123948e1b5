package speech

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// OpenAIASR transcribes each utterance through an on-prem server speaking
// the OpenAI transcription protocol (whisper servers and the like):
//
//	POST {BaseURL}/v1/audio/transcriptions   multipart/form-data
//	  file=@utterance.wav (8 kHz 16-bit mono), model=Model,
//	  language="en"|"zh" (omitted when unknown), prompt=<phrases, comma separated>,
//	  response_format=json
//	→ 200 {"text": "..."}; errors non-2xx {"error":{"message":...}}
//
// Audio is buffered until CloseSend; one request per utterance.
type OpenAIASR struct {
	BaseURL      string // e.g. "http://127.0.0.1:8000"; required
	APIKey       string
	Model        string        // default "whisper-1"
	Client       *http.Client  // default http.DefaultClient
	Timeout      time.Duration // per request; default 30 s
	MaxUtterance time.Duration // default 30 s
	Now          func() time.Time
}

const maxTranscriptBody = 1 << 20

// Start implements Recognizer.
func (o *OpenAIASR) Start(ctx context.Context, opts ListenOptions) (Stream, error) {
	opts, err := checkListen(opts)
	if err != nil {
		return nil, err
	}
	if o.BaseURL == "" {
		return nil, fmt.Errorf("%w: openai asr: BaseURL is required", ErrBadOptions)
	}
	maxDur := o.MaxUtterance
	if maxDur <= 0 {
		maxDur = defaultMaxUtterance
	}
	return newUtteranceStream(ctx, opts.SampleRate, maxDur, o.Now, func(ctx context.Context, pcm []int16) (Result, error) {
		return o.transcribe(ctx, opts, pcm)
	}), nil
}

func (o *OpenAIASR) transcribe(ctx context.Context, opts ListenOptions, pcm []int16) (Result, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", `form-data; name="file"; filename="utterance.wav"`)
	h.Set("Content-Type", "audio/wav")
	fw, err := mw.CreatePart(h)
	if err != nil {
		return Result{}, err
	}
	fw.Write(encodeWAV(pcm, SampleRate))
	model := o.Model
	if model == "" {
		model = "whisper-1"
	}
	mw.WriteField("model", model)
	mw.WriteField("response_format", "json")
	if l := normalizeLang(opts.Lang); l != "" {
		mw.WriteField("language", l)
	}
	if len(opts.Phrases) > 0 {
		mw.WriteField("prompt", strings.Join(opts.Phrases, ", "))
	}
	if err := mw.Close(); err != nil {
		return Result{}, err
	}

	timeout := o.Timeout
	if timeout <= 0 {
		timeout = openAIDefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := strings.TrimRight(o.BaseURL, "/") + "/v1/audio/transcriptions"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, &body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: openai asr: %v", ErrBadOptions, err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, httpErr("openai asr", url, ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Result{}, statusErr("openai asr", url, resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTranscriptBody+1))
	if err != nil {
		return Result{}, httpErr("openai asr", url, ctx, err)
	}
	if len(b) > maxTranscriptBody {
		return Result{}, fmt.Errorf("%w: openai asr: response exceeds %d bytes", ErrBadResponse, maxTranscriptBody)
	}
	var out struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Text == nil {
		return Result{}, fmt.Errorf("%w: openai asr %s: want {\"text\":...}, got %q", ErrBadResponse, url, snippet(b))
	}
	return Result{Text: strings.TrimSpace(*out.Text)}, nil
}

// snippet shortens an engine message for an error.
func snippet(b []byte) string {
	const n = 120
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
