package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// TestJournalistPassphrase: accounts made with --identity keep the
// identity wrapped with the passphrase (for the browser); the passphrase
// command resets both; nothing stores the passphrase itself.
func TestJournalistPassphrase(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx := context.Background()
	keyFile := filepath.Join(dir, "ana.key")
	recipient := strings.TrimSpace(runPista(t, "keygen", "-o", keyFile))
	other := filepath.Join(dir, "other.key")
	runPista(t, "keygen", "-o", other)
	pw := writeFile(t, filepath.Join(dir, "ana.pass"), []byte("ana's first passphrase\n"))
	pw2 := writeFile(t, filepath.Join(dir, "ana2.pass"), []byte("ana's second passphrase\n"))
	short := writeFile(t, filepath.Join(dir, "short.pass"), []byte("short\n"))

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"both --recipient and --identity", []string{"--recipient", recipient, "--identity", keyFile}, "either --recipient or --identity"},
		{"neither", nil, "either --recipient or --identity"},
		{"a short passphrase", []string{"--identity", keyFile, "--password-file", short}, "12"},
		{"not an identity file", []string{"--identity", pw}, "identity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"journalist", "add", "--data", data, "--name", "ana"}, tt.args...)
			if !strings.Contains(strings.Join(tt.args, " "), "--password-file") {
				args = append(args, "--password-file", pw)
			}
			if msg := runPistaFails(t, "", args...); !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
		})
	}

	out := runPista(t, "journalist", "add", "--data", data, "--name", "ana", "--identity", keyFile, "--password-file", pw, "--admin")
	if !strings.HasPrefix(out, "otpauth://") {
		t.Fatalf("journalist add printed %q", out)
	}
	check := func(passphrase string, wantIdentity bool) {
		t.Helper()
		st, err := server.OpenStores(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		j, err := st.Journalists.JournalistByName(ctx, "ana")
		if err != nil {
			t.Fatal(err)
		}
		if j.Recipient != recipient || !j.Admin {
			t.Errorf("account: recipient %s admin %v", j.Recipient, j.Admin)
		}
		k, err := keys.DeriveJournalist(ctx, passphrase, j.Auth.Salt, j.Auth.KDF)
		if err != nil {
			t.Fatal(err)
		}
		if !keys.CheckAuth(j.Auth.Hash, k.Auth) {
			t.Errorf("the passphrase %q does not log in", passphrase)
		}
		if !wantIdentity {
			if len(j.Auth.WrappedIdentity) != 0 {
				t.Error("an identity is stored")
			}
			return
		}
		id, err := keys.UnwrapIdentity(k.Wrap, j.Auth.WrappedIdentity)
		if err != nil || id.Recipient().String() != recipient {
			t.Errorf("the stored identity does not unwrap to ana's: %v", err)
		}
	}
	check("ana's first passphrase", true)

	if msg := runPistaFails(t, "", "journalist", "passphrase", "--data", data, "--name", "ana", "--password-file", pw2, "--identity", other); !strings.Contains(msg, "not ana's identity") {
		t.Errorf("another identity: %q", msg)
	}
	check("ana's first passphrase", true) // unchanged

	runPista(t, "journalist", "passphrase", "--data", data, "--name", "ana", "--password-file", pw2, "--identity", keyFile)
	check("ana's second passphrase", true)

	_, stderr := runPistaIn(t, "", "journalist", "passphrase", "--data", data, "--name", "ana", "--password-file", pw)
	if !strings.Contains(stderr, "--identity") {
		t.Errorf("resetting without --identity does not warn that the stored identity is gone: %q", stderr)
	}
	check("ana's first passphrase", false)
}
