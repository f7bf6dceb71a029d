package main

import (
	"bytes"
	"crypto/rand"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubmitAnswers: pista submit --answer fills the desk's questions,
// checked here before anything is sent; the journalist's pista open
// writes them as question → answer beside the question's file. Nothing
// of them is on the server's disk in plain text.
func TestSubmitAnswers(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	questions := writeFile(t, filepath.Join(dir, "questions.json"), []byte(`{"questions": [
	  {"id": "where", "kind": "text", "required": true, "label": {"en": "Where did it happen?", "ar": "أين حدث ذلك؟"}},
	  {"id": "role", "kind": "choice", "label": {"en": "How do you know?"},
	   "choices": [{"id": "staff", "label": {"en": "I work there", "ar": "أعمل هناك"}}, {"id": "other", "label": {"en": "Other"}}]},
	  {"id": "when", "kind": "date", "label": {"en": "When?"}},
	  {"id": "doc", "kind": "file", "label": {"en": "A document"}}]}`))
	runPista(t, "desk", "questions", "--data", data, "--name", "americas", "--file", questions)
	base, logs := startServer(t, data)

	marker := "ANS-" + rand.Text()
	msgFile := writeFile(t, filepath.Join(dir, "tip.txt"), []byte("see the answers"))
	scan := []byte("%PDF-1.7 " + marker + "-file")
	scanFile := writeFile(t, filepath.Join(dir, "harbour-scan.pdf"), scan)
	submit := []string{"submit", "--server", base, "--desk", "americas", "--message-file", msgFile}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"required missing", []string{"--answer", "role=staff"}, `question "where" (Where did it happen?): it is required`},
		{"unknown question", []string{"--answer", "where=x", "--answer", "colour=red"}, `asks no question "colour"`},
		{"not a choice", []string{"--answer", "where=x", "--answer", "role=boss"}, `give one of the choices`},
		{"bad date", []string{"--answer", "where=x", "--answer", "when=yesterday"}, `YYYY-MM-DD`},
		{"no =", []string{"--answer", "where"}, `is not ID=VALUE`},
		{"missing file", []string{"--answer", "where=x", "--answer", "doc=" + filepath.Join(dir, "none.pdf")}, `no such file`},
	} {
		t.Run(c.name, func(t *testing.T) {
			stderr := runPistaFails(t, "", append(submit, c.args...)...)
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q; want %q", stderr, c.want)
			}
		})
	}
	if got := runPistaFails(t, "", submit...); !strings.Contains(got, "where (text, required): Where did it happen?") {
		t.Errorf("a missing answer does not list the questions: %q", got)
	}

	place := "Tangier, dock 4, " + marker
	runPistaIn(t, "", append(submit, "--answer", "where="+place, "--answer", "role=أعمل هناك",
		"--answer", "when=2026-03-01", "--answer", "doc="+scanFile)...)

	pulledDir, openedDir := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	conv := onlyConversation(t, openedDir)
	got, err := os.ReadFile(filepath.Join(conv, "answers.txt"))
	if err != nil {
		t.Fatalf("answers.txt: %v (folder has %v)", err, listDir(conv))
	}
	for _, want := range []string{"Where did it happen?\n    " + place + "\n", "How do you know?\n    I work there\n",
		"When?\n    2026-03-01\n", "A document\n    the file harbour-scan.pdf (in this folder)\n"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("answers.txt lacks %q:\n%s", want, got)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(conv, "harbour-scan.pdf")); !bytes.Equal(b, scan) {
		t.Errorf("the question's file was not written as sent (folder has %v)", listDir(conv))
	}

	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(marker)) {
			t.Errorf("an answer is in plain text in %s", p)
		}
		return nil
	})
	if strings.Contains(logs.String(), marker) {
		t.Error("an answer is in the log")
	}
}
