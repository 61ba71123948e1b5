package auth

import (
	"errors"
	"net/http"
)

// Sentinel errors. Each maps to one HTTP status through HTTPStatus.
var (
	// ErrUnauthenticated: no credentials, or unknown/expired ones (401).
	ErrUnauthenticated = errors.New("auth: not authenticated")
	// ErrBadCredentials: wrong user name or password at login (401). The
	// message never says which of the two was wrong.
	ErrBadCredentials = errors.New("auth: wrong user name or password")
	// ErrForbidden: authenticated, but the role lacks the permission (403).
	ErrForbidden = errors.New("auth: permission denied")
	// ErrCSRF: a cookie-authenticated write without the matching
	// X-CSRF-Token header (403).
	ErrCSRF = errors.New("auth: missing or wrong X-CSRF-Token header")
	// ErrSlowDown: too many failed logins; retry after the delay (429).
	ErrSlowDown = errors.New("auth: too many failed logins; wait before retrying")
	// ErrLocked: the user name or client address is locked out (429).
	ErrLocked = errors.New("auth: locked out after repeated failed logins")
	// ErrInvalid: a malformed user name, password, role or token request (400).
	ErrInvalid = errors.New("auth: invalid request")
	// ErrNotFound: no such user or token (404).
	ErrNotFound = errors.New("auth: not found")
	// ErrExists: the user already exists (409).
	ErrExists = errors.New("auth: already exists")
	// ErrStore: the users file could not be read or written (500).
	ErrStore = errors.New("auth: users store failed")
)

// HTTPStatus maps an error of this package to its HTTP status; other
// errors are 500.
func HTTPStatus(err error) int {
	switch {
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrBadCredentials):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrCSRF):
		return http.StatusForbidden
	case errors.Is(err, ErrSlowDown), errors.Is(err, ErrLocked):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrExists):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}
