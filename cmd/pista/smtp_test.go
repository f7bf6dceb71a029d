package main

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

// pista serve --smtp-listen --mail-domain takes tips by e-mail: a mail to
// a desk's address ends in the same inbox, where pull and open read it.
func TestServeTakesMail(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice", "--alias", "tips")
	base, logs := startServer(t, data, func(f *serveFlags) {
		f.smtpListen = "127.0.0.1:0"
		f.mailDomain = "news.example"
	})
	m := regexp.MustCompile(`smtp://([0-9.:]+)`).FindStringSubmatch(logs.syncBuffer.String())
	if m == nil {
		t.Fatalf("serve did not say where it takes mail:\n%s", logs.syncBuffer.String())
	}
	marker := "MAIL-MARKER-4721"
	mail := "From: Rosa <rosa@example.org>\r\nTo: tips@news.example\r\nSubject: =?UTF-8?Q?Informaci=C3=B3n?=\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nThe contract was signed twice. " + marker + "\r\n"
	send := func(to string) error {
		c, err := gosmtp.Dial(m[1])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.SendMail("rosa@example.org", []string{to}, strings.NewReader(mail))
	}
	if err := send("tips@news.example"); err != nil {
		t.Fatalf("sending mail to a desk's alias: %v", err)
	}
	if err := send("nobody@news.example"); err == nil {
		t.Fatal("mail to an unknown desk was accepted")
	}

	pulled, opened := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	out := runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulled)
	if !strings.Contains(out, "pulled 3 items") {
		t.Fatalf("pull: %q, want the message, the contact and the whole e-mail", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulled, "--out", opened)
	conv := onlyConversation(t, opened)
	for name, want := range map[string]string{"message-1.txt": marker, "contact.txt": "rosa@example.org", "email-1.eml": "Subject: =?UTF-8?Q?Informaci=C3=B3n?="} {
		if b := readFile(t, filepath.Join(conv, name)); !strings.Contains(b, want) {
			t.Errorf("%s lacks %q:\n%s", name, want, b)
		}
	}

	// The inbox says the source wrote by e-mail and offers no web reply.
	nr := newBrowser(t, base)
	status, page := nr.login("alice", "a long password for alice", alice.code(t))
	if status != http.StatusOK {
		t.Fatalf("login: %d", status)
	}
	_, page = nr.get("/newsroom/c/" + filepath.Base(conv))
	if !strings.Contains(page, "This source wrote by e-mail") || strings.Contains(page, `name="reply"`) {
		t.Errorf("the e-mail conversation page:\n%s", page)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// urlValues makes a form from name, value pairs.
func urlValues(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
