package speech

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Recognizer starts recognition streams. One stream is one listening turn of
// a call.
type Recognizer interface {
	// Start opens a stream. ctx bounds the whole stream: when it ends,
	// Results is closed (within the adapter's shutdown time) and Err reports
	// why.
	Start(ctx context.Context, opts ListenOptions) (Stream, error)
}

// ListenOptions describe what the stream will hear.
type ListenOptions struct {
	Lang string // "en", "zh", "en-US", "zh-CN"…; "" = the adapter's default
	// Phrases are the expected answers. Grammar-constrained engines
	// (Pocketsphinx) only recognize these; others use them as hints
	// (Vosk phrase_list, FunASR hotwords, OpenAI prompt).
	Phrases []string
	// SampleRate of the PCM given to Write; 0 means 8000, the only rate the
	// box produces. Other rates are resampled.
	SampleRate int
}

// Stream is one recognition turn.
//
// Write, CloseSend and Close may be called from one goroutine while another
// ranges over Results. Results is closed when the engine has delivered its
// last result, the context ends, the engine fails, or Close is called; then
// Err says which (nil for a clean end). A Results channel that closes without
// a Final result and with Err() == nil means nothing was recognized.
type Stream interface {
	// Write sends audio (8 kHz frames as they arrive). The slice is not
	// retained.
	Write(pcm []int16) error
	// Results delivers partial (Final=false) and final results.
	Results() <-chan Result
	// CloseSend marks the end of the utterance: the engine flushes its final
	// result and Results closes after it.
	CloseSend() error
	// Close abandons the stream and releases its resources; it waits for the
	// stream's goroutines. Idempotent.
	Close() error
	// Err is the reason Results closed early: nil after a clean end.
	Err() error
}

// Result is one recognition hypothesis.
type Result struct {
	Text  string
	Final bool
	// Confidence in [0,1] when the engine reports one; 0 means unknown.
	Confidence float64
	// Latency is the time from the last audio written before this result
	// (or from CloseSend for results after it) to the result's arrival.
	Latency time.Duration
}

// normalizeLang maps a language tag to "en" or "zh" (or the lower-cased tag
// when it is neither); "" stays "".
func normalizeLang(lang string) string {
	l := strings.ToLower(strings.TrimSpace(strings.ReplaceAll(lang, "_", "-")))
	switch {
	case l == "":
		return ""
	case l == "en" || strings.HasPrefix(l, "en-") || l == "eng":
		return "en"
	case l == "zh" || strings.HasPrefix(l, "zh-") || l == "cmn" || strings.HasPrefix(l, "cmn-"):
		return "zh"
	}
	return l
}

// checkListen validates and defaults options.
func checkListen(opts ListenOptions) (ListenOptions, error) {
	if opts.SampleRate == 0 {
		opts.SampleRate = SampleRate
	}
	if opts.SampleRate < 4000 || opts.SampleRate > 48000 {
		return opts, fmt.Errorf("%w: sample rate %d Hz", ErrBadOptions, opts.SampleRate)
	}
	for i, p := range opts.Phrases {
		if strings.TrimSpace(p) == "" {
			return opts, fmt.Errorf("%w: phrase %d is empty", ErrBadOptions, i)
		}
	}
	return opts, nil
}

// sendResult delivers r unless the stream is shutting down. Partials never
// block: if the consumer is behind, they are dropped (a later partial or the
// final supersedes them).
func sendResult(results chan<- Result, r Result, done <-chan struct{}) bool {
	if !r.Final {
		select {
		case results <- r:
		default:
		}
		return true
	}
	select {
	case results <- r:
		return true
	case <-done:
		return false
	}
}
