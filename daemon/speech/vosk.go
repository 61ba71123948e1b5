package speech

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Vosk streams to a Vosk server (alphacep/vosk-server, asr_server.py) over
// its WebSocket protocol:
//
//   - client → {"config": {"sample_rate": 8000, "words": 1[, "phrase_list": [...]]}} (text, once, no reply)
//   - client → PCM 16-bit little-endian mono (binary); the server answers
//     every binary message with exactly one text message
//   - server → {"partial": "…"} while the utterance goes on, or
//     {"text": "…", "result": [{"conf": 0.98, "word": "…", "start": …, "end": …}, …]}
//     when it detects the end of a segment (with max_alternatives > 0:
//     {"alternatives": [{"text": "…", "confidence": …}, …]})
//   - client → {"eof" : 1} (text, byte-exact: the server compares the
//     string); the server answers with the final result and closes.
//
// Fields relied on: "partial", "text", "result[].conf", "alternatives[].text".
// ListenOptions.Lang is not sent: the server's model fixes the language, so
// run one server (URL) per language.
// A reply to the eof message (counted, since replies are one per message)
// ends the stream. Confidence is the mean word "conf" when words are
// reported.
type Vosk struct {
	URL    string      // e.g. "ws://127.0.0.1:2700"; required
	Header http.Header // extra handshake headers (auth proxies)
	// Grammar sends ListenOptions.Phrases as "phrase_list" (plus "[unk]"),
	// constraining recognition. Only models with a dynamic graph (the small
	// ones) support it, so it is opt-in.
	Grammar bool
	// SampleRate sent to the server; default 8000 (the server resamples).
	SampleRate   int
	DialTimeout  time.Duration // default 5 s
	WriteTimeout time.Duration // per audio message; default 5 s
	FinalTimeout time.Duration // from CloseSend to the final result; default 10 s
	Now          func() time.Time
}

// voskEOF is the end-of-stream message, byte-exact as vosk-server expects.
var voskEOF = []byte(`{"eof" : 1}`)

// Start implements Recognizer.
func (v *Vosk) Start(ctx context.Context, opts ListenOptions) (Stream, error) {
	opts, err := checkListen(opts)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(v.URL, "ws://") && !strings.HasPrefix(v.URL, "wss://") {
		return nil, fmt.Errorf("%w: vosk URL %q must start with ws:// or wss://", ErrBadOptions, v.URL)
	}
	rate := v.SampleRate
	if rate == 0 {
		rate = SampleRate
	}
	cfg := map[string]any{"sample_rate": rate, "words": 1}
	if v.Grammar && len(opts.Phrases) > 0 {
		list := make([]string, 0, len(opts.Phrases)+1)
		for _, p := range opts.Phrases {
			list = append(list, strings.ToLower(strings.TrimSpace(p)))
		}
		cfg["phrase_list"] = append(list, "[unk]")
	}
	first, err := json.Marshal(map[string]any{"config": cfg})
	if err != nil {
		return nil, err
	}
	return dialWS(ctx, wsConfig{
		engine:       "vosk",
		url:          v.URL,
		header:       v.Header,
		first:        first,
		eof:          voskEOF,
		inRate:       opts.SampleRate,
		outRate:      rate,
		dialTimeout:  v.DialTimeout,
		writeTimeout: v.WriteTimeout,
		finalTimeout: v.FinalTimeout,
		now:          v.Now,
		handle:       handleVosk,
	})
}

func handleVosk(msg []byte, p wsProgress) ([]Result, wsNext, error) {
	r, err := parseVoskMessage(msg)
	if err != nil {
		return nil, wsContinue, err
	}
	next := wsContinue
	if p.eofSent && p.received >= p.sent {
		next = wsDone // the reply to our eof: the final result
	}
	return []Result{r}, next, nil
}

// voskMessage is a Vosk server reply.
type voskMessage struct {
	Partial *string `json:"partial"`
	Text    *string `json:"text"`
	Result  []struct {
		Conf float64 `json:"conf"`
		Word string  `json:"word"`
	} `json:"result"`
	Alternatives []struct {
		Text       string  `json:"text"`
		Confidence float64 `json:"confidence"`
	} `json:"alternatives"`
}

// parseVoskMessage parses one Vosk reply into a Result (Text may be empty:
// silence). It rejects anything that is not one of the documented shapes.
func parseVoskMessage(b []byte) (Result, error) {
	var m voskMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return Result{}, fmt.Errorf("%w: %v: %q", ErrBadResponse, err, snippet(b))
	}
	switch {
	case len(m.Alternatives) > 0:
		// Alternative confidences are decoder scores, not probabilities.
		return Result{Text: cleanVoskText(m.Alternatives[0].Text), Final: true}, nil
	case m.Text != nil:
		r := Result{Text: cleanVoskText(*m.Text), Final: true}
		if len(m.Result) > 0 {
			sum := 0.0
			for _, w := range m.Result {
				sum += min(max(w.Conf, 0), 1)
			}
			r.Confidence = sum / float64(len(m.Result))
		}
		return r, nil
	case m.Partial != nil:
		return Result{Text: cleanVoskText(*m.Partial)}, nil
	}
	return Result{}, fmt.Errorf("%w: no \"partial\", \"text\" or \"alternatives\": %q", ErrBadResponse, snippet(b))
}

// cleanVoskText drops the "[unk]" token the grammar mode produces, also
// when a server glues it to a neighbouring word ("[unk]0").
func cleanVoskText(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "[unk]", " ")), " ")
}
