package campaign

import "errors"

// Sentinel errors. Every error this package returns wraps one of them
// (test with errors.Is); the message names the field, row or value.
var (
	// ErrBadSpec means a campaign definition is invalid.
	ErrBadSpec = errors.New("campaign: invalid campaign definition")
	// ErrBadNumber means a phone number cannot be normalised to E.164.
	ErrBadNumber = errors.New("campaign: invalid phone number")
	// ErrBadCSV means a contact file cannot be read at all (encoding,
	// header, quoting, size); row-level problems go in the Report instead.
	ErrBadCSV = errors.New("campaign: unreadable contact file")
	// ErrRejected means an import in reject-all mode found invalid rows;
	// nothing was imported.
	ErrRejected = errors.New("campaign: import rejected, nothing imported")
	// ErrTimezone means a time zone name is unknown.
	ErrTimezone = errors.New("campaign: unknown time zone")
)
