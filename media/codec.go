package media

import "github.com/zaf/g711"

// Codec is an RTP audio payload format the box can send and receive.
// Only the static G.711 payload types are supported.
type Codec struct {
	Name        string // encoding name as written in SDP rtpmap, e.g. "PCMU"
	PayloadType uint8  // RTP payload type
	ClockRate   int    // RTP clock rate in Hz
}

// The G.711 codecs (RFC 3551 static payload types).
var (
	PCMU = Codec{"PCMU", 0, 8000}
	PCMA = Codec{"PCMA", 8, 8000}
)

// CodecByPayloadType returns the codec for a static payload type, and false
// when the box does not support it.
func CodecByPayloadType(pt uint8) (Codec, bool) {
	switch pt {
	case PCMU.PayloadType:
		return PCMU, true
	case PCMA.PayloadType:
		return PCMA, true
	}
	return Codec{}, false
}

// IsZero reports whether c is the zero Codec (no codec negotiated).
func (c Codec) IsZero() bool { return c == Codec{} }

// String returns the SDP encoding name, or "none" for the zero Codec.
func (c Codec) String() string {
	if c.Name == "" {
		return "none"
	}
	return c.Name
}

// supported reports whether Encode and Decode handle c.
func (c Codec) supported() bool { return c == PCMU || c == PCMA }

// SilenceByte returns the encoded value of a zero sample, or 0 for an
// unsupported codec.
func (c Codec) SilenceByte() byte {
	switch c {
	case PCMU:
		return g711.EncodeUlawFrame(0)
	case PCMA:
		return g711.EncodeAlawFrame(0)
	}
	return 0
}

// Encode encodes min(len(dst), len(pcm)) samples of 16-bit PCM into dst and
// returns the number of bytes written (one byte per sample). It returns 0
// for an unsupported codec. It does not allocate.
func (c Codec) Encode(dst []byte, pcm []int16) int {
	n := min(len(dst), len(pcm))
	switch c {
	case PCMU:
		for i := range n {
			dst[i] = g711.EncodeUlawFrame(pcm[i])
		}
	case PCMA:
		for i := range n {
			dst[i] = g711.EncodeAlawFrame(pcm[i])
		}
	default:
		return 0
	}
	return n
}

// Decode decodes min(len(dst), len(payload)) G.711 bytes into 16-bit PCM
// and returns the number of samples written. It returns 0 for an unsupported
// codec. It does not allocate.
func (c Codec) Decode(dst []int16, payload []byte) int {
	n := min(len(dst), len(payload))
	switch c {
	case PCMU:
		for i := range n {
			dst[i] = g711.DecodeUlawFrame(payload[i])
		}
	case PCMA:
		for i := range n {
			dst[i] = g711.DecodeAlawFrame(payload[i])
		}
	default:
		return 0
	}
	return n
}
