package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// sourceCookie is the browser's session cookie, nil if it has none.
func sourceCookie(t testing.TB, b *pistatest.Browser) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(b.Base)
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == "pista_source" {
			return c
		}
	}
	return nil
}

// withCookie is a new browser holding a copy of the session cookie c.
func withCookie(in *pistatest.Instance, c *http.Cookie) *pistatest.Browser {
	b := in.Browser()
	u, _ := url.Parse(b.Base)
	b.Client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
	return b
}

// loggedIn submits a tip and logs its source in, in a new browser; it
// returns the browser and the codename.
func loggedIn(t *testing.T, in *pistatest.Instance) (*pistatest.Browser, string) {
	t.Helper()
	b := in.Browser()
	codename := b.Submit("americas", "first tip").Codename(t)
	login(t, b, codename)
	return b, codename
}

func login(t *testing.T, b *pistatest.Browser, codename string) {
	t.Helper()
	if r := b.Post("/login", url.Values{"csrf": {b.Get("/").CSRF(t)}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.Status, r.Body)
	}
}

// sessionEnded checks that r is the page of a session that ended.
func sessionEnded(t *testing.T, what string, r *pistatest.Response) {
	t.Helper()
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Text(), pistatest.En("error.session")) {
		t.Errorf("%s: %d, want 401 and the session page\n%s", what, r.Status, r.Body)
	}
}

// TestLogoutEndsEveryCopy: after logout, the cookie the browser held, and
// every copy of it elsewhere, get the page of a session that ended; a copy
// presented again has its cookie cleared.
func TestLogoutEndsEveryCopy(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	in.Desk("americas", in.Journalist("alice"))
	b, codename := loggedIn(t, in)
	c := sourceCookie(t, b)
	if c == nil {
		t.Fatal("no session cookie after login")
	}
	copied := withCookie(in, c)
	page := b.Get("/source")
	if page.Status != http.StatusOK {
		t.Fatalf("source page: %d", page.Status)
	}
	copiedPage := copied.Get("/source")
	if copiedPage.Status != http.StatusOK {
		t.Fatalf("a copy of the cookie before logout: %d", copiedPage.Status)
	}
	other, _ := loggedIn(t, in)

	if r := b.Post("/logout", url.Values{"csrf": {page.CSRF(t)}}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d\n%s", r.Status, r.Body)
	}
	if c := sourceCookie(t, b); c != nil {
		t.Errorf("the browser still holds its cookie after logout: %q", c.Value)
	}
	sessionEnded(t, "the browser after logout", b.Get("/source"))

	r := copied.Get("/source")
	sessionEnded(t, "a copy of the cookie after logout", r)
	cleared := false
	for _, sc := range (&http.Response{Header: r.Header}).Cookies() {
		cleared = cleared || (sc.Name == "pista_source" && sc.MaxAge < 0)
	}
	if !cleared {
		t.Errorf("the ended cookie was not cleared: %q", r.Header.Values("Set-Cookie"))
	}
	replayed := withCookie(in, c)
	sessionEnded(t, "the old cookie replayed", replayed.Get("/source"))
	rp := replayed.PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: copiedPage.CSRF(t)}, {Name: "message", Value: "after logout"}})
	sessionEnded(t, "a follow-up with the old cookie", rp)
	rp = withCookie(in, c).Post("/logout", url.Values{"csrf": {copiedPage.CSRF(t)}})
	if rp.Status != http.StatusSeeOther {
		t.Errorf("logging out an ended session: %d", rp.Status)
	}

	if r := other.Get("/source"); r.Status != http.StatusOK {
		t.Errorf("another source after the logout: %d", r.Status)
	}
	// Logging in again works, with a new session.
	login(t, b, codename)
	if r := b.Get("/source"); r.Status != http.StatusOK {
		t.Errorf("logging in again after logout: %d", r.Status)
	}
	sessionEnded(t, "the old cookie after a new login", withCookie(in, c).Get("/source"))
}

// TestSessionOfDeletedConversation: once the newsroom deletes the
// conversation, its source's session is refused.
func TestSessionOfDeletedConversation(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	b, _ := loggedIn(t, in)
	page := b.Get("/source")
	if page.Status != http.StatusOK {
		t.Fatalf("source page: %d", page.Status)
	}
	ctx := context.Background()
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, alice.ID, pista.Page{})
	if err != nil || len(convs) != 1 {
		t.Fatalf("conversations: %v, %v", convs, err)
	}
	if _, err := in.Srv.Stores.Tips.DeleteConversation(ctx, alice.ID, convs[0].ID); err != nil {
		t.Fatal(err)
	}
	c := sourceCookie(t, b)
	sessionEnded(t, "the source page", b.Get("/source"))
	r := withCookie(in, c).PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: page.CSRF(t)}, {Name: "message", Value: "still there?"}})
	sessionEnded(t, "a follow-up", r)
}
