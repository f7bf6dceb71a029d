package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A follow-up sent from a source page opened before the conversation
// moved to another desk names the desk its script encrypted to
// (sealed_for): it is refused with a page saying to send again, and
// nothing is stored. Sent for the conversation's desk, it is taken.
func TestFollowUpSealedForAnotherDeskIsRefused(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk := in.Desk("americas", alice)
	in.Desk("europe", alice)
	b := in.Browser()
	codename := b.Submit("americas", "first tip").Codename(t)
	r := b.Post("/login", url.Values{"csrf": {b.Get("/").CSRF(t)}, "codename": {codename}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.Status, r.Body)
	}
	page := b.Get("/source")
	if !strings.Contains(page.Body, `data-desk="americas"`) {
		t.Fatalf("the source page does not name its desk for the script:\n%s", page.Body)
	}
	items := func() int {
		t.Helper()
		convs, err := in.Srv.Stores.Tips.ConversationsFor(context.Background(), alice.ID, pista.Page{})
		if err != nil || len(convs) != 1 {
			t.Fatalf("conversations: %d, %v", len(convs), err)
		}
		its, err := in.Srv.Stores.Tips.ItemsOfConversation(context.Background(), convs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(its)
	}
	before := items()
	r = b.PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: page.CSRF(t)}, {Name: "sealed_for", Value: "europe"}, {Name: "message", Value: "more"}})
	en, _ := i18n.Get("en")
	if want := en.T("moved.source"); r.Status != http.StatusConflict || !strings.Contains(r.Body, want[:40]) {
		t.Errorf("a follow-up sealed for another desk: %d, want 409 saying %q\n%s", r.Status, want, r.Body)
	}
	if n := items(); n != before {
		t.Errorf("the refused follow-up stored %d items", n-before)
	}
	r = b.PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: page.CSRF(t)}, {Name: "sealed_for", Value: desk.Slug}, {Name: "message", Value: "more"}})
	if r.Status != http.StatusOK && r.Status != http.StatusSeeOther {
		t.Errorf("a follow-up sealed for its desk: %d\n%s", r.Status, r.Body)
	}
	if n := items(); n != before+1 {
		t.Errorf("after a follow-up for its desk: %d items, want %d", n, before+1)
	}
}
