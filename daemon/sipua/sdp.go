package sipua

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"callbox/media"

	"github.com/pion/sdp/v3"
)

// ErrBadSDP is wrapped by every error about an SDP body that cannot be
// parsed or has no usable audio stream description (SIP 400).
var ErrBadSDP = errors.New("malformed SDP")

// ErrNoCommonCodec is wrapped when the far end offers or answers no codec
// we support (SIP 488).
var ErrNoCommonCodec = errors.New("no common codec")

// DefaultDTMFPayloadType is the RTP payload type we offer for
// telephone-event/8000 (RFC 4733).
const DefaultDTMFPayloadType = 101

// maxSDPSize bounds the SDP bodies we accept.
const maxSDPSize = 16 << 10

// LocalMedia describes our side of an SDP offer or answer.
type LocalMedia struct {
	IP        net.IP          // address for c= and o=
	Port      int             // RTP port for m=
	Codecs    []media.Codec   // preference order
	DTMFPT    uint8           // payload type for telephone-event in offers; 0 means DefaultDTMFPayloadType
	Direction media.Direction // our direction for offers
	SessionID uint64          // o= session id
	Version   uint64          // o= session version (bump on every new SDP)
}

// RemoteMedia is what a far-end SDP says about its first audio stream.
type RemoteMedia struct {
	// Addr is where to send RTP; nil when the far end put the stream on
	// hold with c=0.0.0.0.
	Addr *net.UDPAddr
	// Codecs lists the audio codecs we recognise, in the far end's order.
	Codecs []media.Codec
	// DTMFPT is the telephone-event payload type, valid when HasDTMF.
	DTMFPT  uint8
	HasDTMF bool
	// Direction is the far end's direction attribute (sendrecv if absent).
	Direction media.Direction
	// Hold is true for c=0.0.0.0 (RFC 2543 style hold).
	Hold bool

	mediaIndex int // index of the chosen m= line
	mediaCount int // number of m= lines in the description
	otherMedia []sdp.MediaName
}

// Negotiated is the outcome of offer/answer for one call leg.
type Negotiated struct {
	Remote *net.UDPAddr // nil while on hold with c=0.0.0.0
	Codec  media.Codec
	// DTMFPT is the telephone-event payload type; 0 when the far end has
	// none (media then falls back to in-band detection).
	DTMFPT uint8
	// Local is the direction we use (mirror of the far end's).
	Local media.Direction
}

// BuildOffer returns an SDP offer for l: one audio m= line with l.Codecs,
// telephone-event/8000 with a=fmtp 0-16, ptime 20 and the direction.
func BuildOffer(l LocalMedia) ([]byte, error) {
	if l.IP == nil || l.Port <= 0 || l.Port > 65535 {
		return nil, fmt.Errorf("build SDP offer: invalid local RTP address %v:%d", l.IP, l.Port)
	}
	if len(l.Codecs) == 0 {
		return nil, errors.New("build SDP offer: no codecs")
	}
	dtmf := l.DTMFPT
	if dtmf == 0 {
		dtmf = DefaultDTMFPayloadType
	}
	return buildSDP(l, l.Codecs, dtmf, true, l.Direction, nil, 0)
}

// ParseSDP parses a far-end SDP body and extracts its first usable audio
// stream. Errors wrap ErrBadSDP.
func ParseSDP(body []byte) (*RemoteMedia, error) {
	if len(body) == 0 {
		return nil, fmt.Errorf("%w: empty body", ErrBadSDP)
	}
	if len(body) > maxSDPSize {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrBadSDP, len(body), maxSDPSize)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	rm := &RemoteMedia{mediaIndex: -1, mediaCount: len(sd.MediaDescriptions), Direction: media.SendRecv}
	for i, md := range sd.MediaDescriptions {
		if md == nil {
			continue
		}
		rm.otherMedia = append(rm.otherMedia, md.MediaName)
		if rm.mediaIndex >= 0 || md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		if !isRTPAVP(md.MediaName.Protos) {
			continue
		}
		rm.mediaIndex = i
		if err := rm.fillAudio(&sd, md); err != nil {
			return nil, err
		}
	}
	if rm.mediaIndex < 0 {
		return nil, fmt.Errorf("%w: no active RTP/AVP audio stream", ErrBadSDP)
	}
	return rm, nil
}

func isRTPAVP(protos []string) bool {
	p := strings.ToUpper(strings.Join(protos, "/"))
	return p == "RTP/AVP"
}

func (rm *RemoteMedia) fillAudio(sd *sdp.SessionDescription, md *sdp.MediaDescription) error {
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return fmt.Errorf("%w: audio stream has no c= line", ErrBadSDP)
	}
	if ci.NetworkType != "IN" || (ci.AddressType != "IP4" && ci.AddressType != "IP6") {
		return fmt.Errorf("%w: unsupported connection %s %s", ErrBadSDP, ci.NetworkType, ci.AddressType)
	}
	ip := net.ParseIP(ci.Address.Address)
	if ip == nil {
		return fmt.Errorf("%w: connection address %q is not an IP address", ErrBadSDP, ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	if port < 0 || port > 65535 {
		return fmt.Errorf("%w: RTP port %d out of range", ErrBadSDP, port)
	}
	if ip.IsUnspecified() {
		rm.Hold = true
	} else {
		rm.Addr = &net.UDPAddr{IP: ip, Port: port}
	}

	rtpmap := map[int]string{}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, rest, ok := strings.Cut(a.Value, " ")
			n, err := strconv.Atoi(pt)
			if !ok || err != nil || n < 0 || n > 127 {
				return fmt.Errorf("%w: bad a=rtpmap:%s", ErrBadSDP, a.Value)
			}
			rtpmap[n] = strings.ToUpper(strings.TrimSpace(rest))
		case "sendrecv":
			rm.Direction = media.SendRecv
		case "sendonly":
			rm.Direction = media.SendOnly
		case "recvonly":
			rm.Direction = media.RecvOnly
		case "inactive":
			rm.Direction = media.Inactive
		}
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 {
			return fmt.Errorf("%w: bad payload type %q in m= line", ErrBadSDP, f)
		}
		name, mapped := rtpmap[n]
		// Media speaks G.711 on its static payload types only.
		switch {
		case n == int(media.PCMU.PayloadType) && (!mapped || strings.HasPrefix(name, "PCMU/8000")):
			rm.Codecs = append(rm.Codecs, media.PCMU)
		case n == int(media.PCMA.PayloadType) && (!mapped || strings.HasPrefix(name, "PCMA/8000")):
			rm.Codecs = append(rm.Codecs, media.PCMA)
		case n >= 96 && mapped && strings.HasPrefix(name, "TELEPHONE-EVENT/8000"):
			if !rm.HasDTMF {
				rm.HasDTMF, rm.DTMFPT = true, uint8(n)
			}
		}
	}
	return nil
}

// pick returns the first codec of ordered that appears in allowed (by name).
func pickCodec(ordered, allowed []media.Codec) (media.Codec, bool) {
	for _, c := range ordered {
		for _, a := range allowed {
			if strings.EqualFold(c.Name, a.Name) {
				return c, true
			}
		}
	}
	return media.Codec{}, false
}

// mirror returns the answerer's direction for an offered direction (RFC 3264 §6.1).
func mirror(d media.Direction) media.Direction {
	switch d {
	case media.SendOnly:
		return media.RecvOnly
	case media.RecvOnly:
		return media.SendOnly
	case media.Inactive:
		return media.Inactive
	}
	return media.SendRecv
}

func (rm *RemoteMedia) negotiated(c media.Codec) *Negotiated {
	n := &Negotiated{Remote: rm.Addr, Codec: c, Local: mirror(rm.Direction)}
	if rm.Hold && rm.Direction == media.SendRecv {
		// c=0.0.0.0 hold: nothing can be sent to the far end.
		n.Local = media.RecvOnly
	}
	if rm.HasDTMF {
		n.DTMFPT = rm.DTMFPT
	}
	return n
}

// ParseAnswer parses the far end's SDP answer to an offer we built from l and
// picks the first codec of the answer that we offered. Errors wrap ErrBadSDP
// or ErrNoCommonCodec.
func ParseAnswer(body []byte, l LocalMedia) (*Negotiated, error) {
	rm, err := ParseSDP(body)
	if err != nil {
		return nil, err
	}
	c, ok := pickCodec(rm.Codecs, l.Codecs)
	if !ok {
		return nil, fmt.Errorf("%w: answer has %s, we offered %s", ErrNoCommonCodec, codecNames(rm.Codecs), codecNames(l.Codecs))
	}
	n := rm.negotiated(c)
	// The far end's direction in an answer is already from its side:
	// sendonly there means we only receive.
	return n, nil
}

// BuildAnswer answers an SDP offer with our media l: the first offered codec
// that we support, telephone-event when offered, and the mirrored
// direction. Other m= lines are rejected with port 0. Errors wrap ErrBadSDP
// or ErrNoCommonCodec.
func BuildAnswer(offer []byte, l LocalMedia) ([]byte, *Negotiated, error) {
	rm, err := ParseSDP(offer)
	if err != nil {
		return nil, nil, err
	}
	c, ok := pickCodec(rm.Codecs, l.Codecs)
	if !ok {
		return nil, nil, fmt.Errorf("%w: offer has %s, we support %s", ErrNoCommonCodec, codecNames(rm.Codecs), codecNames(l.Codecs))
	}
	n := rm.negotiated(c)
	var dtmf uint8
	if rm.HasDTMF {
		dtmf = rm.DTMFPT
	}
	body, err := buildSDP(l, []media.Codec{c}, dtmf, rm.HasDTMF, n.Local, rm.otherMedia, rm.mediaIndex)
	if err != nil {
		return nil, nil, err
	}
	return body, n, nil
}

func codecNames(cs []media.Codec) string {
	if len(cs) == 0 {
		return "none"
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, ",")
}

func directionAttr(d media.Direction) string {
	switch d {
	case media.SendOnly:
		return "sendonly"
	case media.RecvOnly:
		return "recvonly"
	case media.Inactive:
		return "inactive"
	}
	return "sendrecv"
}

// buildSDP renders our SDP. others/audioIdx, when others is non-nil, make
// an answer with the same m= line count as the offer (non-chosen lines
// rejected with port 0).
func buildSDP(l LocalMedia, codecs []media.Codec, dtmfPT uint8, withDTMF bool, dir media.Direction, others []sdp.MediaName, audioIdx int) ([]byte, error) {
	if l.IP == nil || l.Port <= 0 || l.Port > 65535 {
		return nil, fmt.Errorf("build SDP: invalid local RTP address %v:%d", l.IP, l.Port)
	}
	addrType, ip := "IP4", l.IP.String()
	if l.IP.To4() == nil {
		addrType = "IP6"
	}
	audio := &sdp.MediaDescription{
		MediaName: sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: l.Port}, Protos: []string{"RTP", "AVP"}},
	}
	for _, c := range codecs {
		pt := strconv.Itoa(int(c.PayloadType))
		audio.MediaName.Formats = append(audio.MediaName.Formats, pt)
		audio.Attributes = append(audio.Attributes, sdp.NewAttribute("rtpmap", fmt.Sprintf("%s %s/%d", pt, c.Name, c.ClockRate)))
	}
	if withDTMF {
		pt := strconv.Itoa(int(dtmfPT))
		audio.MediaName.Formats = append(audio.MediaName.Formats, pt)
		audio.Attributes = append(audio.Attributes,
			sdp.NewAttribute("rtpmap", pt+" telephone-event/8000"),
			sdp.NewAttribute("fmtp", pt+" 0-16"))
	}
	audio.Attributes = append(audio.Attributes, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(directionAttr(dir)))

	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{Username: "callbox", SessionID: l.SessionID, SessionVersion: l.Version,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip},
		SessionName:           "callbox",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
	}
	if others == nil {
		sd.MediaDescriptions = []*sdp.MediaDescription{audio}
	} else {
		for i, mn := range others {
			if i == audioIdx {
				sd.MediaDescriptions = append(sd.MediaDescriptions, audio)
				continue
			}
			formats := mn.Formats
			if len(formats) == 0 {
				formats = []string{"0"}
			}
			sd.MediaDescriptions = append(sd.MediaDescriptions, &sdp.MediaDescription{
				MediaName: sdp.MediaName{Media: mn.Media, Port: sdp.RangedPort{Value: 0}, Protos: mn.Protos, Formats: formats[:1]},
			})
		}
	}
	return sd.Marshal()
}
