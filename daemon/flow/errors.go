package flow

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers match them with errors.Is.
var (
	// ErrInvalidFlow is returned (wrapped in an ErrorList) when a flow file
	// fails validation; errors.As with *ErrorList gives each problem.
	ErrInvalidFlow = errors.New("invalid flow")
	// ErrMissingField means the contact profile lacks a field that a
	// template of the flow speaks.
	ErrMissingField = errors.New("contact profile is missing a field")
	// ErrBadValue means a profile or slot value cannot be spoken by the
	// requested filter (for example "abc" through money).
	ErrBadValue = errors.New("value cannot be spoken")
	// ErrStepLimit means the interpreter executed more nodes than
	// RunOptions.MaxSteps without ending the call.
	ErrStepLimit = errors.New("flow step limit exceeded")
	// ErrTransferFailed means IO.Transfer failed and the node had no
	// on_fail route; the call was ended politely.
	ErrTransferFailed = errors.New("transfer failed")
	// ErrNLU is returned by NLU adapters for a malformed or failed reply.
	ErrNLU = errors.New("nlu classification failed")
)

// Diagnostic is one problem found in a flow file.
type Diagnostic struct {
	File    string
	Line    int // 1-based; 0 when unknown
	Col     int // 1-based; 0 when unknown
	Warning bool
	Msg     string
}

// String formats the diagnostic as "file:line:col: problem".
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Line > 0 {
		fmt.Fprintf(&b, ":%d", d.Line)
		if d.Col > 0 {
			fmt.Fprintf(&b, ":%d", d.Col)
		}
	}
	b.WriteString(": ")
	if d.Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(d.Msg)
	return b.String()
}

// ErrorList holds every error found while loading one flow file. It wraps
// ErrInvalidFlow.
type ErrorList []Diagnostic

// Error lists one problem per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalidFlow) true.
func (l ErrorList) Unwrap() error { return ErrInvalidFlow }
