package server_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// objectFiles lists the files under the data folder's objects/.
func objectFiles(t *testing.T, data string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(data, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, filepath.Base(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// TestExpire runs the expiry with a clock the test holds (the now it
// passes): an expired conversation's rows and object files go, a held one
// stays until released, each deletion is in the audit log, and the audit
// log's own retention applies.
func TestExpire(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	in := pistatest.New(t, server.Config{Data: data})
	st := in.Srv.Stores
	ana := in.Journalist("ana")
	desk := in.Desk("americas", ana)
	other := in.Desk("maghreb", ana)
	if err := st.Desks.SetRetention(ctx, desk.ID, 30); err != nil {
		t.Fatal(err)
	}
	if r := in.Browser().Submit("americas", "a tip", pistatest.Part{Name: "files", Filename: "a.pdf", Value: "%PDF"}); r.Status != http.StatusOK {
		t.Fatalf("submission: %d", r.Status)
	}
	convs, err := st.Tips.ConversationsFor(ctx, ana.ID, pista.Page{DeskID: desk.ID})
	if err != nil || len(convs) != 1 {
		t.Fatalf("inbox: %v, %v", convs, err)
	}
	expiring := convs[0]
	held := in.StoreTip(desk).Conversation.ID
	kept := in.StoreTip(other).Conversation.ID // a desk without retention
	if err := st.Tips.SetHold(ctx, ana.ID, held, true); err != nil {
		t.Fatal(err)
	}
	items, err := st.Tips.ItemsOfConversation(ctx, expiring.ID)
	if err != nil || len(items) != 2 {
		t.Fatalf("items: %v, %v", items, err)
	}
	var doomed []string
	for _, it := range items {
		doomed = append(doomed, it.Object)
		if it.Meta != "" {
			doomed = append(doomed, it.Meta)
		}
	}
	if files := objectFiles(t, data); !containsAll(files, doomed) {
		t.Fatalf("object files %v lack %v", files, doomed)
	}
	// An old audit entry, past the default retention of a year.
	old := pista.AuditEntry{Created: expiring.Updated.AddDate(-2, 0, 0), ActorID: ana.ID, ActorName: "ana", Action: pista.AuditLogin}
	if err := st.Team.AddAudit(ctx, old); err != nil {
		t.Fatal(err)
	}

	day29 := pista.ExpiresAt(expiring.Updated, 30).Add(-pista.RetentionDay)
	if x, err := server.Expire(ctx, st.Tips, st.Team, st.Blobs, day29); err != nil || x.Conversations != 0 || x.Audit != 1 {
		t.Fatalf("Expire(day 29) = %+v, %v; want no conversation, and the audit entry older than a year", x, err)
	}
	day30 := pista.ExpiresAt(expiring.Updated, 30)
	x, err := server.Expire(ctx, st.Tips, st.Team, st.Blobs, day30)
	if err != nil {
		t.Fatal(err)
	}
	if x.Conversations != 1 || x.Objects != 3 {
		t.Errorf("Expire(day 30) = %+v; want 1 conversation, 3 objects", x)
	}
	if _, err := st.Tips.ConversationFor(ctx, ana.ID, expiring.ID); err == nil {
		t.Error("the expired conversation is still there")
	}
	files := objectFiles(t, data)
	for _, k := range doomed {
		if slices.Contains(files, k) {
			t.Errorf("object file %s of the expired conversation is still on disk", k)
		}
		if r, err := st.Blobs.Open(ctx, k); err == nil {
			r.Close()
			t.Errorf("object %s still opens", k)
		}
	}
	for _, id := range []string{held, kept} {
		if _, err := st.Tips.ConversationFor(ctx, ana.ID, id); err != nil {
			t.Errorf("conversation %s (held, or on a desk without retention): %v", id, err)
		}
	}
	entries, err := st.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{desk.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Action != pista.AuditExpire || entries[0].ConversationID != expiring.ID || entries[0].ActorName != pista.AuditSystem {
		t.Errorf("newest audit entry = %+v, want the expiry of %s", entries, expiring.ID)
	}

	// Released, the held conversation goes at the next run.
	if err := st.Tips.SetHold(ctx, ana.ID, held, false); err != nil {
		t.Fatal(err)
	}
	if x, err := server.Expire(ctx, st.Tips, st.Team, st.Blobs, day30); err != nil || x.Conversations != 1 {
		t.Errorf("Expire after release = %+v, %v; want 1 conversation", x, err)
	}
	if _, err := st.Tips.ConversationFor(ctx, ana.ID, held); err == nil {
		t.Error("the released conversation is still there")
	}

	// Audit retention 0 keeps every entry; 1 day drops yesterday's.
	if err := st.Team.SetAuditRetention(ctx, 0); err != nil {
		t.Fatal(err)
	}
	far := day30.AddDate(10, 0, 0)
	if x, err := server.Expire(ctx, st.Tips, st.Team, st.Blobs, far); err != nil || x.Audit != 0 {
		t.Errorf("Expire(audit kept for ever) = %+v, %v", x, err)
	}
	if err := st.Team.SetAuditRetention(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if x, err := server.Expire(ctx, st.Tips, st.Team, st.Blobs, far); err != nil || x.Audit == 0 {
		t.Errorf("Expire(audit kept a day, ten years on) = %+v, %v; want entries deleted", x, err)
	}
	if es, _ := st.Team.Audit(ctx, pista.AuditQuery{}); len(es) != 0 {
		t.Errorf("audit entries left: %+v", es)
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// TestSourceToldRetention: the source's page says how long the
// conversation is kept after its last message, in the source's language.
func TestSourceToldRetention(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	ana := in.Journalist("ana")
	desk := in.Desk("americas", ana)
	src := in.Browser()
	codename := src.Submit("americas", "a tip").Codename(t)
	login := func(lang string) {
		t.Helper()
		q := "?lang=" + lang
		if r := src.Post("/login"+q, url.Values{"csrf": {src.Get("/" + q).CSRF(t)}, "codename": {codename}}); r.Status != http.StatusSeeOther {
			t.Fatalf("source login: %d", r.Status)
		}
	}
	login("en")
	if body := src.Get("/source?lang=en").Text(); !strings.Contains(body, pistatest.En("source.retention.keep")) {
		t.Errorf("en, no retention: the page does not say the conversation is kept")
	}
	if err := in.Srv.Stores.Desks.SetRetention(ctx, desk.ID, 90); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "ar", "es", "fr"} {
		l, _ := i18n.Get(lang)
		want := l.T("source.retention.days", "n", 90)
		if body := src.Get("/source?lang=" + lang).Text(); !strings.Contains(body, want) {
			t.Errorf("%s: the page does not say %q", lang, want)
		}
	}
}
