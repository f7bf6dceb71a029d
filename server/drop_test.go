package server_test

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A source whose connection drops in the middle of an upload, or whose
// form is malformed, leaves nothing stored and nothing in the log: the
// errors net/http and mime/multipart give name the peer's address or
// quote the request.
func TestBrokenUploadsAreNotLogged(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	host := strings.TrimPrefix(in.TS.URL, "http://")
	tests := []struct{ name, body string }{
		{"connection dropped in a file", "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nTOKEN\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"desk\"\r\n\r\namericas\r\n" +
			"--B\r\nContent-Disposition: form-data; name=\"files\"; filename=\"secret-name.pdf\"\r\n\r\n" + strings.Repeat("x", 200<<10)},
		{"part header without a colon", "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nTOKEN\r\n" +
			"--B\r\nsecret-name.pdf-no-colon\r\n\r\nx\r\n--B--\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(alice)
			tok := in.Browser().Get("/").CSRF(t)
			body := strings.Replace(tt.body, "TOKEN", tok, 1)
			c, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "POST /submit HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: %d\r\n\r\n%s",
				host, len(body)+1<<20, body)
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 512)
			c.Read(buf) // the malformed form is answered; the dropped one is not
			c.Close()
			time.Sleep(300 * time.Millisecond) // let the handler finish
			in.CheckUnchanged(t, before, alice)
			log := in.Log.String()
			for _, leak := range []string{"127.0.0.1", "secret-name", url.QueryEscape("secret-name")} {
				if strings.Contains(log, leak) {
					t.Errorf("the log holds %q:\n%s", leak, log)
				}
			}
		})
	}
}
