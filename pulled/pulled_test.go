package pulled

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
)

func TestParseMeta(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    pista.FileMeta
		wantErr bool
	}{
		{"name and type", `{"name":"a.pdf","type":"application/pdf"}`, pista.FileMeta{Name: "a.pdf", Type: "application/pdf"}, false},
		{"name only", `{"name":"a.pdf"}`, pista.FileMeta{Name: "a.pdf"}, false},
		{"unknown fields ignored", `{"name":"a","colour":3}`, pista.FileMeta{Name: "a"}, false},
		{"escaped path in the name", `{"name":"..\/..\/x"}`, pista.FileMeta{Name: "../../x"}, false},
		{"empty", ``, pista.FileMeta{}, true},
		{"not JSON", `name=a.pdf`, pista.FileMeta{}, true},
		{"wrong type", `{"name":3}`, pista.FileMeta{}, true},
		{"truncated", `{"name":"a`, pista.FileMeta{}, true},
		{"too large", `{"name":"` + strings.Repeat("a", maxMetaBytes) + `"}`, pista.FileMeta{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMeta([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseMeta error = %v, want error: %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("ParseMeta = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseMeta(f *testing.F) {
	for _, s := range []string{
		`{"name":"a.pdf","type":"application/pdf"}`, `{}`, `null`, `[]`, `{"name":"\u202e"}`,
		`{"name":"a"} trailing`, `{"name":"\ud800"}`, `"x"`, ``, `{"name":"a","name":"b"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMeta(b)
		if err != nil {
			if m != (pista.FileMeta{}) {
				t.Errorf("ParseMeta(%q) failed but returned %+v", b, m)
			}
			return
		}
		if len(b) > maxMetaBytes {
			t.Errorf("ParseMeta accepted %d bytes, more than %d", len(b), maxMetaBytes)
		}
		// What the server writes (json.Marshal of a FileMeta) reads back
		// as the same name and type.
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseMeta(again)
		if err != nil || m2 != m {
			t.Errorf("ParseMeta(Marshal(%+v)) = %+v, %v", m, m2, err)
		}
		// Whatever the name, the file Open writes is safe.
		checkSafe(t, m.Name, SafeName(m.Name, "file-1"))
	})
}

// domainKinds reads the item kinds declared in the domain package, so
// that a kind added there is checked here too.
func domainKinds(t testing.TB) []string {
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

// TestItemFileEveryKind checks that Open reads back the file Pull writes
// for an item of every kind.
func TestItemFileEveryKind(t *testing.T) {
	for _, kind := range domainKinds(t) {
		for _, meta := range []bool{false, true} {
			name := ItemFile(123, kind, meta)
			t.Run(name, func(t *testing.T) {
				id, k, m, ok := parseItemFile(name)
				if !ok || id != 123 || k != kind || m != meta {
					t.Errorf("parseItemFile(%q) = %d, %q, %v, %v", name, id, k, m, ok)
				}
			})
		}
	}
}

func TestItemFile(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		id       int64
		kind     string
		meta, ok bool
	}{
		{"message", "0000000042-message.age", 42, "message", false, true},
		{"file", "0000000043-file.age", 43, "file", false, true},
		{"file meta", "0000000043-file.meta.age", 43, "file", true, true},
		{"contact", "0000000001-contact.age", 1, "contact", false, true},
		{"reply", "9999999999-reply.age", 9999999999, "reply", false, true},
		{"unknown kind", "0000000042-virus.age", 0, "", false, false},
		{"short ID", "42-message.age", 0, "", false, false},
		{"long ID", "00000000042-message.age", 0, "", false, false},
		{"negative ID", "-000000042-message.age", 0, "", false, false},
		{"other extension", "0000000042-message.txt", 0, "", false, false},
		{"temporary download", "0000000042-message.age.part", 0, "", false, false},
		{"path", "../0000000042-message.age", 0, "", false, false},
		{"items.jsonl", "items.jsonl", 0, "", false, false},
		{"non-ASCII digits", "٠٠٠٠٠٠٠٠٤٢-message.age", 0, "", false, false},
		{"trailing newline", "0000000042-message.age\n", 0, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, kind, meta, ok := parseItemFile(tt.file)
			if id != tt.id || kind != tt.kind || meta != tt.meta || ok != tt.ok {
				t.Errorf("parseItemFile(%q) = %d, %q, %v, %v; want %d, %q, %v, %v",
					tt.file, id, kind, meta, ok, tt.id, tt.kind, tt.meta, tt.ok)
			}
			if ok && ItemFile(id, kind, meta) != tt.file {
				t.Errorf("ItemFile(%d, %q, %v) = %q, want %q", id, kind, meta, ItemFile(id, kind, meta), tt.file)
			}
		})
	}
}

// FuzzItemFile checks that the names Pull writes are the names Open reads
// back, and that Open reads no other name.
func FuzzItemFile(f *testing.F) {
	f.Add(int64(42), uint8(0), false, "0000000042-message.age")
	f.Add(int64(9999999999), uint8(1), true, "0000000043-file.meta.age")
	f.Add(int64(0), uint8(3), false, "x")
	f.Add(int64(-1), uint8(2), false, "../0000000001-contact.age")
	kinds := domainKinds(f)
	f.Fuzz(func(t *testing.T, id int64, k uint8, meta bool, name string) {
		kind := kinds[int(k)%len(kinds)]
		if id >= 0 && id <= 9999999999 {
			gid, gkind, gmeta, ok := parseItemFile(ItemFile(id, kind, meta))
			if !ok || gid != id || gkind != kind || gmeta != meta {
				t.Errorf("parseItemFile(ItemFile(%d, %q, %v)) = %d, %q, %v, %v", id, kind, meta, gid, gkind, gmeta, ok)
			}
		}
		if id, kind, meta, ok := parseItemFile(name); ok {
			if ItemFile(id, kind, meta) != name {
				t.Errorf("parseItemFile(%q) = %d, %q, %v, but ItemFile gives %q", name, id, kind, meta, ItemFile(id, kind, meta))
			}
			if !pista.ItemKind(kind).Valid() || id < 0 {
				t.Errorf("parseItemFile(%q) = %d, %q", name, id, kind)
			}
		}
	})
}

func TestConversationDir(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"server-made ID", "mfrggzdfmztwq2lknnwg23tpobyxe43u", true},
		{"shortest", "abcdefgh", true},
		{"too short", "abcdefg", false},
		{"too long", strings.Repeat("a", 65), false},
		{"dot-dot", "..", false},
		{"path", "abcdefgh/../../x", false},
		{"upper case", "ABCDEFGH", false},
		{"base32 has no 0, 1, 8 or 9", "abcdefg0", false},
		{"keys folder", "keys", false},
		{"dot in name", "abcd.efgh", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := conversationDir(tt.in); got != tt.want {
				t.Errorf("conversationDir(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
