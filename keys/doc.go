// Package keys holds pista's key hierarchy and every secret it derives.
//
// All keys are age hybrid post-quantum keys (ML-KEM-768 + X25519): public
// keys "age1pq1…", identities "AGE-SECRET-KEY-PQ-1…". Every stored object
// is a standard age file.
//
//	journalist identity   made by `pista keygen` on the journalist's device;
//	                      the server keeps only the public key
//	  └ unwraps desk identity   one per desk (and per rotation); stored only
//	                      as age files encrypted to each member (Wrap)
//	      └ decrypts every item of the desk's tips
//	source identity       derived from the codename (Derive); the server
//	                      keeps only its public key
//	  └ decrypts the replies to that source (encrypted to source and desk)
//	archive recipient     optional, per instance, kept offline
//
// # Codenames
//
// A codename is 28 decimal digits from crypto/rand (log2(10^28) ≈ 93 bits),
// written in seven groups of four: "4821 0937 5521 8804 1937 6650 2041".
// Digits are the one script every language of the newsroom reads and
// writes, and ParseCodename also accepts Arabic-Indic, Persian and
// full-width digits, spaces, dashes and dots, so a source can type it back
// however they wrote it down.
//
// # Derivations
//
// A codename is stretched once with Argon2id (64-byte output) salted with
// the instance's random salt, under the instance's parameters, and the
// result is split with HKDF-SHA-256 under two different labels:
//
//	auth     = HKDF(master, "pista/v1/source-auth")   32 bytes, never stored: proves
//	           the codename (an app derives it and sends it instead of the codename)
//	lookup   = SHA-256(auth)                          stored: finds the source
//	seed     = HKDF(master, "pista/v1/source-key")    32 bytes, never stored: the
//	           ML-KEM-768-X25519 private key seed of the source's age identity
//
// Knowing the lookup hash tells nothing about the seed (independent HKDF
// outputs) and does not log anyone in (it is a hash of the proof), and
// recovering either needs an Argon2id computation per guess of a 93-bit
// secret. The codename itself is never stored, logged or put in a cookie.
//
// # Codename parameters
//
// What stops guessing is the codename's 93 bits from crypto/rand: with no
// stretch at all, a billion guesses a second would take some 300,000
// years to hit any one of a million sources' codenames (10^28 / 10^6
// guesses). The Argon2id stretch is
// defence in depth, so it is kept memory-hard but cheap enough that a
// small server takes many submissions at once without its memory jumping
// by 64 MiB each time (issue 5's goals: 32 MiB peak for one upload, 64
// MiB for four). Each instance keeps its parameters for ever, since its
// sources' keys were derived with them:
//
//	new instances (32-byte salt)      CodenameKDF:       m=7 MiB,  t=5, p=1
//	instances made before (16 bytes)  LegacyCodenameKDF: m=64 MiB, t=3, p=2
//
// m=7 MiB, t=5, p=1 is the lowest-memory row of OWASP's Password Storage
// Cheat Sheet, which it rates as equivalent to its 19 MiB/t=2 and 46
// MiB/t=1 rows; RFC 9106 (section 4) likewise trades memory for passes
// when memory is short. It costs about a fifth of the old parameters' time
// (measured side by side on a loaded 2-core machine: 0.16 s against
// 0.83 s; about 80 ms for the old ones on a quiet one). The old
// parameters are RFC 9106's second
// recommended option with two lanes instead of four.
//
// The salt's size records the parameters (InstanceKDF), so that a salt and
// its parameters are made in one write and can never disagree: the
// settings store keeps a secret as first stored, and an instance whose
// salt already exists keeps its 16-byte salt and the old parameters. A
// later change for new instances takes a salt size of its own.
//
// The server derives with Derive, which reads the parameters from the
// salt. Apps and `pista submit`/`pista follow` derive with DeriveWith and
// what GET /api/v1/desks publishes, never with constants of their own;
// CheckCodenameKDF bounds what any server can ask of them (at most
// 256 MiB, sixteen passes and sixteen lanes, at least 1 MiB).
//
// Journalists' passphrases are stretched on their own devices, never on
// the server: see journalist.go.
//
// Argon2id needs its memory parameter for each computation, so at most
// MaxConcurrentArgon run at once; further callers wait their turn. It is
// computed by internal/argon2id (x/crypto's output, with AVX2 or AVX-512
// where the CPU has them), which keeps the memory of that many
// computations for the next ones and gives it back after 30 s unused.
package keys
