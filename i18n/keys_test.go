package i18n_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pista-tips/pista/i18n"
)

// messageFile is the format of a file in messages/.
type messageFile struct {
	Meta struct {
		Name string `json:"name"`
		Dir  string `json:"dir"`
	} `json:"_meta"`
	Messages map[string]string `json:"messages"`
}

func readMessageFile(t *testing.T, path string) messageFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f messageFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dups := duplicateKeys(b); len(dups) > 0 {
		t.Errorf("%s: keys given twice (the last wins): %v", path, dups)
	}
	return f
}

// duplicateKeys lists the keys that occur twice in the "messages" object,
// which encoding/json would silently merge.
func duplicateKeys(b []byte) []string {
	type level struct {
		object, expectKey bool
		lastKey, name     string // name: the key this container is the value of
	}
	var stack []*level
	var dups []string
	seen := map[string]bool{}
	dec := json.NewDecoder(bytes.NewReader(b))
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return dups
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				name := ""
				if top != nil {
					name = top.lastKey
				}
				stack = append(stack, &level{object: v == '{', expectKey: v == '{', name: name})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if top != nil && top.object && top.expectKey {
				top.lastKey, top.expectKey = v, false
				if len(stack) == 2 && top.name == "messages" {
					if seen[v] {
						dups = append(dups, v)
					}
					seen[v] = true
				}
				continue
			}
			valueDone()
		default:
			valueDone()
		}
	}
}

var placeholderRe = regexp.MustCompile(`\{[a-z_]+\}`)

func placeholders(s string) []string {
	ps := placeholderRe.FindAllString(s, -1)
	slices.Sort(ps)
	return slices.Compact(ps)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// TestMessageFiles checks every language's files against English's: for
// each part (<tag>.json, <tag>.<part>.json) the same keys, no empty text,
// the same {placeholders}; and that i18n loads every key of every part.
func TestMessageFiles(t *testing.T) {
	paths, err := filepath.Glob("messages/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no message files: %v", err)
	}
	var tags []string
	all := map[string]map[string]string{} // tag → every key of its files
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		tag, part, _ := strings.Cut(name, ".")
		if part == "" {
			tags = append(tags, tag)
		}
		enName := i18n.Default + ".json"
		if part != "" {
			enName = i18n.Default + "." + part + ".json"
		}
		en := readMessageFile(t, filepath.Join("messages", enName))
		t.Run(name, func(t *testing.T) {
			f := readMessageFile(t, p)
			if part == "" {
				if f.Meta.Name == "" {
					t.Error(`"_meta" lacks the language's name`)
				}
				if f.Meta.Dir != "ltr" && f.Meta.Dir != "rtl" {
					t.Errorf(`"_meta" direction %q, want ltr or rtl`, f.Meta.Dir)
				}
			}
			for _, k := range sortedKeys(en.Messages) {
				v, ok := f.Messages[k]
				if !ok {
					t.Errorf("missing key %q", k)
					continue
				}
				if strings.TrimSpace(v) == "" {
					t.Errorf("key %q is empty", k)
				}
				if got, want := placeholders(v), placeholders(en.Messages[k]); !slices.Equal(got, want) {
					t.Errorf("key %q has placeholders %v, want %v as in %s", k, got, want, enName)
				}
			}
			for _, k := range sortedKeys(f.Messages) {
				if _, ok := en.Messages[k]; !ok {
					t.Errorf("key %q is not in %s", k, enName)
				}
			}
		})
		if all[tag] == nil {
			all[tag] = map[string]string{}
		}
		for k, v := range readMessageFile(t, p).Messages {
			all[tag][k] = v
		}
	}
	for _, tag := range tags {
		l, ok := i18n.Get(tag)
		if !ok {
			t.Fatalf("i18n does not load %s", tag)
		}
		if got := l.Keys(); !slices.Equal(got, sortedKeys(all[tag])) {
			t.Errorf("i18n loads %d keys for %s, whose files have %d", len(got), tag, len(all[tag]))
		}
	}
	if got := i18n.Tags(); !slices.Equal(got, tags) {
		t.Errorf("i18n.Tags() = %v, want the files' %v", got, tags)
	}
}

// templateKeys finds the message keys the page templates use.
func templateKeys(t *testing.T) map[string][]string {
	t.Helper()
	keyRe := regexp.MustCompile(`\.L\.T "([^"]+)"`)
	keys := map[string][]string{}
	root := filepath.Join("..", "ui", "templates")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = append(keys[m[1]], p)
		}
		// Keys made from an item kind: {{.L.T (print "kind." .Kind)}}.
		if strings.Contains(string(b), `print "kind." .Kind`) {
			for _, k := range itemKinds(t) {
				keys["kind."+k] = append(keys["kind."+k], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 20 {
		t.Fatalf("found only %d keys in the templates: is the pattern out of date?", len(keys))
	}
	return keys
}

// itemKinds reads the item kinds declared in the domain package.
func itemKinds(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pista.go"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range regexp.MustCompile(`(?m)^\s*Kind\w+\s+ItemKind\s*=\s*"([a-z]+)"`).FindAllStringSubmatch(string(b), -1) {
		kinds = append(kinds, m[1])
	}
	if len(kinds) < 4 {
		t.Fatalf("found only %v item kinds in pista.go", kinds)
	}
	return kinds
}

// goKeys finds the message keys written as string literals in the Go code
// that renders pages (error keys, page titles, notices).
func goKeys(t *testing.T) map[string][]string {
	t.Helper()
	keyRe := regexp.MustCompile(`"((?:error|newsroom|source|landing|receipt|layout|kind)(?:\.[a-z0-9_]+)+)"`)
	notKey := regexp.MustCompile(`\.(html|css|json|go|age|zip|txt|jsonl)$`)
	keys := map[string][]string{}
	for _, dir := range []string{"web", "newsroom", "server", "ui"} {
		files, err := filepath.Glob(filepath.Join("..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range files {
			if strings.HasSuffix(p, "_test.go") {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range keyRe.FindAllStringSubmatch(string(b), -1) {
				if !notKey.MatchString(m[1]) {
					keys[m[1]] = append(keys[m[1]], p)
				}
			}
		}
	}
	if len(keys) < 10 {
		t.Fatalf("found only %d keys in the Go code: is the pattern out of date?", len(keys))
	}
	return keys
}

// TestUsedKeysExist checks that every key a template or a handler uses
// is in every language.
func TestUsedKeysExist(t *testing.T) {
	sources := []struct {
		name string
		keys map[string][]string
	}{
		{"templates", templateKeys(t)},
		{"Go code", goKeys(t)},
	}
	for _, src := range sources {
		for _, l := range i18n.Locales() {
			t.Run(src.name+"/"+l.Tag, func(t *testing.T) {
				ks := make([]string, 0, len(src.keys))
				for k := range src.keys {
					ks = append(ks, k)
				}
				sort.Strings(ks)
				for _, k := range ks {
					if !l.Has(k) {
						t.Errorf("%s lacks %q, used in %v", l.Tag, k, slices.Compact(src.keys[k]))
					}
				}
			})
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"none", `{"_meta":{"name":"x","dir":"ltr"},"messages":{"a":"1","b":"2"}}`, nil},
		{"one twice", `{"_meta":{"name":"x"},"messages":{"a":"1","b":"2","a":"3"}}`, []string{"a"}},
		{"same key in _meta and messages", `{"_meta":{"name":"x"},"messages":{"name":"1"}}`, nil},
		{"messages after _meta with an array", `{"_meta":{"l":[1,{"a":2}],"name":"x"},"messages":{"l":"1","l":"2"}}`, []string{"l"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := duplicateKeys([]byte(tt.in)); !slices.Equal(got, tt.want) {
				t.Errorf("duplicateKeys = %v, want %v", got, tt.want)
			}
		})
	}
}
