package newsroom_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// TestWritesOnFullDiskSay507: with the data folder's disk completely full
// (a real tmpfs), a journalist's reply, through the page without
// JavaScript and through the browser-encrypted route, is refused with 507
// and says the disk is full, in the journalist's language; other writes
// either work or say the same, never "the server failed" (500). Nothing of
// a refused reply is stored.
func TestWritesOnFullDiskSay507(t *testing.T) {
	dir := pistatest.SmallDisk(t, 16<<20)
	in := pistatest.New(t, server.Config{Data: filepath.Join(dir, "data"), MinFreeDisk: -1})
	ana := in.Journalist("ana")
	desk := in.Desk("americas", ana)
	tip := in.StoreTip(desk)
	c := tip.Conversation
	source, err := in.Srv.Stores.Tips.SourceByID(context.Background(), c.SourceID)
	if err != nil {
		t.Fatal(err)
	}
	web := in.Browser()
	web.LoginJournalist(ana)
	tok := newsroomCSRF(web)
	before := in.Snapshot(ana)
	pistatest.FillDisk(t, dir)

	full := func(name string, r *pistatest.Response, must bool) {
		t.Helper()
		switch {
		case r.Status == http.StatusInsufficientStorage:
			if !strings.Contains(r.Text(), pistatest.En("gaps.full")) {
				t.Errorf("%s: 507 without saying the disk is full: %s", name, r.Body)
			}
		case must:
			t.Errorf("%s on a full disk: %d, want 507: %s", name, r.Status, r.Body)
		case r.Status >= 500:
			t.Errorf("%s on a full disk: %d, want success or 507: %s", name, r.Status, r.Body)
		}
	}
	full("reply (no JavaScript)", web.Post("/newsroom/c/"+c.ID+"/reply", url.Values{"csrf": {tok}, "reply": {"We read your tip. " + strings.Repeat("More please. ", 2000)}}), true)
	req := web.Request(http.MethodPost, "/newsroom/c/"+c.ID+"/reply/sealed",
		bytes.NewReader(sealed(t, "A reply sealed in the browser. "+strings.Repeat("x", 30000), source.Recipient, desk.Recipient)), "application/octet-stream")
	req.Header.Set("X-CSRF-Token", tok)
	full("reply (sealed in the browser)", web.Do(req), true)
	in.CheckUnchanged(t, before, ana)

	full("star", web.Post("/newsroom/c/"+c.ID+"/star", url.Values{"csrf": {tok}, "star": {"1"}}), false)
	full("tags", web.Post("/newsroom/c/"+c.ID+"/tags", url.Values{"csrf": {tok}, "tags": {"urgent, water"}}), false)
	full("status", web.Post("/newsroom/c/"+c.ID+"/status", url.Values{"csrf": {tok}, "status": {"done"}}), false)
}

// TestPassphraseChangeEndsOtherSessions: changing the passphrase in the
// settings page ends the account's other web sessions and its API tokens,
// and keeps the session that made the change; `pista journalist
// passphrase` (SetAuth from another process) ends them all.
func TestPassphraseChangeEndsOtherSessions(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	changer, other := in.Browser(), in.Browser()
	changer.LoginJournalist(j)
	other.LoginJournalist(j)
	api := newAPIClient(t, in, j)
	if status, _ := api.itemIDs(); status != http.StatusOK {
		t.Fatalf("API list before the change: %d", status)
	}

	tok := changer.Get("/newsroom/settings").CSRF(t)
	salt := keys.NewJournalistSalt()
	k, err := keys.DeriveJournalist(context.Background(), "a new passphrase, long enough", salt, keys.JournalistKDF)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, _ := keys.WrapIdentity(k.Wrap, j.Identity.String())
	b64 := base64.StdEncoding.EncodeToString
	if r := changer.Post("/newsroom/settings/passphrase", url.Values{"csrf": {tok}, "old_auth": {b64(j.Keys.Auth)}, "salt": {b64(salt)},
		"kdf": {keys.JournalistKDF}, "auth": {b64(k.Auth)}, "wrapped": {b64(wrapped)}}); r.Status != http.StatusOK {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}

	loggedIn := func(b *pistatest.Browser) bool {
		r := b.Get("/newsroom/settings")
		return r.Status == http.StatusOK && strings.Contains(r.Body, `id="confirm-passphrase"`)
	}
	if !loggedIn(changer) {
		t.Errorf("the session that changed the passphrase was ended")
	}
	if loggedIn(other) {
		t.Errorf("another session of the account outlived the passphrase change")
	}
	if status, _ := api.itemIDs(); status != http.StatusUnauthorized {
		t.Errorf("an API token outlived the passphrase change: %d", status)
	}

	// The command line's change (another process, the same store call).
	now, err := in.Srv.Stores.Journalists.JournalistByID(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Journalists.SetAuth(context.Background(), j.ID, now.Auth); err != nil {
		t.Fatal(err)
	}
	if loggedIn(changer) {
		t.Errorf("a session outlived a passphrase change from the command line")
	}
}
