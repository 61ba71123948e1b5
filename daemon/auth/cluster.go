package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"callbox/cluster"
)

// ClusterBackend keeps users and tokens in the cluster's replicated state:
// every change is a command through Raft, so all boxes of a site share
// the same accounts. Reads come from this box's copy of the state.
//
// Failed-login counters and lockouts stay per box (Limiter): they change
// on every failed attempt, so replicating them would let a password-
// guessing client write to the Raft log at will, and a lockout must keep
// working on a box cut off from the leader. An attacker spreading guesses
// over N boxes gets N times the budget; the per-address limit still holds
// on each box.
type ClusterBackend struct {
	Node *cluster.Node
}

// NewClusterStore returns a store over node's replicated accounts.
func NewClusterStore(node *cluster.Node, now func() time.Time) *Store {
	return NewStore(&ClusterBackend{Node: node}, now)
}

func fromAccount(a cluster.Account) User {
	return User{Name: a.Name, Role: Role(a.Role), PasswordHash: a.PasswordHash, Created: a.Created, PasswordSet: a.PasswordSet}
}

func toAccount(u User) cluster.Account {
	return cluster.Account{Name: u.Name, Role: string(u.Role), PasswordHash: u.PasswordHash, Created: u.Created, PasswordSet: u.PasswordSet}
}

func fromAPIToken(t cluster.APIToken) Token {
	return Token{ID: t.ID, Name: t.Name, User: t.User, Role: Role(t.Role), SecretHash: t.SecretHash, Created: t.Created, Expires: t.Expires}
}

func toAPIToken(t Token) cluster.APIToken {
	return cluster.APIToken{ID: t.ID, Name: t.Name, User: t.User, Role: string(t.Role), SecretHash: t.SecretHash, Created: t.Created, Expires: t.Expires}
}

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %v", ErrStore, err)
}

// User implements Backend.
func (b *ClusterBackend) User(name string) (User, bool, error) {
	a, ok, err := b.Node.Account(name)
	return fromAccount(a), ok, storeErr(err)
}

// Users implements Backend.
func (b *ClusterBackend) Users() ([]User, error) {
	as, err := b.Node.Accounts()
	out := make([]User, 0, len(as))
	for _, a := range as {
		out = append(out, fromAccount(a))
	}
	return out, storeErr(err)
}

// Token implements Backend.
func (b *ClusterBackend) Token(id string) (Token, bool, error) {
	t, ok, err := b.Node.APIToken(id)
	return fromAPIToken(t), ok, storeErr(err)
}

// Tokens implements Backend.
func (b *ClusterBackend) Tokens() ([]Token, error) {
	ts, err := b.Node.APITokens()
	out := make([]Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, fromAPIToken(t))
	}
	return out, storeErr(err)
}

// HasUsers implements Backend.
func (b *ClusterBackend) HasUsers() (bool, error) {
	ok, err := b.Node.HasAccounts()
	return ok, storeErr(err)
}

// Apply implements Backend: c becomes one command through Raft.
func (b *ClusterBackend) Apply(ctx context.Context, c Change) error {
	var cmd cluster.Command
	switch c.Op {
	case OpCreateUser:
		cmd = cluster.PutUser{Mode: cluster.UserCreate, User: toAccount(c.User), At: c.At}
	case OpFirstUser:
		cmd = cluster.PutUser{Mode: cluster.UserFirst, User: toAccount(c.User), At: c.At}
	case OpUpdateUser:
		cmd = cluster.PutUser{Mode: cluster.UserUpdate, User: toAccount(c.User), At: c.At}
	case OpDeleteUser:
		cmd = cluster.DeleteUser{Name: c.Name, At: c.At}
	case OpPutToken:
		cmd = cluster.PutToken{Token: toAPIToken(c.Token), At: c.At}
	case OpRevokeToken:
		cmd = cluster.RevokeToken{ID: c.Name, At: c.At}
	case OpSeed:
		seed := cluster.PutUser{Mode: cluster.UserSeed, At: c.At}
		for _, u := range c.Users {
			seed.Seed = append(seed.Seed, toAccount(u))
		}
		for _, t := range c.Tokens {
			seed.SeedTokens = append(seed.SeedTokens, toAPIToken(t))
		}
		cmd = seed
	default:
		return fmt.Errorf("%w: unknown change %q", ErrInvalid, c.Op)
	}
	return clusterErr(b.Node.ApplyAccount(ctx, cmd))
}

// clusterErr maps the cluster's sentinels onto this package's.
func clusterErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, cluster.ErrExists):
		return fmt.Errorf("%w: %v", ErrExists, err)
	case errors.Is(err, cluster.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case errors.Is(err, cluster.ErrInvalidCommand):
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return fmt.Errorf("%w: %v", ErrStore, err)
}

// Migration results.
const (
	MigrateNone    = "none"     // no users file
	MigrateDone    = "migrated" // imported; the file is now PATH.migrated
	MigrateRefused = "refused"  // the cluster already had users; the file is now PATH.not-migrated
)

// StartMigration runs MigrateFile in the background when path exists and
// returns a stop function (idempotent; it cancels and waits). Until the
// migration ends the store is not Empty, so no request is in setup mode
// on a box whose old users file has not been imported yet.
func StartMigration(path string, s *Store, log *slog.Logger) (stop func()) {
	if _, err := os.Stat(path); err != nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.migrating.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer s.migrating.Store(false)
		if _, err := MigrateFile(ctx, path, s, log); err != nil && ctx.Err() == nil {
			log.Error("users file migration failed; setup mode stays off until it is fixed", "file", path, "err", err)
			s.migrating.Store(true) // fail closed
			<-ctx.Done()
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// MigrateFile moves a users file of a version before replicated accounts
// into s (a cluster store) once: the file's users and tokens (hashes as
// they are) are seeded in one command that the cluster applies only if it
// has no users yet, so of several upgraded boxes the first one's accounts
// win. On success the file is renamed PATH.migrated; when the cluster
// already had users it is renamed PATH.not-migrated and its users are
// logged, so nothing is lost and an admin can recreate what is missing.
// It retries while the cluster has no leader, until ctx ends.
func MigrateFile(ctx context.Context, path string, s *Store, log *slog.Logger) (string, error) {
	f, found, err := readStoreFile(path)
	if err != nil || !found {
		return MigrateNone, err
	}
	if len(f.Users) == 0 {
		return MigrateNone, os.Rename(path, path+".migrated")
	}
	names := make([]string, 0, len(f.Users))
	for _, u := range f.Users {
		names = append(names, u.Name)
	}
	c := Change{Op: OpSeed, Users: f.Users, Tokens: f.Tokens, At: time.Now().UTC()}
	for {
		has, err := s.backend.HasUsers()
		if err == nil && has {
			err = fmt.Errorf("%w: the cluster already has users", ErrExists)
		}
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, s.Timeout)
			err = s.backend.Apply(actx, c)
			cancel()
		}
		switch {
		case err == nil:
			if err := os.Rename(path, path+".migrated"); err != nil {
				return MigrateDone, fmt.Errorf("%w: users migrated but %s not renamed: %v", ErrStore, path, err)
			}
			log.Info("users file migrated into the cluster", "file", path, "users", len(f.Users), "tokens", len(f.Tokens))
			return MigrateDone, nil
		case errors.Is(err, ErrExists):
			log.Warn("users file not migrated: the cluster already has users; recreate any missing account with callboxctl users add",
				"file", path+".not-migrated", "users", names)
			return MigrateRefused, os.Rename(path, path+".not-migrated")
		case errors.Is(err, ErrInvalid):
			return "", fmt.Errorf("users file %s cannot be migrated: %w", path, err)
		}
		log.Warn("users file migration waiting for the cluster", "err", err)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
