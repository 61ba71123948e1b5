package auth

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// CookieName is the session cookie; CSRFHeader carries the CSRF token.
const (
	CookieName = "callbox_session"
	CSRFHeader = "X-CSRF-Token"
)

// How a principal authenticated.
const (
	ViaBootstrap = "bootstrap" // the api.token from the configuration
	ViaToken     = "token"     // a stored API token
	ViaSession   = "session"   // the dashboard's session cookie
	ViaLocal     = "local"     // setup mode: loopback, no users, no bootstrap token
)

// Principal is who is making a request.
type Principal struct {
	User    string `json:"user"`
	Role    Role   `json:"role"`
	Via     string `json:"via"`
	TokenID string `json:"token_id,omitempty"`
}

// Can reports whether the principal holds perm.
func (p Principal) Can(perm Permission) bool { return Allowed(p.Role, perm) }

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Authenticator turns requests into principals and runs logins.
type Authenticator struct {
	Store *Store
	// Bootstrap is api.token: when set, it authenticates as the built-in
	// "bootstrap" admin.
	Bootstrap string
	// SecureCookie sets the cookie's Secure flag (the API is on HTTPS).
	SecureCookie bool

	now      func() time.Time
	sessions *sessions
	byUser   *Limiter
	byAddr   *Limiter
}

// NewAuthenticator wires a store; now may be nil (time.Now).
func NewAuthenticator(store *Store, bootstrap string, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{
		Store: store, Bootstrap: bootstrap, now: now,
		sessions: &sessions{now: now, m: map[string]*Session{}},
		byUser:   NewLimiter(UserPolicy, now),
		byAddr:   NewLimiter(AddrPolicy, now),
	}
}

// Authenticate identifies the request's principal. A cookie-authenticated
// request other than GET/HEAD/OPTIONS must carry the session's CSRF token
// in X-CSRF-Token (ErrCSRF otherwise).
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			return Principal{}, fmt.Errorf("%w: Authorization header is not \"Bearer TOKEN\"", ErrUnauthenticated)
		}
		if a.Bootstrap != "" && subtle.ConstantTimeCompare([]byte(raw), []byte(a.Bootstrap)) == 1 {
			return Principal{User: "bootstrap", Role: Admin, Via: ViaBootstrap}, nil
		}
		p, err := a.Store.CheckToken(raw)
		if err != nil {
			if err == ErrUnauthenticated { // the bare sentinel: say what it means here
				return Principal{}, fmt.Errorf("%w: unknown or revoked bearer token", ErrUnauthenticated)
			}
			return Principal{}, err
		}
		return p, nil
	}
	c, err := r.Cookie(CookieName)
	if (err != nil || c.Value == "") && a.setupMode(r) {
		return Principal{User: "local", Role: Admin, Via: ViaLocal}, nil
	}
	if err != nil || c.Value == "" {
		return Principal{}, fmt.Errorf("%w: send \"Authorization: Bearer TOKEN\" or log in with POST /v1/login", ErrUnauthenticated)
	}
	sess, ok := a.sessions.get(c.Value)
	if !ok {
		return Principal{}, fmt.Errorf("%w: session expired or logged out; log in again", ErrUnauthenticated)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		got := r.Header.Get(CSRFHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
			return Principal{}, ErrCSRF
		}
	}
	return Principal{User: sess.User, Role: sess.Role, Via: ViaSession}, nil
}

// setupMode reports whether r is trusted as the local admin: the box has
// no users and no bootstrap token yet, r comes from a loopback address and
// not from a browser (no Origin header, so no web page can use it).
func (a *Authenticator) setupMode(r *http.Request) bool {
	if a.Bootstrap != "" || !a.Store.Empty() || r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != "" {
		return false
	}
	ip := net.ParseIP(ClientAddr(r))
	return ip != nil && ip.IsLoopback()
}

// SetupMode reports whether the box is still in setup mode (no users, no
// bootstrap token): loopback requests act as the local admin.
func (a *Authenticator) SetupMode() bool { return a.Bootstrap == "" && a.Store.Empty() }

// LoginResult is what a successful login hands the client.
type LoginResult struct {
	Cookie  *http.Cookie
	Session Session
}

// Login checks a user name and password from addr (the client's IP),
// applying the slowdown and lockout, and starts a session.
func (a *Authenticator) Login(user, password, addr string) (LoginResult, error) {
	ukey, akey := "user:"+user, "addr:"+addr
	if err := a.byAddr.Check(akey); err != nil {
		return LoginResult{}, err
	}
	if err := a.byUser.Check(ukey); err != nil {
		return LoginResult{}, err
	}
	u, err := a.Store.CheckPassword(user, password)
	if err != nil {
		a.byUser.Fail(ukey)
		a.byAddr.Fail(akey)
		return LoginResult{}, err
	}
	a.byUser.Succeed(ukey)
	v, sess := a.sessions.create(u)
	c := &http.Cookie{
		Name: CookieName, Value: v, Path: "/", HttpOnly: true, Secure: a.SecureCookie,
		SameSite: http.SameSiteStrictMode, Expires: sess.ExpiresAt,
	}
	return LoginResult{Cookie: c, Session: sess}, nil
}

// Logout ends the request's session, if any, and returns the cookie that
// clears it in the browser.
func (a *Authenticator) Logout(r *http.Request) *http.Cookie {
	if c, err := r.Cookie(CookieName); err == nil {
		a.sessions.delete(c.Value)
	}
	return &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.SecureCookie, SameSite: http.SameSiteStrictMode}
}

// Session returns the live session behind the request's cookie.
func (a *Authenticator) Session(r *http.Request) (Session, bool) {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return Session{}, false
	}
	return a.sessions.get(c.Value)
}

// EndSessions logs a user out everywhere (after a password change or
// deletion).
func (a *Authenticator) EndSessions(user string) { a.sessions.deleteUser(user) }

// ClientAddr is the request's remote IP (no proxy headers are trusted).
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
