package sipua

import (
	"errors"
	"fmt"
)

// Disposition is the outcome class of a call attempt, as stored in call records.
type Disposition string

// Dispositions.
const (
	Answered    Disposition = "answered"
	Busy        Disposition = "busy"        // 486, 600
	NoAnswer    Disposition = "no-answer"   // ring timeout, 408, 480, 487 after our CANCEL
	Rejected    Disposition = "rejected"    // 403, 603, 404, 484, 3xx, other 4xx/6xx
	Unreachable Disposition = "unreachable" // transport error, 503, trunk down, no response
	Failed      Disposition = "failed"      // 488, no common codec, other 5xx, internal
)

// Sentinel errors. Dial wraps them in a *DialError; use errors.Is.
var (
	// ErrUnknownTrunk: DialRequest.Trunk names no configured trunk (Failed).
	ErrUnknownTrunk = errors.New("unknown trunk")
	// ErrTrunkBusy: the trunk's MaxCalls concurrent calls are in progress (Failed, code 0).
	ErrTrunkBusy = errors.New("trunk call cap reached")
	// ErrTrunkDown: the trunk's OPTIONS keepalive says it is down (Unreachable).
	ErrTrunkDown = errors.New("trunk is down")
	// ErrDraining: the UA refuses new calls while draining (Failed).
	ErrDraining = errors.New("SIP user agent is draining")
	// ErrInvalidRequest: the DialRequest is malformed (bad number, header, ...) (Failed).
	ErrInvalidRequest = errors.New("invalid dial request")
	// ErrClosed: the UA is closed or not started (Failed).
	ErrClosed = errors.New("SIP user agent is closed")
	// ErrNoResponse: the trunk sent no final response in time (Unreachable).
	ErrNoResponse = errors.New("no response from trunk")
)

// DialError is the error Dial returns when a call is not answered.
type DialError struct {
	Disposition Disposition
	Code        int    // SIP status code, 0 when no final response
	Reason      string // SIP reason phrase or a description
	Err         error  // underlying cause (sentinel, transport, context), may be nil
	// Info is what was known of the attempt (INVITE and ringing times, SIP
	// Call-ID); zero when the dial was refused before an INVITE was built.
	Info CallInfo
}

func (e *DialError) Error() string {
	msg := fmt.Sprintf("dial %s", e.Disposition)
	if e.Code != 0 {
		msg += fmt.Sprintf(" (SIP %d %s)", e.Code, e.Reason)
	} else if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil && (e.Code != 0 || e.Reason != e.Err.Error()) {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying cause.
func (e *DialError) Unwrap() error { return e.Err }

// Classify maps an error returned by Dial to its disposition and SIP code.
// A nil error means the call was answered (200).
func Classify(err error) (Disposition, int) {
	if err == nil {
		return Answered, 200
	}
	var de *DialError
	if errors.As(err, &de) {
		return de.Disposition, de.Code
	}
	switch {
	case errors.Is(err, ErrTrunkDown), errors.Is(err, ErrNoResponse):
		return Unreachable, 0
	}
	return Failed, 0
}

// dispositionForCode classifies a final non-2xx SIP response.
func dispositionForCode(code int) Disposition {
	switch {
	case code >= 200 && code < 300:
		return Answered
	case code == 486 || code == 600:
		return Busy
	case code == 408 || code == 480 || code == 487:
		return NoAnswer
	case code == 488 || code == 606:
		return Failed
	case code >= 300 && code < 500:
		return Rejected
	case code == 503:
		return Unreachable
	case code >= 500 && code < 600:
		return Failed
	case code >= 600:
		return Rejected
	}
	return Failed
}

func dialErr(d Disposition, code int, reason string, err error) *DialError {
	return &DialError{Disposition: d, Code: code, Reason: reason, Err: err}
}
