package i18n_test

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/ui"
)

// inboxPageSize mirrors newsroom's: one more conversation than this shows
// the link to older ones.
const inboxPageSize = 50

// TestEveryPageEveryLanguage renders every page of the real server, in
// every branch that shows text (notices, errors, replies, links to older
// conversations…), in every language, and looks for untranslated keys.
func TestEveryPageEveryLanguage(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	americas := in.Desk("americas", j)
	in.Desk("maghreb", j)
	empty := pistatest.New(t, server.Config{}) // no desk yet

	// A tip with every kind of item, a reply to it, and enough
	// conversations for a second inbox page.
	src := in.Browser()
	codename := src.Submit("americas", "a tip",
		pistatest.Part{Name: "files", Filename: "a.pdf", Value: "%PDF"}, pistatest.Part{Name: "contact", Value: "signal"}).Codename(t)
	cs, err := in.Srv.Stores.Tips.ConversationsFor(context.Background(), j.ID, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatal(err)
	}
	conv := cs[0].ID
	nb := in.Browser()
	nb.LoginJournalist(j)
	ntok := nb.Get("/newsroom/").CSRF(t)
	if r := nb.Post("/newsroom/c/"+conv+"/reply", url.Values{"csrf": {ntok}, "reply": {"thanks"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("reply: %d", r.Status)
	}
	if r := nb.Post("/newsroom/c/"+conv+"/star", url.Values{"csrf": {ntok}, "star": {"1"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("star: %d", r.Status)
	}
	for range inboxPageSize {
		in.StoreTip(americas)
	}
	// The team pages: ana coordinates americas and is an admin; an
	// invitation waits.
	ctx := context.Background()
	if err := in.Srv.Stores.Team.SetRole(ctx, americas.ID, j.ID, pista.RoleCoordinator); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Journalists.SetAdmin(ctx, j.ID, true); err != nil {
		t.Fatal(err)
	}
	inviteToken := strings.Repeat("T", 43)
	inviteHash := sha256.Sum256([]byte(inviteToken))
	if err := in.Srv.Stores.Team.CreateInvitation(ctx, &pista.Invitation{TokenHash: inviteHash[:], DeskID: americas.ID,
		Role: pista.RoleJournalist, Created: time.Now(), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r := src.Post("/login", url.Values{"csrf": {src.Get("/").CSRF(t)}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("source login: %d", r.Status)
	}
	type view struct {
		name   string
		page   string // the template it renders
		status int
		do     func(q string) *pistatest.Response // q: "?lang=xx"
		want   string                             // a key whose text the page must show
	}
	views := []view{
		{"landing", "source/landing", 200, func(q string) *pistatest.Response { return in.Browser().Get("/" + q) }, "landing.form.heading"},
		{"landing without desks", "source/landing", 200, func(q string) *pistatest.Response { return empty.Browser().Get("/" + q) }, "landing.nodesks"},
		{"receipt", "source/receipt", 200, func(q string) *pistatest.Response {
			b := in.Browser()
			tok := b.Get("/" + q).CSRF(t)
			return b.PostMultipart("/submit"+q, []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "maghreb"}, {Name: "message", Value: "x"}})
		}, "receipt.codename"},
		{"source page, message sent", "source/source", 200, func(q string) *pistatest.Response { return src.Get("/source" + q + "&done=sent") }, "source.notice.sent"},
		{"source page, reply deleted", "source/source", 200, func(q string) *pistatest.Response { return src.Get("/source" + q + "&done=deleted") }, "source.notice.deleted"},
		{"not found", "error", 404, func(q string) *pistatest.Response { return in.Browser().Get("/nowhere" + q) }, "error.notfound"},
		{"wrong codename", "error", 401, func(q string) *pistatest.Response {
			b := in.Browser()
			return b.Post("/login"+q, url.Values{"csrf": {b.Get("/" + q).CSRF(t)}, "codename": {"1234"}})
		}, "error.codename"},
		{"refused form", "error", 403, func(q string) *pistatest.Response { return in.Browser().Post("/login"+q, url.Values{}) }, "error.csrf"},
		{"no source session", "error", 401, func(q string) *pistatest.Response { return in.Browser().Get("/source" + q) }, "error.session"},
		{"newsroom login", "newsroom/login", 200, func(q string) *pistatest.Response { return in.Browser().Get("/newsroom/login" + q) }, "newsroom.login.heading"},
		// Failed logins answer the login page's script in JSON (newsroom
		// tests check their language).
		{"settings", "newsroom/settings", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/settings" + q) }, "nr-auth.webauthn.heading"},
		{"settings, key removed", "newsroom/settings", 200, func(q string) *pistatest.Response {
			return nb.Get("/newsroom/settings" + q + "&done=key-removed")
		}, "nr-auth.webauthn.removed"},
		{"inbox", "newsroom/inbox", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/" + q + "&done=unread") }, "newsroom.inbox.older"},
		{"inbox, one desk", "newsroom/inbox", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/" + q + "&desk=maghreb&done=deleted") }, "newsroom.inbox.alldesks"},
		{"inbox, past the end", "newsroom/inbox", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/" + q + "&before=1") }, "newsroom.inbox.empty"},
		{"conversation", "newsroom/conversation", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/c/" + conv + q + "&done=replied") }, "newsroom.reply.sent"},
		{"conversation, starred", "newsroom/conversation", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/c/" + conv + q + "&done=starred") }, "newsroom.unstar"},
		{"desk members", "newsroom/desk", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/desks/americas" + q + "&done=approved") }, "team.approved"},
		{"desk invitation made", "newsroom/desk", 201, func(q string) *pistatest.Response {
			return nb.Post("/newsroom/desks/americas/invite"+q, url.Values{"csrf": {ntok}, "role": {"coordinator"}})
		}, "team.invite.once"},
		{"admin", "newsroom/admin", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/admin" + q + "&done=created") }, "team.desk.keyhint"},
		{"audit log", "newsroom/audit", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/audit" + q) }, "audit.invite"},
		{"desk audit log", "newsroom/audit", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/desks/americas/audit" + q) }, "team.audit.hint"},
		{"invitation", "newsroom/invite", 200, func(q string) *pistatest.Response { return in.Browser().Get("/newsroom/invite/" + inviteToken + q) }, "team.join.private"},
		{"invitation gone", "error", 410, func(q string) *pistatest.Response { return in.Browser().Get("/newsroom/invite/nothing" + q) }, "team.invite.gone"},
		{"bulk deletion, confirmation", "newsroom/bulkdelete", 200, func(q string) *pistatest.Response {
			return nb.Post("/newsroom/bulk-delete"+q, url.Values{"csrf": {ntok}, "id": {conv}})
		}, "retention.bulk.only"},
		{"inbox, bulk deletion offered", "newsroom/inbox", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/" + q + "&done=held") }, "retention.bulk.button"},
		{"conversation, held", "newsroom/conversation", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/c/" + conv + q + "&done=held") }, "retention.held.notice"},
		{"desk, retention set", "newsroom/desk", 200, func(q string) *pistatest.Response { return nb.Get("/newsroom/desks/americas" + q + "&done=retention") }, "retention.set"},
		{"source page, retention", "source/source", 200, func(q string) *pistatest.Response { return src.Get("/source" + q) }, "source.retention.keep"},
		{"newsroom not found", "error", 404, func(q string) *pistatest.Response { return nb.Get("/newsroom/c/nothing" + q) }, "error.notfound"},
	}

	// Every page template is rendered by some view above.
	r, err := ui.NewRenderer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Pages() {
		if !slices.ContainsFunc(views, func(v view) bool { return v.page == p }) {
			t.Errorf("page template %q is not rendered by this test: add a view", p)
		}
	}

	for _, l := range i18n.Locales() {
		for _, v := range views {
			t.Run(l.Tag+"/"+v.name, func(t *testing.T) {
				r := v.do("?lang=" + l.Tag)
				if r.Status != v.status {
					t.Fatalf("status %d, want %d\n%.2000s", r.Status, v.status, r.Body)
				}
				if !regexp.MustCompile(`<html[^>]* lang="` + l.Tag + `"[^>]* dir="` + l.Dir + `"`).MatchString(r.Body) {
					t.Errorf("the page is not marked as %s, %s", l.Tag, l.Dir)
				}
				if i := strings.Index(r.Body, "[["); i >= 0 {
					t.Errorf("untranslated key: %s", r.Body[i:min(len(r.Body), i+80)])
				}
				if !strings.Contains(r.Text(), l.T(v.want)) {
					t.Errorf("the page does not show %q (%s)", l.T(v.want), v.want)
				}
				// Links and forms keep the language.
				if v.status == 200 && !strings.Contains(r.Body, "lang="+l.Tag) {
					t.Errorf("no link or form keeps ?lang=%s", l.Tag)
				}
			})
		}
	}
}
