package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callbox/media"
)

const goodOffer = "v=0\r\no=box 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40002 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"

func TestParseOffer(t *testing.T) {
	o, err := parseOffer([]byte(goodOffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.Codec != media.PCMA || !o.HasDTMF || o.DTMFPT != 101 || o.Addr.String() != "127.0.0.1:40002" {
		t.Errorf("offer %+v", o)
	}
	bad := map[string]string{
		"empty":      "",
		"garbage":    "hello",
		"no audio":   strings.Replace(goodOffer, "m=audio", "m=video", 1),
		"port 0":     strings.Replace(goodOffer, "40002", "0", 1),
		"no codec":   strings.Replace(goodOffer, "RTP/AVP 8 0 101", "RTP/AVP 18 101", 1),
		"srtp":       strings.Replace(goodOffer, "RTP/AVP", "RTP/SAVP", 1),
		"hold":       strings.Replace(goodOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1),
		"no c=":      strings.Replace(goodOffer, "c=IN IP4 127.0.0.1\r\n", "", 1),
		"hostname c": strings.Replace(goodOffer, "c=IN IP4 127.0.0.1", "c=IN IP4 box.example", 1),
	}
	for name, body := range bad {
		if _, err := parseOffer([]byte(body)); !errors.Is(err, ErrSDP) {
			t.Errorf("%s: err %v, want ErrSDP", name, err)
		}
	}
}

func TestBuildAnswerRoundTrip(t *testing.T) {
	o, _ := parseOffer([]byte(goodOffer))
	local, _ := parseOffer([]byte(strings.Replace(goodOffer, "40002", "41000", 1)))
	body, err := buildAnswer(o, local.Addr, 7)
	if err != nil {
		t.Fatal(err)
	}
	back, err := parseOffer(body)
	if err != nil {
		t.Fatalf("our own answer does not parse: %v\n%s", err, body)
	}
	if back.Codec != media.PCMA || back.DTMFPT != 101 || back.Addr.Port() != 41000 {
		t.Errorf("answer %+v from\n%s", back, body)
	}
}

func TestChoosePersona(t *testing.T) {
	personas := DefaultPersonas()
	rules := []Rule{{"+86", "no"}, {"+8613912", "yes"}, {"911", "busy"}}
	cases := []struct{ number, want, how string }{
		{"+8613912345678", "yes", "rule"}, // longest prefix wins
		{"+8613812345678", "no", "rule"},
		{"9110", "busy", "rule"},
		{"+8613800000003", "no", "rule"}, // rules beat the scheme
		{"4412345", "answer", "default"},
	}
	for _, c := range cases {
		if got, how := choosePersona(c.number, rules, personas, "answer"); got != c.want || how != c.how {
			t.Errorf("%s: %s by %s, want %s by %s", c.number, got, how, c.want, c.how)
		}
	}
	for nn, want := range map[string]string{"00": SchemeOrder[0], "03": "dtmf", "10": "busy", "15": SchemeOrder[0], "99": SchemeOrder[99%len(SchemeOrder)]} {
		for _, pfx := range []string{"+8613800000", "8613800000"} {
			if got, how := choosePersona(pfx+nn, nil, personas, "silent"); got != want || how != "scheme" {
				t.Errorf("%s%s: %s by %s, want %s by scheme", pfx, nn, got, how, want)
			}
		}
	}
	if got, _ := choosePersona("+86138000001", nil, personas, "silent"); got != "silent" {
		t.Errorf("one-digit scheme suffix chose %s, want the default", got)
	}
}

func TestParseRule(t *testing.T) {
	r, err := ParseRule("+86139=yes")
	if err != nil || r != (Rule{"+86139", "yes"}) {
		t.Errorf("ParseRule: %+v %v", r, err)
	}
	if r, err := ParseRule("=busy"); err != nil || r.Prefix != "" {
		t.Errorf("empty prefix: %+v %v", r, err)
	}
	for _, s := range []string{"", "yes", "123=", "12a=yes", "1+2=yes", "1=a b"} {
		if _, err := ParseRule(s); !errors.Is(err, ErrRule) {
			t.Errorf("ParseRule(%q) err %v, want ErrRule", s, err)
		}
	}
}

func TestDefaultPersonasValid(t *testing.T) {
	ps := DefaultPersonas()
	for name, p := range ps {
		if p.Name != name {
			t.Errorf("persona %q keyed %q", p.Name, name)
		}
		if err := p.Validate(); err != nil {
			t.Error(err)
		}
	}
	for _, n := range SchemeOrder {
		if _, ok := ps[n]; !ok {
			t.Errorf("scheme persona %q missing from DefaultPersonas", n)
		}
	}
	for _, n := range []string{"answer", "yes", "no", "dtmf", "silent", "talkover", "angry", "optout", "optout-zh", "voicemail", "busy", "noanswer", "reject", "hangup-midway", "yes-zh"} {
		if _, ok := ps[n]; !ok {
			t.Errorf("required persona %q missing", n)
		}
	}
}

func TestConfigErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		cfg  Config
		want error
		text string
	}{
		{Config{Transport: "sctp"}, ErrConfig, "sctp"},
		{Config{ListenIP: "0.0.0.0"}, ErrConfig, "0.0.0.0"},
		{Config{Port: 70000}, ErrConfig, "70000"},
		{Config{RTPPortMin: 5000, RTPPortMax: 4000}, ErrConfig, "5000-4000"},
		{Config{Default: "nobody"}, ErrPersona, "nobody"},
		{Config{Rules: []Rule{{"1", "ghost"}}}, ErrPersona, "ghost"},
		{Config{Personas: map[string]Persona{"x": {Kind: "sing"}}, Default: "x"}, ErrPersona, "sing"},
		{Config{Personas: map[string]Persona{"x": {Kind: KindAnswer, DTMF: "12x"}}, Default: "x"}, ErrPersona, "'x'"},
		{Config{Personas: map[string]Persona{"x": {Kind: KindBusy, Code: 200}}, Default: "x"}, ErrPersona, "200"},
		{Config{Personas: map[string]Persona{"x": {Kind: KindAnswer, Voice: "-a 9"}}, Default: "x"}, ErrPersona, "voice"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("New(%+v): %v, want %v naming %q", c.cfg, err, c.want, c.text)
		}
	}
}

func TestMaskNumber(t *testing.T) {
	if got := MaskNumber("+8613812345678"); got != "**********5678" {
		t.Errorf("got %q", got)
	}
	if got := MaskNumber("123"); got != "***" {
		t.Errorf("got %q", got)
	}
}

func TestPhraseCacheSynthesisesOnce(t *testing.T) {
	calls := 0
	c := newPhraseCache(func(ctx context.Context, text, voice string, loud bool) ([]int16, error) {
		calls++
		if text == "bad" {
			return nil, ErrSpeech
		}
		return []int16{1, 2, 3}, nil
	})
	for range 3 {
		if _, err := c.get(context.Background(), "hi", "en-us", false); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = c.get(context.Background(), "hi", "en-us", true)
	for range 2 {
		if _, err := c.get(context.Background(), "bad", "en-us", false); !errors.Is(err, ErrSpeech) {
			t.Fatalf("err %v", err)
		}
	}
	if calls != 4 { // hi, hi loud, bad twice (failures are not cached)
		t.Errorf("%d syntheses, want 4", calls)
	}
}

func TestEspeakVoices(t *testing.T) {
	needBinary(t, "espeak-ng")
	t.Parallel()
	en, err := Espeak(context.Background(), "stop calling me", "en-us", false)
	if err != nil {
		t.Fatal(err)
	}
	loud, err := Espeak(context.Background(), "stop calling me", "en-us", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(loud) >= len(en) {
		t.Errorf("loud speech is %d samples, normal %d: want faster", len(loud), len(en))
	}
	if peak(loud) <= peak(en) {
		t.Errorf("loud peak %d not above normal peak %d", peak(loud), peak(en))
	}
	zh, err := Espeak(context.Background(), "bu4 yao4 zai4 da3 le5", MandarinVoice, false)
	if err != nil || len(zh) < media.SampleRate/2 {
		t.Errorf("Mandarin: %d samples, %v", len(zh), err)
	}
	if _, err := Espeak(context.Background(), "hi", "no-such-voice-xx", false); !errors.Is(err, ErrSpeech) {
		t.Errorf("unknown voice: %v, want ErrSpeech", err)
	}
}

func peak(pcm []int16) int {
	m := 0
	for _, s := range pcm {
		m = max(m, abs(int(s)))
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestTCPLogFileRecordingAndShutdown answers over TCP, writes the JSON log
// line and the recording, and hangs up the call with BYE on Close.
func TestTCPLogFileRecordingAndShutdown(t *testing.T) {
	needBinary(t, "sipp")
	t.Parallel()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "calls.jsonl")
	silent := Persona{Name: "mute", Kind: KindAnswer, Silent: true, RingFor: 50 * time.Millisecond}
	cfg := Config{Port: -1, Transport: "tcp", Personas: map[string]Persona{"mute": silent}, Default: "mute",
		LogFile: logPath, RecordDir: filepath.Join(dir, "rec"), RTPPortMin: 45800, RTPPortMax: 45999, Logger: testLogger(t)}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}
	peer := newMediaPeer(t)
	done := make(chan error, 1)
	go func() {
		sctx, scancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer scancel()
		_, err := runSIPp(sctx, t, "uac_answer.xml", s.Addr(), "+8613800000010", map[string]string{
			"rtpport": itoa(peer.port()), "-d": "20000", "-t": "t1",
		})
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c := s.Calls(); len(c) == 1 && !c[0].AnsweredAt.IsZero() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel() // the Start context ends the server: the call gets a BYE
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	select {
	case <-done: // SIPp sees an unexpected BYE and fails; that is fine here
	case <-time.After(30 * time.Second):
		t.Fatal("sipp did not finish")
	}
	calls := s.Calls()
	if len(calls) != 1 || calls[0].HungUpBy != ByCallee || calls[0].EndReason != EndShutdown {
		t.Fatalf("calls %+v: want one call hung up by the callee at shutdown", calls)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []CallLog
	for sc.Scan() {
		var l CallLog
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 1 || lines[0].CallID != calls[0].CallID || lines[0].Number != "+8613800000010" || lines[0].Status != 200 {
		t.Errorf("log lines %+v", lines)
	}
	rec := calls[0].Recording
	if rec == "" {
		t.Fatalf("no recording in %+v", calls[0])
	}
	pcm, err := media.LoadPrompt(rec)
	if err != nil || len(pcm) < media.SampleRate/4 {
		t.Errorf("recording %s: %d samples, %v", rec, len(pcm), err)
	}
}
