package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"
)

// NLU is an optional external classifier, consulted when the built-in
// matcher finds no intent above the flow's min_confidence.
type NLU interface {
	Classify(ctx context.Context, text, lang string, expected []string) (Intent, error)
}

// maxNLUReply bounds the size of an NLU reply body.
const maxNLUReply = 64 << 10

// HTTPNLU posts {"text","lang","expected"} as JSON to URL and reads
// {"intent","confidence","slots"}.
type HTTPNLU struct {
	URL     string
	Client  *http.Client  // http.DefaultClient when nil
	Timeout time.Duration // per request; 2 s when zero
}

type nluRequest struct {
	Text     string   `json:"text"`
	Lang     string   `json:"lang"`
	Expected []string `json:"expected"`
}

// Classify implements NLU. Transport errors, non-200 replies, malformed
// JSON and confidences outside [0, 1] wrap ErrNLU.
func (h *HTTPNLU) Classify(ctx context.Context, text, lang string, expected []string) (Intent, error) {
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if expected == nil {
		expected = []string{}
	}
	body, err := json.Marshal(nluRequest{Text: text, Lang: lang, Expected: expected})
	if err != nil {
		return Intent{}, fmt.Errorf("%w: %v", ErrNLU, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return Intent{}, fmt.Errorf("%w: %v", ErrNLU, err)
	}
	req.Header.Set("Content-Type", "application/json")
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Intent{}, fmt.Errorf("%w: %v", ErrNLU, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxNLUReply+1))
	if err != nil {
		return Intent{}, fmt.Errorf("%w: reading reply: %v", ErrNLU, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Intent{}, fmt.Errorf("%w: %s replied %s", ErrNLU, h.URL, resp.Status)
	}
	if len(data) > maxNLUReply {
		return Intent{}, fmt.Errorf("%w: reply larger than %d bytes", ErrNLU, maxNLUReply)
	}
	var out Intent
	if err := json.Unmarshal(data, &out); err != nil {
		return Intent{}, fmt.Errorf("%w: bad reply JSON: %v", ErrNLU, err)
	}
	if math.IsNaN(out.Confidence) || out.Confidence < 0 || out.Confidence > 1 {
		return Intent{}, fmt.Errorf("%w: confidence %v outside [0, 1]", ErrNLU, out.Confidence)
	}
	return out, nil
}
