package newsroom_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

type params struct {
	Salt []byte `json:"salt"`
	KDF  string `json:"kdf"`
}

func getParams(t *testing.T, b *pistatest.Browser, name string) params {
	t.Helper()
	tok := b.Get("/newsroom/login").CSRF(t)
	r := b.Post("/newsroom/login/params", url.Values{"csrf": {tok}, "name": {name}})
	var p params
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &p) != nil {
		t.Fatalf("params of %q: %d %s", name, r.Status, r.Body)
	}
	return p
}

// TestLoginParams: a known name gets its salt; an unknown one a fake salt
// that is the same every time and looks like a real one, so that asking
// reveals nothing.
func TestLoginParams(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	b := in.Browser()
	if p := getParams(t, b, "ana"); string(p.Salt) != string(j.Auth.Salt) || p.KDF != keys.JournalistKDF {
		t.Errorf("ana's params %x %s, want %x %s", p.Salt, p.KDF, j.Auth.Salt, keys.JournalistKDF)
	}
	first, again := getParams(t, b, "nobody"), getParams(t, in.Browser(), "nobody")
	if string(first.Salt) != string(again.Salt) || first.KDF != again.KDF {
		t.Errorf("an unknown name's params change: %x then %x", first.Salt, again.Salt)
	}
	if len(first.Salt) != keys.JournalistSaltSize || first.KDF != keys.JournalistKDF {
		t.Errorf("an unknown name's params %x %s do not look like an account's", first.Salt, first.KDF)
	}
	if other := getParams(t, b, "somebody"); string(other.Salt) == string(first.Salt) {
		t.Error("two unknown names get the same salt")
	}
	// The same name on another instance (another secret) gets another salt.
	if p := getParams(t, pistatest.New(t, server.Config{}).Browser(), "nobody"); string(p.Salt) == string(first.Salt) {
		t.Error("the fake salt does not depend on the instance secret")
	}
	// An account without a passphrase of the new kind looks unknown too.
	old := &pista.Journalist{Name: "old", Recipient: j.Recipient, TOTPSecret: j.TOTPSecret}
	if err := in.Srv.Stores.Journalists.CreateJournalist(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if p := getParams(t, b, "old"); len(p.Salt) != keys.JournalistSaltSize || p.KDF != keys.JournalistKDF {
		t.Errorf("old account's params %x %s", p.Salt, p.KDF)
	}
	t.Run("no csrf", func(t *testing.T) {
		if r := in.Browser().Post("/newsroom/login/params", url.Values{"name": {"ana"}}); r.Status != http.StatusForbidden || strings.Contains(r.Body, "salt") {
			t.Errorf("params without a token: %d %s", r.Status, r.Body)
		}
	})
}

// TestLoginAccounts: the states of an account that a right key meets.
func TestLoginAccounts(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	st := in.Srv.Stores

	t.Run("right key and code", func(t *testing.T) {
		j := in.Journalist("ana")
		b := in.Browser()
		b.LoginJournalist(j)
		if r := b.Get("/newsroom/"); r.Status != http.StatusOK {
			t.Errorf("inbox after login: %d", r.Status)
		}
		entries, err := st.Team.Audit(ctx, pista.AuditQuery{Limit: 10})
		if err != nil || len(entries) == 0 || entries[0].Action != pista.AuditLogin || entries[0].ActorName != "ana" {
			t.Errorf("audit after a login: %+v %v", entries, err)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		j := in.Journalist("sam")
		if err := st.Journalists.SetSuspended(ctx, j.ID, true); err != nil {
			t.Fatal(err)
		}
		r := in.Browser().PostLogin(j.Name, j.Password, j.Code(t))
		if r.Status != http.StatusForbidden || !strings.Contains(r.Text(), pistatest.En("nr-auth.login.suspended")) {
			t.Errorf("suspended login: %d %s", r.Status, r.Body)
		}
		// A wrong key does not learn that the account is suspended.
		r = in.Browser().PostLogin(j.Name, "not the passphrase at all", j.Code(t))
		if r.Status != http.StatusUnauthorized || !strings.Contains(r.Text(), pistatest.En("newsroom.login.failed")) {
			t.Errorf("suspended, wrong key: %d %s", r.Status, r.Body)
		}
	})
	t.Run("needs a reset", func(t *testing.T) {
		j := in.Journalist("old")
		if err := st.Journalists.SetAuth(ctx, j.ID, pista.JournalistAuth{}); err != nil {
			t.Fatal(err)
		}
		r := in.Browser().PostLogin(j.Name, j.Password, j.Code(t))
		if r.Status != http.StatusForbidden || !strings.Contains(r.Text(), "pista journalist passphrase") {
			t.Errorf("login of an account without auth: %d %s", r.Status, r.Body)
		}
		// Without the account's code, it is a failure like any other.
		r = in.Browser().PostLogin(j.Name, j.Password, "000000")
		if r.Status != http.StatusUnauthorized {
			t.Errorf("without the code: %d %s", r.Status, r.Body)
		}
	})
	t.Run("the passphrase itself is refused", func(t *testing.T) {
		j := in.Journalist("pat")
		b := in.Browser()
		tok := b.Get("/newsroom/login").CSRF(t)
		for _, auth := range []string{j.Password, base64.StdEncoding.EncodeToString([]byte(j.Password)), base64.StdEncoding.EncodeToString(j.Keys.Wrap), ""} {
			r := b.Post("/newsroom/login", url.Values{"csrf": {tok}, "name": {j.Name}, "auth": {auth}, "totp": {j.Code(t)}})
			if r.Status != http.StatusUnauthorized {
				t.Errorf("auth %q: %d", auth, r.Status)
			}
		}
	})
}

// TestMeRoutes: the key module's two routes answer the journalist's own
// wrapped identity and desk keys, as JSON, only with a session.
func TestMeRoutes(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	for _, p := range []string{"/newsroom/me/identity", "/newsroom/me/keys"} {
		if r := in.Browser().Get(p); r.Status != http.StatusSeeOther {
			t.Errorf("%s without a session: %d", p, r.Status)
		}
	}
	b := in.Browser()
	b.LoginJournalist(j)
	r := b.Get("/newsroom/me/identity")
	var me struct {
		Recipient string `json:"recipient"`
		Wrapped   []byte `json:"wrapped"`
	}
	if err := json.Unmarshal([]byte(r.Body), &me); err != nil || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("me/identity: %v %s", err, r.Body)
	}
	id, err := keys.UnwrapIdentity(j.Keys.Wrap, me.Wrapped)
	if err != nil || id.String() != j.Identity.String() || me.Recipient != j.Recipient {
		t.Errorf("me/identity does not unwrap to ana's identity: %v", err)
	}
	r = b.Get("/newsroom/me/keys")
	var ks struct {
		Keys []struct {
			Desk      string `json:"desk"`
			KeyID     int64  `json:"key_id"`
			Recipient string `json:"recipient"`
			Wrapped   []byte `json:"wrapped"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Body), &ks); err != nil || len(ks.Keys) != 1 || ks.Keys[0].Desk != "americas" {
		t.Fatalf("me/keys: %v %s", err, r.Body)
	}
	deskID, err := keys.Unwrap(ks.Keys[0].Wrapped, j.Identity)
	if err != nil || deskID.Recipient().String() != ks.Keys[0].Recipient {
		t.Errorf("the desk key does not open with ana's identity or does not match: %v", err)
	}
}

// TestChangePassphrase: the server checks the old key and stores what the
// browser made; the old passphrase then fails and the new one works.
func TestChangePassphrase(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	b := in.Browser()
	b.LoginJournalist(j)
	tok := b.Get("/newsroom/settings").CSRF(t)
	ctx := context.Background()
	salt := keys.NewJournalistSalt()
	const newPass = "a new passphrase, long enough"
	k, err := keys.DeriveJournalist(ctx, newPass, salt, keys.JournalistKDF)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, _ := keys.WrapIdentity(k.Wrap, j.Identity.String())
	form := func(oldAuth []byte, w []byte) url.Values {
		return url.Values{"csrf": {tok}, "old_auth": {base64.StdEncoding.EncodeToString(oldAuth)}, "salt": {base64.StdEncoding.EncodeToString(salt)},
			"kdf": {keys.JournalistKDF}, "auth": {base64.StdEncoding.EncodeToString(k.Auth)}, "wrapped": {base64.StdEncoding.EncodeToString(w)}}
	}
	bad := []struct {
		name   string
		f      url.Values
		status int
	}{
		{"wrong old key", form(k.Auth, wrapped), http.StatusForbidden},
		{"no wrapped identity", form(j.Keys.Auth, nil), http.StatusBadRequest},
		{"wrapped identity too big", form(j.Keys.Auth, make([]byte, 5000)), http.StatusBadRequest},
		{"bad kdf", func() url.Values {
			f := form(j.Keys.Auth, wrapped)
			f.Set("kdf", "argon2id$v=19$m=8,t=1,p=1")
			return f
		}(), http.StatusBadRequest},
		{"short salt", func() url.Values { f := form(j.Keys.Auth, wrapped); f.Set("salt", "AAAA"); return f }(), http.StatusBadRequest},
		{"no csrf", func() url.Values { f := form(j.Keys.Auth, wrapped); f.Del("csrf"); return f }(), http.StatusForbidden},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if r := b.Post("/newsroom/settings/passphrase", tt.f); r.Status != tt.status {
				t.Errorf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			got, _ := in.Srv.Stores.Journalists.JournalistByID(ctx, j.ID)
			if string(got.Auth.Hash) != string(j.Auth.Hash) {
				t.Fatal("a refused change changed the passphrase")
			}
		})
	}
	if r := b.Post("/newsroom/settings/passphrase", form(j.Keys.Auth, wrapped)); r.Status != http.StatusOK {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	if r := in.Browser().PostLogin(j.Name, j.Password, j.Code(t)); r.Status != http.StatusUnauthorized {
		t.Errorf("the old passphrase still works: %d", r.Status)
	}
	if r := in.Browser().PostLogin(j.Name, newPass, j.Code(t)); r.Status != http.StatusOK {
		t.Errorf("the new passphrase does not work: %d %s", r.Status, r.Body)
	}
	got, _ := in.Srv.Stores.Journalists.JournalistByID(ctx, j.ID)
	if id, err := keys.UnwrapIdentity(k.Wrap, got.Auth.WrappedIdentity); err != nil || id.String() != j.Identity.String() {
		t.Errorf("the stored identity does not open with the new key: %v", err)
	}
}
