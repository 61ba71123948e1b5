package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// User is one account. PasswordHash never leaves the package and the
// backend.
type User struct {
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	PasswordHash string    `json:"password_hash"`
	Created      time.Time `json:"created"`
	PasswordSet  time.Time `json:"password_set"`
}

// Token is one API token. Only the SHA-256 of its secret is stored.
type Token struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	User       string    `json:"user"`
	Role       Role      `json:"role"`
	SecretHash string    `json:"secret_hash"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires,omitzero"`
}

// Store is the API's users and tokens over a Backend: the cluster's
// replicated state in callboxd (ClusterBackend), or a JSON file (a box's
// users file before the upgrade to replicated accounts, and tests).
// Hashing and every check that needs a secret happen here; the backend
// only stores and decides races (a taken name, the first user).
type Store struct {
	backend Backend
	// Iterations is the PBKDF2 work factor for new password hashes.
	Iterations int
	// Timeout bounds one write through the backend.
	Timeout   time.Duration
	now       func() time.Time
	dummyOnce sync.Once
	dummy     string      // written inside dummyOnce
	migrating atomic.Bool // an old users file is being imported (StartMigration)
}

// NewStore returns a store over b; now may be nil (time.Now).
func NewStore(b Backend, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{backend: b, Iterations: DefaultIterations, Timeout: 10 * time.Second, now: now}
}

// OpenStore opens a store over the JSON users file at path (created on
// the first change); now may be nil (time.Now).
func OpenStore(path string, now func() time.Time) (*Store, error) {
	b, err := OpenFileBackend(path)
	if err != nil {
		return nil, err
	}
	return NewStore(b, now), nil
}

// Backend returns the store's backend.
func (s *Store) Backend() Backend { return s.backend }

func (s *Store) apply(c Change) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	return s.backend.Apply(ctx, c)
}

// UserInfo is a user without its password hash.
type UserInfo struct {
	Name        string    `json:"name"`
	Role        Role      `json:"role"`
	Created     time.Time `json:"created"`
	PasswordSet time.Time `json:"password_set"`
}

// TokenInfo is a token without its secret.
type TokenInfo struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	User    string     `json:"user"`
	Role    Role       `json:"role"`
	Created time.Time  `json:"created"`
	Expires *time.Time `json:"expires,omitempty"`
}

func (t *Token) info() TokenInfo {
	ti := TokenInfo{ID: t.ID, Name: t.Name, User: t.User, Role: t.Role, Created: t.Created}
	if !t.Expires.IsZero() {
		e := t.Expires
		ti.Expires = &e
	}
	return ti
}

// AddUser creates a user.
func (s *Store) AddUser(name string, role Role, password string) (UserInfo, error) {
	return s.addUser(name, role, password, OpCreateUser)
}

// AddFirstUser creates a user only while there are no users at all (setup
// mode): of two boxes set up at once, one wins and the other gets
// ErrExists, so a cluster gets its first admin once.
func (s *Store) AddFirstUser(name string, role Role, password string) (UserInfo, error) {
	return s.addUser(name, role, password, OpFirstUser)
}

func (s *Store) addUser(name string, role Role, password string, op Op) (UserInfo, error) {
	if err := validUserName(name); err != nil {
		return UserInfo{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return UserInfo{}, err
	}
	if err := validPassword(password); err != nil {
		return UserInfo{}, err
	}
	h, err := hashPassword(password, s.Iterations)
	if err != nil {
		return UserInfo{}, err
	}
	now := s.now().UTC()
	u := User{Name: name, Role: role, PasswordHash: h, Created: now, PasswordSet: now}
	if err := s.apply(Change{Op: op, User: u, At: now}); err != nil {
		return UserInfo{}, err
	}
	return u.info(), nil
}

func (u *User) info() UserInfo {
	return UserInfo{Name: u.Name, Role: u.Role, Created: u.Created, PasswordSet: u.PasswordSet}
}

// SetPassword replaces a user's password.
func (s *Store) SetPassword(name, password string) error {
	if err := validPassword(password); err != nil {
		return err
	}
	h, err := hashPassword(password, s.Iterations)
	if err != nil {
		return err
	}
	u, ok, err := s.backend.User(name)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	now := s.now().UTC()
	u.PasswordHash, u.PasswordSet = h, now
	return s.apply(Change{Op: OpUpdateUser, User: u, At: now})
}

// DeleteUser removes a user and every token of it.
func (s *Store) DeleteUser(name string) error {
	return s.apply(Change{Op: OpDeleteUser, Name: name, At: s.now().UTC()})
}

// Empty reports whether there are no users. A backend that cannot be
// read counts as not empty, so setup mode fails closed.
func (s *Store) Empty() bool {
	if s.migrating.Load() {
		return false
	}
	has, err := s.backend.HasUsers()
	return err == nil && !has
}

// Users lists every user by name (empty when the backend cannot be read).
func (s *Store) Users() []UserInfo {
	us, _ := s.backend.Users()
	out := make([]UserInfo, 0, len(us))
	for i := range us {
		out = append(out, us[i].info())
	}
	slices.SortFunc(out, func(a, b UserInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// User returns one user without its hash.
func (s *Store) User(name string) (UserInfo, bool) {
	u, ok, err := s.backend.User(name)
	if err != nil || !ok {
		return UserInfo{}, false
	}
	return u.info(), true
}

// dummyHash is checked against when the user does not exist, so a login
// takes as long for an unknown name as for a wrong password.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = hashPassword("callbox-dummy-password", s.Iterations) })
	return s.dummy
}

// CheckPassword verifies a user's password and returns the user.
func (s *Store) CheckPassword(name, password string) (UserInfo, error) {
	u, ok, err := s.backend.User(name)
	if err != nil {
		return UserInfo{}, err
	}
	if !ok {
		checkPassword(s.dummyHash(), password)
		return UserInfo{}, ErrBadCredentials
	}
	if !checkPassword(u.PasswordHash, password) {
		return UserInfo{}, ErrBadCredentials
	}
	return u.info(), nil
}

// CreateToken makes a token for user with role (empty: the user's role;
// never more than the user's). ttl 0 means no expiry. The secret is
// returned once and never stored.
func (s *Store) CreateToken(user, name string, role Role, ttl time.Duration) (TokenInfo, string, error) {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, "\r\n\t") {
		return TokenInfo{}, "", fmt.Errorf("%w: token name must be 1-64 characters on one line", ErrInvalid)
	}
	if ttl < 0 {
		return TokenInfo{}, "", fmt.Errorf("%w: token lifetime must not be negative", ErrInvalid)
	}
	u, ok, err := s.backend.User(user)
	if err != nil {
		return TokenInfo{}, "", err
	}
	if !ok {
		return TokenInfo{}, "", fmt.Errorf("%w: user %q", ErrNotFound, user)
	}
	if role == "" {
		role = u.Role
	}
	if _, err := ParseRole(string(role)); err != nil {
		return TokenInfo{}, "", err
	}
	if !covers(u.Role, role) {
		return TokenInfo{}, "", fmt.Errorf("%w: user %q (%s) cannot hold a %s token", ErrInvalid, user, u.Role, role)
	}
	var idb [6]byte
	var sec [24]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return TokenInfo{}, "", err
	}
	if _, err := rand.Read(sec[:]); err != nil {
		return TokenInfo{}, "", err
	}
	id, secret := hex.EncodeToString(idb[:]), hex.EncodeToString(sec[:])
	now := s.now().UTC()
	t := Token{ID: id, Name: name, User: user, Role: role, SecretHash: hashSecret(secret), Created: now}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	if err := s.apply(Change{Op: OpPutToken, Token: t, At: now}); err != nil {
		return TokenInfo{}, "", err
	}
	return t.info(), "cbx_" + id + "_" + secret, nil
}

// RevokeToken deletes a token.
func (s *Store) RevokeToken(id string) (TokenInfo, error) {
	t, ok, err := s.backend.Token(id)
	if err != nil {
		return TokenInfo{}, err
	}
	if !ok {
		return TokenInfo{}, fmt.Errorf("%w: token %q", ErrNotFound, id)
	}
	if err := s.apply(Change{Op: OpRevokeToken, Name: id, At: s.now().UTC()}); err != nil {
		return TokenInfo{}, err
	}
	return t.info(), nil
}

// Tokens lists tokens (of one user, or all when user is empty).
func (s *Store) Tokens(user string) []TokenInfo {
	ts, _ := s.backend.Tokens()
	var out []TokenInfo
	for i := range ts {
		if user == "" || ts[i].User == user {
			out = append(out, ts[i].info())
		}
	}
	slices.SortFunc(out, func(a, b TokenInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// CheckToken resolves a bearer token "cbx_ID_SECRET" to its principal.
func (s *Store) CheckToken(raw string) (Principal, error) {
	rest, ok := strings.CutPrefix(raw, "cbx_")
	id, secret, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 {
		return Principal{}, ErrUnauthenticated
	}
	t, ok, err := s.backend.Token(id)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(t.SecretHash)) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	if !t.Expires.IsZero() && !s.now().Before(t.Expires) {
		return Principal{}, fmt.Errorf("%w: token %s expired at %s", ErrUnauthenticated, id, t.Expires.Format(time.RFC3339))
	}
	u, ok, err := s.backend.User(t.User)
	if err != nil || !ok {
		return Principal{}, ErrUnauthenticated
	}
	role := t.Role
	if !covers(u.Role, role) { // the user was demoted since
		role = u.Role
	}
	return Principal{User: t.User, Role: role, Via: ViaToken, TokenID: id}, nil
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
