package sipua

import (
	"errors"
	"net"
	"strings"
	"testing"

	"callbox/media"
)

func testLocal() LocalMedia {
	return LocalMedia{IP: net.ParseIP("10.0.0.5"), Port: 40000, Codecs: []media.Codec{media.PCMU, media.PCMA},
		Direction: media.SendRecv, SessionID: 42, Version: 1}
}

func TestBuildOffer(t *testing.T) {
	b, err := BuildOffer(testLocal())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"c=IN IP4 10.0.0.5\r\n", "m=audio 40000 RTP/AVP 0 8 101\r\n", "a=rtpmap:0 PCMU/8000\r\n",
		"a=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:101 telephone-event/8000\r\n", "a=fmtp:101 0-16\r\n",
		"a=ptime:20\r\n", "a=sendrecv\r\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("offer lacks %q:\n%s", want, s)
		}
	}
	// Our own offer parses back.
	rm, err := ParseSDP(b)
	if err != nil {
		t.Fatal(err)
	}
	if !rm.HasDTMF || rm.DTMFPT != 101 || len(rm.Codecs) != 2 || rm.Addr.Port != 40000 {
		t.Fatalf("reparsed offer %+v", rm)
	}
	if _, err := BuildOffer(LocalMedia{Codecs: []media.Codec{media.PCMU}}); err == nil {
		t.Fatal("offer without address accepted")
	}
}

const offerPCMA = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n" +
	"m=audio 30000 RTP/AVP 18 8 0 96\r\na=rtpmap:18 G729/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"

func TestBuildAnswer(t *testing.T) {
	tests := []struct {
		name      string
		offer     string
		wantCodec media.Codec
		wantDir   string
		wantLocal media.Direction
		hold      bool
	}{
		{"first common codec in offer order", offerPCMA, media.PCMA, "a=sendrecv", media.SendRecv, false},
		{"sendonly hold mirrored", offerPCMA + "a=sendonly\r\n", media.PCMA, "a=recvonly", media.RecvOnly, false},
		{"recvonly mirrored", offerPCMA + "a=recvonly\r\n", media.PCMA, "a=sendonly", media.SendOnly, false},
		{"inactive mirrored", offerPCMA + "a=inactive\r\n", media.PCMA, "a=inactive", media.Inactive, false},
		{"c=0.0.0.0 hold", strings.Replace(offerPCMA, "c=IN IP4 192.0.2.7", "c=IN IP4 0.0.0.0", 1), media.PCMA, "a=recvonly", media.RecvOnly, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ans, n, err := BuildAnswer([]byte(tc.offer), testLocal())
			if err != nil {
				t.Fatal(err)
			}
			if n.Codec != tc.wantCodec || n.Local != tc.wantLocal || n.DTMFPT != 96 {
				t.Fatalf("negotiated %+v", n)
			}
			if tc.hold != (n.Remote == nil) {
				t.Fatalf("remote %v, hold %v", n.Remote, tc.hold)
			}
			s := string(ans)
			if !strings.Contains(s, "m=audio 40000 RTP/AVP 8 96\r\n") || !strings.Contains(s, tc.wantDir+"\r\n") || !strings.Contains(s, "a=fmtp:96 0-16") {
				t.Fatalf("answer:\n%s", s)
			}
		})
	}
}

func TestBuildAnswerKeepsMLineCount(t *testing.T) {
	offer := "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n" +
		"m=video 5000 RTP/AVP 97\r\nm=audio 30000 RTP/AVP 0\r\n"
	ans, n, err := BuildAnswer([]byte(offer), testLocal())
	if err != nil {
		t.Fatal(err)
	}
	if n.DTMFPT != 0 || n.Codec != media.PCMU {
		t.Fatalf("negotiated %+v", n)
	}
	s := string(ans)
	if !strings.Contains(s, "m=video 0 RTP/AVP 97\r\n") || strings.Index(s, "m=video") > strings.Index(s, "m=audio 40000") {
		t.Fatalf("answer must reject video in place:\n%s", s)
	}
	if strings.Contains(s, "telephone-event") {
		t.Fatal("answer offers telephone-event the offer lacked")
	}
}

func TestSDPErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       error
	}{
		{"empty", "", ErrBadSDP},
		{"garbage", "this is not sdp", ErrBadSDP},
		{"no audio", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP 97\r\n", ErrBadSDP},
		{"no c line", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", ErrBadSDP},
		{"hostname c line", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 example.com\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n", ErrBadSDP},
		{"bad payload type", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP zero\r\n", ErrBadSDP},
		{"only G729", strings.Replace(offerPCMA, "18 8 0 96", "18 96", 1), ErrNoCommonCodec},
		{"PCMU on dynamic PT", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 97\r\na=rtpmap:97 PCMU/8000\r\n", ErrNoCommonCodec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := BuildAnswer([]byte(tc.body), testLocal())
			if !errors.Is(err, tc.want) {
				t.Fatalf("BuildAnswer err = %v, want %v", err, tc.want)
			}
			_, err = ParseAnswer([]byte(tc.body), testLocal())
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseAnswer err = %v, want %v", err, tc.want)
			}
			code, _ := sdpErrorStatus(err)
			if want := map[error]int{ErrBadSDP: 400, ErrNoCommonCodec: 488}[tc.want]; code != want {
				t.Fatalf("status %d, want %d", code, want)
			}
		})
	}
}

func TestParseAnswerPicksAnswerOrder(t *testing.T) {
	l := testLocal()
	l.Codecs = []media.Codec{media.PCMA} // we only offered PCMA
	ans := "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 31000 RTP/AVP 0 8\r\na=recvonly\r\n"
	n, err := ParseAnswer([]byte(ans), l)
	if err != nil {
		t.Fatal(err)
	}
	if n.Codec != media.PCMA || n.Remote.String() != "192.0.2.9:31000" || n.Local != media.SendOnly || n.DTMFPT != 0 {
		t.Fatalf("negotiated %+v", n)
	}
}

func FuzzParseSDP(f *testing.F) {
	f.Add([]byte(offerPCMA))
	f.Add([]byte("v=0\r\n"))
	l := testLocal()
	f.Fuzz(func(t *testing.T, body []byte) {
		rm, err := ParseSDP(body)
		if err != nil {
			if !errors.Is(err, ErrBadSDP) {
				t.Fatalf("error %v does not wrap ErrBadSDP", err)
			}
			return
		}
		if rm.Addr == nil && !rm.Hold {
			t.Fatal("parsed SDP without address or hold")
		}
		ans, n, err := BuildAnswer(body, l)
		if err != nil {
			if !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("BuildAnswer after successful parse: %v", err)
			}
			return
		}
		// Our answer must parse back to the same codec.
		n2, err := ParseAnswer(ans, l)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, ans)
		}
		if n2.Codec != n.Codec {
			t.Fatalf("codec %v != %v", n2.Codec, n.Codec)
		}
	})
}
