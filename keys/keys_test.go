package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pquerna/otp/totp"
)

func TestNewCodename(t *testing.T) {
	seen := map[Codename]bool{}
	for range 200 {
		c := NewCodename()
		if len(c) != CodenameDigits {
			t.Fatalf("codename %q has %d digits, want %d", c, len(c), CodenameDigits)
		}
		if seen[c] {
			t.Fatalf("codename %q repeated", c)
		}
		seen[c] = true
		p, err := ParseCodename(c.String())
		if err != nil || p != c {
			t.Fatalf("ParseCodename(%q) = %q, %v; want %q", c.String(), p, err, c)
		}
		if g := c.Groups(); len(g) != 7 || strings.Join(g, "") != string(c) {
			t.Fatalf("Groups() = %q", g)
		}
	}
}

func TestParseCodename(t *testing.T) {
	const want = Codename("4821093755218804193766502041")
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"grouped", "4821 0937 5521 8804 1937 6650 2041", true},
		{"plain", "4821093755218804193766502041", true},
		{"dashes and newlines", "4821-0937-5521\n8804-1937-6650-2041 ", true},
		{"arabic-indic digits", "٤٨٢١ ٠٩٣٧ ٥٥٢١ ٨٨٠٤ ١٩٣٧ ٦٦٥٠ ٢٠٤١", true},
		{"persian digits with rtl marks", "۴۸۲۱\u200f ۰۹۳۷ ۵۵۲۱ ۸۸۰۴ ۱۹۳۷ ۶۶۵۰ ۲۰۴۱", true},
		{"full-width digits", "４８２１０９３７５５２１８８０４１９３７６６５０２０４１", true},
		{"one digit short", "4821 0937 5521 8804 1937 6650 204", false},
		{"one digit long", "4821 0937 5521 8804 1937 6650 20411", false},
		{"letters", "4821 0937 5521 8804 1937 6650 204a", false},
		{"other script digits", "४८२१ ०९३७ ५५२१ ८८०४ १९३७ ६६५० २०४१", false},
		{"empty", "", false},
		{"huge", strings.Repeat(" ", 1000) + string(want), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCodename(tt.in)
			if tt.ok && (err != nil || got != want) {
				t.Fatalf("ParseCodename(%q) = %q, %v; want %q", tt.in, got, err, want)
			}
			if !tt.ok && !errors.Is(err, ErrMalformedCodename) {
				t.Fatalf("ParseCodename(%q) = %q, %v; want ErrMalformedCodename", tt.in, got, err)
			}
		})
	}
}

func FuzzParseCodename(f *testing.F) {
	f.Add("4821 0937 5521 8804 1937 6650 2041")
	f.Add("٤٨٢١ ٠٩٣٧ ٥٥٢١ ٨٨٠٤ ١٩٣٧ ٦٦٥٠ ٢٠٤١")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCodename(s)
		if err != nil {
			return
		}
		if len(c) != CodenameDigits || strings.Trim(string(c), "0123456789") != "" {
			t.Fatalf("ParseCodename(%q) = %q: not %d ASCII digits", s, c, CodenameDigits)
		}
		if again, err := ParseCodename(c.String()); err != nil || again != c {
			t.Fatalf("round trip of %q gave %q, %v", c, again, err)
		}
	})
}

func TestDerive(t *testing.T) {
	ctx := context.Background()
	salt := bytes.Repeat([]byte{7}, SaltSize)
	c := NewCodename()
	a, err := Derive(ctx, c, salt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Derive(ctx, c, salt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Lookup, b.Lookup) || a.Recipient() != b.Recipient() {
		t.Fatal("the same codename derived different keys")
	}
	if !strings.HasPrefix(a.Recipient(), "age1pq1") {
		t.Fatalf("source recipient %q is not a hybrid age key", a.Recipient())
	}
	other, err := Derive(ctx, NewCodename(), salt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Lookup, other.Lookup) || a.Recipient() == other.Recipient() {
		t.Fatal("two codenames derived the same keys")
	}
	salted, err := Derive(ctx, c, bytes.Repeat([]byte{8}, SaltSize))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a.Lookup, salted.Lookup) {
		t.Fatal("the instance salt does not change the lookup hash")
	}
	// The server stores a hash of the proof, not the proof.
	if bytes.Equal(a.Auth, a.Lookup) || !bytes.Equal(a.Lookup, LookupHash(a.Auth)) {
		t.Fatal("the lookup hash is not the SHA-256 of the authentication key")
	}
	// The lookup hash and the identity seed are separate derivations.
	if bytes.Contains([]byte(a.Identity.String()), a.Lookup) {
		t.Fatal("lookup hash appears in the identity")
	}

	// What is encrypted to the stored public key opens with the identity
	// derived again from the codename.
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, a.Identity.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("reply"))
	w.Close()
	r, err := age.Decrypt(&buf, b.Identity)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	got.ReadFrom(r)
	if got.String() != "reply" {
		t.Fatalf("decrypted %q", got.String())
	}
}

func TestIdentityFromSeedMatchesAge(t *testing.T) {
	for range 20 {
		seed := make([]byte, 32)
		rand.Read(seed)
		id, err := IdentityFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		// age re-encodes the identity with its own Bech32 encoder.
		mine, _ := bech32Encode("AGE-SECRET-KEY-PQ-", seed)
		if id.String() != mine {
			t.Fatalf("age encodes %q, we encode %q", id.String(), mine)
		}
	}
	if _, err := IdentityFromSeed(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte seed was accepted")
	}
}

func TestWrap(t *testing.T) {
	desk, _ := age.GenerateHybridIdentity()
	member, _ := age.GenerateHybridIdentity()
	stranger, _ := age.GenerateHybridIdentity()
	w, err := Wrap(desk, member.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(w, []byte(desk.String())) {
		t.Fatal("wrapped key contains the desk identity")
	}
	got, err := Unwrap(w, member)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != desk.String() {
		t.Fatal("unwrapped a different identity")
	}
	if _, err := Unwrap(w, stranger); err == nil {
		t.Fatal("a non-member unwrapped the desk key")
	}
	x, _ := age.GenerateX25519Identity()
	if _, err := Wrap(desk, x.Recipient().String()); err == nil {
		t.Fatal("a classic X25519 recipient was accepted")
	}
}

func TestCheckTOTP(t *testing.T) {
	secret, uri, err := NewTOTP("pista", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/") {
		t.Fatalf("uri = %q", uri)
	}
	now := time.Now()
	code, _ := totp.GenerateCode(secret, now)
	step, ok := CheckTOTP(secret, code, now)
	if !ok || step != now.Unix()/TOTPPeriod {
		t.Fatalf("CheckTOTP = %d, %v", step, ok)
	}
	if _, ok := CheckTOTP(secret, code, now.Add(5*time.Minute)); ok {
		t.Fatal("a five-minute-old code was accepted")
	}
	if _, ok := CheckTOTP(secret, "12345", now); ok {
		t.Fatal("a five-digit code was accepted")
	}
}

func TestInstanceKDF(t *testing.T) {
	tests := []struct {
		name string
		salt int
		want KDF
		ok   bool
	}{
		{"a salt made before the parameters were per instance", 16, KDF{Memory: 65536, Time: 3, Threads: 2}, true},
		{"a new instance's salt", 32, KDF{Memory: 7168, Time: 5, Threads: 1}, true},
		{"no salt", 0, KDF{}, false},
		{"a salt of another size", 24, KDF{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := InstanceKDF(make([]byte, tt.salt))
			if k != tt.want || tt.ok != (err == nil) {
				t.Fatalf("InstanceKDF = %+v, %v; want %+v", k, err, tt.want)
			}
			if err == nil {
				if err := CheckCodenameKDF(k); err != nil {
					t.Fatalf("an instance's parameters are out of bounds: %v", err)
				}
			}
		})
	}
}

func TestDeriveUsesTheInstanceParameters(t *testing.T) {
	ctx := context.Background()
	c := NewCodename()
	for _, size := range []int{LegacySaltSize, SaltSize} {
		salt := bytes.Repeat([]byte{9}, size)
		k, _ := InstanceKDF(salt)
		a, err := Derive(ctx, c, salt)
		if err != nil {
			t.Fatal(err)
		}
		b, err := DeriveWith(ctx, c, salt, k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Lookup, b.Lookup) {
			t.Fatalf("Derive with a %d-byte salt does not use %+v", size, k)
		}
	}
	if _, err := DeriveWith(ctx, c, make([]byte, 32), KDF{Memory: 512 * 1024, Time: 1, Threads: 1}); !errors.Is(err, ErrBadCodenameKDF) {
		t.Fatalf("DeriveWith 512 MiB: %v, want ErrBadCodenameKDF", err)
	}
	if _, err := Derive(ctx, c, make([]byte, 20)); !errors.Is(err, ErrUnknownSalt) {
		t.Fatalf("Derive with a 20-byte salt: %v, want ErrUnknownSalt", err)
	}
}
