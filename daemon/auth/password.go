package auth

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultIterations is the PBKDF2-HMAC-SHA256 work factor for new hashes.
const DefaultIterations = 600_000

// Password limits.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

var b64 = base64.RawStdEncoding

// hashPassword returns "pbkdf2-sha256$ITER$SALT$HASH".
func hashPassword(pw string, iter int) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	k, err := pbkdf2.Key(sha256.New, pw, salt, iter, 32)
	if err != nil {
		return "", err
	}
	return "pbkdf2-sha256$" + strconv.Itoa(iter) + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(k), nil
}

// checkPassword reports whether pw matches the encoded hash. A malformed
// hash never matches.
func checkPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 10_000_000 {
		return false
	}
	salt, err1 := b64.DecodeString(parts[2])
	want, err2 := b64.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, pw, salt, iter, len(want))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

// validPassword checks the password policy.
func validPassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return fmt.Errorf("%w: password is not valid UTF-8", ErrInvalid)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: password has %d characters; at least %d are required", ErrInvalid, n, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("%w: password is longer than %d bytes", ErrInvalid, MaxPasswordLen)
	}
	return nil
}

// validUserName allows 1-64 of a-z 0-9 . _ - @, starting with a letter or digit.
func validUserName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w: user name must be 1-64 characters", ErrInvalid)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-' || c == '@')
		if !ok {
			return fmt.Errorf("%w: user name %q may hold only a-z, 0-9 and . _ - @ (lower case, starting with a letter or digit)", ErrInvalid, name)
		}
	}
	return nil
}
