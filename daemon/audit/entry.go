package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Entry is one audited event.
type Entry struct {
	Seq    uint64            `json:"seq"`
	Time   time.Time         `json:"time"`
	Actor  string            `json:"actor"`            // user name, "bootstrap", or "-" for unauthenticated
	Role   string            `json:"role,omitempty"`   // the actor's role
	Via    string            `json:"via,omitempty"`    // token, session, bootstrap
	Remote string            `json:"remote,omitempty"` // client IP
	Action string            `json:"action"`           // e.g. "POST /v1/calls", "recording.listen", "login.failed"
	Target string            `json:"target,omitempty"` // e.g. the call id or user name
	Status int               `json:"status,omitempty"` // HTTP status of the request
	Detail map[string]string `json:"detail,omitempty"`
	Prev   string            `json:"prev"`
	Hash   string            `json:"hash"`
	MAC    string            `json:"mac,omitempty"`
}

// ZeroHash is the prev of the first entry.
var ZeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// Sentinel errors.
var (
	// ErrTampered: Verify found an entry that does not fit the chain. The
	// error is a *TamperError naming the line and problem.
	ErrTampered = errors.New("audit: log has been tampered with")
	// ErrClosed: Append after Close.
	ErrClosed = errors.New("audit: log closed")
	// ErrWrite: the entry could not be written durably.
	ErrWrite = errors.New("audit: write failed")
)

// TamperError names the first bad entry.
type TamperError struct {
	Line    int    // 1-based line in the file
	Seq     uint64 // the seq the line claims (0 when unreadable)
	Problem string
}

func (e *TamperError) Error() string {
	if e.Seq > 0 {
		return fmt.Sprintf("audit: line %d (seq %d): %s", e.Line, e.Seq, e.Problem)
	}
	return fmt.Sprintf("audit: line %d: %s", e.Line, e.Problem)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Unwrap() error { return ErrTampered }

// canonical is the entry's line without the trailing newline.
func (e *Entry) canonical() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// seal fills Hash and MAC (key may be nil: no MAC).
func (e *Entry) seal(key []byte) ([]byte, error) {
	e.Hash, e.MAC = "", ""
	body, err := e.canonical()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	e.Hash = hex.EncodeToString(sum[:])
	if key != nil {
		e.MAC = mac(key, e.Hash)
	}
	return e.canonical()
}

func mac(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}
