package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A form part whose header goes on for megabytes is refused before it is
// held in memory: mime/multipart reads up to 10 MiB of a part's header
// before the form can check it, so that each request could hold 10 MiB.
func TestPartHeaderIsBounded(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	in.Desk("americas")
	b := in.Browser()
	tok := b.Get("/").CSRF(t)
	before := in.Snapshot()
	form := func(header int) *bytes.Buffer {
		var body bytes.Buffer
		fmt.Fprintf(&body, "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n%s\r\n", tok)
		fmt.Fprintf(&body, "--B\r\nContent-Disposition: form-data; name=\"desk\"\r\n\r\namericas\r\n")
		fmt.Fprintf(&body, "--B\r\nContent-Disposition: form-data; name=\"message\"\r\n")
		for i := 0; body.Len() < header; i++ {
			fmt.Fprintf(&body, "X-%d: %s\r\n", i, strings.Repeat("y", 900))
		}
		fmt.Fprintf(&body, "\r\nhello\r\n--B--\r\n")
		return &body
	}
	body := form(9 << 20)
	start := pistatest.Allocated()
	r := b.Do(b.Request(http.MethodPost, "/submit", body, "multipart/form-data; boundary=B"))
	got := pistatest.Allocated() - start
	if r.Status != http.StatusBadRequest {
		t.Errorf("a 9 MiB part header: status %d, want 400", r.Status)
	}
	if got > 2<<20 {
		t.Errorf("a 9 MiB part header: the request allocated %d KiB, more than 2 MiB", got>>10)
	}
	in.CheckUnchanged(t, before)
	// A header near the limit is refused by the form's own check; a
	// normal one goes through.
	if r := b.Do(b.Request(http.MethodPost, "/submit", form(64<<10), "multipart/form-data; boundary=B")); r.Status != http.StatusBadRequest {
		t.Errorf("a 64 KiB part header: status %d, want 400", r.Status)
	}
	if r := b.Do(b.Request(http.MethodPost, "/submit", form(0), "multipart/form-data; boundary=B")); r.Status != http.StatusOK {
		t.Errorf("a normal form: status %d, want 200", r.Status)
	}
}
