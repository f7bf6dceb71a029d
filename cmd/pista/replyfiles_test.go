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

// TestReplyFilesCLI: pista reply --file sends files with a reply,
// encrypted on the journalist's computer; pista follow --out saves them,
// decrypted with the source's key, under safe names inside the folder,
// never over a file there; the desk's pull and open read them too; the
// server's disk and log never hold their bytes or names.
func TestReplyFilesCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, logs := startServer(t, data)

	msgFile := writeFile(t, filepath.Join(dir, "tip.txt"), []byte("The audit is in the basement.\n"))
	out, _ := runPistaIn(t, "", "submit", "--server", base, "--desk", "americas", "--message-file", msgFile)
	codename, err := keys.ParseCodename(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("submit printed %q: %v", out, err)
	}
	pulledDir, openedDir := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	convID := filepath.Base(onlyConversation(t, openedDir))

	secret := "FILEBYTES-" + rand.Text()
	formBytes := bytes.Repeat([]byte(secret+"\n"), 3000) // ~100 KiB: two age chunks
	files := filepath.Join(dir, "to-send")
	os.Mkdir(files, 0o700)
	form := writeFile(t, filepath.Join(files, "questionnaire-QNAME.pdf"), formBytes)
	// A name that tries to climb out of the source's folder.
	evil := writeFile(t, filepath.Join(files, "..evil.txt"), []byte("climb "+secret))
	replyFile := writeFile(t, filepath.Join(dir, "answer.txt"), []byte("Please fill in the form."))
	out = runPista(t, "reply", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t),
		"--conversation", convID, "--message-file", replyFile, "--file", form, "--file", evil)
	if !strings.Contains(out, "sent a reply and 2 file(s) to conversation "+convID) {
		t.Fatalf("reply printed %q", out)
	}

	// Without --out, follow lists the files.
	out, _ = runPistaIn(t, codename.String()+"\n", "follow", "--server", base)
	if !strings.Contains(out, "Please fill in the form.") || !strings.Contains(out, "file: questionnaire-QNAME.pdf, ") || !strings.Contains(out, "--out DIR") {
		t.Fatalf("follow printed %q", out)
	}

	// With --out, it saves them; a name taken is not overwritten.
	saved := filepath.Join(dir, "saved")
	os.Mkdir(saved, 0o700)
	writeFile(t, filepath.Join(saved, "questionnaire-QNAME.pdf"), []byte("mine"))
	out, _ = runPistaIn(t, codename.String()+"\n", "follow", "--server", base, "--out", saved)
	if got, err := os.ReadFile(filepath.Join(saved, "questionnaire-QNAME (2).pdf")); err != nil || !bytes.Equal(got, formBytes) {
		t.Fatalf("the saved form is %d bytes (%v), want %d; follow printed %q; folder: %v", len(got), err, len(formBytes), out, listDir(saved))
	}
	if got, _ := os.ReadFile(filepath.Join(saved, "questionnaire-QNAME.pdf")); string(got) != "mine" {
		t.Fatalf("follow overwrote a file: %q", got)
	}
	if got, err := os.ReadFile(filepath.Join(saved, "evil.txt")); err != nil || string(got) != "climb "+secret {
		t.Fatalf("evil.txt = %q (%v); folder: %v", got, err, listDir(saved))
	}
	if _, err := os.Stat(filepath.Join(dir, "evil.txt")); err == nil {
		t.Fatal("a file was saved outside --out")
	}

	// The desk reads them with its key.
	runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	found := false
	filepath.WalkDir(openedDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), "questionnaire-QNAME") {
			b, _ := os.ReadFile(p)
			found = found || bytes.Equal(b, formBytes)
		}
		return nil
	})
	if !found {
		t.Errorf("the desk's open has no form; folder: %v", listDir(onlyConversation(t, openedDir)))
	}

	// Neither the files' bytes nor their names are on the server's disk or in its log.
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("FILEBYTES-")) || bytes.Contains(b, []byte("QNAME")) {
			t.Errorf("a reply file's bytes or name are in %s", p)
		}
		return nil
	})
	if strings.Contains(logs.String(), "FILEBYTES-") || strings.Contains(logs.String(), "QNAME") {
		t.Error("a reply file's bytes or name are in the log")
	}
}
