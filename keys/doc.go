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
// A codename is stretched once with Argon2id (ArgonTime passes over
// ArgonMemory KiB with ArgonThreads lanes, 64-byte output) salted with the
// instance's random salt, and the result is split with HKDF-SHA-256 under
// two different labels:
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
// Journalist passwords are hashed with the same Argon2id parameters and a
// random 16-byte salt, kept in PHC string format.
//
// Argon2id allocates ArgonMemory for each computation, so at most
// MaxConcurrentArgon run at once; further callers wait their turn.
package keys
