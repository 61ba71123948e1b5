package sim

import "errors"

// Sentinel errors. Returned errors wrap them with the offending value, so
// callers test them with errors.Is.
var (
	// ErrConfig: a Config field is missing or out of range.
	ErrConfig = errors.New("sim: invalid configuration")
	// ErrPersona: a Persona is malformed (unknown kind, bad digits, bad
	// code) or a rule names a persona that does not exist.
	ErrPersona = errors.New("sim: invalid persona")
	// ErrRule: a "PREFIX=PERSONA" rule string is malformed.
	ErrRule = errors.New("sim: invalid rule")
	// ErrSDP: the INVITE's SDP offer is missing, unparsable or offers
	// nothing the simulator can answer (it answers 488).
	ErrSDP = errors.New("sim: unusable SDP offer")
	// ErrClosed: the server was closed.
	ErrClosed = errors.New("sim: server closed")
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("sim: server already started")
	// ErrSpeech: espeak-ng failed or produced no audio.
	ErrSpeech = errors.New("sim: speech synthesis failed")
)
