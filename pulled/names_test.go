package pulled

import "testing"

// Names from the network never reach the file system unchecked, and the
// files Open writes never take each other's place, whatever the case.
func TestOutputNames(t *testing.T) {
	for _, kind := range []string{"x/../../../escaped", "../message", "message/..", "MESSAGE", ""} {
		if _, _, _, ok := parseItemFile(ItemFile(42, kind, false)); ok {
			t.Errorf("an item of kind %q would be written", kind)
		}
	}
	used := map[string]bool{"a.pdf": true}
	for name, want := range map[string]string{
		"metadata-report.txt": "metadata-report (2).txt",
		"Contact.txt":         "Contact (2).txt",
		"Message-1.txt":       "Message-1 (2).txt",
		"A.pdf":               "A (2).pdf",
		"b.pdf":               "b.pdf",
	} {
		if got := unique(used, name); got != want {
			t.Errorf("unique(%q) = %q, want %q", name, got, want)
		}
	}
}
