package cluster

// This file holds the API's accounts as replicated state, so every box of
// a site knows the same users and tokens: users with their password hashes
// and API tokens with the hashes of their secrets (never a secret). The
// daemon's auth package hashes and checks; the FSM only stores, and
// decides the races (two boxes creating the same user, or the first user
// of a cluster in setup mode) deterministically.
//
// Keys (inside the state generation):
//
//	us/<name>    Account
//	tk/<id>      APIToken

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Account is one API user. PasswordHash is the auth package's encoded
// PBKDF2 hash.
type Account struct {
	Name         string
	Role         string
	PasswordHash string
	Created      time.Time
	PasswordSet  time.Time
}

// APIToken is one API token; only the SHA-256 of its secret is kept.
type APIToken struct {
	ID         string
	Name       string
	User       string
	Role       string
	SecretHash string
	Created    time.Time
	Expires    time.Time `json:",omitzero"`
}

// PutUser modes.
const (
	// UserCreate adds User; ErrExists if the name is taken.
	UserCreate = "create"
	// UserFirst adds User only while the cluster has no users at all
	// (setup mode): the first account is created once per cluster even
	// when two boxes are set up at the same moment.
	UserFirst = "first"
	// UserUpdate replaces User's role and password hash (Created is
	// kept); ErrNotFound if absent.
	UserUpdate = "update"
	// UserSeed adds Seed and SeedTokens in one step, only while the
	// cluster has no users (the migration of a box's old users file).
	UserSeed = "seed"
)

// PutUser creates, updates or seeds accounts; see the User* modes.
type PutUser struct {
	Mode       string
	User       Account    `json:",omitzero"`
	Seed       []Account  `json:",omitempty"`
	SeedTokens []APIToken `json:",omitempty"`
	At         time.Time
}

// DeleteUser removes a user and every token of it.
type DeleteUser struct {
	Name string
	At   time.Time
}

// PutToken adds a token for an existing user; ErrExists if the ID is taken.
type PutToken struct {
	Token APIToken
	At    time.Time
}

// RevokeToken deletes a token; the answer is the revoked token.
type RevokeToken struct {
	ID string
	At time.Time
}

// Type implements Command.
func (PutUser) Type() CommandType { return TypePutUser }

// Type implements Command.
func (DeleteUser) Type() CommandType { return TypeDeleteUser }

// Type implements Command.
func (PutToken) Type() CommandType { return TypePutToken }

// Type implements Command.
func (RevokeToken) Type() CommandType { return TypeRevokeToken }

// MaxSeedAccounts bounds one seeding command.
const MaxSeedAccounts = 1000

var accountRoles = map[string]bool{"admin": true, "operator": true, "auditor": true, "viewer": true}

func (a *Account) validate(field string) error {
	if err := checkID(field+".Name", a.Name); err != nil {
		return err
	}
	if len(a.Name) > 64 {
		return invalid("%s.Name is %d bytes, limit 64", field, len(a.Name))
	}
	if !accountRoles[a.Role] {
		return invalid("%s.Role %q: want admin, operator, auditor or viewer", field, a.Role)
	}
	if err := checkID(field+".PasswordHash", a.PasswordHash); err != nil {
		return err
	}
	if err := checkReqTime(field+".Created", a.Created); err != nil {
		return err
	}
	return checkTime(field+".PasswordSet", a.PasswordSet)
}

func (k *APIToken) validate(field string) error {
	if err := checkID(field+".ID", k.ID); err != nil {
		return err
	}
	if err := checkID(field+".Name", k.Name); err != nil {
		return err
	}
	if err := checkID(field+".User", k.User); err != nil {
		return err
	}
	if !accountRoles[k.Role] {
		return invalid("%s.Role %q: want admin, operator, auditor or viewer", field, k.Role)
	}
	if len(k.SecretHash) != 64 {
		return invalid("%s.SecretHash is not a hex SHA-256", field)
	}
	if err := checkReqTime(field+".Created", k.Created); err != nil {
		return err
	}
	return checkTime(field+".Expires", k.Expires)
}

// Validate implements Command.
func (c PutUser) Validate() error {
	switch c.Mode {
	case UserCreate, UserFirst, UserUpdate:
		if len(c.Seed) != 0 || len(c.SeedTokens) != 0 {
			return invalid("Seed and SeedTokens are only for mode %q", UserSeed)
		}
		if err := c.User.validate("User"); err != nil {
			return err
		}
	case UserSeed:
		if c.User.Name != "" {
			return invalid("User must be empty in mode %q (use Seed)", UserSeed)
		}
		if len(c.Seed) == 0 {
			return invalid("Seed is empty")
		}
		if len(c.Seed) > MaxSeedAccounts || len(c.SeedTokens) > MaxSeedAccounts {
			return invalid("Seed has %d users and %d tokens, limit %d each", len(c.Seed), len(c.SeedTokens), MaxSeedAccounts)
		}
		names := map[string]bool{}
		for i := range c.Seed {
			if err := c.Seed[i].validate(fmt.Sprintf("Seed[%d]", i)); err != nil {
				return err
			}
			if names[c.Seed[i].Name] {
				return invalid("Seed[%d].Name %q is duplicated", i, c.Seed[i].Name)
			}
			names[c.Seed[i].Name] = true
		}
		ids := map[string]bool{}
		for i := range c.SeedTokens {
			k := &c.SeedTokens[i]
			if err := k.validate(fmt.Sprintf("SeedTokens[%d]", i)); err != nil {
				return err
			}
			if !names[k.User] {
				return invalid("SeedTokens[%d].User %q is not in Seed", i, k.User)
			}
			if ids[k.ID] {
				return invalid("SeedTokens[%d].ID %q is duplicated", i, k.ID)
			}
			ids[k.ID] = true
		}
	default:
		return invalid("Mode %q: want create, first, update or seed", c.Mode)
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c DeleteUser) Validate() error {
	if err := checkID("Name", c.Name); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c PutToken) Validate() error {
	if err := c.Token.validate("Token"); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

// Validate implements Command.
func (c RevokeToken) Validate() error {
	if err := checkID("ID", c.ID); err != nil {
		return err
	}
	return checkReqTime("At", c.At)
}

func userKey(name string) []byte { return key("us/", name) }
func tokenKey(id string) []byte  { return key("tk/", id) }

func loadAccount(t *tx, name string) (*Account, error) {
	var a Account
	ok, err := t.getJSON(userKey(name), &a)
	if err != nil || !ok {
		return nil, err
	}
	return &a, nil
}

func loadToken(t *tx, id string) (*APIToken, error) {
	var k APIToken
	ok, err := t.getJSON(tokenKey(id), &k)
	if err != nil || !ok {
		return nil, err
	}
	return &k, nil
}

func hasUsers(t *tx) (bool, error) {
	found := false
	err := t.scan(key("us/"), nil, false, func(_, _ []byte) (bool, error) {
		found = true
		return false, nil
	})
	return found, storeErr(err)
}

func normAccount(a Account) Account {
	a.Created, a.PasswordSet = utc(a.Created), utc(a.PasswordSet)
	return a
}

func normToken(k APIToken) APIToken {
	k.Created, k.Expires = utc(k.Created), utc(k.Expires)
	return k
}

func applyPutUser(t *tx, c *PutUser) (any, error) {
	switch c.Mode {
	case UserSeed, UserFirst:
		exists, err := hasUsers(t)
		if err != nil {
			return nil, err
		}
		if exists {
			return fmt.Errorf("%w: the cluster already has users", ErrExists), nil
		}
	}
	if c.Mode == UserSeed {
		for _, a := range c.Seed {
			if err := t.putJSON(userKey(a.Name), normAccount(a)); err != nil {
				return nil, err
			}
		}
		for _, k := range c.SeedTokens {
			if err := t.putJSON(tokenKey(k.ID), normToken(k)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	}
	ex, err := loadAccount(t, c.User.Name)
	if err != nil {
		return nil, err
	}
	a := normAccount(c.User)
	switch c.Mode {
	case UserCreate:
		if ex != nil {
			return fmt.Errorf("%w: user %q", ErrExists, c.User.Name), nil
		}
	case UserUpdate:
		if ex == nil {
			return fmt.Errorf("%w: user %q", ErrNotFound, c.User.Name), nil
		}
		a.Created = ex.Created
	}
	if err := t.putJSON(userKey(a.Name), a); err != nil {
		return nil, err
	}
	return nil, nil
}

func applyDeleteUser(t *tx, c *DeleteUser) (any, error) {
	ex, err := loadAccount(t, c.Name)
	if err != nil {
		return nil, err
	}
	if ex == nil {
		return fmt.Errorf("%w: user %q", ErrNotFound, c.Name), nil
	}
	var ids []string
	err = t.scan(key("tk/"), nil, false, func(_, v []byte) (bool, error) {
		var k APIToken
		if err := jsonUnmarshal(v, &k); err != nil {
			return false, err
		}
		if k.User == c.Name {
			ids = append(ids, k.ID)
		}
		return true, nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	for _, id := range ids {
		if err := t.del(tokenKey(id)); err != nil {
			return nil, err
		}
	}
	return nil, t.del(userKey(c.Name))
}

func applyPutToken(t *tx, c *PutToken) (any, error) {
	u, err := loadAccount(t, c.Token.User)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return fmt.Errorf("%w: user %q", ErrNotFound, c.Token.User), nil
	}
	ex, err := loadToken(t, c.Token.ID)
	if err != nil {
		return nil, err
	}
	if ex != nil {
		return fmt.Errorf("%w: token %q", ErrExists, c.Token.ID), nil
	}
	return nil, t.putJSON(tokenKey(c.Token.ID), normToken(c.Token))
}

func applyRevokeToken(t *tx, c *RevokeToken) (any, error) {
	ex, err := loadToken(t, c.ID)
	if err != nil {
		return nil, err
	}
	if ex == nil {
		return fmt.Errorf("%w: token %q", ErrNotFound, c.ID), nil
	}
	if err := t.del(tokenKey(c.ID)); err != nil {
		return nil, err
	}
	return *ex, nil
}

// Account reads one user.
func (f *FSM) Account(name string) (Account, bool, error) {
	return viewOne(f, func(t *tx) (*Account, error) { return loadAccount(t, name) })
}

// Accounts lists every user by name.
func (f *FSM) Accounts() ([]Account, error) {
	var out []Account
	err := f.view(func(t *tx) error {
		return t.scan(key("us/"), nil, false, func(_, v []byte) (bool, error) {
			var a Account
			if err := jsonUnmarshal(v, &a); err != nil {
				return false, err
			}
			out = append(out, a)
			return true, nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// HasAccounts reports whether any user exists.
func (f *FSM) HasAccounts() (bool, error) {
	var found bool
	err := f.view(func(t *tx) error {
		var err error
		found, err = hasUsers(t)
		return err
	})
	return found, err
}

// APIToken reads one token.
func (f *FSM) APIToken(id string) (APIToken, bool, error) {
	return viewOne(f, func(t *tx) (*APIToken, error) { return loadToken(t, id) })
}

// APITokens lists every token by ID.
func (f *FSM) APITokens() ([]APIToken, error) {
	var out []APIToken
	err := f.view(func(t *tx) error {
		return t.scan(key("tk/"), nil, false, func(_, v []byte) (bool, error) {
			var k APIToken
			if err := jsonUnmarshal(v, &k); err != nil {
				return false, err
			}
			out = append(out, k)
			return true, nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// Account reads one user from the local state.
func (n *Node) Account(name string) (Account, bool, error) { return n.fsm.Account(name) }

// Accounts lists every user.
func (n *Node) Accounts() ([]Account, error) { return n.fsm.Accounts() }

// HasAccounts reports whether any user exists in the local state.
func (n *Node) HasAccounts() (bool, error) { return n.fsm.HasAccounts() }

// APIToken reads one token from the local state.
func (n *Node) APIToken(id string) (APIToken, bool, error) { return n.fsm.APIToken(id) }

// APITokens lists every token.
func (n *Node) APITokens() ([]APIToken, error) { return n.fsm.APITokens() }

// ApplyAccount commits an account command (PutUser, DeleteUser, PutToken,
// RevokeToken) and returns only its error.
func (n *Node) ApplyAccount(ctx context.Context, c Command) error {
	_, err := n.Apply(ctx, c)
	return err
}
