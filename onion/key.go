package onion

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"filippo.io/edwards25519"
)

// keyFileHeader starts Tor's own file for an onion service's secret key
// (hs_ed25519_secret_key in a HiddenServiceDir): pista keeps its keys in
// that format, so a key can be moved to a torrc-configured service.
const keyFileHeader = "== ed25519v1-secret: type0 ==\x00\x00\x00"

// ServiceKey is an onion service's identity: Tor's "expanded" ed25519
// secret key (a clamped scalar and the nonce-derivation half, 64 bytes).
type ServiceKey struct {
	expanded [64]byte
	pub      []byte
}

// ErrBadKeyFile is returned for a key file that is not one of Tor's
// ed25519 secret key files.
var ErrBadKeyFile = errors.New("not an onion service key file")

// LoadOrCreateKey reads the service key in file, or makes one and writes
// it there (mode 0600, never replaced) if the file does not exist.
// created tells which.
func LoadOrCreateKey(file string) (k *ServiceKey, created bool, err error) {
	b, err := os.ReadFile(file)
	if err == nil {
		if err := tighten(file); err != nil {
			return nil, false, err
		}
		k, err := parseKeyFile(b)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", file, err)
		}
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	var seed [32]byte
	rand.Read(seed[:])
	h := sha512.Sum512(seed[:])
	k, err = newKey(h)
	if err != nil {
		return nil, false, err
	}
	if err := writeNew(file, append([]byte(keyFileHeader), k.expanded[:]...)); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

func parseKeyFile(b []byte) (*ServiceKey, error) {
	rest, ok := bytes.CutPrefix(b, []byte(keyFileHeader))
	if !ok || len(rest) != 64 {
		return nil, ErrBadKeyFile
	}
	return newKey([64]byte(rest))
}

// newKey clamps the scalar half of h as ed25519 does and computes the
// public key from it.
func newKey(h [64]byte) (*ServiceKey, error) {
	h[0] &= 248
	h[31] &= 127
	h[31] |= 64
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, ErrBadKeyFile
	}
	pub := new(edwards25519.Point).ScalarBaseMult(s).Bytes()
	return &ServiceKey{expanded: h, pub: pub}, nil
}

// Address is the key's onion address.
func (k *ServiceKey) Address() string { return AddressOf(k.pub) }

// blob is the key as ADD_ONION takes it.
func (k *ServiceKey) blob() string {
	return "ED25519-V3:" + base64.StdEncoding.EncodeToString(k.expanded[:])
}

// ClientKey is an x25519 key pair for an onion service's client
// authorization (rend-spec-v3 "Client authorization"): Tor on the service
// side is given the public part (ClientAuthV3), the journalist's Tor
// Browser the private part.
type ClientKey struct {
	priv *ecdh.PrivateKey
}

// LoadOrCreateClientKey reads a client key from file, which holds Tor's
// client-side line "<address without .onion>:descriptor:x25519:<private
// key, base32>", or makes one for the service at addr and writes it there
// (mode 0600).
func LoadOrCreateClientKey(file, addr string) (k *ClientKey, created bool, err error) {
	b, err := os.ReadFile(file)
	if err == nil {
		if err := tighten(file); err != nil {
			return nil, false, err
		}
		f := strings.Split(strings.TrimSpace(string(b)), ":")
		if len(f) != 4 || f[1] != "descriptor" || f[2] != "x25519" || f[0]+".onion" != addr {
			return nil, false, fmt.Errorf("%s: %w", file, ErrBadKeyFile)
		}
		raw, err := b32.DecodeString(strings.ToUpper(f[3]))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", file, ErrBadKeyFile)
		}
		priv, err := ecdh.X25519().NewPrivateKey(raw)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", file, ErrBadKeyFile)
		}
		return &ClientKey{priv}, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	k = &ClientKey{priv}
	if err := writeNew(file, []byte(k.AuthLine(addr)+"\n")); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// Private is the private key in base32, as Tor Browser asks for it.
func (k *ClientKey) Private() string { return strings.ToLower(b32.EncodeToString(k.priv.Bytes())) }

// Public is the public key in base32, as ClientAuthV3 takes it.
func (k *ClientKey) Public() string {
	return strings.ToLower(b32.EncodeToString(k.priv.PublicKey().Bytes()))
}

// AuthLine is the line of a .auth_private file in a Tor client's
// ClientOnionAuthDir for the service at addr.
func (k *ClientKey) AuthLine(addr string) string {
	return strings.TrimSuffix(addr, ".onion") + ":descriptor:x25519:" + k.Private()
}

// writeNew writes a new file readable only by its owner; it never
// replaces one, so two starts at once cannot make two keys.
func writeNew(file string, b []byte) error {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	return f.Close()
}

func sha512Sum(b []byte) [64]byte { return sha512.Sum512(b) }

// maxClients bounds the client keys of one service: each adds to the
// service's descriptor, whose size Tor limits (50 KB).
const maxClients = 64

// ErrBadClients is returned for a client list ParseClients refuses.
var ErrBadClients = errors.New("not a list of onion client keys")

// ParseClients reads a list of client authorization public keys: one
// x25519 key in base32 (52 characters) per line, "descriptor:x25519:" in
// front of it allowed (Tor's .auth file format), blank lines and lines
// starting with # ignored. At most maxClients keys.
func ParseClients(b []byte) ([]string, error) {
	if len(b) > maxClients*200 {
		return nil, fmt.Errorf("%w: too long", ErrBadClients)
	}
	var keys []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "descriptor:x25519:")
		raw, err := b32.DecodeString(strings.ToUpper(line))
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%w: line %d is not an x25519 public key in base32", ErrBadClients, i+1)
		}
		if _, err := ecdh.X25519().NewPublicKey(raw); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrBadClients, i+1, err)
		}
		if len(keys) == maxClients {
			return nil, fmt.Errorf("%w: more than %d keys", ErrBadClients, maxClients)
		}
		keys = append(keys, strings.ToLower(b32.EncodeToString(raw)))
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrBadClients)
	}
	return keys, nil
}

// tighten makes a key file readable only by its owner, if a copy or a
// restore left it readable by others.
func tighten(file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return os.Chmod(file, 0o600)
	}
	return nil
}
