package hw

import (
	"errors"
	"strings"
	"testing"
)

var testDevs = []Device{
	{Name: "HDA Intel PCH: ALC892 Analog (hw:0,0)", Index: 0, MaxInputChannels: 2, MaxOutputChannels: 8},
	{Name: "Jabra EVOLVE 20 MS: USB Audio (hw:1,0)", Index: 1, MaxInputChannels: 1, MaxOutputChannels: 2},
	{Name: "HDMI 0 (hw:0,3)", Index: 2, MaxOutputChannels: 8},
	{Name: "sysdefault", Index: 3, MaxInputChannels: 128, MaxOutputChannels: 128},
	{Name: "default", Index: 4, MaxInputChannels: 128, MaxOutputChannels: 128},
}

func TestFindDevice(t *testing.T) {
	cases := []struct {
		name  string
		input bool
		want  int   // index, or -1
		err   error // sentinel
	}{
		{"jabra", true, 1, nil},
		{"JABRA evolve", false, 1, nil},
		{"default", true, 4, nil},             // exact beats substring of "sysdefault"
		{"hdmi", false, 2, nil},               // output capable
		{"hdmi", true, -1, ErrDeviceNotFound}, // no input channels
		{"hw:", false, -1, ErrAmbiguousDevice},
		{"plantronics", true, -1, ErrDeviceNotFound},
		{"  ", true, -1, ErrDeviceNotFound},
	}
	for _, c := range cases {
		d, err := FindDevice(testDevs, c.name, c.input)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("FindDevice(%q, input=%v) err = %v, want %v", c.name, c.input, err, c.err)
			}
			continue
		}
		if err != nil || d.Index != c.want {
			t.Errorf("FindDevice(%q, input=%v) = %d, %v; want %d", c.name, c.input, d.Index, err, c.want)
		}
	}
}

func TestFindDeviceErrorListsNames(t *testing.T) {
	_, err := FindDevice(testDevs, "plantronics", true)
	msg := err.Error()
	for _, want := range []string{`"plantronics"`, "Jabra EVOLVE 20", "ALC892", "input"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "HDMI") {
		t.Errorf("error %q lists an output-only device as input", msg)
	}
	_, err = FindDevice(testDevs, "hdmi", true)
	if !strings.Contains(err.Error(), "without input channels") {
		t.Errorf("error %q should say the match has no input channels", err)
	}
}

func TestParseConsoleMode(t *testing.T) {
	for m := ConsoleOff; m <= ConsoleBarge; m++ {
		got, err := ParseConsoleMode(strings.ToUpper(m.String()))
		if err != nil || got != m {
			t.Errorf("ParseConsoleMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	if _, err := ParseConsoleMode("shout"); !errors.Is(err, ErrInvalidMode) || !strings.Contains(err.Error(), "shout") {
		t.Errorf("bad mode error = %v", err)
	}
	if ConsoleMode(9).Valid() || ConsoleMode(9).String() != "ConsoleMode(9)" {
		t.Error("out-of-range mode reported valid")
	}
}

func FuzzParseConsoleMode(f *testing.F) {
	f.Add("listen")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseConsoleMode(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidMode) || m != ConsoleOff {
				t.Fatalf("ParseConsoleMode(%q) = %v, %v", s, m, err)
			}
			return
		}
		if !m.Valid() || !strings.EqualFold(strings.TrimSpace(s), m.String()) {
			t.Fatalf("ParseConsoleMode(%q) = %v", s, m)
		}
	})
}

func FuzzFindDevice(f *testing.F) {
	f.Add("jabra", true)
	f.Fuzz(func(t *testing.T, name string, input bool) {
		d, err := FindDevice(testDevs, name, input)
		if err != nil {
			if !errors.Is(err, ErrDeviceNotFound) && !errors.Is(err, ErrAmbiguousDevice) {
				t.Fatalf("FindDevice(%q) unexpected error %v", name, err)
			}
			return
		}
		if !strings.Contains(strings.ToLower(d.Name), strings.ToLower(strings.TrimSpace(name))) {
			t.Fatalf("FindDevice(%q) = %q does not contain the name", name, d.Name)
		}
		if input && d.MaxInputChannels == 0 || !input && d.MaxOutputChannels == 0 {
			t.Fatalf("FindDevice(%q, %v) = %+v lacks channels", name, input, d)
		}
	})
}
