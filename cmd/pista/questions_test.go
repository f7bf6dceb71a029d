package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
)

func TestDeskQuestionsCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"questions": [
	  {"id": "where", "kind": "text", "required": true, "label": {"en": "Where did it happen?", "ar": "أين حدث ذلك؟"}},
	  {"id": "seen", "kind": "yes_no", "label": {"en": "Did you see it?"}}]}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"questions": [
	  {"id": "ok", "kind": "text", "label": {"en": "Fine"}},
	  {"id": "colour", "kind": "colour", "label": {"en": "Which?"}}]}`), 0o600)

	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"set", []string{"desk", "questions", "--data", data, "--name", "americas", "--file", good}, 0, "asks 2 question(s)"},
		{"bad file, refused whole", []string{"desk", "questions", "--data", data, "--name", "americas", "--file", bad}, 1, `question 2: kind "colour"`},
		{"unknown desk", []string{"desk", "questions", "--data", data, "--name", "nope", "--file", good}, 1, "no desk named"},
		{"missing file", []string{"desk", "questions", "--data", data, "--name", "americas", "--file", filepath.Join(dir, "none.json")}, 1, "no such file"},
		{"neither", []string{"desk", "questions", "--data", data, "--name", "americas"}, 2, "give --file FILE or --show"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runPistaCode(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
	// --show prints what was set, not the refused file's first question.
	out := runPista(t, "desk", "questions", "--data", data, "--name", "americas", "--show")
	var q pista.Questionnaire
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("--show printed %q: %v", out, err)
	}
	if len(q.Questions) != 2 || q.Questions[0].Label["ar"] != "أين حدث ذلك؟" || !q.Questions[0].Required {
		t.Errorf("--show = %s", out)
	}
	// What --show prints is a file --file takes.
	again := filepath.Join(dir, "again.json")
	os.WriteFile(again, []byte(out), 0o600)
	runPista(t, "desk", "questions", "--data", data, "--name", "americas", "--file", again)
}
