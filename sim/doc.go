// Package sim owns the callee simulator: the far end of the box's SIP trunk
// used by the demo, the integration tests and the benchmarks.
//
// A Server listens for SIP (UDP or TCP, sipgo), answers INVITEs over real
// SIP/RTP (pion/sdp for the offer/answer, callbox/media for RTP) and plays a
// Persona chosen by the dialled number: it rings, rejects, answers, speaks
// real espeak-ng speech after the box stops talking (measured with the
// media VAD), barges in, sends RFC 4733 digits, plays a voicemail greeting
// and beep, or hangs up part way; referred by the box (REFER), it
// transfers itself to the target like a phone. Every call is logged as a CallLog, kept
// in memory (Calls, WaitCalls) and optionally appended as one JSON line to
// Config.LogFile so several processes can count calls at the far end.
//
// The simulator is the box's peer, not part of it: it imports media but no
// daemon/ or cluster/ package.
package sim
