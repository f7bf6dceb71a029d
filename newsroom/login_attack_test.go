package newsroom_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// guess is an attacker's web login attempt from a device without a
// device cookie: a made-up authentication key (what a wrong passphrase
// gives) and a made-up code. It answers the status and body.
func guess(t *testing.T, in *pistatest.Instance, name string) (int, string) {
	t.Helper()
	b := in.Browser()
	tok := b.Get("/newsroom/login").CSRF(t)
	auth := make([]byte, 32)
	rand.Read(auth)
	r := b.Post("/newsroom/login", url.Values{"csrf": {tok}, "name": {name},
		"auth": {base64.StdEncoding.EncodeToString(auth)}, "totp": {"123456"}})
	return r.Status, r.Body
}

// apiGuess is the same through the API, on a kept-alive client.
func apiGuess(t *testing.T, c *http.Client, in *pistatest.Instance, name string) int {
	t.Helper()
	auth := make([]byte, 32)
	rand.Read(auth)
	body, _ := json.Marshal(map[string]any{"name": name, "auth": auth, "totp": "123456"})
	resp, err := c.Post(in.TS.URL+"/api/v1/journalist/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginThrottleAttacks reproduces the two attacks on the old throttle:
// 10,000 made-up names emptied its table, freeing a real account for more
// guesses; and five wrong tries locked the journalist out everywhere for
// fifteen minutes. Now the guesses stay throttled, and the journalist
// logs in from the browser and the command line they used before.
func TestLoginThrottleAttacks(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{})
	ana := in.Journalist("ana")

	// Ana's devices: her browser and her `pista pull`, each with the
	// device token of a login.
	home := in.Browser()
	home.LoginJournalist(ana)
	status, first := apiLogin(t, in, ana, ana.Code(t), "")
	if status != http.StatusOK || first.Device == "" {
		t.Fatalf("API login: %d %+v", status, first)
	}

	// The attacker: five guesses, then refused.
	for i := range 5 {
		if status, body := guess(t, in, "ana"); status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i+1, status, body)
		}
	}
	if status, _ := guess(t, in, "ana"); status != http.StatusTooManyRequests {
		t.Fatalf("sixth guess: %d, want 429", status)
	}
	// 10,000 made-up names (through the API: the same throttle) free
	// nothing.
	c := &http.Client{}
	for i := range 10_000 {
		apiGuess(t, c, in, fmt.Sprintf("made-up-%d", i))
	}
	if status, _ := guess(t, in, "ana"); status != http.StatusTooManyRequests {
		t.Errorf("a guess after 10,000 made-up names: %d, want 429", status)
	}
	if status := apiGuess(t, c, in, "ana"); status != http.StatusTooManyRequests {
		t.Errorf("an API guess after 10,000 made-up names: %d, want 429", status)
	}
	// Even the right passphrase and code, from an unknown device.
	if r := in.Browser().PostLogin("ana", ana.Password, ana.Code(t)); r.Status != http.StatusTooManyRequests {
		t.Errorf("ana from a new device during the attack: %d, want 429", r.Status)
	}

	// Ana, from her browser (logged out) and her command line, logs in
	// normally.
	if r := home.Post("/newsroom/logout", url.Values{"csrf": {home.Get("/newsroom/").CSRF(t)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := home.PostLogin("ana", ana.Password, ana.Code(t)); r.Status != http.StatusOK {
		t.Errorf("ana's browser during the attack: %d %s", r.Status, r.Body)
	}
	status, again := apiLogin(t, in, ana, ana.Code(t), first.Device)
	if status != http.StatusOK || again.Token == "" || again.Device == "" || again.Device == first.Device {
		t.Errorf("ana's pista pull during the attack: %d %+v", status, again)
	}
	// A device token is bound to its account and signed.
	if status, _ := apiLogin(t, in, ana, ana.Code(t), "AAAA"+again.Device[4:]); status != http.StatusTooManyRequests {
		t.Errorf("a forged device token: %d, want 429", status)
	}
}

// TestLoginNoOracle: nothing a login answers tells a right passphrase from
// a wrong one before the second factor is checked, nor a real name from a
// made-up one. The security-key login's first step answered options for a
// right key and an error for a wrong one; a suspended account said so to
// whoever had its passphrase.
func TestLoginNoOracle(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{WebAuthnRPID: "localhost"})
	ctx := context.Background()
	st := in.Srv.Stores
	ana := in.Journalist("ana") // no security key
	kim := in.Journalist("kim") // a security key
	sam := in.Journalist("sam") // suspended
	if err := st.Journalists.SetSuspended(ctx, sam.ID, true); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(webauthn.Credential{ID: []byte("kim's security key"), PublicKey: []byte{1}})
	if err := st.Team.AddCredential(ctx, &pista.WebAuthnCredential{ID: []byte("kim's security key"), JournalistID: kim.ID, Name: "key", Data: data}); err != nil {
		t.Fatal(err)
	}
	wrong := make([]byte, 32)
	rand.Read(wrong)
	// Only both factors learn of the suspension.
	if r := in.Browser().PostLogin("sam", sam.Password, sam.Code(t)); r.Status != http.StatusForbidden {
		t.Errorf("sam with both factors: %d %s", r.Status, r.Body)
	}

	// begin is the security-key login's first step; it answers the status
	// and the options without their (random) challenge.
	begin := func(name string, auth []byte) (int, string) {
		b := in.Browser()
		b.Base = strings.Replace(b.Base, "127.0.0.1", "localhost", 1)
		tok := b.Get("/newsroom/login").CSRF(t)
		r := b.Post("/newsroom/login/webauthn/begin", url.Values{"csrf": {tok}, "name": {name}, "auth": {base64.StdEncoding.EncodeToString(auth)}})
		var a struct {
			State   string         `json:"state"`
			Options map[string]any `json:"options"`
		}
		if err := json.Unmarshal([]byte(r.Body), &a); err != nil || a.State == "" {
			return r.Status, r.Body
		}
		delete(a.Options, "challenge")
		opts, _ := json.Marshal(a.Options)
		return r.Status, string(opts)
	}
	for _, j := range []*pistatest.Journalist{ana, kim, sam} {
		rs, rightOpts := begin(j.Name, j.Keys.Auth)
		ws, wrongOpts := begin(j.Name, wrong)
		if rs != http.StatusOK || rs != ws || rightOpts != wrongOpts {
			t.Errorf("%s: security-key login's first step: right key %d %s, wrong key %d %s", j.Name, rs, rightOpts, ws, wrongOpts)
		}
		if j == kim && !strings.Contains(rightOpts, base64.RawURLEncoding.EncodeToString([]byte("kim's security key"))) {
			t.Errorf("kim's options do not allow her key: %s", rightOpts)
		}
	}
	// A made-up name gets options like an account without keys: the same
	// every time.
	s1, o1 := begin("nobody", wrong)
	s2, o2 := begin("nobody", wrong)
	if s1 != http.StatusOK || o1 != o2 {
		t.Errorf("a made-up name's first step: %d %s, then %d %s", s1, o1, s2, o2)
	}

	// The same through the API.
	apiWrong := func(name string, auth []byte) (int, string) {
		status, a := apiLoginKey(t, in, name, auth, "000000", "")
		return status, a.Error
	}
	aws, awb := apiWrong("nobody", wrong)
	for _, j := range []*pistatest.Journalist{ana, kim, sam} {
		if s, b := apiWrong(j.Name, j.Keys.Auth); s != aws || b != awb {
			t.Errorf("API, %s, right key, wrong code: %d %s; a made-up name gets %d %s", j.Name, s, b, aws, awb)
		}
	}

	// The code login: a right key with a wrong code answers exactly what a
	// wrong key does, for every kind of account and for a made-up name.
	login := func(name string, auth []byte) (int, string) {
		b := in.Browser()
		tok := b.Get("/newsroom/login").CSRF(t)
		r := b.Post("/newsroom/login", url.Values{"csrf": {tok}, "name": {name}, "auth": {base64.StdEncoding.EncodeToString(auth)}, "totp": {"000000"}})
		return r.Status, r.Body
	}
	ws, wb := login("nobody", wrong)
	for _, j := range []*pistatest.Journalist{ana, kim, sam} {
		auths := [][]byte{j.Keys.Auth, wrong}
		if j == sam {
			auths = auths[:1] // the throttle allows sam five tries
		}
		for _, auth := range auths {
			if s, b := login(j.Name, auth); s != ws || b != wb {
				t.Errorf("%s, wrong code: %d %s; a made-up name gets %d %s", j.Name, s, b, ws, wb)
			}
		}
	}
}

// TestTOTPCodeOnce: a code logs in once; the same code again is refused,
// by the web and the API alike.
func TestTOTPCodeOnce(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{})
	ana := in.Journalist("ana")
	code := ana.Code(t)
	if r := in.Browser().PostLogin("ana", ana.Password, code); r.Status != http.StatusOK {
		t.Fatalf("first use: %d %s", r.Status, r.Body)
	}
	if r := in.Browser().PostLogin("ana", ana.Password, code); r.Status != http.StatusUnauthorized {
		t.Errorf("the same code again on the web: %d", r.Status)
	}
	if status, _ := apiLogin(t, in, ana, code, ""); status != http.StatusUnauthorized {
		t.Errorf("the same code again on the API: %d", status)
	}
}

// TestSecondFactorChangeAsksPassphrase: a session alone (a browser left
// open, a stolen cookie) cannot add or remove a security key: both ask for
// the passphrase's authentication key again.
func TestSecondFactorChangeAsksPassphrase(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{WebAuthnRPID: "localhost"})
	ctx := context.Background()
	ana := in.Journalist("ana")
	data, _ := json.Marshal(webauthn.Credential{ID: []byte("ana's key"), PublicKey: []byte{1}})
	if err := in.Srv.Stores.Team.AddCredential(ctx, &pista.WebAuthnCredential{ID: []byte("ana's key"), JournalistID: ana.ID, Name: "key", Data: data}); err != nil {
		t.Fatal(err)
	}
	b := in.Browser()
	b.Base = strings.Replace(b.Base, "127.0.0.1", "localhost", 1)
	b.LoginJournalist(ana)
	tok := newsroomCSRF(b)
	wrong := make([]byte, 32)
	rand.Read(wrong)
	keyID := base64.RawURLEncoding.EncodeToString([]byte("ana's key"))
	for _, tt := range []struct {
		name   string
		path   string
		form   url.Values
		status int
	}{
		{"add, no passphrase", "/newsroom/settings/webauthn/begin", url.Values{}, http.StatusForbidden},
		{"add, wrong passphrase", "/newsroom/settings/webauthn/begin", url.Values{"auth": {base64.StdEncoding.EncodeToString(wrong)}}, http.StatusForbidden},
		{"remove, no passphrase", "/newsroom/settings/webauthn/delete", url.Values{"id": {keyID}}, http.StatusForbidden},
		{"remove, wrong passphrase", "/newsroom/settings/webauthn/delete", url.Values{"id": {keyID}, "auth": {base64.StdEncoding.EncodeToString(wrong)}}, http.StatusForbidden},
		{"add, passphrase", "/newsroom/settings/webauthn/begin", url.Values{"auth": {base64.StdEncoding.EncodeToString(ana.Keys.Auth)}}, http.StatusOK},
		{"remove, passphrase", "/newsroom/settings/webauthn/delete", url.Values{"id": {keyID}, "auth": {base64.StdEncoding.EncodeToString(ana.Keys.Auth)}}, http.StatusOK},
	} {
		creds, _ := in.Srv.Stores.Team.Credentials(ctx, ana.ID)
		tt.form.Set("csrf", tok)
		r := b.Post(tt.path, tt.form)
		if r.Status != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, r.Status, r.Body, tt.status)
		}
		after, _ := in.Srv.Stores.Team.Credentials(ctx, ana.ID)
		if removed := len(after) < len(creds); removed != (tt.name == "remove, passphrase") {
			t.Errorf("%s: %d keys before, %d after", tt.name, len(creds), len(after))
		}
	}
}
