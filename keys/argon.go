package keys

import (
	"context"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for codenames and passwords: 64 MiB, three passes,
// two lanes. About 80 ms on one of this project's 2-core machines; OWASP's
// recommendations for Argon2id start at 19 MiB with two passes.
const (
	ArgonMemory  = 64 * 1024 // KiB
	ArgonTime    = 3
	ArgonThreads = 2
)

// MaxConcurrentArgon bounds how many Argon2id computations run at once: each
// allocates ArgonMemory, so a burst of logins must not exhaust memory.
const MaxConcurrentArgon = 2

var argonSlots = make(chan struct{}, MaxConcurrentArgon)

// argon2id runs one Argon2id computation when a slot is free, or returns
// the context's error if it ends first.
func argon2id(ctx context.Context, secret, salt []byte, n uint32) ([]byte, error) {
	select {
	case argonSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-argonSlots }()
	return argon2.IDKey(secret, salt, ArgonTime, ArgonMemory, ArgonThreads, n), nil
}
