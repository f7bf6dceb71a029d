package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// opens reports whether the object key opens with id, and its plaintext.
func opens(t *testing.T, in *pistatest.Instance, key string, id age.Identity) ([]byte, bool) {
	t.Helper()
	obj, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("opening object %s: %v", key, err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		return nil, false
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decrypting object %s: %v", key, err)
	}
	return b, true
}

// conversationOf answers the only conversation of desk that j sees, and
// its items.
func conversationOf(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, desk pista.Desk) (pista.Conversation, []pista.Item) {
	t.Helper()
	ctx := context.Background()
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var found []pista.Conversation
	for _, c := range convs {
		if c.DeskID == desk.ID {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d conversations of desk %s, want 1", len(found), desk.Slug)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, found[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return found[0], items
}

// checkSealed checks that every item opens with want and not with other
// (its object and its name-and-type object), and is marked sealing,
// intakeKey, received.
func checkSealed(t *testing.T, in *pistatest.Instance, items []pista.Item, want, other age.Identity, sealing string, intakeKey int64, received string) {
	t.Helper()
	for _, it := range items {
		if it.Sealing != sealing || it.IntakeKey != intakeKey || it.Received != received {
			t.Errorf("%s item %d: sealing %q, intake key %d, received %q; want %q, %d, %q",
				it.Kind, it.ID, it.Sealing, it.IntakeKey, it.Received, sealing, intakeKey, received)
		}
		for _, key := range []string{it.Object, it.Meta} {
			if key == "" {
				continue
			}
			if _, ok := opens(t, in, key, want); !ok {
				t.Errorf("%s item %d: an object does not open with the key it should be under", it.Kind, it.ID)
			}
			if _, ok := opens(t, in, key, other); ok {
				t.Errorf("%s item %d: an object opens with a key it should not be under", it.Kind, it.ID)
			}
		}
	}
}

// sealFor encrypts data to recipients (age1pq1… strings), as the page's
// script does.
func sealFor(t *testing.T, data []byte, recipients ...string) string {
	t.Helper()
	var rs []age.Recipient
	for _, s := range recipients {
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.String()
}

// With a live intake key of the day, what the server encrypts from the
// form without JavaScript (a new tip: message, file, contact, preview; a
// follow-up) goes to the intake key and not to the desk's key, marked
// so; the pages give the script the desk's keys and the intake key with
// its signature; a follow-up the browser sealed to the intake key and
// declared is marked so, one sealed to the desk's key is received without
// forward secrecy, and one declaring another desk's or a destroyed key is
// refused with a page saying to send again, storing nothing.
func TestFormUnderIntakeKey(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	europe, europeID := in.DeskWithIdentity("europe", alice)
	day := forward.Clock{}.Day(time.Now())
	key, intakeID := in.IntakeKey(alice, desk, deskID, day)
	europeKey, _ := in.IntakeKey(alice, europe, europeID, day)
	// Yesterday's key, destroyed: nothing waits under it.
	old, _ := in.IntakeKey(alice, desk, deskID, day-1)
	if n, err := in.Srv.Stores.Tips.DestroyIntakeKeys(ctx, day); err != nil || n != 1 {
		t.Fatalf("DestroyIntakeKeys = %d, %v; want yesterday's destroyed", n, err)
	}

	b := in.Browser()
	landing := b.Get("/")
	sign := base64.StdEncoding.EncodeToString(forward.SignPublic(deskID.String()))
	for _, want := range []string{
		`data-desk-key="` + desk.Recipient + `"`,
		`data-sign-key="` + sign + `"`,
		fmt.Sprintf(`data-intake-id="%d"`, key.ID),
		fmt.Sprintf(`data-intake-day="%d"`, day),
		`data-intake-recipient="` + key.Recipient + `"`,
		`data-intake-signature="` + base64.StdEncoding.EncodeToString(key.Signature) + `"`,
		fmt.Sprintf(`data-intake-id="%d"`, europeKey.ID),
	} {
		if !strings.Contains(landing.Text(), want) {
			t.Errorf("the landing page lacks %s", want)
		}
	}

	r := b.Submit("americas", "The ledgers are forged.", pistatest.Part{Name: "contact", Value: "signal +1 555"},
		pistatest.Part{Name: "keep_metadata", Value: "1"}, pistatest.Part{Name: "files", Value: "ledger 2019", Filename: "ledger.txt"})
	if r.Status != http.StatusOK {
		t.Fatalf("plain tip: %d\n%s", r.Status, r.Body)
	}
	codename := r.Codename(t)
	conv, items := conversationOf(t, in, alice, desk)
	if len(items) != 3 {
		t.Fatalf("%d items, want message, file, contact", len(items))
	}
	checkSealed(t, in, items, intakeID, deskID, pista.SealingIntake, key.ID, pista.ReceivedForward)
	if text, _ := opens(t, in, items[0].Object, intakeID); string(text) != "The ledgers are forged." {
		t.Errorf("the message opens to %q", text)
	}
	if conv.PreviewIntake != key.ID {
		t.Errorf("the preview is under intake key %d, want %d", conv.PreviewIntake, key.ID)
	}
	if _, err := age.Decrypt(bytes.NewReader(conv.Preview), intakeID); err != nil {
		t.Errorf("the preview does not open with the intake key: %v", err)
	}
	if _, err := age.Decrypt(bytes.NewReader(conv.Preview), deskID); err == nil {
		t.Error("the preview opens with the desk's key")
	}

	// The follow-up page gives the conversation's desk's keys.
	if r := b.Post("/login", url.Values{"csrf": {b.Get("/").CSRF(t)}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.Status, r.Body)
	}
	page := b.Get("/source")
	for _, want := range []string{`data-desk-key="` + desk.Recipient + `"`, `data-sign-key="` + sign + `"`,
		fmt.Sprintf(`data-intake-id="%d"`, key.ID), `data-intake-recipient="` + key.Recipient + `"`} {
		if !strings.Contains(page.Text(), want) {
			t.Errorf("the source page lacks %s", want)
		}
	}
	before := len(items)
	newItems := func() []pista.Item {
		t.Helper()
		_, items := conversationOf(t, in, alice, desk)
		n := len(items) - before
		before = len(items)
		return items[len(items)-n:]
	}

	// Without JavaScript.
	r = b.PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: page.CSRF(t)}, {Name: "message", Value: "More: the audit."}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("plain follow-up: %d\n%s", r.Status, r.Body)
	}
	if got := newItems(); len(got) != 1 {
		t.Errorf("plain follow-up: %d items", len(got))
	} else {
		checkSealed(t, in, got, intakeID, deskID, pista.SealingIntake, key.ID, pista.ReceivedForward)
	}

	// Sealed by the browser to the intake key, and declared.
	sealed := func(declare string, to ...string) *pistatest.Response {
		t.Helper()
		parts := []pistatest.Part{{Name: "csrf", Value: page.CSRF(t)}, {Name: "encrypted", Value: "1"}}
		if declare != "" {
			parts = append(parts, pistatest.Part{Name: "intake_key", Value: declare})
		}
		parts = append(parts, pistatest.Part{Name: "message", Value: sealFor(t, []byte("sealed more"), to...), Filename: "message.age"})
		return b.PostMultipart("/source/submit", parts)
	}
	r = sealed(fmt.Sprint(key.ID), key.Recipient)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sealed follow-up: %d\n%s", r.Status, r.Body)
	}
	if got := newItems(); len(got) != 1 {
		t.Errorf("sealed follow-up: %d items", len(got))
	} else {
		checkSealed(t, in, got, intakeID, deskID, pista.SealingIntake, key.ID, pista.ReceivedForward)
		if got[0].EncryptedBy != "browser" {
			t.Errorf("sealed follow-up encrypted by %q", got[0].EncryptedBy)
		}
	}

	// Sealed to the desk's key, undeclared: received without forward
	// secrecy.
	r = sealed("", desk.Recipient)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("undeclared sealed follow-up: %d\n%s", r.Status, r.Body)
	}
	if got := newItems(); len(got) != 1 {
		t.Errorf("undeclared sealed follow-up: %d items", len(got))
	} else {
		checkSealed(t, in, got, deskID, intakeID, pista.SealingDesk, 0, pista.ReceivedNoForward)
	}

	// Declaring another desk's key, a destroyed one, an unknown one:
	// refused, nothing stored.
	snap := in.Snapshot(alice)
	for _, declared := range []string{fmt.Sprint(europeKey.ID), fmt.Sprint(old.ID), "999999"} {
		r = sealed(declared, key.Recipient)
		if want := pistatest.En("forward.source.stale"); r.Status != http.StatusConflict || !strings.Contains(r.Text(), want) {
			t.Errorf("a follow-up declaring intake key %s: %d, want 409 saying %q\n%s", declared, r.Status, want, r.Body)
		}
	}
	in.CheckUnchanged(t, snap, alice)
	// A malformed declaration is a broken form.
	if r = sealed("12abc", key.Recipient); r.Status != http.StatusBadRequest {
		t.Errorf("intake_key=12abc: %d, want 400", r.Status)
	}
	in.CheckUnchanged(t, snap, alice)
}

// A new tip the browser sealed to the intake key and declared is stored
// under it, preview included; declared for a desk other than the chosen
// one, it is refused and nothing is stored.
func TestSealedTipDeclaresIntakeKey(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	europe, europeID := in.DeskWithIdentity("europe", alice)
	day := forward.Clock{}.Day(time.Now())
	key, intakeID := in.IntakeKey(alice, desk, deskID, day)
	europeKey, _ := in.IntakeKey(alice, europe, europeID, day)

	b := in.Browser()
	send := func(deskSlug string, declared int64) *pistatest.Response {
		t.Helper()
		preview := pista.PreviewText("The ledgers are forged.")
		return b.PostMultipart("/submit", []pistatest.Part{
			{Name: "csrf", Value: b.Get("/").CSRF(t)}, {Name: "desk", Value: deskSlug}, {Name: "encrypted", Value: "1"},
			{Name: "intake_key", Value: fmt.Sprint(declared)},
			{Name: "message", Value: sealFor(t, []byte("The ledgers are forged."), key.Recipient), Filename: "message.age"},
			{Name: "preview", Value: sealFor(t, preview, key.Recipient), Filename: "preview.age"},
		})
	}
	snap := in.Snapshot(alice)
	if r := send("europe", key.ID); r.Status != http.StatusConflict || !strings.Contains(r.Text(), pistatest.En("forward.source.stale")) {
		t.Errorf("a tip to europe declaring americas' intake key: %d\n%s", r.Status, r.Body)
	}
	if r := send("americas", europeKey.ID); r.Status != http.StatusConflict {
		t.Errorf("a tip to americas declaring europe's intake key: %d\n%s", r.Status, r.Body)
	}
	in.CheckUnchanged(t, snap, alice)

	if r := send("americas", key.ID); r.Status != http.StatusOK {
		t.Fatalf("sealed tip: %d\n%s", r.Status, r.Body)
	}
	conv, items := conversationOf(t, in, alice, desk)
	if len(items) != 1 {
		t.Fatalf("%d items, want 1", len(items))
	}
	checkSealed(t, in, items, intakeID, deskID, pista.SealingIntake, key.ID, pista.ReceivedForward)
	if conv.PreviewIntake != key.ID {
		t.Errorf("the sealed preview is under intake key %d, want %d", conv.PreviewIntake, key.ID)
	}
}

// Without an intake key of the day (no member made one), the pages give
// the script no intake key, and what the server encrypts goes to the
// desk's key, received without forward secrecy.
func TestFormWithoutIntakeKey(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	// A key of tomorrow is not today's.
	_, tomorrowID := in.IntakeKey(alice, desk, deskID, forward.Clock{}.Day(time.Now())+1)

	b := in.Browser()
	landing := b.Get("/")
	if !strings.Contains(landing.Body, `data-desk-key="`+desk.Recipient+`"`) || strings.Contains(landing.Body, "data-intake-id") {
		t.Errorf("the landing page of a desk without an intake key today:\n%s", landing.Body)
	}
	if r := b.Submit("americas", "The ledgers are forged."); r.Status != http.StatusOK {
		t.Fatalf("plain tip: %d\n%s", r.Status, r.Body)
	}
	conv, items := conversationOf(t, in, alice, desk)
	if len(items) != 1 {
		t.Fatalf("%d items, want 1", len(items))
	}
	checkSealed(t, in, items, deskID, tomorrowID, pista.SealingDesk, 0, pista.ReceivedNoForward)
	if conv.PreviewIntake != 0 {
		t.Errorf("the preview is under intake key %d, want the desk's key", conv.PreviewIntake)
	}
	if _, err := age.Decrypt(bytes.NewReader(conv.Preview), deskID); err != nil {
		t.Errorf("the preview does not open with the desk's key: %v", err)
	}
}

// An intake key in the store whose signature does not check (the rows
// are not what a member's client made) is never used: the server
// encrypts to the desk's key, logs why without anything of the tip, and
// the pages do not offer it.
func TestForgedIntakeKeyIsNotUsed(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	day := forward.Clock{}.Day(time.Now())
	// An intake key signed by another desk's key, stored as this desk's.
	otherID, _ := age.GenerateHybridIdentity()
	k, err := forward.MakeIntakeKey(otherID, day)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := forward.Seal(mustIdentity(t, k.Sealed, otherID), desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Srv.Stores.Tips.AddIntakeKeys(context.Background(), alice.ID, desk.KeyID, forward.SignPublic(deskID.String()),
		[]pista.IntakeKey{{DeskID: desk.ID, DeskKeyID: desk.KeyID, Day: day, Recipient: k.Recipient, Signature: k.Signature, Sealed: sealed}}); err != nil {
		t.Fatal(err)
	}
	b := in.Browser()
	if landing := b.Get("/"); strings.Contains(landing.Body, "data-intake-id") {
		t.Error("the landing page offers an intake key whose signature does not check")
	}
	secret := "SECRET-" + fmt.Sprint(time.Now().UnixNano())
	if r := b.Submit("americas", secret); r.Status != http.StatusOK {
		t.Fatalf("plain tip: %d\n%s", r.Status, r.Body)
	}
	_, items := conversationOf(t, in, alice, desk)
	checkSealed(t, in, items, deskID, otherID, pista.SealingDesk, 0, pista.ReceivedNoForward)
	logs := in.Log.String()
	if !strings.Contains(logs, "not signed by its desk's key") {
		t.Errorf("the log does not say why the intake key was not used:\n%s", logs)
	}
	if strings.Contains(logs, secret) || strings.Contains(logs, "americas") {
		t.Errorf("the log names the tip or its desk:\n%s", logs)
	}
}

func mustIdentity(t *testing.T, sealed []byte, id age.Identity) *age.HybridIdentity {
	t.Helper()
	i, err := forward.Open(sealed, id)
	if err != nil {
		t.Fatal(err)
	}
	return i
}
