// Package sipua is the box's SIP user agent for trunks. It owns SIP
// signalling over emiago/sipgo: trunk configuration and validation, digest
// registration with refresh and backoff, OPTIONS keepalive that marks trunks
// up or down, per-trunk call caps, outbound INVITE/CANCEL/ACK/BYE, in-dialog
// re-INVITE (hold/unhold), OPTIONS and INFO, inbound calls accepted only from
// configured trunks, SDP offer/answer through pion/sdp, and the
// classification of SIP outcomes into call dispositions.
//
// Media itself (RTP, clock, recording) belongs to package media: sipua only
// asks the daemon for a media.Session (Deps.NewMedia) and tells it where the
// far end is and which codec and direction were negotiated.
package sipua
