package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A sealed submission's part whose header goes on for megabytes is
// refused before it is held in memory (mime/multipart alone holds up to
// 10 MiB of it).
func TestSealedPartHeaderIsBounded(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	in.Desk("americas")
	b := in.Browser()
	before := in.Snapshot()
	tip, err := json.Marshal(tipFor("americas", appSource(t)))
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	fmt.Fprintf(&body, "--B\r\nContent-Disposition: form-data; name=\"tip\"\r\nContent-Type: application/json\r\n\r\n%s\r\n", tip)
	fmt.Fprintf(&body, "--B\r\nContent-Disposition: form-data; name=\"message\"\r\n")
	for i := 0; body.Len() < 9<<20; i++ {
		fmt.Fprintf(&body, "X-%d: %s\r\n", i, strings.Repeat("y", 900))
	}
	fmt.Fprintf(&body, "\r\nhello\r\n--B--\r\n")
	start := pistatest.Allocated()
	req := b.Request(http.MethodPost, "/api/v1/source/tips", &body, "multipart/form-data; boundary=B")
	prove(b, req)
	r := b.Do(req)
	got := pistatest.Allocated() - start
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "headers are too long") {
		t.Errorf("a 9 MiB part header: %d %s, want 400 and why", r.Status, r.Body)
	}
	if got > 2<<20 {
		t.Errorf("a 9 MiB part header: the request allocated %d KiB, more than 2 MiB", got>>10)
	}
	in.CheckUnchanged(t, before)
}
