package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// pista invite prints a link that opens the invitation page of a running
// server, with no identity file anywhere; bad flags say what to do.
func TestInvite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	link := strings.TrimSpace(runPista(t, "invite", "--data", data, "--url", "https://tips.example.org", "--admin"))
	u, err := url.Parse(link)
	if err != nil || u.Host != "tips.example.org" || !strings.HasPrefix(u.Path, "/newsroom/invite/") || len(u.Path) != len("/newsroom/invite/")+43 {
		t.Fatalf("link %q", link)
	}
	base, _ := startServer(t, data)
	b := newBrowser(t, base)
	if status, page := b.get(u.Path); status != http.StatusOK || !strings.Contains(page, "otpauth://totp/") {
		t.Errorf("the invitation page: %d", status)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "https://x.org"}, "choose --admin or --desk"},
		{[]string{"--url", "https://x.org", "--admin", "--desk", "a"}, "choose --admin or --desk"},
		{[]string{"--url", "x.org", "--admin"}, "is not the newsroom's address"},
		{[]string{"--url", "https://x.org", "--desk", "nowhere"}, `no desk named "nowhere"`},
		{[]string{"--url", "https://x.org", "--desk", "nowhere", "--role", "boss"}, `"boss" is not a role`},
		{[]string{"--admin"}, "--url"},
	} {
		var errb bytes.Buffer
		args := append([]string{"invite", "--data", data}, c.args...)
		if code := run(context.Background(), env{nil, io.Discard, &errb}, args); code == 0 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, %q", c.args, code, errb.String())
		}
	}
}
