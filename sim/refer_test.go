package sim

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReferTo(t *testing.T) {
	good := map[string]string{
		"<sip:+8613900000001@127.0.0.1:5060>":                 "+8613900000001",
		`"Agents" <sip:agent@10.0.0.1;transport=tcp>;x=1`:     "agent",
		"sip:queue@example.com;method=INVITE":                 "queue",
		" <sips:1000@pbx.example.com> ":                       "1000",
		"<SIP:1000@pbx.example.com>":                          "1000",
		"<sip:+8613900000001@127.0.0.1:5060;user=phone>;tag=": "+8613900000001",
	}
	for in, user := range good {
		u, err := parseReferTo(in)
		if err != nil || u.User != user {
			t.Errorf("parseReferTo(%q) = %+v, %v; want user %q", in, u, err, user)
		}
	}
	for _, in := range []string{"", "<>", "<sip:1@h", "tel:+8613900000001", "<mailto:a@b>",
		"<sip:1@h?Replaces=abc%40h%3Bto-tag%3D1>", "<sip:@>", "sip:", "<sip:a b@h>"} {
		if u, err := parseReferTo(in); err == nil || !errors.Is(err, errReferTo) {
			t.Errorf("parseReferTo(%q) = %+v, %v; want an errReferTo", in, u, err)
		}
	}
}

func FuzzParseReferTo(f *testing.F) {
	for _, s := range []string{"<sip:+8613900000001@127.0.0.1:5060>", "sip:a@b;x=y", `"A" <sips:1@h>;p`, "<sip:1@h?Replaces=x>", "<", ">"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseReferTo(s)
		if err != nil {
			if !errors.Is(err, errReferTo) {
				t.Fatalf("error %v does not classify as errReferTo", err)
			}
			return
		}
		if u.Host == "" || strings.ContainsAny(u.Host, "\r\n") {
			t.Fatalf("accepted %q with host %q", s, u.Host)
		}
	})
}
