// Package argon2id is Argon2id (RFC 9106, version 0x13) as pista runs it:
// the same output as golang.org/x/crypto/argon2.IDKey, computed faster and
// without allocating the whole memory parameter anew for every derivation.
//
// # Why not x/crypto
//
// pista stretches every source's codename (7 MiB, five passes) before it
// takes a tip, so Argon2id bounds how many new sources a server takes per
// second. x/crypto compresses blocks with SSE4 and allocates (and the
// runtime zeroes, faults in and later collects) the full memory on every
// call. This package compresses blocks with AVX2, or AVX-512 where the CPU
// has it (AVX-512F and VL: VPRORQ for the rotations), and reuses its block
// memory between calls. Elsewhere (other architectures, the purego build
// tag, an amd64 CPU without AVX2) it runs a pure-Go compression function.
// Tests compare every implementation with x/crypto.
//
// # Memory reuse
//
// Block memory comes from a small pool:
//
//   - at most MaxIdle buffers are kept while no derivation uses them (pista
//     runs at most two derivations at once, keys.MaxConcurrentArgon); a
//     buffer returned to a full pool replaces the one idle longest;
//   - a derivation takes an idle buffer only if it is no more than twice
//     its memory, so a buffer left by a rare large derivation (a
//     journalist's 64 MiB) is not kept alive by the usual small ones;
//   - buffers over MaxKeptKiB are never kept, and every kept buffer is
//     dropped after IdleTimeout without use, so an idle server gives its
//     memory back to the garbage collector;
//   - a buffer is wiped before it is kept or dropped: what it held would
//     let whoever reads the process's memory test guesses of the secret
//     cheaply.
package argon2id
