package apiv1

import "time"

// Login is the body of POST /v1/login.
type Login struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Session answers POST /v1/login and GET /v1/whoami. The session cookie
// travels in Set-Cookie; CSRFToken must be sent as X-CSRF-Token on every
// cookie-authenticated request that is not GET or HEAD.
type Session struct {
	User        string    `json:"user"`
	Role        string    `json:"role"`
	Via         string    `json:"via"` // session, token, bootstrap, local
	CSRFToken   string    `json:"csrf_token,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	Permissions []string  `json:"permissions"`
	SetupMode   bool      `json:"setup_mode,omitempty"`
}

// User is one account as GET /v1/users lists it.
type User struct {
	Name        string    `json:"name"`
	Role        string    `json:"role"`
	Created     time.Time `json:"created"`
	PasswordSet time.Time `json:"password_set"`
}

// NewUser is the body of POST /v1/users.
type NewUser struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// SetPassword is the body of PUT /v1/users/{name}/password.
type SetPassword struct {
	Password string `json:"password"`
}

// Token is an API token without its secret.
type Token struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	User    string     `json:"user"`
	Role    string     `json:"role"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
}

// NewToken is the body of POST /v1/tokens. User defaults to the caller,
// Role to the user's role; TTLSec 0 means no expiry.
type NewToken struct {
	Name   string `json:"name"`
	User   string `json:"user,omitempty"`
	Role   string `json:"role,omitempty"`
	TTLSec int64  `json:"ttl_sec,omitempty"`
}

// CreatedToken answers POST /v1/tokens: the only time the secret is shown.
type CreatedToken struct {
	Token
	Secret string `json:"secret"`
}

// AuditEntry is one audit log entry (GET /v1/audit).
type AuditEntry struct {
	Seq    uint64            `json:"seq"`
	Time   time.Time         `json:"time"`
	Actor  string            `json:"actor"`
	Role   string            `json:"role,omitempty"`
	Via    string            `json:"via,omitempty"`
	Remote string            `json:"remote,omitempty"`
	Action string            `json:"action"`
	Target string            `json:"target,omitempty"`
	Status int               `json:"status,omitempty"`
	Detail map[string]string `json:"detail,omitempty"`
	Prev   string            `json:"prev"`
	Hash   string            `json:"hash"`
	MAC    string            `json:"mac,omitempty"`
}

// AuditVerify answers GET /v1/audit/verify.
type AuditVerify struct {
	OK       bool   `json:"ok"`
	Entries  int    `json:"entries"`
	LastSeq  uint64 `json:"last_seq"`
	LastHash string `json:"last_hash"`
	MACs     bool   `json:"macs_checked"`
	Head     bool   `json:"head_checked"`
	Problem  string `json:"problem,omitempty"`
	BadLine  int    `json:"bad_line,omitempty"`
	BadSeq   uint64 `json:"bad_seq,omitempty"`
}
