package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// User is one account. PasswordHash never leaves the package's file.
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

// storeFile is the on-disk form of the store.
type storeFile struct {
	Version int     `json:"version"`
	Users   []User  `json:"users"`
	Tokens  []Token `json:"tokens"`
}

// Store keeps users and tokens in one JSON file (mode 0600), rewritten
// atomically (temporary file, fsync, rename) on every change. It is local
// to the box: users are not replicated through the cluster.
type Store struct {
	path string
	// Iterations is the PBKDF2 work factor for new password hashes.
	Iterations int
	now        func() time.Time
	dummyOnce  sync.Once
	dummy      string // written inside dummyOnce

	mu     sync.Mutex
	users  map[string]*User  // guarded by mu
	tokens map[string]*Token // by ID; guarded by mu
}

// OpenStore loads the store at path, creating an empty one if the file
// does not exist. now may be nil (time.Now).
func OpenStore(path string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{path: path, Iterations: DefaultIterations, now: now, users: map[string]*User{}, tokens: map[string]*Token{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStore, err)
	}
	var f storeFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is not a valid users file: %v", ErrStore, path, err)
	}
	for i := range f.Users {
		u := f.Users[i]
		s.users[u.Name] = &u
	}
	for i := range f.Tokens {
		t := f.Tokens[i]
		s.tokens[t.ID] = &t
	}
	return s, nil
}

// save writes the store; the caller holds mu.
func (s *Store) save() error {
	f := storeFile{Version: 1}
	for _, u := range s.users {
		f.Users = append(f.Users, *u)
	}
	for _, t := range s.tokens {
		f.Tokens = append(f.Tokens, *t)
	}
	slices.SortFunc(f.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(f.Tokens, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStore, err)
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrStore, err)
	}
	tmp := s.path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStore, err)
	}
	_, werr := fh.Write(data)
	if werr == nil {
		werr = fh.Sync()
	}
	if cerr := fh.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, s.path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: writing %s: %v", ErrStore, s.path, werr)
	}
	return nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[name]; ok {
		return UserInfo{}, fmt.Errorf("%w: user %q", ErrExists, name)
	}
	now := s.now().UTC()
	u := &User{Name: name, Role: role, PasswordHash: h, Created: now, PasswordSet: now}
	s.users[name] = u
	if err := s.save(); err != nil {
		delete(s.users, name)
		return UserInfo{}, err
	}
	return UserInfo{Name: name, Role: role, Created: now, PasswordSet: now}, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	old := *u
	u.PasswordHash, u.PasswordSet = h, s.now().UTC()
	if err := s.save(); err != nil {
		*u = old
		return err
	}
	return nil
}

// DeleteUser removes a user and every token of it.
func (s *Store) DeleteUser(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return fmt.Errorf("%w: user %q", ErrNotFound, name)
	}
	removed := map[string]*Token{}
	for id, t := range s.tokens {
		if t.User == name {
			removed[id] = t
			delete(s.tokens, id)
		}
	}
	delete(s.users, name)
	if err := s.save(); err != nil {
		s.users[name] = u
		for id, t := range removed {
			s.tokens[id] = t
		}
		return err
	}
	return nil
}

// Empty reports whether the store has no users.
func (s *Store) Empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.users) == 0
}

// Users lists every user by name.
func (s *Store) Users() []UserInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]UserInfo, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, UserInfo{Name: u.Name, Role: u.Role, Created: u.Created, PasswordSet: u.PasswordSet})
	}
	slices.SortFunc(out, func(a, b UserInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// User returns one user without its hash.
func (s *Store) User(name string) (UserInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return UserInfo{}, false
	}
	return UserInfo{Name: u.Name, Role: u.Role, Created: u.Created, PasswordSet: u.PasswordSet}, true
}

// dummyHash is checked against when the user does not exist, so a login
// takes as long for an unknown name as for a wrong password.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() { s.dummy, _ = hashPassword("callbox-dummy-password", s.Iterations) })
	return s.dummy
}

// CheckPassword verifies a user's password and returns the user.
func (s *Store) CheckPassword(name, password string) (UserInfo, error) {
	s.mu.Lock()
	u, ok := s.users[name]
	var hash string
	var info UserInfo
	if ok {
		hash = u.PasswordHash
		info = UserInfo{Name: u.Name, Role: u.Role, Created: u.Created, PasswordSet: u.PasswordSet}
	}
	s.mu.Unlock()
	if !ok {
		checkPassword(s.dummyHash(), password)
		return UserInfo{}, ErrBadCredentials
	}
	if !checkPassword(hash, password) {
		return UserInfo{}, ErrBadCredentials
	}
	return info, nil
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
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[user]
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
	t := &Token{ID: id, Name: name, User: user, Role: role, SecretHash: hashSecret(secret), Created: now}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	s.tokens[id] = t
	if err := s.save(); err != nil {
		delete(s.tokens, id)
		return TokenInfo{}, "", err
	}
	return t.info(), "cbx_" + id + "_" + secret, nil
}

// RevokeToken deletes a token.
func (s *Store) RevokeToken(id string) (TokenInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return TokenInfo{}, fmt.Errorf("%w: token %q", ErrNotFound, id)
	}
	delete(s.tokens, id)
	if err := s.save(); err != nil {
		s.tokens[id] = t
		return TokenInfo{}, err
	}
	return t.info(), nil
}

// Tokens lists tokens (of one user, or all when user is empty).
func (s *Store) Tokens(user string) []TokenInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TokenInfo
	for _, t := range s.tokens {
		if user == "" || t.User == user {
			out = append(out, t.info())
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
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[id]
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(t.SecretHash)) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	if !t.Expires.IsZero() && !s.now().Before(t.Expires) {
		return Principal{}, fmt.Errorf("%w: token %s expired at %s", ErrUnauthenticated, id, t.Expires.Format(time.RFC3339))
	}
	u, ok := s.users[t.User]
	if !ok {
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
