package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// bearerGet fetches path with a bearer token.
func bearerGet(b *pistatest.Browser, path, token string) *pistatest.Response {
	b.T.Helper()
	req := b.Request(http.MethodGet, path, nil, "")
	req.Header.Set("Authorization", "Bearer "+token)
	return b.Do(req)
}

// cookieBrowser is a new browser holding the source cookie value.
func cookieBrowser(in *pistatest.Instance, value string) *pistatest.Browser {
	b := in.Browser()
	u, _ := url.Parse(b.Base)
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: "pista_source", Value: value, Path: "/"}})
	return b
}

func sourceCookieValue(t *testing.T, b *pistatest.Browser) string {
	t.Helper()
	u, _ := url.Parse(b.Base)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == "pista_source" {
			return c.Value
		}
	}
	t.Fatal("no source cookie")
	return ""
}

// TestSealedSourceSessions: a source's web cookie and API token are
// sealed under the instance's key, for their purpose: neither stands for
// the other, another instance opens neither, and both outlive a restart
// of the server on the same data folder.
func TestSealedSourceSessions(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	in.Desk("americas", in.Journalist("ana"))
	b := in.Browser()
	codename := b.Submit("americas", "The minutes are forged.").Codename(t)
	if r := b.Post("/login", url.Values{"csrf": {b.Get("/").CSRF(t)}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("web login: %d", r.Status)
	}
	cookie := sourceCookieValue(t, b)

	salt, err := in.Srv.Stores.CodenameSalt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := keys.ParseCodename(codename)
	d, err := keys.Derive(ctx, c, salt)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(api.SourceLoginRequest{Auth: base64.StdEncoding.EncodeToString(d.Auth)})
	req := b.Request(http.MethodPost, "/api/v1/source/login", strings.NewReader(string(body)), "application/json")
	req.Header.Set(api.PoWHeader, b.Prove())
	r := b.Do(req)
	var lr api.SourceLoginResponse
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &lr) != nil {
		t.Fatalf("API login: %d %s", r.Status, r.Body)
	}
	token := lr.Token
	if len(token) > 256 || len(cookie) > 256 {
		t.Errorf("token of %d bytes, cookie of %d: over httpx.MaxSmallField", len(token), len(cookie))
	}

	works := func(in *pistatest.Instance, when string) {
		t.Helper()
		if r := cookieBrowser(in, cookie).Get("/source"); r.Status != http.StatusOK {
			t.Errorf("%s: the web cookie: %d", when, r.Status)
		}
		if r := bearerGet(in.Browser(), "/api/v1/source/replies", token); r.Status != http.StatusOK {
			t.Errorf("%s: the API token: %d", when, r.Status)
		}
	}
	works(in, "before")

	// Each for its purpose only.
	if r := bearerGet(in.Browser(), "/api/v1/source/replies", cookie); r.Status != http.StatusUnauthorized {
		t.Errorf("the web cookie as an API token: %d", r.Status)
	}
	if r := cookieBrowser(in, token).Get("/source"); r.Status != http.StatusUnauthorized || !strings.Contains(r.Text(), pistatest.En("error.session")) {
		t.Errorf("the API token as a web cookie: %d", r.Status)
	}

	// Another instance has another key.
	other := pistatest.New(t, server.Config{})
	if r := bearerGet(other.Browser(), "/api/v1/source/replies", token); r.Status != http.StatusUnauthorized {
		t.Errorf("the token on another instance: %d", r.Status)
	}
	if r := cookieBrowser(other, cookie).Get("/source"); r.Status != http.StatusUnauthorized {
		t.Errorf("the cookie on another instance: %d", r.Status)
	}

	// A restart on the same data folder keeps both, and forgets the keys
	// of hours no session can need.
	const oldKey = "source-session-key/000000000001"
	stale, err := in.Srv.Stores.Settings.Secret(ctx, oldKey, 32)
	if err != nil {
		t.Fatal(err)
	}
	in.TS.Close()
	if err := in.Srv.Close(); err != nil {
		t.Fatal(err)
	}
	again := pistatest.New(t, server.Config{Data: in.Data})
	works(again, "after a restart")
	if v, err := again.Srv.Stores.Settings.Secret(ctx, oldKey, 32); err != nil || bytes.Equal(v, stale) {
		t.Errorf("the key of an hour long past is still stored (%v)", err)
	}
}
