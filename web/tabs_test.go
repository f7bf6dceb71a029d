package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A landing page opened in one tab still works after the source logged in
// in another: its forms do not depend on the session.
func TestLandingFormsOutliveALogin(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	b := in.Browser()
	codename := b.Submit("americas", "first tip").Codename(t)

	oldTab := b.Get("/").CSRF(t) // opened before logging in
	r := b.Post("/login", url.Values{"csrf": {b.Get("/").CSRF(t)}, "codename": {codename}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%s", r.Status, r.Body)
	}
	r = b.PostMultipart("/submit", []pistatest.Part{{Name: "csrf", Value: oldTab}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "second tip"}})
	if r.Status != http.StatusOK || r.Codename(t) == "" {
		t.Fatalf("a landing form from before the login: %d\n%s", r.Status, r.Body)
	}
	// The session's own forms still need the session's token.
	r = b.PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: oldTab}, {Name: "message", Value: "more"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("a follow-up with an anonymous token: %d, want 403", r.Status)
	}
}
