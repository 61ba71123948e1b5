package auth

import (
	"context"
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

// Op is one kind of change to the accounts.
type Op string

// The changes a Backend applies.
const (
	OpCreateUser  Op = "create-user"  // User; ErrExists if taken
	OpFirstUser   Op = "first-user"   // User, only while there are no users; else ErrExists
	OpUpdateUser  Op = "update-user"  // User's role and hash; ErrNotFound if absent
	OpDeleteUser  Op = "delete-user"  // Name and its tokens; ErrNotFound if absent
	OpPutToken    Op = "put-token"    // Token; ErrNotFound without its user, ErrExists if the ID is taken
	OpRevokeToken Op = "revoke-token" // Name is the token ID; ErrNotFound if absent
	OpSeed        Op = "seed"         // Users and Tokens, only while there are no users; else ErrExists
)

// Change is one change to the accounts, with its time.
type Change struct {
	Op     Op
	User   User
	Token  Token
	Name   string
	Users  []User
	Tokens []Token
	At     time.Time
}

// Backend stores users and tokens. Reads see the local state (on a
// cluster follower it may lag the leader by a moment); Apply decides
// conflicts and returns errors wrapping ErrExists, ErrNotFound, ErrInvalid
// or ErrStore.
type Backend interface {
	User(name string) (User, bool, error)
	Users() ([]User, error)
	Token(id string) (Token, bool, error)
	Tokens() ([]Token, error)
	HasUsers() (bool, error)
	Apply(ctx context.Context, c Change) error
}

// storeFile is the on-disk form of a FileBackend.
type storeFile struct {
	Version int     `json:"version"`
	Users   []User  `json:"users"`
	Tokens  []Token `json:"tokens"`
}

// FileBackend keeps users and tokens in one JSON file (mode 0600),
// rewritten atomically (temporary file, fsync, rename) on every change. It
// is local to one box: callboxd uses it only to read a users file left by
// a version before replicated accounts (see MigrateFile).
type FileBackend struct {
	path string

	mu     sync.Mutex
	users  map[string]*User  // guarded by mu
	tokens map[string]*Token // by ID; guarded by mu
}

// OpenFileBackend loads the users file at path; a missing file is an
// empty store (the file is created on the first change).
func OpenFileBackend(path string) (*FileBackend, error) {
	b := &FileBackend{path: path, users: map[string]*User{}, tokens: map[string]*Token{}}
	f, found, err := readStoreFile(path)
	if err != nil || !found {
		return b, err
	}
	for i := range f.Users {
		u := f.Users[i]
		b.users[u.Name] = &u
	}
	for i := range f.Tokens {
		t := f.Tokens[i]
		b.tokens[t.ID] = &t
	}
	return b, nil
}

func readStoreFile(path string) (storeFile, bool, error) {
	var f storeFile
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, false, nil
	}
	if err != nil {
		return f, false, fmt.Errorf("%w: %v", ErrStore, err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, false, fmt.Errorf("%w: %s is not a valid users file: %v", ErrStore, path, err)
	}
	return f, true, nil
}

// User implements Backend.
func (b *FileBackend) User(name string) (User, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.users[name]
	if !ok {
		return User{}, false, nil
	}
	return *u, true, nil
}

// Users implements Backend.
func (b *FileBackend) Users() ([]User, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]User, 0, len(b.users))
	for _, u := range b.users {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(x, y User) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

// Token implements Backend.
func (b *FileBackend) Token(id string) (Token, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.tokens[id]
	if !ok {
		return Token{}, false, nil
	}
	return *t, true, nil
}

// Tokens implements Backend.
func (b *FileBackend) Tokens() ([]Token, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Token, 0, len(b.tokens))
	for _, t := range b.tokens {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(x, y Token) int { return strings.Compare(x.ID, y.ID) })
	return out, nil
}

// HasUsers implements Backend.
func (b *FileBackend) HasUsers() (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.users) > 0, nil
}

// Apply implements Backend: the change is made in memory and the file
// rewritten; if the write fails the change is undone.
func (b *FileBackend) Apply(_ context.Context, c Change) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	users, tokens := b.users, b.tokens
	b.users, b.tokens = cloneMap(users), cloneMap(tokens)
	err := b.change(c)
	if err == nil {
		err = b.save()
	}
	if err != nil {
		b.users, b.tokens = users, tokens
	}
	return err
}

func cloneMap[T any](m map[string]*T) map[string]*T {
	out := make(map[string]*T, len(m))
	for k, v := range m {
		c := *v
		out[k] = &c
	}
	return out
}

// change applies c to the maps; the caller holds mu.
func (b *FileBackend) change(c Change) error {
	switch c.Op {
	case OpCreateUser, OpFirstUser:
		if c.Op == OpFirstUser && len(b.users) > 0 {
			return fmt.Errorf("%w: there are users already", ErrExists)
		}
		if _, ok := b.users[c.User.Name]; ok {
			return fmt.Errorf("%w: user %q", ErrExists, c.User.Name)
		}
		u := c.User
		b.users[u.Name] = &u
	case OpUpdateUser:
		ex, ok := b.users[c.User.Name]
		if !ok {
			return fmt.Errorf("%w: user %q", ErrNotFound, c.User.Name)
		}
		u := c.User
		u.Created = ex.Created
		b.users[u.Name] = &u
	case OpDeleteUser:
		if _, ok := b.users[c.Name]; !ok {
			return fmt.Errorf("%w: user %q", ErrNotFound, c.Name)
		}
		delete(b.users, c.Name)
		for id, t := range b.tokens {
			if t.User == c.Name {
				delete(b.tokens, id)
			}
		}
	case OpPutToken:
		if _, ok := b.users[c.Token.User]; !ok {
			return fmt.Errorf("%w: user %q", ErrNotFound, c.Token.User)
		}
		if _, ok := b.tokens[c.Token.ID]; ok {
			return fmt.Errorf("%w: token %q", ErrExists, c.Token.ID)
		}
		t := c.Token
		b.tokens[t.ID] = &t
	case OpRevokeToken:
		if _, ok := b.tokens[c.Name]; !ok {
			return fmt.Errorf("%w: token %q", ErrNotFound, c.Name)
		}
		delete(b.tokens, c.Name)
	case OpSeed:
		if len(b.users) > 0 {
			return fmt.Errorf("%w: there are users already", ErrExists)
		}
		for i := range c.Users {
			u := c.Users[i]
			b.users[u.Name] = &u
		}
		for i := range c.Tokens {
			t := c.Tokens[i]
			b.tokens[t.ID] = &t
		}
	default:
		return fmt.Errorf("%w: unknown change %q", ErrInvalid, c.Op)
	}
	return nil
}

// save writes the file; the caller holds mu.
func (b *FileBackend) save() error {
	f := storeFile{Version: 1}
	for _, u := range b.users {
		f.Users = append(f.Users, *u)
	}
	for _, t := range b.tokens {
		f.Tokens = append(f.Tokens, *t)
	}
	slices.SortFunc(f.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(f.Tokens, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrStore, err)
	}
	if err := os.MkdirAll(filepath.Dir(b.path), 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrStore, err)
	}
	tmp := b.path + ".tmp"
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
		werr = os.Rename(tmp, b.path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: writing %s: %v", ErrStore, b.path, werr)
	}
	return nil
}
