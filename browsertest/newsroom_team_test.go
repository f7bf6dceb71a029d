package browsertest

// A desk that runs itself, in a real Chromium with two visitors: the
// coordinator invites; the newcomer accepts in their own browser, which
// makes their identity and keys; the coordinator's browser approves
// (wraps the desk key to the newcomer); the newcomer can then read the
// desk's tips with nothing but their passphrase and the server's copies.
// Then the coordinator removes them, which rotates the desk key, and a tip
// sent after that is not readable with what the newcomer had.

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// teamWait waits until expr (JavaScript) is true in the tab.
func teamWait(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(50 * time.Second)
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

func teamEval[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	return run(t, ctx, what, chromedp.Evaluate[T](expr))
}

// teamLogin logs j in on the login page with passphrase and TOTP code,
// and waits for the inbox.
func teamLogin(t *testing.T, ctx context.Context, base string, j *pistatest.Journalist) {
	t.Helper()
	do(t, ctx, "opening the login page", chromedp.Navigate(base+"/newsroom/login?lang=en"), loaded())
	teamWait(t, ctx, "the login script", `!document.getElementById("login-button").disabled`)
	teamEval[chromedp.Void](t, ctx, "logging in", `document.getElementById("name").value = `+jsString(j.Name)+`;
		document.getElementById("passphrase").value = `+jsString(j.Password)+`;
		document.getElementById("totp").value = `+jsString(j.Code(t))+`;
		document.getElementById("login-button").click();`)
	teamWait(t, ctx, "the inbox", `location.pathname === "/newsroom/"`)
}

// latestMessage is the message item of the desk's newest conversation.
func latestMessage(t *testing.T, in *pistatest.Instance, member int64) pista.Item {
	t.Helper()
	ctx := context.Background()
	cs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, member, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatalf("the newest conversation: %v", err)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, cs[0].ID)
	if err != nil || len(items) == 0 {
		t.Fatalf("its items: %v", err)
	}
	return items[0]
}

func openItem(t *testing.T, in *pistatest.Instance, it pista.Item, id age.Identity) (string, error) {
	t.Helper()
	obj, err := in.Srv.Stores.Blobs.Open(context.Background(), it.Object)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

// currentDeskKey opens, with member's identity, their wrap of the desk's
// current key.
func currentDeskKey(t *testing.T, in *pistatest.Instance, deskID, memberID int64, member age.Identity) *age.HybridIdentity {
	t.Helper()
	ctx := context.Background()
	d, err := in.Srv.Stores.Desks.DeskByID(ctx, deskID)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := in.Srv.Stores.Desks.WrapsFor(ctx, memberID)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.DeskKeyID == d.KeyID {
			id, err := keys.Unwrap(w.Wrapped, member)
			if err != nil {
				t.Fatalf("unwrapping the desk key: %v", err)
			}
			return id
		}
	}
	t.Fatalf("no wrap of desk %d's current key for journalist %d", deskID, memberID)
	return nil
}

// coordinatedDesk makes the americas desk with coord as its coordinator
// and members as its journalists.
func coordinatedDesk(t *testing.T, in *pistatest.Instance, coord *pistatest.Journalist, members ...*pistatest.Journalist) pista.Desk {
	t.Helper()
	desk := in.Desk("americas", append([]*pistatest.Journalist{coord}, members...)...)
	if err := in.Srv.Stores.Team.SetRole(context.Background(), desk.ID, coord.ID, pista.RoleCoordinator); err != nil {
		t.Fatal(err)
	}
	return desk
}

// inviteLink has the coordinator logged in in ct make an invitation to
// the americas desk, and returns the link by host name.
func inviteLink(t *testing.T, ct context.Context, base string) string {
	t.Helper()
	do(t, ct, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang=en"), loaded())
	teamEval[chromedp.Void](t, ct, "inviting", `document.querySelector('#invite-h ~ form button[type="submit"]').click()`)
	teamWait(t, ct, "the invitation link", `!!document.getElementById("invite-link")`)
	link := teamEval[string](t, ct, "reading the link", `document.getElementById("invite-link").value`)
	if !strings.Contains(link, "/newsroom/invite/") {
		t.Fatalf("invitation link %q", link)
	}
	return byHostName(link)
}

func TestBrowserTeamJourney(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	coord := in.Journalist("carla")
	desk := coordinatedDesk(t, in, coord)
	base := byHostName(in.TS.URL)

	// The coordinator makes an invitation link.
	ct := b.tab(t, true)
	teamLogin(t, ct, base, coord)
	link := inviteLink(t, ct, base)

	// The newcomer accepts it in their own browser.
	const passphrase = "nina's own long passphrase, never sent"
	nt := b.tab(t, true)
	do(t, nt, "opening the invitation", chromedp.Navigate(link+"?lang=en"), loaded())
	secret := teamEval[string](t, nt, "reading the TOTP secret", `document.getElementById("totp-secret").value`)
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	teamEval[chromedp.Void](t, nt, "filling the form", `document.getElementById("join-name").value = "nina";
		document.getElementById("join-pass").value = `+jsString(passphrase)+`;
		document.getElementById("join-pass2").value = `+jsString(passphrase)+`;
		document.getElementById("join-totp").value = `+jsString(code)+`;
		document.getElementById("join-button").click();`)
	teamWait(t, nt, "the account", `!!document.getElementById("join-login")`)
	if got := text(t, nt, "#join-status"); !strings.Contains(got, pistatest.En("team.join.done")) {
		t.Errorf("after joining the page says %q", got)
	}
	nina, err := in.Srv.Stores.Journalists.JournalistByName(ctx, "nina")
	if err != nil {
		t.Fatal(err)
	}
	// Her identity, as only her passphrase opens it from the server's copy.
	k, err := keys.DeriveJournalist(ctx, passphrase, nina.Auth.Salt, nina.Auth.KDF)
	if err != nil {
		t.Fatal(err)
	}
	if !keys.CheckAuth(nina.Auth.Hash, k.Auth) {
		t.Fatal("the stored hash is not of the key her passphrase makes")
	}
	ninaID, err := keys.UnwrapIdentity(k.Wrap, nina.Auth.WrappedIdentity)
	if err != nil || ninaID.Recipient().String() != nina.Recipient {
		t.Fatalf("her wrapped identity: %v", err)
	}
	if _, err := in.Srv.Stores.Team.Membership(ctx, desk.ID, nina.ID); err == nil {
		t.Fatal("nina is a member before approval")
	}

	// The coordinator's browser approves her: it wraps the desk key to her.
	do(t, ct, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang=en"), loaded())
	if got := text(t, ct, "#pending-h ~ p.hint"); !strings.Contains(got, pistatest.En("team.pending.why")) {
		t.Errorf("the page does not say why the server cannot approve: %q", got)
	}
	teamEval[chromedp.Void](t, ct, "approving", `document.querySelector('[data-approve]').click()`)
	teamWait(t, ct, "the approval", `location.search.includes("done=approved")`)
	if _, err := in.Srv.Stores.Team.Membership(ctx, desk.ID, nina.ID); err != nil {
		t.Fatalf("nina is not a member after approval: %v", err)
	}

	// A tip through the source form: nina reads it with her own key.
	if r := in.Browser().Submit("americas", "the first tip"); r.Status != 200 {
		t.Fatalf("submit: %d", r.Status)
	}
	oldDesk := currentDeskKey(t, in, desk.ID, nina.ID, ninaID)
	if got, err := openItem(t, in, latestMessage(t, in, coord.ID), oldDesk); err != nil || got != "the first tip" {
		t.Fatalf("nina reading the tip: %q %v", got, err)
	}

	// The coordinator removes her: the page says what that does and does
	// not change, and the browser rotates the desk key.
	do(t, ct, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang=en"), loaded())
	teamEval[chromedp.Void](t, ct, "opening the removal", `document.querySelectorAll("details.remove").forEach((d) => (d.open = true))`)
	page := text(t, ct, "#members-h ~ .table-scroll table")
	for _, want := range []string{pistatest.En("team.remove.before", "name", "nina"), pistatest.En("team.remove.after", "name", "nina")} {
		if !strings.Contains(page, want) {
			t.Errorf("the desk page lacks %q", want)
		}
	}
	teamEval[chromedp.Void](t, ct, "removing", `document.querySelector('[data-remove]').click()`)
	teamWait(t, ct, "the removal", `location.search.includes("done=removed")`)
	if _, err := in.Srv.Stores.Team.Membership(ctx, desk.ID, nina.ID); err == nil {
		t.Fatal("nina is still a member")
	}

	if r := in.Browser().Submit("americas", "after nina left"); r.Status != 200 {
		t.Fatalf("submit: %d", r.Status)
	}
	after := latestMessage(t, in, coord.ID)
	if _, err := openItem(t, in, after, oldDesk); err == nil {
		t.Error("the desk key nina had opens a tip sent after her removal")
	}
	if got, err := openItem(t, in, after, currentDeskKey(t, in, desk.ID, coord.ID, coord.Identity)); err != nil || got != "after nina left" {
		t.Errorf("the coordinator reading the new tip: %q %v", got, err)
	}
}
