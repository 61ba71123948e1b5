package voice

import "errors"

// Sentinel errors. They classify themselves with errors.Is.
var (
	// ErrCallEnded means the call ended (either side hung up) while a
	// prompt played or the box listened.
	ErrCallEnded = errors.New("voice: call ended")
	// ErrConfig means a required Config field is missing.
	ErrConfig = errors.New("voice: bad configuration")
	// ErrNoTransfer means the call has no transfer hook.
	ErrNoTransfer = errors.New("voice: transfer is not available on this call")
	// ErrNoRecording means the call has no recording to pause or resume.
	ErrNoRecording = errors.New("voice: this call is not recorded")
)
