package web

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeFileName(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"plain", "report.pdf", "report.pdf"},
		{"path", "../../etc/passwd", "passwd"},
		{"windows path", `C:\Users\x\doc.txt`, "doc.txt"},
		{"hidden", "..bashrc", "bashrc"},
		{"quotes and controls", "a\"b\r\nc.txt", "a_b__c.txt"},
		{"bidi override", "fdp\u202eexe.pdf", "fdp_exe.pdf"},
		{"empty", "", "file"},
		{"dots", "...", "file"},
		{"invalid utf8", "a\xffb", "a_b"},
		{"arabic", "تقرير.pdf", "تقرير.pdf"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := SafeFileName(c.in); got != c.want {
				t.Errorf("SafeFileName(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	if got := SafeFileName(strings.Repeat("é", 500)); len(got) > maxSafeName {
		t.Errorf("a long name gives %d bytes", len(got))
	}
}

func FuzzSafeFileName(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "\u202e", "", "a\"b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := SafeFileName(in)
		if got == "" || len(got) > maxSafeName || !utf8.ValidString(got) || strings.ContainsAny(got, "/\\\"") || strings.HasPrefix(got, ".") {
			t.Fatalf("SafeFileName(%q) = %q", in, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("SafeFileName(%q) = %q keeps %U", in, got, r)
			}
		}
	})
}
