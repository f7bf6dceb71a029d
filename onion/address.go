package onion

import (
	"bytes"
	"crypto/sha3"
	"encoding/base32"
	"errors"
	"strings"
)

// An onion address (rend-spec-v3, "Encoding onion addresses") is
//
//	base32(PUBKEY | CHECKSUM | VERSION) + ".onion"
//	CHECKSUM = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2]
//	VERSION  = 0x03
//
// with PUBKEY the service's 32-byte ed25519 identity key: 35 bytes, 56
// base32 characters.
const (
	addressLen = 56 // base32 characters before ".onion"
	version    = 3
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors of ParseAddress. Each says what is wrong, for the error message.
var (
	ErrAddressSuffix   = errors.New(`an onion address ends in ".onion"`)
	ErrAddressLength   = errors.New("a v3 onion address has 56 characters before .onion (older 16-character v2 addresses no longer work)")
	ErrAddressChars    = errors.New("an onion address has only the letters a–z and the digits 2–7 before .onion")
	ErrAddressVersion  = errors.New("not a version 3 onion address (or its last characters are mistyped)")
	ErrAddressChecksum = errors.New("the onion address's checksum does not match: a character is wrong or missing")
)

// ParseAddress checks a v3 onion address ("…56 characters….onion", an
// optional "http://" and a trailing "/" are allowed) and returns it in
// its canonical form (lowercase, no scheme) and its ed25519 public key.
func ParseAddress(s string) (addr string, pub []byte, err error) {
	s = strings.TrimSpace(s)
	if len(s) > 200 { // far longer than any address: say so without copying it around
		return "", nil, ErrAddressLength
	}
	s = strings.ToLower(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "http://"), "https://")
	s = strings.TrimSuffix(s, "/")
	host, ok := strings.CutSuffix(s, ".onion")
	if !ok {
		return "", nil, ErrAddressSuffix
	}
	// A subdomain (www.ADDR.onion) names the same service; pista announces
	// the bare address.
	if i := strings.LastIndexByte(host, '.'); i >= 0 {
		host = host[i+1:]
	}
	if len(host) != addressLen {
		return "", nil, ErrAddressLength
	}
	// Base32 decoders skip line breaks: check every character first, so
	// that 56 characters are 35 bytes.
	for _, c := range []byte(host) {
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return "", nil, ErrAddressChars
		}
	}
	raw, err := b32.DecodeString(strings.ToUpper(host))
	if err != nil || len(raw) != 35 {
		return "", nil, ErrAddressChars
	}
	pub, sum, ver := raw[:32], raw[32:34], raw[34]
	if ver != version {
		return "", nil, ErrAddressVersion
	}
	if !bytes.Equal(sum, checksum(pub)) {
		return "", nil, ErrAddressChecksum
	}
	return host + ".onion", pub, nil
}

// AddressOf is the onion address of the service with ed25519 public key
// pub (32 bytes).
func AddressOf(pub []byte) string {
	raw := make([]byte, 0, 35)
	raw = append(raw, pub...)
	raw = append(raw, checksum(pub)...)
	raw = append(raw, version)
	return strings.ToLower(b32.EncodeToString(raw)) + ".onion"
}

func checksum(pub []byte) []byte {
	msg := append([]byte(".onion checksum"), pub...)
	sum := sha3.Sum256(append(msg, version))
	return sum[:2]
}
