package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// The parameters pista derived every codename with before they were per
// instance, written out rather than taken from keys, so that a change
// there cannot make this test agree with it.
var before = keys.KDF{Memory: 64 * 1024, Time: 3, Threads: 2}

// TestCodenameParametersOfExistingInstance: an instance whose salt was made
// before the parameters were per instance (16 bytes, as pista made it)
// keeps the old parameters; a source made then still logs in, on the web
// pages and through the API, and the API publishes the old parameters.
func TestCodenameParametersOfExistingInstance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := server.OpenStores(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	salt, err := st.Settings.Secret(ctx, "codename-salt", 16) // what an earlier pista did
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	in := pistatest.New(t, server.Config{Data: dir})
	desk := in.Desk("americas", in.Journalist("ana"))
	if got, err := in.Srv.Stores.CodenameSalt(ctx); err != nil || !bytes.Equal(got, salt) {
		t.Fatalf("CodenameSalt = %x, %v; want the stored salt %x", got, err, salt)
	}
	if k, err := in.Srv.Stores.CodenameKDF(ctx); err != nil || k != before {
		t.Fatalf("CodenameKDF = %+v, %v; want %+v", k, err, before)
	}

	// A source of that time: keys derived with the old parameters.
	codename := keys.NewCodename()
	old, err := keys.DeriveWith(ctx, codename, salt, before)
	if err != nil {
		t.Fatal(err)
	}
	storeSourceTip(t, in, desk, old)

	b := in.Browser()
	tok := b.Get("/").CSRF(t)
	if r := b.Post("/login", url.Values{"csrf": {tok}, "codename": {codename.String()}}); r.Status != http.StatusSeeOther {
		t.Fatalf("web login of a source made before: %d\n%s", r.Status, r.Body)
	}
	if p := b.Get("/source"); p.Status != http.StatusOK {
		t.Fatalf("the source page: %d", p.Status)
	}

	p := publishedParams(t, in)
	if p.Argon2id.MemoryKiB != before.Memory || p.Argon2id.Time != before.Time || p.Argon2id.Threads != before.Threads {
		t.Fatalf("GET /api/v1/desks publishes %+v, want %+v", p.Argon2id, before)
	}
	// pista follow's way: derive with what the server publishes, log in.
	c, err := apiclient.New(in.TS.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := deriveAsClient(t, c, codename); !bytes.Equal(got.Lookup, old.Lookup) {
		t.Fatal("the client derived another lookup hash than the source's")
	} else if _, err := c.LoginSource(ctx, got.Auth); err != nil {
		t.Fatalf("API login of a source made before: %v", err)
	}
}

// TestCodenameParametersOfNewInstance: a new instance makes a 32-byte salt
// and uses keys.CodenameKDF; the API publishes them, the client derives
// with them, and what it derives logs in the source the web pages made.
func TestCodenameParametersOfNewInstance(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	in.Desk("americas", in.Journalist("ana"))
	salt, err := in.Srv.Stores.CodenameSalt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(salt) != keys.SaltSize {
		t.Fatalf("a new instance's salt has %d bytes, want %d", len(salt), keys.SaltSize)
	}
	want := keys.KDF{Memory: 7 * 1024, Time: 5, Threads: 1}
	if k, err := in.Srv.Stores.CodenameKDF(ctx); err != nil || k != want || k != keys.CodenameKDF {
		t.Fatalf("CodenameKDF = %+v, %v; want %+v", k, err, want)
	}
	// Opening the data folder again changes nothing.
	in.Srv.Close()
	again := pistatest.New(t, server.Config{Data: in.Data})
	if s, err := again.Srv.Stores.CodenameSalt(ctx); err != nil || !bytes.Equal(s, salt) {
		t.Fatalf("the salt changed when the instance started again: %x, %v", s, err)
	}

	p := publishedParams(t, again)
	if p.Argon2id.MemoryKiB != want.Memory || p.Argon2id.Time != want.Time || p.Argon2id.Threads != want.Threads || !bytes.Equal(p.Salt, salt) {
		t.Fatalf("GET /api/v1/desks publishes %+v, salt %x", p.Argon2id, p.Salt)
	}

	// A tip from the web pages; its codename through the client.
	codename, err := keys.ParseCodename(again.Browser().Submit("americas", "The minutes are forged.").Codename(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := apiclient.New(again.TS.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	d := deriveAsClient(t, c, codename)
	if _, err := c.LoginSource(ctx, d.Auth); err != nil {
		t.Fatalf("API login with the client's derivation: %v", err)
	}
	// And the client's derivation is the one with the new parameters, not
	// with the old ones.
	if old, err := keys.DeriveWith(ctx, codename, salt, before); err != nil || bytes.Equal(old.Lookup, d.Lookup) {
		t.Fatalf("the old parameters derived the same keys (%v)", err)
	}
}

// TestCodenameSaltOfUnknownSize: a salt that names no parameters stops
// the server at start rather than derive keys nobody can find again.
func TestCodenameSaltOfUnknownSize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := server.OpenStores(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Settings.Secret(ctx, "codename-salt", 24); err != nil {
		t.Fatal(err)
	}
	st.Close()
	srv, err := server.New(ctx, server.Config{Data: dir})
	if err == nil {
		srv.Close()
		t.Fatal("the server started with a 24-byte codename salt")
	}
}

func storeSourceTip(t *testing.T, in *pistatest.Instance, desk pista.Desk, d keys.Derived) {
	t.Helper()
	in.StoreSourceTip(desk, pista.Source{Lookup: d.Lookup, Recipient: d.Recipient()}, pista.ChannelWeb, "a tip sent before")
}

func publishedParams(t *testing.T, in *pistatest.Instance) api.Codename {
	t.Helper()
	r := in.Browser().Get("/api/v1/desks")
	var d api.DesksResponse
	if err := json.Unmarshal([]byte(r.Body), &d); r.Status != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/desks: %d, %v\n%s", r.Status, err, r.Body)
	}
	return d.Codename
}

// deriveAsClient derives as pista submit and pista follow do.
func deriveAsClient(t *testing.T, c *apiclient.Client, codename keys.Codename) keys.Derived {
	t.Helper()
	ctx := context.Background()
	desks, err := c.Desks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k, err := apiclient.CodenameKDF(desks.Codename)
	if err != nil {
		t.Fatalf("the client refuses the published parameters: %v", err)
	}
	d, err := keys.DeriveWith(ctx, codename, desks.Codename.Salt, k)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
