package sim

// This file holds the SDP offer/answer: parsing the box's offer and writing
// the simulator's answer, both with pion/sdp.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"callbox/media"

	"github.com/pion/sdp/v3"
)

// maxSDPBytes bounds the offer we parse.
const maxSDPBytes = 16 << 10

// offer is what the simulator needs from the box's SDP.
type offer struct {
	Addr    netip.AddrPort // where to send RTP
	Codec   media.Codec    // first offered codec we support (PCMU or PCMA)
	DTMFPT  uint8          // telephone-event/8000 payload type when HasDTMF
	HasDTMF bool
}

// parseOffer reads the first audio stream of an SDP offer. Errors wrap
// ErrSDP and say what is missing.
func parseOffer(body []byte) (offer, error) {
	var o offer
	if len(body) == 0 {
		return o, fmt.Errorf("%w: INVITE has no SDP body (late offer is not supported)", ErrSDP)
	}
	if len(body) > maxSDPBytes {
		return o, fmt.Errorf("%w: %d bytes, limit %d", ErrSDP, len(body), maxSDPBytes)
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return o, fmt.Errorf("%w: %v", ErrSDP, err)
	}
	var md *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m != nil && m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			md = m
			break
		}
	}
	if md == nil {
		return o, fmt.Errorf("%w: no active m=audio stream", ErrSDP)
	}
	if p := md.MediaName.Protos; len(p) != 2 || p[0] != "RTP" || p[1] != "AVP" {
		return o, fmt.Errorf("%w: m=audio transport %q, want RTP/AVP", ErrSDP, strings.Join(p, "/"))
	}
	port := md.MediaName.Port.Value
	if port < 1 || port > 65535 {
		return o, fmt.Errorf("%w: m=audio port %d out of range", ErrSDP, port)
	}
	conn := md.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return o, fmt.Errorf("%w: no c= connection address", ErrSDP)
	}
	if conn.NetworkType != "IN" || (conn.AddressType != "IP4" && conn.AddressType != "IP6") {
		return o, fmt.Errorf("%w: c= %s %s, want IN IP4 or IN IP6", ErrSDP, conn.NetworkType, conn.AddressType)
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return o, fmt.Errorf("%w: c= address %q is not an IP address", ErrSDP, conn.Address.Address)
	}
	if ip.IsUnspecified() || ip.IsMulticast() {
		return o, fmt.Errorf("%w: c= address %s is unspecified or multicast (hold or multicast not supported)", ErrSDP, ip)
	}
	o.Addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))

	rtpmap := map[int]string{} // payload type -> lower-case "name/rate"
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(strings.TrimSpace(a.Value), " ")
		n, err := strconv.Atoi(pt)
		if !ok || err != nil || n < 0 || n > 127 {
			continue
		}
		rtpmap[n] = strings.ToLower(strings.TrimSpace(enc))
	}
	for _, f := range md.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 {
			return o, fmt.Errorf("%w: m=audio payload type %q is not a number 0-127", ErrSDP, f)
		}
		enc := rtpmap[n]
		switch {
		case o.Codec.IsZero() && (enc == "pcmu/8000" || enc == "pcmu/8000/1" || (enc == "" && n == 0)):
			o.Codec = media.PCMU
		case o.Codec.IsZero() && (enc == "pcma/8000" || enc == "pcma/8000/1" || (enc == "" && n == 8)):
			o.Codec = media.PCMA
		case !o.HasDTMF && n >= 96 && (enc == "telephone-event/8000" || enc == "telephone-event/8000/1"):
			o.DTMFPT, o.HasDTMF = uint8(n), true
		}
	}
	if o.Codec.IsZero() {
		return o, fmt.Errorf("%w: offered payload types %v include neither PCMU/8000 nor PCMA/8000", ErrSDP, md.MediaName.Formats)
	}
	return o, nil
}

// buildAnswer writes the simulator's SDP answer for o, with media at local.
func buildAnswer(o offer, local netip.AddrPort, sessID uint64) ([]byte, error) {
	addrType := "IP4"
	if local.Addr().Is6() {
		addrType = "IP6"
	}
	ip := local.Addr().String()
	formats := []string{strconv.Itoa(int(o.Codec.PayloadType))}
	attrs := []sdp.Attribute{
		{Key: "rtpmap", Value: fmt.Sprintf("%d %s/%d", o.Codec.PayloadType, o.Codec.Name, o.Codec.ClockRate)},
	}
	if o.HasDTMF {
		pt := strconv.Itoa(int(o.DTMFPT))
		formats = append(formats, pt)
		attrs = append(attrs,
			sdp.Attribute{Key: "rtpmap", Value: pt + " telephone-event/8000"},
			sdp.Attribute{Key: "fmtp", Value: pt + " 0-16"})
	}
	attrs = append(attrs, sdp.Attribute{Key: "ptime", Value: "20"}, sdp.Attribute{Key: "sendrecv"})
	sd := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "callbox-sim", SessionID: sessID, SessionVersion: sessID,
			NetworkType: "IN", AddressType: addrType, UnicastAddress: ip,
		},
		SessionName:           "callbox-sim",
		ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}},
		TimeDescriptions:      []sdp.TimeDescription{{Timing: sdp.Timing{}}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName:  sdp.MediaName{Media: "audio", Port: sdp.RangedPort{Value: int(local.Port())}, Protos: []string{"RTP", "AVP"}, Formats: formats},
			Attributes: attrs,
		}},
	}
	return sd.Marshal()
}
