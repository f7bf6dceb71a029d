package browsertest

// The journalist's login in a real Chromium: the passphrase is stretched
// by the page's script (hash-wasm's Argon2id, WebCrypto's HKDF) exactly as
// Go's package keys does — the account is made in Go, the browser logs in
// to it and unwraps the identity Go wrapped — and nothing secret is sent:
// a recording proxy between the browser and the server keeps every
// request, and neither the passphrase, the wrapping key nor the identity
// is in any of them, in any usual encoding. Security keys are tested with
// Chromium's virtual authenticator (CDP WebAuthn domain).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// recorder is a reverse proxy that keeps every request it passes on.
type recorder struct {
	mu   sync.Mutex
	reqs []string // method, URL, headers and body of each request
	url  string   // http://localhost:PORT
}

func newRecorder(t *testing.T, target string) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL.String())
		r.Header.Write(&b)
		b.Write(body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, b.String())
		rec.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	rec.url = byHostName(ts.URL)
	return rec
}

func (rec *recorder) requests() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.reqs...)
}

// forms returns the ways a secret may be written in a request.
func forms(name string, secret []byte) map[string]string {
	f := map[string]string{
		name + " (raw)":          string(secret),
		name + " (base64)":       base64.StdEncoding.EncodeToString(secret),
		name + " (base64, raw)":  base64.RawStdEncoding.EncodeToString(secret),
		name + " (base64url)":    base64.RawURLEncoding.EncodeToString(secret),
		name + " (hex)":          hex.EncodeToString(secret),
		name + " (HEX)":          strings.ToUpper(hex.EncodeToString(secret)),
		name + " (form-encoded)": url.QueryEscape(string(secret)),
	}
	return f
}

// checkNoSecrets fails t if any request carries a secret, as it is or
// URL-decoded.
func checkNoSecrets(t *testing.T, reqs []string, secrets map[string]string) {
	t.Helper()
	for _, r := range reqs {
		decoded, err := url.QueryUnescape(r)
		if err != nil {
			decoded = r
		}
		for name, s := range secrets {
			if len(s) < 8 {
				continue
			}
			if strings.Contains(r, s) || strings.Contains(decoded, s) || strings.Contains(strings.ToLower(r), strings.ToLower(s)) && strings.HasSuffix(name, "(raw)") {
				t.Errorf("the browser sent the %s in:\n%.300s", name, r)
			}
		}
	}
}

// poll waits until expr (JavaScript) is true in the tab.
func poll(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s (%v)%s", what, err, describe(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// js runs a statement in the tab.
func js(t *testing.T, ctx context.Context, what, code string) {
	t.Helper()
	do(t, ctx, what, chromedp.Evaluate[chromedp.Void](code))
}

func setValue(id, v string) string {
	return fmt.Sprintf("document.getElementById(%q).value = %q;", id, v)
}

// loginInBrowser fills the login form and sends it with a TOTP code, or
// with the security key button.
func loginInBrowser(t *testing.T, ctx context.Context, base string, j *pistatest.Journalist, withKey bool) {
	t.Helper()
	do(t, ctx, "opening the login page", chromedp.Navigate(base+"/newsroom/login?lang=en"), loaded())
	poll(t, ctx, "the script to enable the button", `!document.getElementById("login-button").disabled`)
	code := setValue("name", j.Name) + setValue("passphrase", j.Password)
	if withKey {
		code += `document.getElementById("login-webauthn").click();`
	} else {
		code += setValue("totp", j.Code(t)) + `document.getElementById("login-button").click();`
	}
	js(t, ctx, "logging in", code)
	poll(t, ctx, "the inbox with the key unlocked", `location.pathname === "/newsroom/" &&
		document.getElementById("key-status") && !document.getElementById("key-status").hidden &&
		!document.getElementById("key-status").classList.contains("locked")`)
	if got := text(t, ctx, "#key-status"); !strings.Contains(got, pistatest.En("nr-auth.key.unlocked")) {
		t.Errorf("key status %q, want %q", got, pistatest.En("nr-auth.key.unlocked"))
	}
}

func TestBrowserLoginSendsNoSecret(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("alice")
	in.Desk("americas", j)
	rec := newRecorder(t, in.TS.URL)
	ctx := b.tab(t, true)

	t.Run("a deriving status is shown", func(t *testing.T) {
		do(t, ctx, "opening the login page", chromedp.Navigate(rec.url+"/newsroom/login?lang=en"), loaded())
		// The passphrase field has no name: a form submission could not send it.
		if named := run(t, ctx, "reading the field", chromedp.Evaluate[bool](`document.getElementById("passphrase").hasAttribute("name")`)); named {
			t.Error("the passphrase field has a name")
		}
	})
	loginInBrowser(t, ctx, rec.url, j, false)

	// The page's script unwraps the identity Go wrapped, and the desk key.
	got := run(t, ctx, "reading the status", chromedp.Evaluate[string](`document.getElementById("key-status").textContent`))
	if !strings.Contains(got, pistatest.En("nr-auth.key.unlocked")) {
		t.Errorf("key status %q", got)
	}

	secrets := forms("passphrase", []byte(j.Password))
	for k, v := range forms("wrapping key", j.Keys.Wrap) {
		secrets[k] = v
	}
	for k, v := range forms("identity", []byte(j.Identity.String())) {
		secrets[k] = v
	}
	reqs := rec.requests()
	if len(reqs) < 4 {
		t.Fatalf("recorded only %d requests", len(reqs))
	}
	checkNoSecrets(t, reqs, secrets)
	// What was sent is the authentication key.
	sentAuth := false
	for _, r := range reqs {
		if strings.Contains(r, url.QueryEscape(base64.StdEncoding.EncodeToString(j.Keys.Auth))) {
			sentAuth = true
		}
	}
	if !sentAuth {
		t.Error("the browser did not send the authentication key Go derives: the derivations differ")
	}

	t.Run("logout forgets the key", func(t *testing.T) {
		js(t, ctx, "logging out", `document.querySelector('form[action^="/newsroom/logout"] button').click()`)
		poll(t, ctx, "the login page", `location.pathname === "/newsroom/login"`)
		forgotten := run(t, ctx, "looking for the key", chromedp.Evaluate[bool](`new Promise((resolve) => {
			const req = indexedDB.open("pista-newsroom", 1)
			req.onupgradeneeded = () => req.result.createObjectStore("keys")
			req.onsuccess = () => {
				const g = req.result.transaction("keys").objectStore("keys").get("wrap")
				g.onsuccess = () => resolve(g.result === undefined)
			}
		})`, chromedp.EvalAwaitPromise))
		if !forgotten {
			t.Error("the wrapping key is still on the device after logout")
		}
	})
}

func TestBrowserSecurityKey(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("alice")
	rec := newRecorder(t, in.TS.URL)
	ctx := b.tab(t, true)

	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	}); err != nil {
		t.Fatalf("adding a virtual authenticator: %v", err)
	}

	loginInBrowser(t, ctx, rec.url, j, false)
	do(t, ctx, "opening the settings", chromedp.Navigate(rec.url+"/newsroom/settings?lang=en"), loaded())
	poll(t, ctx, "the script", `!document.querySelector("#webauthn-form button").disabled`)
	// Adding a key asks for the passphrase again.
	js(t, ctx, "registering a key without the passphrase", setValue("key-name", "laptop")+`document.querySelector("#webauthn-form button").click();`)
	poll(t, ctx, "the request for the passphrase", `document.querySelector("#webauthn-form .status").classList.contains("error")`)
	js(t, ctx, "registering a key", setValue("key-name", "laptop")+setValue("confirm-passphrase", j.Password)+`document.querySelector("#webauthn-form button").click();`)
	poll(t, ctx, "the key in the list", `!!document.querySelector(".security-keys") && document.querySelector(".security-keys").textContent.includes("laptop")`)
	creds, err := in.Srv.Stores.Team.Credentials(context.Background(), j.ID)
	if err != nil || len(creds) != 1 || creds[0].Name != "laptop" {
		t.Fatalf("stored credentials %+v, %v", creds, err)
	}

	// Log out, and in with the passphrase and the key instead of a code.
	js(t, ctx, "logging out", `document.querySelector('form[action^="/newsroom/logout"] button').click()`)
	poll(t, ctx, "the login page", `location.pathname === "/newsroom/login"`)
	loginInBrowser(t, ctx, rec.url, j, true)
	entries, err := in.Srv.Stores.Team.Audit(context.Background(), pista.AuditQuery{Limit: 1})
	if err != nil || len(entries) != 1 || entries[0].Action != pista.AuditLogin {
		t.Errorf("audit after the security key login: %+v %v", entries, err)
	}

	// The first step answers a wrong passphrase as it does a right one
	// (the key is asked for); the second refuses, saying nothing of which
	// factor was wrong.
	t.Run("a wrong passphrase with the right key is refused", func(t *testing.T) {
		js(t, ctx, "logging out", `document.querySelector('form[action^="/newsroom/logout"] button').click()`)
		poll(t, ctx, "the login page", `location.pathname === "/newsroom/login"`)
		poll(t, ctx, "the script", `!document.getElementById("login-button").disabled`)
		js(t, ctx, "logging in", setValue("name", j.Name)+setValue("passphrase", "a wrong passphrase, long")+`document.getElementById("login-webauthn").click();`)
		poll(t, ctx, "the error", `!document.getElementById("login-error").hidden`)
		wantText(t, ctx, "#login-error", pistatest.En("newsroom.login.failed"))
	})
}
