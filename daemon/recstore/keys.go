package recstore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the box key's size (AES-256).
const KeySize = 32

// Keyring holds the current box key (for writing) and every older key
// (for reading), by key id.
type Keyring struct {
	current [8]byte
	keys    map[[8]byte][]byte
}

// KeyID is the first 8 bytes of SHA-256 of key.
func KeyID(key []byte) [8]byte {
	sum := sha256.Sum256(key)
	var id [8]byte
	copy(id[:], sum[:8])
	return id
}

// NewKeyring makes a keyring from raw keys; the first is current.
func NewKeyring(current []byte, older ...[]byte) (*Keyring, error) {
	kr := &Keyring{keys: map[[8]byte][]byte{}}
	for i, k := range append([][]byte{current}, older...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: key %d has %d bytes, want %d", ErrKey, i, len(k), KeySize)
		}
		kr.keys[KeyID(k)] = append([]byte(nil), k...)
	}
	kr.current = KeyID(current)
	return kr, nil
}

// CurrentID is the id of the key that wraps new recordings.
func (kr *Keyring) CurrentID() string { return hex.EncodeToString(kr.current[:]) }

// LoadKeyring loads dir/box.key, creating it (and dir, mode 0700) when it
// does not exist, plus every other dir/box*.key as an older key.
func LoadKeyring(dir string) (*Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	cur := filepath.Join(dir, "box.key")
	key, err := ReadKeyFile(cur)
	if errors.Is(err, os.ErrNotExist) {
		key, err = CreateKeyFile(cur)
	}
	if err != nil {
		return nil, err
	}
	var older [][]byte
	matches, _ := filepath.Glob(filepath.Join(dir, "box*.key"))
	for _, m := range matches {
		if m == cur {
			continue
		}
		k, err := ReadKeyFile(m)
		if err != nil {
			return nil, err
		}
		older = append(older, k)
	}
	return NewKeyring(key, older...)
}

// CreateKeyFile writes a new random key to path (mode 0600, never
// overwriting) and returns it.
func CreateKeyFile(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: creating %s: %v", ErrKey, path, err)
	}
	_, err = f.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: writing %s: %v", ErrKey, path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return key, nil
}

// ReadKeyFile reads a hex key file; it refuses files others can read.
func ReadKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; it must be readable by its owner only (chmod 600)", ErrKey, path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("%w: %s does not hold %d hex digits", ErrKey, path, 2*KeySize)
	}
	return key, nil
}
