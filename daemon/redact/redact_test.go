package redact

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLuhn(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true}, {"4111111111111112", false},
		{"5500005555555559", true}, {"6212345678901265", true}, // UnionPay-like
		{"378282246310005", true}, {"378282246310006", false},
		{"0000000000000", true}, // all zeros passes Luhn
	} {
		d := make([]int, len(c.in))
		for i, r := range c.in {
			d[i] = int(r - '0')
		}
		if got := luhn(d); got != c.want {
			t.Errorf("luhn(%s) = %v", c.in, got)
		}
	}
}

func TestText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"my card is 4111 1111 1111 1111 thanks", "my card is " + CardMask + " thanks"},
		{"card 4111-1111-1111-1111.", "card " + CardMask + "."},
		{"4111111111111112 fails Luhn", "4111111111111112 fails Luhn"},
		{"too short 411111111111", "too short 411111111111"},
		{"twenty digits 41111111111111111113", "twenty digits 41111111111111111113"},
		{"phone +8613812345678 ok", "phone +8613812345678 ok"},
		{"amex 3782 822463 10005", "amex " + CardMask},
		// Resident ID: 11010519491231002X has a valid check character.
		{"身份证号11010519491231002X。", "身份证号" + IDMask + "。"},
		{"id 110105194912310021 wrong check", "id 110105194912310021 wrong check"},
		{"id 11010519491331002X bad month", "id 11010519491331002X bad month"},
		{"lower x 11010519491231002x", "lower x " + IDMask},
		// Spoken Chinese numerals and full-width digits.
		{"卡号四一一一 一一一一 一一一一 一一一一", "卡号" + CardMask},
		{"卡号４１１１１１１１１１１１１１１１", "卡号" + CardMask},
		{"幺幺零幺零五幺九四九幺二三幺零零二X", IDMask},
		{"nothing here", "nothing here"},
		{"", ""},
		{"two 4111111111111111 and 5500005555555559", "two " + CardMask + " and " + CardMask},
		{"double  space 4111  1111 1111 1111", "double  space 4111  1111 1111 1111"},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestValidID(t *testing.T) {
	// Build IDs with every check value, including X (10).
	base := "44030419900101123"
	d := make([]int, 18)
	for i, r := range base {
		d[i] = int(r - '0')
	}
	ok := 0
	for c := 0; c <= 10; c++ {
		d[17] = c
		if validID(d) {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d check characters accepted; want exactly 1", ok)
	}
}

func TestPhone(t *testing.T) {
	for in, want := range map[string]string{"+8613812345678": "**********5678", "1234": "****", "": "", "电话12345": "***2345"} {
		if got := Phone(in); got != want {
			t.Errorf("Phone(%q) = %q", in, got)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"4111 1111 1111 1111", "11010519491231002X", "卡号四一一一", "+8613812345678", "a-b-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if out == s {
			return
		}
		// Redaction only ever replaces digit runs with masks: the masks
		// are present and the output is valid UTF-8 if the input was.
		if !strings.Contains(out, CardMask) && !strings.Contains(out, IDMask) {
			t.Fatalf("changed without a mask: %q -> %q", s, out)
		}
		if utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", s)
		}
		if Text(out) != out {
			t.Fatalf("not idempotent: %q", out)
		}
	})
}
