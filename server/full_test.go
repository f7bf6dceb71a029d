package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista/server"
)

// A disk at its floor refuses an upload cleanly, for that source only:
// a clear page, nothing stored, and the server goes on serving.
func TestDiskFloor(t *testing.T) {
	in := newInstance(t, server.Config{MinFreeDisk: 1 << 60})
	alice := in.journalist("alice")
	in.desk("americas", alice)
	before := in.snapshot(alice)
	b := in.browser()
	r := b.submit("americas", "a tip", part{name: "files", value: strings.Repeat("x", 1<<20), filename: "big.pdf"})
	if r.Status != http.StatusInsufficientStorage || !strings.Contains(r.Text(), en("error.full")) {
		t.Fatalf("upload over the floor: %d\n%s", r.Status, r.Body)
	}
	in.checkUnchanged(t, before, alice)
	if r := in.browser().get("/"); r.Status != http.StatusOK {
		t.Fatalf("the landing page after a refused upload: %d", r.Status)
	}
}
