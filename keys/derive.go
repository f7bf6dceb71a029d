package keys

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"filippo.io/age"
)

// SaltSize is the size of the codename salt of a new instance, and
// LegacySaltSize that of an instance made before the codename parameters
// were per instance. The salt's size records which parameters the
// instance derives with (InstanceKDF): an instance keeps its salt and its
// parameters for ever, so its sources' codenames keep working.
const (
	SaltSize       = 32
	LegacySaltSize = 16
)

// ErrUnknownSalt is a salt whose size names no parameters.
var ErrUnknownSalt = errors.New("keys: the codename salt has an unknown size")

// InstanceKDF returns the codename parameters of the instance whose salt
// this is: LegacyCodenameKDF for a 16-byte salt, CodenameKDF for a 32-byte
// one. A later change of parameters for new instances gets a salt size of
// its own, so that an instance's salt always says how it derives.
func InstanceKDF(salt []byte) (KDF, error) {
	switch len(salt) {
	case LegacySaltSize:
		return LegacyCodenameKDF, nil
	case SaltSize:
		return CodenameKDF, nil
	}
	return KDF{}, fmt.Errorf("%w: %d bytes", ErrUnknownSalt, len(salt))
}

// The codename derivations, as an app that derives keys itself needs them
// (see the package doc, and GET /api/v1/desks, which publishes them with
// the instance salt).
const (
	// AuthLabel and SeedLabel are the HKDF-SHA-256 info strings (the HKDF
	// salt is empty) that split the Argon2id output into the
	// authentication key and the identity seed.
	AuthLabel = "pista/v1/source-auth"
	SeedLabel = "pista/v1/source-key"
	// MasterSize is the length of the Argon2id output.
	MasterSize = 64
	// AuthSize and SeedSize are the lengths of the two HKDF outputs.
	AuthSize = 32
	SeedSize = 32
)

// Derived is what a codename yields: the source's authentication key, the
// lookup hash of it that the server stores, and the source's age identity,
// which lives only in memory (or sealed in the source's session cookie).
type Derived struct {
	Auth     []byte // proves knowledge of the codename; never stored
	Lookup   []byte // LookupHash(Auth): stored, finds the source
	Identity *age.HybridIdentity
	Seed     []byte // the identity's seed: IdentityFromSeed(Seed) is Identity
}

// LookupHash is what the server stores of a source's authentication key:
// its SHA-256. An app that derives the key itself sends Auth, and the
// server hashes it; whoever reads the database learns only the hash, which
// does not log anyone in.
func LookupHash(auth []byte) []byte {
	h := sha256.Sum256(auth)
	return h[:]
}

// Recipient is the source's public key, the one the server stores.
func (d Derived) Recipient() string { return d.Identity.Recipient().String() }

// Derive stretches a codename with Argon2id under the instance salt and
// the instance's parameters (InstanceKDF), and splits the result into the
// lookup hash and the source identity. The server derives with it.
func Derive(ctx context.Context, c Codename, salt []byte) (Derived, error) {
	k, err := InstanceKDF(salt)
	if err != nil {
		return Derived{}, err
	}
	return DeriveWith(ctx, c, salt, k)
}

// DeriveWith is Derive with parameters k, as an app or `pista submit`
// derives with what the server publishes (GET /api/v1/desks). It refuses
// parameters outside CheckCodenameKDF's bounds.
func DeriveWith(ctx context.Context, c Codename, salt []byte, k KDF) (Derived, error) {
	if err := CheckCodenameKDF(k); err != nil {
		return Derived{}, err
	}
	master, err := argon2id(ctx, k, []byte(c), salt, MasterSize)
	if err != nil {
		return Derived{}, err
	}
	auth, err := hkdf.Key(sha256.New, master, nil, AuthLabel, AuthSize)
	if err != nil {
		return Derived{}, err
	}
	seed, err := hkdf.Key(sha256.New, master, nil, SeedLabel, SeedSize)
	if err != nil {
		return Derived{}, err
	}
	id, err := IdentityFromSeed(seed)
	if err != nil {
		return Derived{}, err
	}
	return Derived{Auth: auth, Lookup: LookupHash(auth), Identity: id, Seed: seed}, nil
}

// IdentityFromSeed makes the age hybrid identity whose ML-KEM-768-X25519
// private key is the 32-byte seed, as filippo.io/hpke defines it. age
// encodes a hybrid identity as that seed in Bech32, so the identity is
// built by encoding the seed and parsing it with age itself.
func IdentityFromSeed(seed []byte) (*age.HybridIdentity, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("keys: a seed is %d bytes, not %d", SeedSize, len(seed))
	}
	s, err := bech32Encode("AGE-SECRET-KEY-PQ-", seed)
	if err != nil {
		return nil, err
	}
	return age.ParseHybridIdentity(s)
}
