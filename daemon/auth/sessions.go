package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Session lifetimes.
const (
	SessionIdle     = 30 * time.Minute // a session unused this long ends
	SessionLifetime = 12 * time.Hour   // and any session ends after this
)

// Session is one dashboard login.
type Session struct {
	User      string
	Role      Role
	CSRF      string
	Created   time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // absolute end
}

// sessions keeps logins in memory by SHA-256 of the cookie value: a
// restart logs everyone out.
type sessions struct {
	now func() time.Time

	mu sync.Mutex
	m  map[string]*Session // guarded by mu
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // the platform is broken; no safe fallback
	}
	return hex.EncodeToString(b)
}

func cookieKey(v string) string {
	h := sha256.Sum256([]byte(v))
	return string(h[:])
}

// create starts a session and returns its cookie value.
func (s *sessions) create(u UserInfo) (string, Session) {
	now := s.now()
	v := randomHex(32)
	sess := &Session{User: u.Name, Role: u.Role, CSRF: randomHex(32), Created: now, LastSeen: now, ExpiresAt: now.Add(SessionLifetime)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, old := range s.m { // sweep expired ones on every login
		if s.expired(old, now) {
			delete(s.m, k)
		}
	}
	s.m[cookieKey(v)] = sess
	return v, *sess
}

func (s *sessions) expired(sess *Session, now time.Time) bool {
	return !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeen) >= SessionIdle
}

// get returns the live session for a cookie value and touches it.
func (s *sessions) get(v string) (Session, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := cookieKey(v)
	sess, ok := s.m[k]
	if !ok {
		return Session{}, false
	}
	if s.expired(sess, now) {
		delete(s.m, k)
		return Session{}, false
	}
	sess.LastSeen = now
	return *sess, true
}

func (s *sessions) delete(v string) {
	s.mu.Lock()
	delete(s.m, cookieKey(v))
	s.mu.Unlock()
}

// deleteUser ends every session of a user (deleted, or password changed).
func (s *sessions) deleteUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sess := range s.m {
		if sess.User == user {
			delete(s.m, k)
		}
	}
}
