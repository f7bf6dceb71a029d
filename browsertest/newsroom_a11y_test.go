package browsertest

// The journalists' pages, checked as the source pages are: axe-core finds
// no serious or critical WCAG 2.1 A/AA violation, and a 360-px phone does
// not scroll sideways, in every language.

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// checkNewsroomPage checks the page in the tab, which is at the phone
// viewport: marked as in l's language and direction, no serious or
// critical axe violation, no sideways scroll. With PISTA_SCREENSHOTS=1
// it writes docs/screenshots/newsroom-PAGE-LANG-phone.png.
func checkNewsroomPage(t *testing.T, ctx context.Context, page string, l *i18n.Locale) {
	t.Helper()
	t.Run(page, func(t *testing.T) {
		checkLangDir(t, ctx, page, l)
		checkAxe(t, ctx)
		checkNoHorizontalScroll(t, ctx, phone)
		if menu := count(t, ctx, "nav.newsroom-nav"); menu > 0 {
			if n := count(t, ctx, `nav.newsroom-nav a[aria-current="page"]`); n > 1 {
				t.Errorf("the menu marks %d links as the current page", n)
			}
		}
		screenshot(t, ctx, "newsroom-"+page+"-"+l.Tag+"-phone")
	})
}

// TestNewsroomAccessibility checks, in every language on a phone, the
// login page, an invitation, the inbox with its filters, a conversation
// decrypted in the page (a message, a file and a reply), the desk page of
// a coordinator with a pending member and a fresh invitation link, the
// settings, and, as an admin, the admin page and the audit log.
func TestNewsroomAccessibility(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	if err := in.Srv.Stores.Journalists.SetAdmin(ctx, carla.ID, true); err != nil {
		t.Fatal(err)
	}
	bob := in.Journalist("bob") // an active member: the desk page shows his role and removal
	desk := coordinatedDesk(t, in, carla, bob)
	in.Desk("europe", carla) // two desks: the inbox's desk filter shows
	base := byHostName(in.TS.URL)

	// A conversation with a message, a file and a reply, and a few more.
	message := "The harbour master signs for containers that never land."
	if r := in.Browser().Submit("americas", message,
		pistatest.Part{Name: "files", Filename: "manifest.pdf", Value: "%PDF-1.7"}); r.Status != 200 {
		t.Fatalf("submit: %d", r.Status)
	}
	conv := latestMessage(t, in, carla.ID).ConversationID
	for range 3 {
		in.StoreTip(desk)
	}
	hb := in.Browser()
	hb.LoginJournalist(carla)
	tok := hb.Get("/newsroom/c/" + conv).CSRF(t)
	reply := "Thank you. Which berth, and which nights?"
	if r := hb.Post("/newsroom/c/"+conv+"/reply", url.Values{"csrf": {tok}, "reply": {reply}}); r.Status != http.StatusSeeOther {
		t.Fatalf("reply: %d", r.Status)
	}

	// A newcomer who accepted an invitation, waiting for approval.
	newcomer := acceptedInvitation(t, in, desk.ID)
	if _, err := in.Srv.Stores.Team.Membership(ctx, desk.ID, newcomer.ID); err == nil {
		t.Fatal("the newcomer is already a member")
	}
	// An invitation for the newcomer's page.
	invite, err := newsroom.NewInvitation(ctx, in.Srv.Stores.Team, &pista.Invitation{DeskID: desk.ID, Role: pista.RoleJournalist})
	if err != nil {
		t.Fatal(err)
	}

	// Pages a visitor sees, without a session.
	vt := b.tab(t, true)
	setViewport(t, vt, phone)
	for _, tag := range languages(t) {
		t.Run("visitor/"+tag, func(t *testing.T) {
			l := locale(t, tag)
			do(t, vt, "opening the login page", chromedp.Navigate(base+"/newsroom/login?lang="+tag), loaded())
			teamWait(t, vt, "the login script", `!document.getElementById("login-button").disabled`)
			checkNewsroomPage(t, vt, "login", l)

			do(t, vt, "opening the invitation", chromedp.Navigate(base+newsroom.InvitePath+invite+"?lang="+tag), loaded())
			teamWait(t, vt, "the invitation's form", `!!document.getElementById("join-button")`)
			checkNewsroomPage(t, vt, "invite", l)
		})
	}

	// Pages a journalist sees: one login (each TOTP step works once).
	jt := b.tab(t, true)
	setViewport(t, jt, phone)
	teamLogin(t, jt, base, carla)
	for _, tag := range languages(t) {
		t.Run("journalist/"+tag, func(t *testing.T) {
			l := locale(t, tag)
			do(t, jt, "opening the inbox", chromedp.Navigate(base+"/newsroom/?lang="+tag), loaded())
			if n := count(t, jt, "table.inbox tbody tr"); n < 4 {
				t.Errorf("the inbox lists %d conversations, want 4", n)
			}
			if n := count(t, jt, "form.filters select#f-desk"); n != 1 {
				t.Error("the inbox shows no desk filter")
			}
			if n := count(t, jt, `nav.newsroom-nav a[aria-current="page"][href^="/newsroom/?"]`); n != 1 {
				t.Error("the menu does not mark the inbox as the current page")
			}
			checkNewsroomPage(t, jt, "inbox", l)

			do(t, jt, "opening the conversation", chromedp.Navigate(base+"/newsroom/c/"+conv+"?lang="+tag), loaded())
			for _, s := range []string{message, reply} {
				teamWait(t, jt, "the decrypted "+s, `document.body.innerText.includes(`+jsString(s)+`)`)
			}
			teamWait(t, jt, "the file's decrypted name", `[...document.querySelectorAll(".file-meta")].some((e) => e.innerText.includes("manifest.pdf"))`)
			checkNewsroomPage(t, jt, "conversation", l)

			do(t, jt, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang="+tag), loaded())
			teamEval[chromedp.Void](t, jt, "inviting", `document.querySelector('#invite-h ~ form button[type="submit"]').click()`)
			teamWait(t, jt, "the invitation link", `!!document.getElementById("invite-link") && document.readyState === "complete"`)
			if n := count(t, jt, "[data-approve]"); n != 1 {
				t.Errorf("the desk page offers %d approvals, want 1", n)
			}
			teamEval[chromedp.Void](t, jt, "opening the removal", `document.querySelectorAll("details.remove").forEach((d) => (d.open = true))`)
			checkNewsroomPage(t, jt, "desk", l)

			do(t, jt, "opening the settings", chromedp.Navigate(base+"/newsroom/settings?lang="+tag), loaded())
			checkNewsroomPage(t, jt, "settings", l)

			do(t, jt, "opening the admin page", chromedp.Navigate(base+"/newsroom/admin?lang="+tag), loaded())
			teamEval[chromedp.Void](t, jt, "inviting an admin", `document.querySelector('form[action^="/newsroom/admin/invite"] input[name=admin]').form.querySelector("button").click()`)
			teamWait(t, jt, "the invitation link", `!!document.getElementById("invite-link") && document.readyState === "complete"`)
			checkNewsroomPage(t, jt, "admin", l)

			do(t, jt, "opening the audit log", chromedp.Navigate(base+"/newsroom/audit?lang="+tag), loaded())
			if n := count(t, jt, "main table tbody tr"); n == 0 {
				t.Error("the audit log is empty")
			}
			checkNewsroomPage(t, jt, "audit", l)
		})
	}
}

// acceptedInvitation makes an invitation to the desk and accepts it as
// "nina", who is then a pending member.
func acceptedInvitation(t *testing.T, in *pistatest.Instance, deskID int64) pista.Journalist {
	t.Helper()
	ctx := context.Background()
	token, err := newsroom.NewInvitation(ctx, in.Srv.Stores.Team, &pista.Invitation{DeskID: deskID, Role: pista.RoleJournalist})
	if err != nil {
		t.Fatal(err)
	}
	j := pistatest.NewJournalist(t, "nina").Journalist
	sum := sha256.Sum256([]byte(token))
	if err := in.Srv.Stores.Team.AcceptInvitation(ctx, sum[:], time.Now(), &j); err != nil {
		t.Fatalf("AcceptInvitation: %v", err)
	}
	return j
}
