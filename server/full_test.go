package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A disk at its floor refuses an upload cleanly, for that source only:
// a clear page, nothing stored, and the server goes on serving.
func TestDiskFloor(t *testing.T) {
	in := pistatest.New(t, server.Config{MinFreeDisk: 1 << 60})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	before := in.Snapshot(alice)
	b := in.Browser()
	r := b.Submit("americas", "a tip", pistatest.Part{Name: "files", Value: strings.Repeat("x", 1<<20), Filename: "big.pdf"})
	if r.Status != http.StatusInsufficientStorage || !strings.Contains(r.Text(), pistatest.En("error.full")) {
		t.Fatalf("upload over the floor: %d\n%s", r.Status, r.Body)
	}
	in.CheckUnchanged(t, before, alice)
	if r := in.Browser().Get("/"); r.Status != http.StatusOK {
		t.Fatalf("the landing page after a refused upload: %d", r.Status)
	}
}
