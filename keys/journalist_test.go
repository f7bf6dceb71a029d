package keys

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
)

// testKDF is the smallest stretch ParseKDF accepts, to keep tests quick.
const testKDF = "argon2id$v=19$m=19456,t=1,p=1"

func TestParseKDF(t *testing.T) {
	k, err := ParseKDF(JournalistKDF)
	if err != nil || k != (KDF{Memory: 65536, Time: 3, Threads: 1}) {
		t.Fatalf("ParseKDF(%q) = %+v, %v", JournalistKDF, k, err)
	}
	for _, bad := range []string{
		"", "argon2id$v=19$m=65536,t=3", "argon2i$v=19$m=65536,t=3,p=1", "argon2id$v=18$m=65536,t=3,p=1",
		"argon2id$v=19$m=1024,t=3,p=1",    // too weak
		"argon2id$v=19$m=4194304,t=3,p=1", // 4 GiB: a server cannot make a client spend that
		"argon2id$v=19$m=65536,t=0,p=1", "argon2id$v=19$m=65536,t=99,p=1", "argon2id$v=19$m=65536,t=3,p=0",
		"argon2id$v=19$m=065536,t=3,p=1", "argon2id$v=19$m=65536,t=3,p=1x", "argon2id$v=19$m=65536,t=3,p=1 ",
	} {
		if _, err := ParseKDF(bad); !errors.Is(err, ErrBadKDF) {
			t.Errorf("ParseKDF(%q) = %v, want ErrBadKDF", bad, err)
		}
	}
}

func TestJournalistKeys(t *testing.T) {
	ctx := context.Background()
	salt := []byte("0123456789abcdef")
	k1, err := DeriveJournalist(ctx, "correct horse battery staple", salt, testKDF)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := DeriveJournalist(ctx, "correct horse battery staple", salt, testKDF)
	other, _ := DeriveJournalist(ctx, "correct horse battery stapler", salt, testKDF)
	otherSalt, _ := DeriveJournalist(ctx, "correct horse battery staple", []byte("fedcba9876543210"), testKDF)
	if !bytes.Equal(k1.Auth, k2.Auth) || !bytes.Equal(k1.Wrap, k2.Wrap) {
		t.Fatal("the derivation is not deterministic")
	}
	if bytes.Equal(k1.Auth, k1.Wrap) || len(k1.Auth) != 32 || len(k1.Wrap) != 32 {
		t.Fatal("auth and wrap keys must be two different 32-byte keys")
	}
	if bytes.Equal(k1.Auth, other.Auth) || bytes.Equal(k1.Auth, otherSalt.Auth) {
		t.Fatal("another passphrase or salt gave the same key")
	}
	stored := AuthHash(k1.Auth)
	if !CheckAuth(stored, k1.Auth) || CheckAuth(stored, other.Auth) || CheckAuth(nil, k1.Auth) || CheckAuth(stored, k1.Auth[:31]) {
		t.Fatal("CheckAuth accepts the wrong key or refuses the right one")
	}
	if CheckAuth(stored, k1.Wrap) {
		t.Fatal("the wrapping key passes as the authentication key")
	}

	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := WrapIdentity(k1.Wrap, id.String())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, []byte("AGE-SECRET-KEY")) {
		t.Fatal("the wrapped identity holds the identity in clear")
	}
	got, err := UnwrapIdentity(k1.Wrap, wrapped)
	if err != nil || got.String() != id.String() {
		t.Fatalf("UnwrapIdentity = %v, %v", got, err)
	}
	if _, err := UnwrapIdentity(other.Wrap, wrapped); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("UnwrapIdentity(wrong key) = %v, want ErrWrongPassphrase", err)
	}
	if _, err := UnwrapIdentity(k1.Auth, wrapped); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("UnwrapIdentity(auth key) = %v, want ErrWrongPassphrase", err)
	}
	tampered := bytes.Clone(wrapped)
	tampered[len(tampered)-1] ^= 1
	if _, err := UnwrapIdentity(k1.Wrap, tampered); !errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("UnwrapIdentity(tampered) = %v, want ErrWrongPassphrase", err)
	}
}

// TestJournalistVector pins the derivation: the browser (hash-wasm's
// Argon2id, WebCrypto's HKDF) must give these same bytes, and a change here
// would lock every journalist out. The expected bytes were computed with
// the browser's own Argon2id (the hash-wasm package the inbox bundles) and
// Node's HKDF, not with this package.
func TestJournalistVector(t *testing.T) {
	k, err := DeriveJournalist(context.Background(), "pista", []byte("saltsaltsaltsalt"), testKDF)
	if err != nil {
		t.Fatal(err)
	}
	const wantAuth = "17757495e1d31bd7d8b729511eedd273b741a4d47dd973dbea87cf5b67bafa90"
	const wantWrap = "f20015356b5b130b588fc630b302b53efea2410021289f49a5bfe94856ec56de"
	if got := hexs(k.Auth); got != wantAuth {
		t.Errorf("auth = %s, want %s", got, wantAuth)
	}
	if got := hexs(k.Wrap); got != wantWrap {
		t.Errorf("wrap = %s, want %s", got, wantWrap)
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func TestNewJournalistAuth(t *testing.T) {
	ctx := context.Background()
	id, _ := age.GenerateHybridIdentity()
	a, err := NewJournalistAuth(ctx, "a long passphrase", id)
	if err != nil {
		t.Fatal(err)
	}
	k, err := DeriveJournalist(ctx, "a long passphrase", a.Salt, a.KDF)
	if err != nil {
		t.Fatal(err)
	}
	if !CheckAuth(a.Hash, k.Auth) {
		t.Fatal("the stored hash does not check the derived key")
	}
	got, err := UnwrapIdentity(k.Wrap, a.WrappedIdentity)
	if err != nil || got.String() != id.String() {
		t.Fatalf("UnwrapIdentity = %v, %v", got, err)
	}
	b, _ := NewJournalistAuth(ctx, "a long passphrase", nil)
	if bytes.Equal(a.Salt, b.Salt) || b.WrappedIdentity != nil {
		t.Errorf("two accounts share a salt, or an account without identity got one wrapped")
	}
}

func FuzzParseKDF(f *testing.F) {
	f.Add(JournalistKDF)
	f.Add(testKDF)
	f.Add("argon2id$v=19$m=1,t=1,p=1")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKDF(s)
		if err != nil {
			return
		}
		if k.Memory < minKDFMemory || k.Memory > maxKDFMemory || k.Time < 1 || k.Time > maxKDFTime || k.Threads < 1 {
			t.Fatalf("ParseKDF(%q) = %+v, out of bounds", s, k)
		}
	})
}

func FuzzUnwrapIdentity(f *testing.F) {
	key := bytes.Repeat([]byte{1}, 32)
	w, _ := WrapIdentity(key, "AGE-SECRET-KEY-PQ-1X")
	f.Add(w)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		UnwrapIdentity(key, b) // must not panic
	})
}
