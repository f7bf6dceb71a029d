package keys

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MaxPasswordLen bounds a password: longer ones are surely not typed, and
// Argon2id's cost must not be chosen by an attacker.
const MaxPasswordLen = 1024

// MinPasswordLen is the shortest password an account may have.
const MinPasswordLen = 12

// ErrMalformedHash is returned by VerifyPassword for a hash it cannot read.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding

// HashPassword hashes a password with Argon2id and a random salt, as a PHC
// string: $argon2id$v=19$m=65536,t=3,p=2$SALT$HASH.
func HashPassword(ctx context.Context, password string) (string, error) {
	if len(password) < MinPasswordLen {
		return "", fmt.Errorf("a password needs at least %d characters", MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return "", fmt.Errorf("a password may have at most %d bytes", MaxPasswordLen)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	sum, err := argon2id(ctx, []byte(password), salt, 32)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		ArgonMemory, ArgonTime, ArgonThreads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// phc is a parsed Argon2id PHC string.
type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	sum     []byte
}

// parsePHC reads a PHC string written by HashPassword. It accepts only the
// parameters pista writes, so a tampered row cannot make a login cost
// gigabytes.
func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19" {
		return phc{}, ErrMalformedHash
	}
	var p phc
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil {
		return phc{}, ErrMalformedHash
	}
	if fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, threads) != parts[3] ||
		p.memory != ArgonMemory || p.time != ArgonTime || threads != ArgonThreads {
		return phc{}, ErrMalformedHash
	}
	p.threads = uint8(threads)
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return phc{}, ErrMalformedHash
	}
	if p.sum, err = b64.DecodeString(parts[5]); err != nil || len(p.sum) < 16 || len(p.sum) > 64 {
		return phc{}, ErrMalformedHash
	}
	return p, nil
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time.
func VerifyPassword(ctx context.Context, hash, password string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen]
	}
	sum, err := argon2id(ctx, []byte(password), p.salt, uint32(len(p.sum)))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(sum, p.sum) == 1, nil
}

// DummyHash is a valid hash of a random password, verified against when a
// login names an unknown account so that it takes as long as a known one.
var DummyHash = func() string {
	salt := make([]byte, 16)
	sum := make([]byte, 32)
	rand.Read(salt)
	rand.Read(sum)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		ArgonMemory, ArgonTime, ArgonThreads, b64.EncodeToString(salt), b64.EncodeToString(sum))
}()
