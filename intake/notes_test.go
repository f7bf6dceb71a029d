package intake

import (
	"bytes"
	"os"
	"strconv"
	"testing"
)

// TestNotesMatchTheBrowser: the source page's script writes the same
// notes in its scrub reports as the server, and the inbox tells why a
// file was not scrubbed by them: a note changed on one side only would
// show a journalist the wrong reason.
func TestNotesMatchTheBrowser(t *testing.T) {
	js, err := os.ReadFile("../web/js/src/scrub/scrub.js")
	if err != nil {
		t.Fatal(err)
	}
	for name, note := range map[string]string{
		"unknown": NoteUnknownFormat, "unreadable": NoteUnreadable, "tooComplex": NoteTooComplex,
		"kept": NoteKept, "notLoaded": NoteNotLoaded, "tooLarge": NoteTooLarge,
	} {
		if want := name + ": " + strconv.Quote(note); !bytes.Contains(js, []byte(want)) {
			t.Errorf("scrub.js lacks %s", want)
		}
	}
}
