// Package onion publishes pista as Tor onion services (v3) through Tor's
// control port, and checks onion addresses.
//
// # Why a control client of its own
//
// The control protocol (Tor's control-spec) is line-based text, and pista
// uses six commands of it: PROTOCOLINFO, AUTHCHALLENGE and AUTHENTICATE
// (SAFECOOKIE, COOKIE or HASHEDPASSWORD), TAKEOWNERSHIP, RESETCONF and
// ADD_ONION. The Go library for it, github.com/cretz/bine (last release
// v0.2.0), cannot say what pista needs: its ADD_ONION request has no
// ClientAuthV3 (only the v2 ClientAuth) and no proof-of-work options
// (PoWDefensesEnabled, PoWQueueRate, PoWQueueBurst, Tor 0.4.8+); it also
// brings an embedded-tor layer pista does not use, and the Go module proxy
// this project builds with does not serve it. So this package
// is a small client: ReadReply parses replies with bounded lines and line
// counts (fuzzed), commands with a line break are refused, and
// SAFECOOKIE checks that Tor knows the cookie too (hmac.Equal) before
// pista sends its own proof.
//
// # Keys and addresses
//
// A service's identity is an ed25519 key that pista makes once and keeps in
// the data folder in Tor's own hs_ed25519_secret_key format (mode 0600):
// ADD_ONION is given it each start (ED25519-V3:…), so the address is the
// same across restarts and Tor never chooses or keeps one. The address is
// derived from the key as rend-spec-v3 says: base32(PUBKEY | CHECKSUM |
// 0x03) + ".onion", CHECKSUM the first two bytes of SHA3-256(".onion
// checksum" | PUBKEY | 0x03). ParseAddress checks all of that (fuzzed).
//
// A service with client authorization (ClientAuthV3) is reachable only by
// holders of an x25519 private key whose public part the service lists:
// Tor encrypts the service's descriptor to those keys, so without one the
// address leads nowhere, not even to a login page.
//
// # Lifetime
//
// Services are added without Flags=Detach and so live as long as the
// control connection that added them: a pista that stops or crashes
// leaves nothing published in a Tor it shares with other services, and
// its next start adds the same key again without first removing a
// leftover (which Tor would refuse as an "address collision"). A tor that
// pista starts itself (StartTor) has its own data folder (mode 0700), a
// control port on loopback with cookie authentication, no SOCKS port, and
// ends with pista's control connection (TAKEOWNERSHIP).
//
// # Proof of work
//
// Tor's proof-of-work defence for onion services (proposal 327, Tor
// 0.4.8+) makes clients solve a puzzle whose difficulty the service raises
// under load, and serves introduction requests best-solved first from a
// queue drained at PoWQueueRate per second with bursts of PoWQueueBurst.
// Tor Browser solves it by itself. Tor 0.4.9 reports an ephemeral
// service's PoW settings nowhere before it publishes a descriptor (not in
// GETINFO, GETCONF or its metrics port), but it checks the values it is
// given and refuses bad ones.
package onion
