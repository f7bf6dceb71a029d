package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// commandRE finds "pista WORD [WORD]" where a command line starts: a line
// (of a code block, or of pista --help) beginning with pista, $ pista or
// go run ./cmd/pista, a command substitution, or an inline code span.
var commandRE = regexp.MustCompile(`(?:^|\$ |\$\(|` + "`" + `)(?:go run \./cmd/pista|pista) ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?`)

// mentions returns each "pista WORD [WORD]" in text, as its words.
func mentions(lines []string) [][]string {
	var out [][]string
	for _, l := range lines {
		for _, m := range commandRE.FindAllStringSubmatch(strings.TrimSpace(l), -1) {
			out = append(out, m[1:])
		}
	}
	return out
}

// checkMentions fails t for each mention of a command (or a subcommand)
// that pista does not dispatch.
func checkMentions(t *testing.T, where string, ms [][]string) {
	t.Helper()
	for _, m := range ms {
		if _, ok := commands[m[0]]; !ok {
			t.Errorf("%s names pista %s, which is not a command", where, m[0])
			continue
		}
		subs, ok := subcommands[m[0]]
		if !ok || m[1] == "" {
			continue
		}
		if _, ok := subs[m[1]]; !ok {
			t.Errorf("%s names pista %s %s, which is not a subcommand", where, m[0], m[1])
		}
	}
}

// readmeLines returns the README's lines that may name a command: those
// of its code blocks, and the inline code spans of the rest (a span that
// starts at the end of one line is read with the next).
func readmeLines(t *testing.T) []string {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inBlock := false
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			out = append(out, l)
			continue
		}
		if i+1 < len(lines) {
			l += " " + lines[i+1]
		}
		// Only the code spans: what follows a backtick.
		for _, part := range strings.Split(l, "`")[1:] {
			out = append(out, "`"+part)
		}
	}
	return out
}

func TestHelpNamesEveryCommand(t *testing.T) {
	// The commands are the indented lines; the first line is prose.
	var lines []string
	for _, l := range strings.Split(usage, "\n") {
		if strings.HasPrefix(l, "    ") {
			lines = append(lines, l)
		}
	}
	ms := mentions(lines)
	checkMentions(t, "pista --help", ms)
	listed := map[string]bool{}
	for _, m := range ms {
		listed[m[0]] = true
		listed[m[0]+" "+m[1]] = true
	}
	for name := range commands {
		if !listed[name] {
			t.Errorf("pista --help does not list pista %s", name)
		}
	}
	for name, subs := range subcommands {
		for sub := range subs {
			if !listed[name+" "+sub] {
				t.Errorf("pista --help does not list pista %s %s", name, sub)
			}
		}
	}
}

func TestReadmeNamesOnlyCommands(t *testing.T) {
	ms := mentions(readmeLines(t))
	if len(ms) < 20 {
		t.Fatalf("found only %d commands in the README: is the parser still right? %q", len(ms), ms)
	}
	checkMentions(t, "README.md", ms)
}

func TestMentionsCatchesAMissingCommand(t *testing.T) {
	for text, want := range map[string][]string{
		"$ pista serve --data x":                       {"serve", ""},
		"go run ./cmd/pista journalist add --name a":   {"journalist", "add"},
		"--totp $(go run ./cmd/pista totp f.txt)":      {"totp", "f"},
		"`pista journalist suspend` stops":             {"journalist", "suspend"},
		"    pista keygen -o alice.key  # on a laptop": {"keygen", "o"},
	} {
		ms := mentions([]string{text})
		if len(ms) == 0 || ms[0][0] != want[0] {
			t.Errorf("mentions(%q) = %q, want %q first", text, ms, want)
		}
	}
	for _, text := range []string{"the pista binary", "go build -o pista ./cmd/pista", "./pista-data"} {
		if ms := mentions([]string{text}); len(ms) > 0 {
			t.Errorf("mentions(%q) = %q, want none", text, ms)
		}
	}
}
