package browsertest

// The journalist's settings page in a real Chromium, as a journalist uses
// it: changing the passphrase (the page unwraps the identity with the old
// wrapping key and re-wraps the same identity with the new one), importing
// the identity file of an account made on the command line, and
// downloading the identity. After each step the test reads what the
// server holds and opens it with Go's package keys; every request the
// browsers send is recorded, and none carries a passphrase, a wrapping
// key or an identity.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// submitLogin fills the login page with name, passphrase and code and
// sends it, without waiting for the outcome.
func submitLogin(t *testing.T, ctx context.Context, base, name, passphrase, code string) {
	t.Helper()
	do(t, ctx, "opening the login page", chromedp.Navigate(base+"/newsroom/login?lang=en"), loaded())
	poll(t, ctx, "the login script", `!document.getElementById("login-button").disabled`)
	js(t, ctx, "logging in", setValue("name", name)+setValue("passphrase", passphrase)+setValue("totp", code)+
		`document.getElementById("login-button").click();`)
}

// keyStatus waits for the key status line and returns its text and
// whether it says the key is locked.
func keyStatus(t *testing.T, ctx context.Context) (string, bool) {
	t.Helper()
	poll(t, ctx, "the key status", `!!document.getElementById("key-status") && !document.getElementById("key-status").hidden`)
	return text(t, ctx, "#key-status"), run(t, ctx, "reading the key status",
		chromedp.Evaluate[bool](`document.getElementById("key-status").classList.contains("locked")`))
}

// openSettings opens the settings page and waits for its script.
func openSettings(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx, "opening the settings", chromedp.Navigate(base+"/newsroom/settings?lang=en"), loaded())
	poll(t, ctx, "the settings script", `!document.querySelector("#settings form button[type=submit]").disabled`)
}

// submitForm clears the form's status line, so that formOutcome reads
// this submission's, and sends the form.
func submitForm(form string) string {
	return fmt.Sprintf(`document.querySelector("#%s .status").textContent = "";
		document.querySelector("#%s button[type=submit]").click();`, form, form)
}

// formOutcome waits until the form's status line shows something other
// than the deriving message, and returns it and whether it is an error.
func formOutcome(t *testing.T, ctx context.Context, form string) (string, bool) {
	t.Helper()
	sel := "#" + form + " .status"
	poll(t, ctx, "the outcome of "+form, fmt.Sprintf(`(() => {
		const s = document.querySelector(%q).textContent
		return s !== "" && s !== %s
	})()`, sel, jsString(pistatest.En("nr-auth.login.deriving"))))
	return text(t, ctx, sel), run(t, ctx, "reading "+sel,
		chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).classList.contains("error")`, sel)))
}

func stored(t *testing.T, in *pistatest.Instance, name string) pista.Journalist {
	t.Helper()
	j, err := in.Srv.Stores.Journalists.JournalistByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func sameAuth(a, b pista.JournalistAuth) bool {
	return bytes.Equal(a.Salt, b.Salt) && a.KDF == b.KDF && bytes.Equal(a.Hash, b.Hash) &&
		bytes.Equal(a.WrappedIdentity, b.WrappedIdentity)
}

// identityFile writes id as pista keygen does.
func identityFile(t *testing.T, name string, id *age.HybridIdentity) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	body := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBrowserSettings(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	base := byHostName(in.TS.URL)
	alice := in.Journalist("alice")
	in.Desk("americas", alice)

	var rec sent // every request of every tab below
	secrets := map[string]string{}
	secret := func(name string, b []byte) { maps.Copy(secrets, forms(name, b)) }
	secret("alice's passphrase", []byte(alice.Password))
	secret("alice's wrapping key", alice.Keys.Wrap)
	secret("alice's identity", []byte(alice.Identity.String()))

	const newPass = "a new harbour passphrase, longer than the old"
	var newKeys keys.JournalistKeys

	t.Run("passphrase change", func(t *testing.T) {
		before := stored(t, in, "alice")
		tab := b.tab(t, true)
		rec.listen(t, tab)
		teamLogin(t, tab, base, alice)
		if s, locked := keyStatus(t, tab); locked {
			t.Fatalf("after login the key status says %q", s)
		}
		openSettings(t, tab, base)

		// A wrong current passphrase: refused, and nothing changes.
		js(t, tab, "changing with a wrong passphrase", setValue("old-passphrase", "not alice's passphrase at all")+
			setValue("new-passphrase", newPass)+setValue("new-passphrase2", newPass)+
			submitForm("passphrase-form"))
		if got, isErr := formOutcome(t, tab, "passphrase-form"); !isErr || got != pistatest.En("nr-auth.settings.wrongpassphrase") {
			t.Errorf("with a wrong current passphrase the page says %q (error %v), want %q",
				got, isErr, pistatest.En("nr-auth.settings.wrongpassphrase"))
		}
		if !sameAuth(stored(t, in, "alice").Auth, before.Auth) {
			t.Fatal("a wrong current passphrase changed the stored keys")
		}

		// The right one.
		js(t, tab, "changing the passphrase", setValue("old-passphrase", alice.Password)+
			setValue("new-passphrase", newPass)+setValue("new-passphrase2", newPass)+
			submitForm("passphrase-form"))
		if got, isErr := formOutcome(t, tab, "passphrase-form"); isErr || got != pistatest.En("nr-auth.settings.changed") {
			t.Fatalf("after the change the page says %q (error %v), want %q", got, isErr, pistatest.En("nr-auth.settings.changed"))
		}
		after := stored(t, in, "alice")
		if bytes.Equal(after.Auth.Salt, before.Auth.Salt) {
			t.Error("the new passphrase is stretched with the old salt")
		}
		var err error
		newKeys, err = keys.DeriveJournalist(ctx, newPass, after.Auth.Salt, after.Auth.KDF)
		if err != nil {
			t.Fatalf("the stored salt and KDF: %v", err)
		}
		secret("the new passphrase", []byte(newPass))
		secret("the new wrapping key", newKeys.Wrap)
		if !keys.CheckAuth(after.Auth.Hash, newKeys.Auth) {
			t.Error("the stored hash is not of the new passphrase's key")
		}
		if keys.CheckAuth(after.Auth.Hash, alice.Keys.Auth) {
			t.Error("the old passphrase's key still checks")
		}
		id, err := keys.UnwrapIdentity(newKeys.Wrap, after.Auth.WrappedIdentity)
		if err != nil {
			t.Fatalf("the new wrapping key does not open the stored identity: %v", err)
		}
		if id.String() != alice.Identity.String() {
			t.Error("the browser stored a new identity instead of re-wrapping alice's")
		}
		if _, err := keys.UnwrapIdentity(alice.Keys.Wrap, after.Auth.WrappedIdentity); err == nil {
			t.Error("the old wrapping key still opens the stored identity")
		}
		if got := rec.containing(url.QueryEscape(base64.StdEncoding.EncodeToString(newKeys.Auth))); len(got) == 0 {
			t.Error("no request carried the new authentication key: the recorder does not see bodies, or the derivations differ")
		}

		// This device keeps the new wrapping key: the key stays unlocked.
		openSettings(t, tab, base)
		if s, locked := keyStatus(t, tab); locked {
			t.Errorf("after the change the key status says %q", s)
		}
	})

	t.Run("login after the change", func(t *testing.T) {
		tab := b.tab(t, true)
		rec.listen(t, tab)
		// The login checks the passphrase's key before the code, so a
		// refused key leaves the code unused for the next try.
		code := alice.Code(t)
		submitLogin(t, tab, base, alice.Name, alice.Password, code)
		poll(t, tab, "the login error", `!document.getElementById("login-error").hidden`)
		wantText(t, tab, "#login-error", pistatest.En("newsroom.login.failed"))

		submitLogin(t, tab, base, alice.Name, newPass, code)
		poll(t, tab, "the inbox", `location.pathname === "/newsroom/"`)
		if s, locked := keyStatus(t, tab); locked || !strings.Contains(s, pistatest.En("nr-auth.key.unlocked")) {
			t.Fatalf("after login with the new passphrase the key status says %q", s)
		}

		t.Run("identity export", func(t *testing.T) {
			dir := allowDownloads(t, tab)
			openSettings(t, tab, base)
			poll(t, tab, "the export button", `!document.getElementById("export-identity").disabled`)
			js(t, tab, "downloading the identity", `document.getElementById("export-identity").click()`)
			file := downloaded(dir, "alice.key")
			if file == nil {
				t.Fatalf("no alice.key was saved (export status %q)", text(t, tab, "#export-status"))
			}
			ids, err := age.ParseIdentities(bytes.NewReader(file))
			if err != nil || len(ids) != 1 {
				t.Fatalf("age reads the file as %d identities: %v", len(ids), err)
			}
			if h, ok := ids[0].(*age.HybridIdentity); !ok || h.String() != alice.Identity.String() {
				t.Errorf("the file holds a %T that is not alice's identity", ids[0])
			}
			exported := false
			for deadline := time.Now().Add(10 * time.Second); !exported && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				entries, err := in.Srv.Stores.Team.Audit(ctx, pista.AuditQuery{Limit: 20})
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					exported = exported || e.Action == pista.AuditExportIdentity && e.ActorID == alice.ID
				}
			}
			if !exported {
				t.Error("the audit log has no export_identity entry of alice")
			}
		})
	})

	t.Run("identity import", func(t *testing.T) {
		// An account made on the command line: no wrapped identity.
		const pass = "dora's passphrase, typed on the command line"
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		other, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		auth, err := keys.NewJournalistAuth(ctx, pass, nil)
		if err != nil {
			t.Fatal(err)
		}
		totpSecret, _, err := keys.NewTOTP("pista test", "dora")
		if err != nil {
			t.Fatal(err)
		}
		dora := &pistatest.Journalist{Journalist: pista.Journalist{Name: "dora", Recipient: id.Recipient().String(),
			TOTPSecret: totpSecret, Auth: auth}, Password: pass, Identity: id}
		if err := in.Srv.Stores.Journalists.CreateJournalist(ctx, &dora.Journalist); err != nil {
			t.Fatal(err)
		}
		k, err := keys.DeriveJournalist(ctx, pass, auth.Salt, auth.KDF)
		if err != nil {
			t.Fatal(err)
		}
		secret("dora's passphrase", []byte(pass))
		secret("dora's wrapping key", k.Wrap)
		secret("dora's identity", []byte(id.String()))
		secret("the other identity", []byte(other.String()))

		tab := b.tab(t, true)
		rec.listen(t, tab)
		teamLogin(t, tab, base, dora)
		if s, locked := keyStatus(t, tab); !locked || !strings.Contains(s, pistatest.En("nr-auth.key.locked")) {
			t.Errorf("without a stored identity the key status says %q (locked %v)", s, locked)
		}
		openSettings(t, tab, base)
		if got := text(t, tab, "#settings"); !strings.Contains(got, pistatest.En("nr-auth.settings.notstored")) {
			t.Errorf("the settings page does not say the identity is not stored: %q", got)
		}

		// A wrong current passphrase, with no identity to unwrap: the
		// server refuses it.
		js(t, tab, "changing with a wrong passphrase", setValue("old-passphrase", "not dora's passphrase at all")+
			setValue("new-passphrase", newPass)+setValue("new-passphrase2", newPass)+submitForm("passphrase-form"))
		if got, isErr := formOutcome(t, tab, "passphrase-form"); !isErr || got != pistatest.En("nr-auth.settings.wrongpassphrase") {
			t.Errorf("with a wrong current passphrase the page says %q (error %v), want %q",
				got, isErr, pistatest.En("nr-auth.settings.wrongpassphrase"))
		}
		if !sameAuth(stored(t, in, "dora").Auth, auth) {
			t.Fatal("a wrong current passphrase changed the stored keys")
		}

		// Another identity's file: refused, nothing stored.
		do(t, tab, "choosing another identity's file", chromedp.SetUploadFiles(chromedp.CSS("#identity-file"), []string{identityFile(t, "other.key", other)}))
		js(t, tab, "importing it", setValue("import-passphrase", pass)+submitForm("import-form"))
		if got, isErr := formOutcome(t, tab, "import-form"); !isErr || got != pistatest.En("nr-auth.settings.mismatch") {
			t.Errorf("importing another identity the page says %q (error %v), want %q", got, isErr, pistatest.En("nr-auth.settings.mismatch"))
		}
		if !sameAuth(stored(t, in, "dora").Auth, auth) {
			t.Fatal("importing another identity changed the stored keys")
		}

		// Her own.
		do(t, tab, "choosing her identity file", chromedp.SetUploadFiles(chromedp.CSS("#identity-file"), []string{identityFile(t, "dora.key", id)}))
		js(t, tab, "importing it", setValue("import-passphrase", pass)+submitForm("import-form"))
		if got, isErr := formOutcome(t, tab, "import-form"); isErr || got != pistatest.En("nr-auth.settings.imported") {
			t.Fatalf("importing her identity the page says %q (error %v), want %q", got, isErr, pistatest.En("nr-auth.settings.imported"))
		}
		after := stored(t, in, "dora")
		if !bytes.Equal(after.Auth.Salt, auth.Salt) || !bytes.Equal(after.Auth.Hash, auth.Hash) || after.Auth.KDF != auth.KDF {
			t.Error("importing the identity changed the passphrase's salt, KDF or hash")
		}
		got, err := keys.UnwrapIdentity(k.Wrap, after.Auth.WrappedIdentity)
		if err != nil {
			t.Fatalf("her wrapping key does not open the stored identity: %v", err)
		}
		if got.String() != id.String() {
			t.Error("the stored identity is not the one imported")
		}

		// This device keeps her wrapping key: the key is now unlocked.
		openSettings(t, tab, base)
		if s, locked := keyStatus(t, tab); locked {
			t.Errorf("after the import the key status says %q", s)
		}
		if n := count(t, tab, "#export-identity"); n != 1 {
			t.Error("after the import the page offers no download of the identity")
		}
	})

	t.Run("nothing secret sent", func(t *testing.T) {
		rec.mu.Lock()
		reqs := append([]string(nil), rec.reqs...)
		rec.mu.Unlock()
		if len(reqs) < 20 {
			t.Fatalf("only %d requests recorded: is the recorder listening?", len(reqs))
		}
		checkNoSecrets(t, reqs, secrets)
	})
}
