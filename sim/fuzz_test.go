package sim

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseOffer: any INVITE body either parses into a usable offer whose
// answer parses back, or fails with ErrSDP; it never panics.
func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(goodOffer))
	f.Add([]byte(""))
	f.Add([]byte("v=0\r\nm=audio 1 RTP/AVP 0\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseOffer(body)
		if err != nil {
			if !errors.Is(err, ErrSDP) {
				t.Fatalf("error %v does not wrap ErrSDP", err)
			}
			return
		}
		if o.Codec.IsZero() || !o.Addr.IsValid() || o.Addr.Port() == 0 {
			t.Fatalf("accepted unusable offer %+v", o)
		}
		ans, err := buildAnswer(o, o.Addr, 1)
		if err != nil {
			t.Fatalf("answer to %+v: %v", o, err)
		}
		back, err := parseOffer(ans)
		if err != nil || back.Codec != o.Codec || back.HasDTMF != o.HasDTMF || back.DTMFPT != o.DTMFPT {
			t.Fatalf("answer %q parses as %+v, %v; offer %+v", ans, back, err, o)
		}
	})
}

// FuzzParseRule: a rule either parses into a prefix/persona that the
// config accepts or fails with ErrRule.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"+86139=yes", "=busy", "1=", "x", "12#*=dtmf", "+=a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			if !errors.Is(err, ErrRule) {
				t.Fatalf("error %v does not wrap ErrRule", err)
			}
			return
		}
		if r.Persona == "" || strings.ContainsAny(r.Persona, " =") || checkPrefix(r.Prefix) != nil {
			t.Fatalf("accepted bad rule %+v from %q", r, s)
		}
	})
}

// FuzzChoosePersona: persona choice always yields an existing persona.
func FuzzChoosePersona(f *testing.F) {
	for _, s := range []string{"+8613800000007", "8613800000099", "+861380000001", "", "+86139"} {
		f.Add(s)
	}
	personas := DefaultPersonas()
	rules := []Rule{{"+86139", "yes"}, {"911", "busy"}}
	f.Fuzz(func(t *testing.T, number string) {
		name, how := choosePersona(number, rules, personas, "answer")
		if _, ok := personas[name]; !ok {
			t.Fatalf("%q chose unknown persona %q (%s)", number, name, how)
		}
		if nn, ok := schemeIndex(number); ok && (nn < 0 || nn > 99) {
			t.Fatalf("scheme index %d", nn)
		}
	})
}

// FuzzParseEspeakVoices: the voice table parser never panics and never
// yields an empty name.
func FuzzParseEspeakVoices(f *testing.F) {
	f.Add("Pty Language Age/Gender VoiceName File Other Languages\n 5  cmn-latn-pinyin --/M Chinese sit/cmn-Latn-pinyin (zh 5)\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, table string) {
		for n := range parseEspeakVoices(table) {
			if n == "" {
				t.Fatal("empty voice name")
			}
		}
	})
}
