package daemon

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/speech"
	"callbox/media"
)

const testPrompt = "Hello. This is a reminder from your bank. Your appointment is tomorrow at ten. Press one to confirm."

func requireEspeak(t testing.TB) {
	t.Helper()
	if _, err := (&speech.Espeak{}).Synthesize(context.Background(), "test", speech.Voice{Name: "en-us"}); err != nil {
		t.Skipf("espeak-ng unavailable (run make deps): %v", err)
	}
}

// TestCallAnsweredPromptDTMFRecording is the spine: SIPp answers, echoes our
// RTP and presses 1 (RFC 4733); the box speaks the prompt, collects the
// digit, hangs up, and the stereo recording holds the prompt on the box's
// channel and the echo on the callee's.
func TestCallAnsweredPromptDTMFRecording(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-answer-dtmf.xml", "-rtp_echo")
	b := startBox(t, far.port, nil)
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "+8613800000001", Say: testPrompt, WaitDTMF: 1})
	if code != http.StatusOK {
		t.Fatalf("POST /v1/calls: %d %s", code, raw)
	}
	far.wait(t)
	if rec.Disposition != "answered" || rec.SIPCode != 200 {
		t.Fatalf("disposition %q code %d, want answered 200 (%+v)", rec.Disposition, rec.SIPCode, rec)
	}
	if rec.DTMF != "1" {
		t.Errorf("dtmf %q, want 1", rec.DTMF)
	}
	if rec.HangupBy != "box" {
		t.Errorf("hangup_by %q, want box", rec.HangupBy)
	}
	if rec.AnswerAt == nil || rec.EndAt == nil || rec.RingAt == nil || !rec.EndAt.After(*rec.AnswerAt) {
		t.Errorf("times not filled: ring %v answer %v end %v", rec.RingAt, rec.AnswerAt, rec.EndAt)
	}
	if rec.RTP.PacketsSent < 50 || rec.RTP.PacketsReceived < 50 {
		t.Errorf("rtp summary too small: %+v", rec.RTP)
	}
	if rec.RecordingPath == "" {
		t.Fatal("no recording path")
	}
	callee, boxSide := readStereo(t, rec.RecordingPath)
	cache, err := speech.NewCache(ttsCacheDir(t), &speech.Espeak{})
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := cache.Synthesize(context.Background(), testPrompt, speech.Voice{Name: "en-us"})
	if err != nil {
		t.Fatal(err)
	}
	if c := envelopeCorrelation(boxSide, prompt); c < 0.8 {
		t.Errorf("box channel does not hold the prompt: envelope correlation %.2f", c)
	}
	if r := rms(callee); r < 300 {
		t.Errorf("callee channel holds no echo: rms %.0f", r)
	}

	// The record is readable by id and in the list.
	got := getRecord(t, b, rec.ID)
	if got.DTMF != "1" || got.Disposition != "answered" {
		t.Errorf("GET /v1/calls/%s = %+v", rec.ID, got)
	}
}

func TestCallBusy(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-busy.xml")
	b := startBox(t, far.port, nil)
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "8613800000002", Say: "hello"})
	if code != http.StatusOK {
		t.Fatalf("POST /v1/calls: %d %s", code, raw)
	}
	far.wait(t)
	if rec.Disposition != "busy" || rec.SIPCode != 486 {
		t.Fatalf("got %q %d, want busy 486", rec.Disposition, rec.SIPCode)
	}
	if rec.RecordingPath != "" || rec.AnswerAt != nil {
		t.Errorf("unanswered call has recording %q / answer %v", rec.RecordingPath, rec.AnswerAt)
	}
}

func TestCallNoAnswerSendsCancel(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-noanswer.xml")
	b := startBox(t, far.port, nil)
	start := time.Now()
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "8613800000003", Say: "hello", RingTimeoutSec: 1.5})
	if code != http.StatusOK {
		t.Fatalf("POST /v1/calls: %d %s", code, raw)
	}
	far.wait(t) // the scenario fails unless SIPp received our CANCEL
	if rec.Disposition != "no-answer" {
		t.Fatalf("disposition %q (code %d), want no-answer", rec.Disposition, rec.SIPCode)
	}
	if el := time.Since(start); el < 1400*time.Millisecond {
		t.Errorf("gave up after %v, before the 1.5s ring timeout", el)
	}
	if rec.RingAt == nil {
		t.Error("ring time not recorded after 180")
	}
}

func TestCallEarlyMediaRecorded(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-early-media.xml")
	b := startBox(t, far.port, nil)
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "8613800000004", Say: testPrompt})
	if code != http.StatusOK {
		t.Fatalf("POST /v1/calls: %d %s", code, raw)
	}
	far.wait(t)
	if rec.Disposition != "answered" || rec.EarlyMediaAt == nil || rec.AnswerAt == nil {
		t.Fatalf("want answered with early media: %+v", rec)
	}
	if rec.HangupBy != "callee" {
		t.Errorf("hangup_by %q, want callee", rec.HangupBy)
	}
	if rec.Codec != "PCMA" {
		t.Errorf("codec %q, want PCMA (the only one SIPp offered)", rec.Codec)
	}
	callee, _ := readStereo(t, rec.RecordingPath)
	// The early media (SIPp's g711a.pcap) played before the answer.
	early := rec.AnswerAt.Sub(*rec.EarlyMediaAt)
	n := int(early.Seconds() * media.SampleRate)
	if n > len(callee) {
		n = len(callee)
	}
	if n < 4000 {
		t.Fatalf("early media window too short: %v", early)
	}
	if r := rms(callee[:n]); r < 200 {
		t.Errorf("no early media recorded before answer: rms %.0f over %v", r, early)
	}
}

func TestCallCalleeHangsUpFirst(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-callee-bye.xml")
	b := startBox(t, far.port, nil)
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "8613800000005", Say: testPrompt + " " + testPrompt, WaitDTMF: 4})
	if code != http.StatusOK {
		t.Fatalf("POST /v1/calls: %d %s", code, raw)
	}
	far.wait(t)
	if rec.Disposition != "answered" || rec.HangupBy != "callee" {
		t.Fatalf("got %q hangup_by %q, want answered / callee", rec.Disposition, rec.HangupBy)
	}
	if talk := rec.EndAt.Sub(*rec.AnswerAt); talk > 4*time.Second {
		t.Errorf("call lasted %v after the callee's BYE at ~1.2s", talk)
	}
}

func TestPlaceCallBadInput(t *testing.T) {
	b := startBox(t, freePort(t), nil)
	for _, tc := range []struct {
		body apiv1.PlaceCall
		want string
	}{
		{apiv1.PlaceCall{Say: "hi"}, "number is required"},
		{apiv1.PlaceCall{Number: "12ab45", Say: "hi"}, "only digits"},
		{apiv1.PlaceCall{Number: "123456", Say: ""}, "say"},
		{apiv1.PlaceCall{Number: "123456", Say: "hi", Trunk: "nope"}, `unknown trunk "nope"`},
		{apiv1.PlaceCall{Number: "123456", Say: "hi", WaitDTMF: 99}, "wait_dtmf"},
	} {
		_, code, raw := b.call(tc.body)
		var e apiv1.Error
		_ = json.Unmarshal([]byte(raw), &e)
		if code != http.StatusBadRequest || !strings.Contains(e.Error, tc.want) {
			t.Errorf("%+v: got %d %s, want 400 naming %q", tc.body, code, raw, tc.want)
		}
	}
	resp, err := http.Post("http://"+b.api+"/v1/calls", "application/json", strings.NewReader(`{"number": 5`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d, want 400", resp.StatusCode)
	}
	if r, _ := http.Get("http://" + b.api + "/v1/calls/nope"); r == nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown call id: want 404")
	}
	if r, err := http.Get("http://" + b.api + "/healthz"); err != nil || r.StatusCode != http.StatusOK {
		var body []byte
		if r != nil {
			body, _ = io.ReadAll(r.Body)
		}
		t.Errorf("healthz: want 200, got %v %s", err, body)
	}
}

func getRecord(t *testing.T, b *box, id string) apiv1.CallRecord {
	t.Helper()
	var rec apiv1.CallRecord
	resp, err := http.Get("http://" + b.api + "/v1/calls/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/calls/%s: %d", id, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// readStereo splits a recording into its callee (left) and box (right) channels.
func readStereo(t *testing.T, path string) (callee, boxSide []int16) {
	t.Helper()
	f := openRecording(t, path) // decrypts .cbrec recordings (api_security_test.go)
	pcm, rate, ch, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if rate != 8000 || ch != 2 {
		t.Fatalf("recording is %d Hz %d channels, want 8000 Hz stereo", rate, ch)
	}
	for i := 0; i+1 < len(pcm); i += 2 {
		callee = append(callee, pcm[i])
		boxSide = append(boxSide, pcm[i+1])
	}
	return callee, boxSide
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

// envelope is the RMS of every 10 ms block.
func envelope(pcm []int16) []float64 {
	const block = 80
	out := make([]float64, 0, len(pcm)/block)
	for i := 0; i+block <= len(pcm); i += block {
		out = append(out, rms(pcm[i:i+block]))
	}
	return out
}

// envelopeCorrelation is the best normalised correlation of the prompt's
// energy envelope (or of its start, if the recording is shorter) against
// the recording's, over every alignment.
func envelopeCorrelation(recording, prompt []int16) float64 {
	r, p := envelope(recording), envelope(prompt)
	if len(r) < len(p) {
		p = p[:len(r)] // the callee cut the prompt short (a digit, a hang-up)
	}
	if len(p) < 80 {
		return 0 // under 0.8 s of prompt: too little to tell
	}
	best := 0.0
	for lag := 0; lag+len(p) <= len(r); lag++ {
		var sxy, sxx, syy, sx, sy float64
		n := float64(len(p))
		for i := range p {
			x, y := p[i], r[lag+i]
			sx, sy = sx+x, sy+y
			sxy, sxx, syy = sxy+x*y, sxx+x*x, syy+y*y
		}
		cov := sxy - sx*sy/n
		den := math.Sqrt((sxx - sx*sx/n) * (syy - sy*sy/n))
		if den > 0 && cov/den > best {
			best = cov / den
		}
	}
	return best
}
