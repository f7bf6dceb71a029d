package keys

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"github.com/pista-tips/pista"
	argon "github.com/pista-tips/pista/internal/argon2id"
)

// A journalist's passphrase never reaches the server. Their device (the
// inbox's script, or `pista pull`) stretches it:
//
//	master = Argon2id(passphrase, salt, m=64 MiB, t=3, p=1, 32 bytes)
//	auth   = HKDF-SHA-256(master, salt "", info JournalistAuthLabel, 32 bytes)
//	wrap   = HKDF-SHA-256(master, salt "", info JournalistWrapLabel, 32 bytes)
//
// and sends only auth, of which the server stores SHA-256. wrap seals the
// journalist's age identity (AES-256-GCM, a random 12-byte nonce before
// the ciphertext, JournalistIdentityAAD as additional data); the server
// keeps the sealed identity and hands it back after login, and only the
// device can open it. The salt is random per account and told to whoever
// asks by name (an unknown name gets a salt made from the name and an
// instance secret, so asking does not reveal who has an account).
const (
	JournalistAuthLabel   = "pista/v1/journalist-auth"
	JournalistWrapLabel   = "pista/v1/journalist-wrap"
	JournalistIdentityAAD = "pista/v1/journalist-identity"
	// JournalistKDF is the Argon2id of new accounts, in PHC notation.
	JournalistKDF = "argon2id$v=19$m=65536,t=3,p=1"
	// JournalistSaltSize is the size of a journalist's salt.
	JournalistSaltSize = 16
)

// Bounds of a journalist's passphrase where this program reads one (the
// command line): at least 12 characters, and none longer than anyone types.
const (
	MinPassphraseLen = 12
	MaxPassphraseLen = 1024
)

// KDF is a parsed Argon2id parameter string.
type KDF struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// Bounds of what ParseKDF accepts: a server cannot make a client spend
// more than 1 GiB or a minute, nor talk it into a trivial stretch.
const (
	minKDFMemory = 19 * 1024
	maxKDFMemory = 1024 * 1024
	maxKDFTime   = 16
)

// ErrBadKDF is a parameter string this version cannot use.
var ErrBadKDF = errors.New("keys: unsupported key derivation parameters")

// ParseKDF parses "argon2id$v=19$m=…,t=…,p=…" within sane bounds.
func ParseKDF(s string) (KDF, error) {
	var k KDF
	var threads uint32
	if len(s) > 64 || !strings.HasPrefix(s, "argon2id$v=19$") {
		return k, ErrBadKDF
	}
	n, err := fmt.Sscanf(strings.TrimPrefix(s, "argon2id$v=19$"), "m=%d,t=%d,p=%d", &k.Memory, &k.Time, &threads)
	if err != nil || n != 3 || k.Memory < minKDFMemory || k.Memory > maxKDFMemory ||
		k.Time < 1 || k.Time > maxKDFTime || threads < 1 || threads > 16 {
		return KDF{}, ErrBadKDF
	}
	if fmt.Sprintf("argon2id$v=19$m=%d,t=%d,p=%d", k.Memory, k.Time, threads) != s {
		return KDF{}, ErrBadKDF // one spelling only: no leading zeros or trailing bytes
	}
	k.Threads = uint8(threads)
	return k, nil
}

// JournalistKeys are the two keys a passphrase yields.
type JournalistKeys struct {
	Auth []byte // sent to the server at login
	Wrap []byte // stays on the device; opens the wrapped identity
}

// NewJournalistSalt returns a random salt for a new account.
func NewJournalistSalt() []byte {
	b := make([]byte, JournalistSaltSize)
	rand.Read(b)
	return b
}

// DeriveJournalist stretches a passphrase as a journalist's device does.
// It runs only on the device side (pista pull, pista journalist add), never
// in the server's request paths.
func DeriveJournalist(ctx context.Context, passphrase string, salt []byte, kdf string) (JournalistKeys, error) {
	k, err := ParseKDF(kdf)
	if err != nil {
		return JournalistKeys{}, err
	}
	if err := ctx.Err(); err != nil {
		return JournalistKeys{}, err
	}
	master := argon.Key([]byte(passphrase), salt, k.Time, k.Memory, k.Threads, 32)
	auth, err := hkdf.Key(sha256.New, master, nil, JournalistAuthLabel, 32)
	if err != nil {
		return JournalistKeys{}, err
	}
	wrap, err := hkdf.Key(sha256.New, master, nil, JournalistWrapLabel, 32)
	if err != nil {
		return JournalistKeys{}, err
	}
	return JournalistKeys{Auth: auth, Wrap: wrap}, nil
}

// AuthHash is what the server stores of a journalist's authentication key.
func AuthHash(auth []byte) []byte {
	h := sha256.Sum256(auth)
	return h[:]
}

// CheckAuth compares an authentication key with a stored hash in constant
// time. An empty stored hash (an account whose passphrase was never set
// this way) matches nothing.
func CheckAuth(stored, auth []byte) bool {
	if len(stored) != sha256.Size || len(auth) != 32 {
		return false
	}
	return subtle.ConstantTimeCompare(stored, AuthHash(auth)) == 1
}

// WrapIdentity seals an age identity string with a wrapping key.
func WrapIdentity(wrap []byte, identity string) ([]byte, error) {
	aead, err := identityAEAD(wrap)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(identity)+aead.Overhead())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(identity), []byte(JournalistIdentityAAD)), nil
}

// ErrWrongPassphrase is a wrapped identity that the key does not open.
var ErrWrongPassphrase = errors.New("keys: the passphrase does not open this identity")

// UnwrapIdentity opens a wrapped identity and parses it.
func UnwrapIdentity(wrap, wrapped []byte) (*age.HybridIdentity, error) {
	aead, err := identityAEAD(wrap)
	if err != nil {
		return nil, err
	}
	if len(wrapped) < aead.NonceSize()+aead.Overhead() || len(wrapped) > 4096 {
		return nil, ErrWrongPassphrase
	}
	plain, err := aead.Open(nil, wrapped[:aead.NonceSize()], wrapped[aead.NonceSize():], []byte(JournalistIdentityAAD))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return age.ParseHybridIdentity(strings.TrimSpace(string(plain)))
}

func identityAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, errors.New("keys: a wrapping key is 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// NewJournalistAuth derives the stored half of a passphrase for a new
// account or a passphrase change: a fresh salt, the hash of the
// authentication key, and identity (if not nil) wrapped.
func NewJournalistAuth(ctx context.Context, passphrase string, identity *age.HybridIdentity) (auth pista.JournalistAuth, err error) {
	salt := NewJournalistSalt()
	k, err := DeriveJournalist(ctx, passphrase, salt, JournalistKDF)
	if err != nil {
		return auth, err
	}
	auth = pista.JournalistAuth{Salt: salt, KDF: JournalistKDF, Hash: AuthHash(k.Auth)}
	if identity != nil {
		if auth.WrappedIdentity, err = WrapIdentity(k.Wrap, identity.String()); err != nil {
			return auth, err
		}
	}
	return auth, nil
}
