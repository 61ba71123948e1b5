package sipua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMaskNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+8613812345678": "**********5678",
		"95588":          "*5588",
		"1234":           "****",
		"":               "",
	} {
		if got := MaskNumber(in); got != want {
			t.Errorf("MaskNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDispositionForCode(t *testing.T) {
	for code, want := range map[int]Disposition{
		486: Busy, 600: Busy, 408: NoAnswer, 480: NoAnswer, 487: NoAnswer,
		403: Rejected, 603: Rejected, 404: Rejected, 484: Rejected, 302: Rejected, 401: Rejected, 420: Rejected,
		503: Unreachable, 488: Failed, 500: Failed, 502: Failed, 606: Failed,
	} {
		if got := dispositionForCode(code); got != want {
			t.Errorf("code %d: %s, want %s", code, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	if d, c := Classify(nil); d != Answered || c != 200 {
		t.Fatalf("nil: %s %d", d, c)
	}
	de := dialErr(Busy, 486, "Busy Here", nil)
	if d, c := Classify(fmt.Errorf("wrapped: %w", de)); d != Busy || c != 486 {
		t.Fatalf("wrapped DialError: %s %d", d, c)
	}
	if d, _ := Classify(ErrTrunkDown); d != Unreachable {
		t.Fatalf("bare ErrTrunkDown: %s", d)
	}
	if d, _ := Classify(errors.New("boom")); d != Failed {
		t.Fatalf("other: %s", d)
	}
	if !strings.Contains(de.Error(), "486") {
		t.Fatalf("Error() = %q", de.Error())
	}
}

func TestBackoff(t *testing.T) {
	prev := time.Duration(0)
	for i := 0; i < 20; i++ {
		lo, hi := backoff(i, 0), backoff(i, 0.999999)
		if lo > hi || hi > registerBackoffCap || lo < registerBackoffBase/2 {
			t.Fatalf("attempt %d: [%v, %v]", i, lo, hi)
		}
		if hi < prev {
			t.Fatalf("attempt %d: backoff shrank %v -> %v", i, prev, hi)
		}
		prev = hi
	}
	if backoff(100, 0.5) > registerBackoffCap {
		t.Fatal("cap exceeded")
	}
	if got := refreshAfter(2 * time.Second); got != 1600*time.Millisecond {
		t.Fatalf("refreshAfter(2s) = %v", got)
	}
}

func TestConfigValidation(t *testing.T) {
	good := func() Config {
		return Config{ListenIP: "127.0.0.1", Trunks: []TrunkConfig{{Name: "a", Host: "127.0.0.1", MaxCalls: 2}}}
	}
	deps := Deps{NewMedia: mediaFactory(t, testLogger(t))}
	if _, err := New(good(), deps); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		mod        func(*Config)
		trunk, fld string
	}{
		{func(c *Config) { c.ListenIP = "" }, "", "ListenIP"},
		{func(c *Config) { c.ListenIP = "0.0.0.0" }, "", "ExternalIP"},
		{func(c *Config) { c.Transports = []string{"sctp"} }, "", "Transports"},
		{func(c *Config) { c.Trunks[0].Transport = "tcp" }, "a", "Transport"},
		{func(c *Config) { c.Trunks[0].MaxCalls = 0 }, "a", "MaxCalls"},
		{func(c *Config) { c.Trunks[0].Auth = "register" }, "a", "Username"},
		{func(c *Config) { c.Trunks[0].Auth = "oauth" }, "a", "Auth"},
		{func(c *Config) { c.Trunks[0].Codecs = []string{"G729"} }, "a", "Codecs"},
		{func(c *Config) { c.Trunks[0].AllowedSources = []string{"10.0.0.0/33"} }, "a", "AllowedSources"},
		{func(c *Config) { c.Trunks[0].Host = "" }, "a", "Host"},
		{func(c *Config) { c.Trunks = append(c.Trunks, c.Trunks[0]) }, "a", "Name"},
		{func(c *Config) { c.Trunks[0].FromUser = "bad user" }, "a", "FromUser"},
	}
	for _, tc := range tests {
		c := good()
		tc.mod(&c)
		_, err := New(c, deps)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("want ConfigError for %s/%s, got %v", tc.trunk, tc.fld, err)
			continue
		}
		if ce.Trunk != tc.trunk || ce.Field != tc.fld {
			t.Errorf("got %s/%s (%v), want %s/%s", ce.Trunk, ce.Field, err, tc.trunk, tc.fld)
		}
	}
	if _, err := New(good(), Deps{}); err == nil {
		t.Error("missing NewMedia accepted")
	}
}

func TestDialRefusals(t *testing.T) {
	t.Parallel()
	tr := ipTrunk(5060, "udp")
	tr.MaxCalls = 1
	u := newTestUA(t, nil, []TrunkConfig{tr}, nil)
	ctx := context.Background()
	cases := []struct {
		req  DialRequest
		want error
		d    Disposition
	}{
		{DialRequest{Trunk: "nope", Number: "123456"}, ErrUnknownTrunk, Failed},
		{DialRequest{Trunk: "carrier", Number: "12ab"}, ErrInvalidRequest, Failed},
		{DialRequest{Trunk: "carrier", Number: "123456", CallerID: "a b"}, ErrInvalidRequest, Failed},
		{DialRequest{Trunk: "carrier", Number: "123456", Headers: map[string]string{"X-Evil": "a\r\nVia: x"}}, ErrInvalidRequest, Failed},
		{DialRequest{Trunk: "carrier", Number: "123456", Headers: map[string]string{"Call-ID": "x"}}, ErrInvalidRequest, Failed},
		{DialRequest{Trunk: "carrier", Number: "123456", RingTimeout: -time.Second}, ErrInvalidRequest, Failed},
	}
	for _, tc := range cases {
		_, err := u.Dial(ctx, tc.req)
		if !errors.Is(err, tc.want) {
			t.Errorf("%+v: got %v, want %v", tc.req, err, tc.want)
		}
		if d, _ := Classify(err); d != tc.d {
			t.Errorf("%+v: disposition %s, want %s", tc.req, d, tc.d)
		}
	}
	u.SetDraining(true)
	if _, err := u.Dial(ctx, DialRequest{Trunk: "carrier", Number: "123456"}); !errors.Is(err, ErrDraining) {
		t.Errorf("draining: %v", err)
	}
	u.SetDraining(false)
	u.Close()
	if _, err := u.Dial(ctx, DialRequest{Trunk: "carrier", Number: "123456"}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestParseDTMFInfo(t *testing.T) {
	tests := []struct {
		ct, body string
		digit    rune
		dur      time.Duration
		ok       bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, true},
		{"application/dtmf-relay; charset=x", "Signal= 11\nDuration=abc", '#', 100 * time.Millisecond, true},
		{"application/dtmf", "*", '*', 100 * time.Millisecond, true},
		{"application/dtmf-relay", "Signal=55", 0, 0, false},
		{"text/plain", "5", 0, 0, false},
	}
	for _, tc := range tests {
		d, dur, ok := ParseDTMFInfo(tc.ct, []byte(tc.body))
		if d != tc.digit || dur != tc.dur || ok != tc.ok {
			t.Errorf("%q %q: got %q %v %v", tc.ct, tc.body, d, dur, ok)
		}
	}
}

func FuzzParseDTMFInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		d, dur, ok := ParseDTMFInfo(ct, body)
		if ok && (!strings.ContainsRune("0123456789*#ABCD", d) || dur <= 0 || dur >= time.Minute) {
			t.Fatalf("bad result %q %v", d, dur)
		}
	})
}

// TestDrainingAnswersOptions503 runs two UAs: B keeps a trunk to A with
// OPTIONS; when A drains it answers 503 and B marks the trunk down.
func TestDrainingAnswersOptions503(t *testing.T) {
	t.Parallel()
	a := newTestUA(t, nil, []TrunkConfig{ipTrunk(5060, "udp")}, nil)
	tr := ipTrunk(a.Port(), "udp")
	tr.OptionsInterval, tr.OptionsFailures = 100*time.Millisecond, 1
	b := newTestUA(t, nil, []TrunkConfig{tr}, nil)
	eventually(t, 3*time.Second, "OPTIONS answered", func() bool { s := b.Trunks()[0]; return s.Up && !s.LastOptionsAt.IsZero() })
	a.SetDraining(true)
	eventually(t, 3*time.Second, "trunk down on 503", func() bool { return !b.Trunks()[0].Up })
	a.SetDraining(false)
	eventually(t, 3*time.Second, "trunk up again", func() bool { return b.Trunks()[0].Up })
}
