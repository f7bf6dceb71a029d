package main

import (
	"bytes"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/keys"
)

// TestReplyCLI: a source sends a tip with pista submit; the journalist
// pulls it, answers with pista reply, which encrypts on "her computer";
// the source reads the answer with pista follow (the source's key), the
// desk's next pull opens it (the desk's key), and the server's disk and
// log never hold its text. A journalist of another desk cannot reply to
// the conversation.
func TestReplyCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	bob := addJournalist(t, dir, data, "bob")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "europa", "--title", "Europa", "--member", "bob")
	base, logs := startServer(t, data)

	msgFile := writeFile(t, filepath.Join(dir, "tip.txt"), []byte("The mayor's office is hiding the audit.\n"))
	out, _ := runPistaIn(t, "", "submit", "--server", base, "--desk", "americas", "--message-file", msgFile)
	codename, err := keys.ParseCodename(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("submit printed %q: %v", out, err)
	}

	pulledDir, openedDir := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	conv := onlyConversation(t, openedDir)
	convID := filepath.Base(conv)

	replyText := "CLIREPLY-" + rand.Text() + "\nThank you. Can you send the audit itself?"
	replyFile := writeFile(t, filepath.Join(dir, "answer.txt"), []byte(replyText))
	out = runPista(t, "reply", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t),
		"--conversation", convID, "--message-file", replyFile)
	if !strings.Contains(out, "sent a reply to conversation "+convID+" of desk americas") || !strings.Contains(out, "encrypted here to 2 keys") {
		t.Fatalf("reply printed %q", out)
	}

	// The source reads it with their codename: the source's key opens it.
	out, _ = runPistaIn(t, codename.String()+"\n", "follow", "--server", base)
	if !strings.Contains(out, replyText) || !strings.Contains(out, "--- reply 1, ") {
		t.Fatalf("follow printed %q, want the reply", out)
	}
	// The desk's next pull brings it, and the desk's key opens it.
	if out := runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir); !strings.Contains(out, "pulled 1 items") {
		t.Fatalf("second pull: %q, want the reply", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	if got, err := os.ReadFile(filepath.Join(conv, "reply-1.txt")); err != nil || string(got) != replyText {
		t.Fatalf("reply-1.txt = %q (%v), want %q; folder has %v", got, err, replyText, listDir(conv))
	}

	// Bob, of another desk, is told there is no such conversation, and
	// nothing is stored.
	bobReply := "BOBREPLY-" + rand.Text()
	bobFile := writeFile(t, filepath.Join(dir, "bob.txt"), []byte(bobReply))
	if got := runPistaFails(t, "", "reply", "--server", base, "--user", "bob", "--password-file", bob.pwFile, "--totp", bob.code(t),
		"--conversation", convID, "--message-file", bobFile); !strings.Contains(got, "no conversation "+convID) {
		t.Fatalf("bob's reply: %q", got)
	}
	if out, _ := runPistaIn(t, codename.String()+"\n", "follow", "--server", base); strings.Contains(out, bobReply) || strings.Contains(out, "--- reply 2") {
		t.Fatalf("follow printed %q after bob's refused reply", out)
	}

	// Neither reply's text is on the server's disk or in its log.
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("CLIREPLY-")) || bytes.Contains(b, []byte(bobReply)) {
			t.Errorf("a reply's text is in %s", p)
		}
		return nil
	})
	if strings.Contains(logs.String(), "CLIREPLY-") || strings.Contains(logs.String(), bobReply) {
		t.Error("a reply's text is in the log")
	}
}

func TestReplyErrors(t *testing.T) {
	dir := t.TempDir()
	empty := writeFile(t, filepath.Join(dir, "empty.txt"), []byte(" \n"))
	long := writeFile(t, filepath.Join(dir, "long.txt"), bytes.Repeat([]byte("x"), 100_001))
	pw := writeFile(t, filepath.Join(dir, "a.pass"), []byte("pw\n"))
	args := func(conv, msg string) []string {
		return []string{"reply", "--server", "http://127.0.0.1:1", "--user", "a", "--password-file", pw, "--totp", "123456", "--conversation", conv, "--message-file", msg}
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad conversation", args("../etc", empty), "not a conversation ID"},
		{"empty reply", args("abcdefgh23", empty), "is empty"},
		{"long reply", args("abcdefgh23", long), "at most 100000 characters"},
		{"no conversation", []string{"reply", "--server", "http://127.0.0.1:1"}, "--user is required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := runPistaFails(t, "", tt.args...); !strings.Contains(got, tt.want) {
				t.Fatalf("stderr %q, want %q", got, tt.want)
			}
		})
	}
	if _, help := runPistaIn(t, "", "reply", "--help"); !strings.Contains(help, "Examples:") || !strings.Contains(help, "--conversation") {
		t.Errorf("pista reply --help: %q", help)
	}
}
