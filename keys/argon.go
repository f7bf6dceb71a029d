package keys

import (
	"context"
	"errors"
	"fmt"

	argon "github.com/pista-tips/pista/internal/argon2id"
)

// The codename parameters (see the package doc, "Derivations").
var (
	// CodenameKDF is what a new instance stretches codenames with:
	// OWASP's Argon2id row of m=7 MiB, t=5, p=1, which it rates as strong
	// as its 19 MiB/t=2 and 46 MiB/t=1 rows. A codename carries 93 bits
	// from crypto/rand, so guessing is stopped by the codename itself;
	// the stretch is defence in depth, kept memory-hard at a cost that
	// lets a small server take many submissions at once.
	CodenameKDF = KDF{Memory: 7 * 1024, Time: 5, Threads: 1}
	// LegacyCodenameKDF is what instances made before the parameters
	// were per instance stretch codenames with, for ever: their sources'
	// lookup hashes and keys were derived with them.
	LegacyCodenameKDF = KDF{Memory: 64 * 1024, Time: 3, Threads: 2}
)

// Bounds of codename parameters that this program derives with, whoever
// chose them: a server (or whoever controls it) cannot make an app or
// `pista submit` spend more than 256 MiB or sixteen passes, nor talk it
// into a stretch under 1 MiB.
const (
	MinCodenameMemory = 1024       // KiB
	MaxCodenameMemory = 256 * 1024 // KiB
	MaxCodenameTime   = 16
	MaxCodenameLanes  = 16
)

// ErrBadCodenameKDF is codename parameters outside the bounds above.
var ErrBadCodenameKDF = errors.New("keys: codename parameters out of bounds")

// CheckCodenameKDF checks parameters against the bounds above.
func CheckCodenameKDF(k KDF) error {
	if k.Memory < MinCodenameMemory || k.Memory > MaxCodenameMemory ||
		k.Time < 1 || k.Time > MaxCodenameTime ||
		k.Threads < 1 || k.Threads > MaxCodenameLanes {
		return fmt.Errorf("%w: m=%d KiB, t=%d, p=%d", ErrBadCodenameKDF, k.Memory, k.Time, k.Threads)
	}
	return nil
}

// String writes parameters in PHC notation, as JournalistKDF is written.
func (k KDF) String() string {
	return fmt.Sprintf("argon2id$v=19$m=%d,t=%d,p=%d", k.Memory, k.Time, k.Threads)
}

// MaxConcurrentArgon bounds how many Argon2id computations run at once:
// each needs its memory parameter (7 MiB for a new instance's
// codenames, 64 MiB for a legacy one's), so a burst of new sources must
// not exhaust memory, and more at once than a small server has cores
// would only add memory, not speed. Two keep both cores of a small server
// busy; with 16 new sources and 4 uploads at once, a 2-core server
// peaks well under 128 MiB (`pista bench --goals`, goal (c)).
const MaxConcurrentArgon = 2

// Compile-time check: internal/argon2id keeps as many idle buffers
// (argon.MaxIdle) as derivations run here at once.
const _ = uint(argon.MaxIdle-MaxConcurrentArgon) + uint(MaxConcurrentArgon-argon.MaxIdle)

var argonSlots = make(chan struct{}, MaxConcurrentArgon)

// argon2id runs one Argon2id computation with parameters k when a slot is
// free, or returns the context's error if it ends first.
//
// It runs internal/argon2id (the output of x/crypto's argon2.IDKey,
// computed with AVX2 or AVX-512 where the CPU has them), which keeps the
// block memory of at most MaxConcurrentArgon derivations between calls
// and gives it back after 30 s unused, so a burst of new sources
// allocates nothing per codename. Returning memory to the system after
// each derivation (debug.FreeOSMemory, as pista once did to keep one
// upload under 32 MiB) cost two full collections per codename and cut
// new sources' tips per second by half or more. `pista serve` sets a
// soft memory limit (--memory-limit), so the collector works harder
// only when memory is short.
func argon2id(ctx context.Context, k KDF, secret, salt []byte, n uint32) ([]byte, error) {
	select {
	case argonSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-argonSlots }()
	return argon.Key(secret, salt, k.Time, k.Memory, k.Threads, n), nil
}
