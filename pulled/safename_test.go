package pulled

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeName(t *testing.T) {
	long := strings.Repeat("a", 300)
	longUTF8 := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name, in, want string
	}{
		{"plain", "report.pdf", "report.pdf"},
		{"unicode kept", "تقرير سري.docx", "تقرير سري.docx"},
		{"relative path", "../../etc/passwd", "passwd"},
		{"absolute path", "/home/me/notes.txt", "notes.txt"},
		{"Windows path", `C:\Users\me\Desktop\memo.docx`, "memo.docx"},
		{"mixed separators", `a/b\c.txt`, "c.txt"},
		{"trailing slash", "dir/", "fallback"},
		{"hidden file", ".bashrc", "bashrc"},
		{"dots only", "...", "fallback"},
		{"dot-dot", "..", "fallback"},
		{"leading dash (an option to a shell command)", "-rf.txt", "rf.txt"},
		{"leading dots and dashes", ". -.-x", "x"},
		{"trailing dots and spaces", "name. . ", "name"},
		{"right-to-left override", "invoice\u202egpj.exe", "invoicegpj.exe"},
		{"other bidi controls", "\u2066a\u2067b\u2068c\u2069\u200e\u200f\u061c.txt", "abc.txt"},
		{"zero-width space and BOM", "\ufeffa\u200bb.txt", "ab.txt"},
		{"NUL byte", "a\x00b.txt", "ab.txt"},
		{"control characters", "a\x1b[31mred\x7f.txt", "a[31mred.txt"},
		{"newline and tab removed", "a\nb\tc.txt", "abc.txt"},
		{"unicode spaces", "a\u00a0b\u2003c.txt", "a b c.txt"},
		{"characters Windows refuses", `a<b>c:d"e|f?g*h.txt`, "a_b_c_d_e_f_g_h.txt"},
		{"Windows device name", "CON", "fallback"},
		{"Windows device name with extension", "nul.tar.gz", "fallback"},
		{"Windows device name, other case", "Com1.txt", "fallback"},
		{"device name inside a longer name", "CONSOLE.txt", "CONSOLE.txt"},
		{"empty", "", "fallback"},
		{"spaces only", "   ", "fallback"},
		{"invalid UTF-8", "a\xffb.txt", "a_b.txt"},
		{"long name keeps its extension", long + ".pdf", long[:196] + ".pdf"},
		{"long name, long extension dropped", "x." + long, ("x." + long)[:200]},
		{"long UTF-8 name not split", longUTF8 + ".txt", strings.Repeat("é", 98) + ".txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SafeName(tt.in, "fallback")
			if got != tt.want {
				t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			checkSafe(t, tt.in, got)
		})
	}
}

// checkSafe checks what SafeName promises of any result.
func checkSafe(t *testing.T, in, got string) {
	t.Helper()
	switch {
	case got == "":
		t.Errorf("SafeName(%q) is empty", in)
	case len(got) > maxNameBytes:
		t.Errorf("SafeName(%q) has %d bytes, more than %d", in, len(got), maxNameBytes)
	case !utf8.ValidString(got):
		t.Errorf("SafeName(%q) = %q is not UTF-8", in, got)
	case strings.ContainsAny(got, "/\\\x00"):
		t.Errorf("SafeName(%q) = %q holds a separator or NUL", in, got)
	case strings.HasPrefix(got, "."), strings.HasPrefix(got, "-"):
		t.Errorf("SafeName(%q) = %q starts with a dot or dash", in, got)
	case filepath.Base(got) != got:
		t.Errorf("SafeName(%q) = %q is not a single path element", in, got)
	}
	for _, r := range got {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' || r == '\ufeff' {
			t.Errorf("SafeName(%q) = %q holds %U", in, got, r)
		}
		if strings.ContainsRune(`<>:"|?*`, r) {
			t.Errorf("SafeName(%q) = %q holds %q, which Windows refuses", in, got, r)
		}
	}
	stem, _, _ := strings.Cut(got, ".")
	if windowsReserved[strings.ToUpper(strings.TrimSpace(stem))] {
		t.Errorf("SafeName(%q) = %q is a Windows device name", in, got)
	}
}

func FuzzSafeName(f *testing.F) {
	for _, s := range []string{
		"report.pdf", "../../etc/passwd", `C:\x\y.doc`, ".hidden", "...", "CON.txt",
		"a\u202eb.exe", "a\x00b", "\xff\xfe", strings.Repeat("ab", 150) + ".tar.gz",
		strings.Repeat("é", 120) + "." + strings.Repeat("ü", 15), "x." + strings.Repeat("y", 250),
		" - . name", "a\u2028b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		checkSafe(t, name, SafeName(name, "fallback"))
		// A name already safe and short enough is kept as it is.
		if safe := SafeName(name, "fallback"); safe != "fallback" && SafeName(safe, "other") != safe && len(name) <= maxNameBytes {
			t.Errorf("SafeName(%q) = %q, but SafeName(%q) = %q", name, safe, safe, SafeName(safe, "other"))
		}
	})
}
