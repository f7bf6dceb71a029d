package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// With an onion address, the landing page shows it and every answer
// tells Tor Browser where the onion service is.
func TestOnionAddress(t *testing.T) {
	const onion = "pistaexampleonionaddressforthetestsxxxxxxxxxxxxxxxxxxxxxx.onion"
	in := pistatest.New(t, server.Config{Onion: onion})
	in.Desk("americas", in.Journalist("alice"))
	r := in.Browser().Get("/?lang=fr")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "http://"+onion+"/") {
		t.Fatalf("the landing page does not show the onion address:\n%s", r.Body)
	}
	if got := r.Header.Get("Onion-Location"); got != "http://"+onion+"/?lang=fr" {
		t.Fatalf("Onion-Location = %q", got)
	}
}
