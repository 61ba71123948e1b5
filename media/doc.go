// Package media owns the box's media plane: RTP sessions with symmetric RTP
// and source locking, the single shared 20 ms media clock that paces every
// call, G.711 codecs, the adaptive jitter buffer, RFC 4733 and in-band DTMF,
// RTCP statistics, the stereo call recorder, prompt sources, VAD and AMD.
//
// It is a leaf library: it never imports daemon/ or cluster/.
package media
