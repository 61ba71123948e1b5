package sipua

import "testing"

func TestParseSipfrag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code int
		ok   bool
	}{
		{"SIP/2.0 200 OK\r\n", 200, true},
		{"SIP/2.0 100 Trying", 100, true},
		{"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n", 486, true},
		{"", 0, false},
		{"HTTP/1.1 200 OK", 0, false},
		{"SIP/2.0 abc", 0, false},
		{"SIP/2.0 99 Low", 0, false},
		{"SIP/2.0 700 High", 0, false},
	} {
		code, ok := ParseSipfrag([]byte(tc.in))
		if code != tc.code || ok != tc.ok {
			t.Errorf("ParseSipfrag(%q) = %d, %v; want %d, %v", tc.in, code, ok, tc.code, tc.ok)
		}
	}
}

func FuzzParseSipfrag(f *testing.F) {
	f.Add([]byte("SIP/2.0 200 OK\r\n"))
	f.Add([]byte("SIP/2.0 603 Declined"))
	f.Fuzz(func(t *testing.T, b []byte) {
		code, ok := ParseSipfrag(b)
		if ok != (code >= 100 && code <= 699) {
			t.Fatalf("ParseSipfrag(%q) = %d, %v", b, code, ok)
		}
	})
}

// The bridge ring never blocks, bounds its delay and plays silence when
// empty.
func TestFrameRing(t *testing.T) {
	var q frameRing
	out := make([]int16, 160)
	if n, err := q.ReadFrame(out); n != 160 || err != nil || out[0] != 0 {
		t.Fatalf("empty ring: %d %v", n, err)
	}
	in := make([]int16, 160)
	for i := 0; i < bridgeFrames+5; i++ {
		in[0] = int16(i + 1)
		_ = q.WriteFrame(in)
	}
	_, _ = q.ReadFrame(out)
	if out[0] != 6 { // the 5 oldest were dropped
		t.Fatalf("oldest frame after overflow = %d, want 6", out[0])
	}
	q.close()
	if _, err := q.ReadFrame(out); err == nil {
		t.Fatal("closed ring still reads")
	}
}
