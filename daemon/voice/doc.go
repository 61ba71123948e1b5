// Package voice owns the audio side of a dialogue: CallIO implements
// flow.IO for one answered call over its media session, the TTS hook
// (speech.Synthesizer, normally the on-disk cache) and the ASR hook
// (speech.Recognizer). It does barge-in (media.VAD speech start with a
// minimum speech duration stops an interruptible prompt; the AI disclosure
// is never interruptible), endpointing (a turn ends after the node's end
// silence), streams the caller's audio to the recognizer with the node's
// expected phrases as its grammar, collects DTMF, scores emotion from the
// audio (loudness, pitch, speech rate against the caller's own first turn)
// combined with the text score, and keeps per-turn timings.
//
// An ASR engine that fails to start, dies mid-turn, is slow or returns
// nothing never leaves the caller in dead air: the turn ends as no-input
// within ASRTimeout of the caller's end of speech, and DTMF keeps working.
//
// The package touches the media plane only through media.Session's
// Play/StopPlay and its inbound sink, so it keeps the one-clock design: the
// sink runs on a clock worker, never blocks, and hands frames to the
// listening goroutine through a bounded channel.
package voice
