package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// TestPullKeepsDeviceToken: pista pull keeps the device token of its
// login beside the password file, and with it logs in while an attacker
// has spent the account's allowance for unknown devices; without it, the
// same login is refused.
func TestPullKeepsDeviceToken(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	ana := in.Journalist("ana")
	in.Desk("americas", ana)
	in.StoreTip(in.Desk("europe", ana))
	dir := t.TempDir()
	pw := writeFile(t, filepath.Join(dir, "ana.pass"), []byte(ana.Password+"\n"))
	out := filepath.Join(dir, "pulled")

	runPista(t, "pull", "--server", in.TS.URL, "--user", "ana", "--password-file", pw, "--totp", ana.Code(t), "--out", out)
	tok, err := os.ReadFile(pw + ".device")
	if err != nil || len(strings.TrimSpace(string(tok))) < 40 {
		t.Fatalf("device file: %q, %v", tok, err)
	}
	if fi, err := os.Stat(pw + ".device"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device file mode: %v, %v", fi.Mode(), err)
	}

	// Someone guesses at ana's passphrase until the throttle stops them.
	for range 6 {
		auth := make([]byte, 32)
		rand.Read(auth)
		body, _ := json.Marshal(map[string]any{"name": "ana", "auth": auth, "totp": "000000"})
		resp, err := http.Post(in.TS.URL+"/api/v1/journalist/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if msg := runPistaFails(t, "", "pull", "--server", in.TS.URL, "--user", "ana", "--password-file", pw, "--totp", ana.Code(t),
		"--out", out, "--device-file", filepath.Join(dir, "new.device")); !strings.Contains(msg, "too many") {
		t.Errorf("a pull from a new device during the attack: %q, want throttled", msg)
	}
	runPista(t, "pull", "--server", in.TS.URL, "--user", "ana", "--password-file", pw, "--totp", ana.Code(t), "--out", out)
	again, _ := os.ReadFile(pw + ".device")
	if string(again) == string(tok) {
		t.Error("the device token was not renewed")
	}
}
