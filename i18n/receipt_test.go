package i18n_test

import (
	"strings"
	"testing"

	"github.com/pista-tips/pista/i18n"
)

// TestReceiptNamesTheDeskOnce: a desk's title may say "desk" itself (the
// demo's is "Demo desk"), so the receipt must not add the word after it.
func TestReceiptNamesTheDeskOnce(t *testing.T) {
	for _, l := range i18n.Locales() {
		msg := l.T("receipt.sent", "desk", "TITLE")
		i := strings.Index(msg, "TITLE")
		if i < 0 {
			t.Errorf("%s: receipt.sent %q does not name the desk", l.Tag, msg)
			continue
		}
		// What follows the title is punctuation, not a word.
		after := strings.TrimLeft(msg[i+len("TITLE"):], " ")
		if r := []rune(after); len(r) > 0 && !strings.ContainsRune(",.:;)،", r[0]) {
			t.Errorf("%s: receipt.sent %q puts a word after the desk's title", l.Tag, msg)
		}
	}
	if got := mustGet(t, "en").T("receipt.sent", "desk", "Demo desk"); strings.Contains(got, "desk desk") {
		t.Errorf("en: %q", got)
	}
}

func mustGet(t *testing.T, tag string) *i18n.Locale {
	t.Helper()
	l, ok := i18n.Get(tag)
	if !ok {
		t.Fatalf("no locale %s", tag)
	}
	return l
}
