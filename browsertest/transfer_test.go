package browsertest

// Moving a conversation to another desk (issue 15): alice, on both desks,
// moves a conversation (a message, a file, a reply with its file) from
// americas to europe in her browser, through a recording proxy. Every
// item is re-encrypted there: the europe desk's key opens each copy and
// the americas key none; the old objects are gone; bob (americas only)
// no longer sees it, carol (europe only) reads it in her browser; the
// source still reads the reply and downloads its file; both desks' audit
// logs say who moved it where; and nothing alice's browser sent holds a
// plaintext.

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

func TestTransferInBrowser(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", in.Log.String())
		}
	})
	ctx := context.Background()
	alice, bob, carol := in.Journalist("alice"), in.Journalist("bob"), in.Journalist("carol")
	americas, americasID := in.DeskWithIdentity("americas", alice, bob)
	europe, europeID := in.DeskWithIdentity("europe", alice, carol)
	base := byHostName(in.TS.URL)

	marker := "MOVEMARK" + rand8()
	message := "The customs logs were altered. " + marker
	tipFile := bytes.Repeat([]byte("manifest line "+marker+"\n"), 500)
	r := in.Browser().Submit(americas.Slug, message, pistatest.Part{Name: "keep_metadata", Value: "1"},
		pistatest.Part{Name: "files", Filename: "manifest.txt", Value: string(tipFile), File: true})
	if r.Status != 200 {
		t.Fatalf("submit: %d", r.Status)
	}
	codename := r.Codename(t)
	conv := latestMessage(t, in, alice.ID).ConversationID

	rec := newRecorder(t, in.TS.URL)
	at := b.tab(t, true)
	loginInBrowser(t, at, rec.url, alice, false)

	// A reply with a file first, so that the source's side is moved too.
	reply := "Which port? " + marker + "-reply"
	replyFile := filepath.Join(t.TempDir(), "form-"+marker+".txt")
	replyBytes := []byte("fill this in " + marker)
	if err := os.WriteFile(replyFile, replyBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, at, "replying with a file",
		chromedp.Navigate(rec.url+"/newsroom/c/"+conv+"?lang=en"), loaded(),
		chromedp.WaitVisible(chromedp.CSS("input#reply-files")),
		chromedp.SendKeys(chromedp.CSS("textarea#reply"), reply),
		chromedp.SetUploadFiles(chromedp.CSS("input#reply-files"), []string{replyFile}),
		chromedp.Click(chromedp.CSS("form[data-seal-reply] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	old, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil || len(old) != 4 {
		t.Fatalf("%d items (%v), want a message, a file, a reply and its file", len(old), err)
	}

	// She moves it to europe.
	do(t, at, "moving the conversation",
		chromedp.WaitVisible(chromedp.CSS("form[data-transfer] select#transfer-to")),
		chromedp.SetValue(chromedp.CSS("select#transfer-to"), "europe"),
		chromedp.Click(chromedp.CSS("form[data-transfer] button[type=submit]")))
	teamWait(t, at, "the move", `location.search.includes("done=transferred")`)

	c, err := in.Srv.Stores.Tips.ConversationFor(ctx, carol.ID, conv)
	if err != nil || c.DeskID != europe.ID {
		t.Fatalf("carol sees %+v, %v: want it on europe", c, err)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil || len(items) != len(old) {
		t.Fatalf("%d items after the move (%v), want %d", len(items), err, len(old))
	}
	for i, it := range items {
		if it.Kind != old[i].Kind || it.AuthorID != old[i].AuthorID || it.EncryptedBy != "browser" {
			t.Errorf("item %d is %+v, want a copy of %+v", i, it, old[i])
		}
		for _, key := range []string{it.Object, it.Meta} {
			if key == "" {
				continue
			}
			got := openObject(t, in, key, europeID)
			if _, err := tryOpen(in, key, americasID); err == nil {
				t.Errorf("item %d: the americas key still opens the copy", i)
			}
			if len(got) == 0 {
				t.Errorf("item %d: an empty copy", i)
			}
		}
	}
	if got := openObject(t, in, items[0].Object, europeID); string(got) != message {
		t.Errorf("the message's copy reads %q", got)
	}
	if got := openObject(t, in, items[1].Object, europeID); !bytes.HasPrefix(got, tipFile) {
		t.Errorf("the file's copy is not the file")
	}
	for _, it := range old {
		if _, err := in.Srv.Stores.Blobs.Open(ctx, it.Object); !errors.Is(err, pista.ErrNotFound) {
			t.Errorf("an old object is still stored (%v)", err)
		}
	}

	// Bob, of americas only, cannot see it any more; the inbox says not found.
	bb := in.Browser()
	bb.LoginJournalist(bob)
	if r := bb.Get("/newsroom/c/" + conv); r.Status != http.StatusNotFound {
		t.Errorf("bob opens it: %d", r.Status)
	}
	if r := bb.Get("/newsroom/"); strings.Contains(r.Body, conv) {
		t.Error("bob's inbox lists it")
	}

	// Carol, of europe, reads it in her browser with the europe key.
	ct := b.tab(t, true)
	loginInBrowser(t, ct, base, carol, false)
	do(t, ct, "carol opening it", chromedp.Navigate(base+"/newsroom/c/"+conv+"?lang=en"), loaded())
	teamWait(t, ct, "the decrypted message", `document.body.innerText.includes(`+jsString(message)+`)`)
	teamWait(t, ct, "the decrypted reply", `document.body.innerText.includes(`+jsString(reply)+`)`)

	// The source still reads the reply and downloads its file.
	src := in.Browser()
	stok := src.Get("/").CSRF(t)
	if r := src.Post("/login", url.Values{"csrf": {stok}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("source login: %d", r.Status)
	}
	page := src.Get("/source")
	if !strings.Contains(page.Text(), reply) || !strings.Contains(page.Text(), "form-"+marker+".txt") {
		t.Errorf("the source's page lacks the reply or its file:\n%s", page.Text())
	}
	fileID := items[3].ID
	if got := src.Get("/source/files/" + strconv.FormatInt(fileID, 10)); got.Status != 200 || got.Body != string(replyBytes) {
		t.Errorf("the source's download: %d, %q", got.Status, got.Body)
	}

	// Both desks' audit logs.
	for _, d := range []pista.Desk{americas, europe} {
		es, err := in.Srv.Stores.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{d.ID}, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(es, func(e pista.AuditEntry) bool {
			return e.Action == pista.AuditTransfer && e.ActorName == "alice" && e.ConversationID == conv && e.Subject == "americas → europe"
		}) {
			t.Errorf("the %s audit log has no transfer entry: %+v", d.Slug, es)
		}
	}

	// Alice's browser sent no plaintext.
	secrets := forms("message", []byte(message))
	secrets["the marker"] = marker
	secrets["the file"] = string(tipFile[:60])
	secrets["the reply file"] = string(replyBytes)
	checkNoSecrets(t, rec.requests(), secrets)
	sawTransfer := false
	for _, r := range rec.requests() {
		sawTransfer = sawTransfer || strings.HasPrefix(r, "POST /newsroom/c/"+conv+"/transfer")
	}
	if !sawTransfer {
		t.Error("the recorder saw no transfer")
	}
}

func tryOpen(in *pistatest.Instance, key string, id age.Identity) ([]byte, error) {
	obj, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	_, err = buf.ReadFrom(r)
	return buf.Bytes(), err
}
