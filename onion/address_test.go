package onion

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// torProject is the Tor Project's own v3 address: a known-good one.
const torProject = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"

func TestParseAddress(t *testing.T) {
	pub := make([]byte, 32)
	for i := range pub {
		pub[i] = byte(i * 7)
	}
	good := AddressOf(pub)
	host := strings.TrimSuffix(good, ".onion")
	// flip changes one base32 character of the key part.
	flip := func(s string, i int) string {
		c := byte('a')
		if s[i] == 'a' {
			c = 'b'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	// withVersion re-encodes pub with a checksum made for version v.
	withVersion := func(v byte) string {
		raw := append(append([]byte{}, pub...), checksum(pub)...)
		raw = append(raw, v)
		return strings.ToLower(b32.EncodeToString(raw)) + ".onion"
	}
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"tor project", torProject, torProject, nil},
		{"made from a key", good, good, nil},
		{"upper case", strings.ToUpper(good), good, nil},
		{"url", "http://" + good + "/", good, nil},
		{"subdomain", "www." + good, good, nil},
		{"spaces", "  " + good + "\n", good, nil},
		{"empty", "", "", ErrAddressSuffix},
		{"no suffix", host, "", ErrAddressSuffix},
		{"clearnet", "tips.example.org", "", ErrAddressSuffix},
		{"v2", "expyuzz4wqqyqhjn.onion", "", ErrAddressLength},
		{"one short", host[1:] + ".onion", "", ErrAddressLength},
		{"one long", host + "a.onion", "", ErrAddressLength},
		{"very long", strings.Repeat("a", 1000) + ".onion", "", ErrAddressLength},
		{"digit 1", "1" + host[1:] + ".onion", "", ErrAddressChars},
		{"digit 0", host[:10] + "0" + host[11:] + ".onion", "", ErrAddressChars},
		{"line breaks inside", host[:20] + "\n\n" + host[22:] + ".onion", "", ErrAddressChars},
		{"typo in key", flip(host, 5) + ".onion", "", ErrAddressChecksum},
		{"typo in checksum", flip(host, 52) + ".onion", "", ErrAddressChecksum},
		{"version 2", withVersion(2), "", ErrAddressVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, gotPub, err := ParseAddress(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("ParseAddress(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			if got != tc.want {
				t.Fatalf("ParseAddress(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if err == nil && AddressOf(gotPub) != got {
				t.Fatalf("AddressOf(key) = %q, want %q", AddressOf(gotPub), got)
			}
		})
	}
}

func FuzzParseAddress(f *testing.F) {
	f.Add(torProject)
	f.Add("http://" + strings.ToUpper(torProject) + "/")
	f.Add("expyuzz4wqqyqhjn.onion")
	f.Add("a.b.onion")
	f.Fuzz(func(t *testing.T, s string) {
		addr, pub, err := ParseAddress(s)
		if err != nil {
			return
		}
		if len(pub) != 32 || AddressOf(pub) != addr {
			t.Fatalf("%q: parsed to %q, which is not its key's address", s, addr)
		}
		if again, _, err := ParseAddress(addr); err != nil || again != addr {
			t.Fatalf("%q: canonical form %q does not parse to itself", s, addr)
		}
	})
}

// The key file's address is the one ed25519 gives for the same seed: the
// expansion and clamping are ed25519's.
func TestKeyMatchesEd25519(t *testing.T) {
	dir := t.TempDir()
	k, created, err := LoadOrCreateKey(dir + "/k")
	if err != nil || !created {
		t.Fatal(created, err)
	}
	again, created, err := LoadOrCreateKey(dir + "/k")
	if err != nil || created || again.Address() != k.Address() {
		t.Fatalf("reloaded key: %v %v %s != %s", created, err, again.Address(), k.Address())
	}
	seed := bytes.Repeat([]byte{9}, 32)
	want := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	h := sha512Sum(seed)
	k2, err := newKey(h)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k2.pub, want) {
		t.Fatalf("public key %x, want %x", k2.pub, want)
	}
	if _, _, err := LoadOrCreateKey("/dev/null"); !errors.Is(err, ErrBadKeyFile) {
		t.Fatalf("empty key file: %v", err)
	}
}
