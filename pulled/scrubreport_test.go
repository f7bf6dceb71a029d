package pulled

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
)

// TestDescribeScrub: the line pista open's metadata report writes for a
// file says who scrubbed it and what the source chose, and says "chose
// to keep" only when the source did.
func TestDescribeScrub(t *testing.T) {
	tests := []struct {
		name string
		meta string // the file's decrypted name-and-type object's scrub field
		want string
	}{
		{"no report: an app or an older page", `null`, "not scrubbed by pista: encrypted on the source's device"},
		{"an older server report, without who", `{"format":"JPEG","scrubbed":true,"found":["EXIF","GPS position"]}`, "JPEG, metadata removed on arrival: EXIF, GPS position"},
		{"the server", `{"by":"server","choice":"scrub","format":"PNG","scrubbed":true}`, "PNG, checked on arrival: no metadata found"},
		{"the browser", `{"by":"browser","choice":"scrub","format":"JPEG","scrubbed":true,"found":["GPS position"]}`, "JPEG, metadata removed in the source's browser: GPS position"},
		{"pista submit", `{"by":"pista-submit","choice":"scrub","format":"PDF","scrubbed":true,"found":["PDF Info dictionary"]}`, "metadata removed by pista submit on the source's computer"},
		{"the e-mail intake", `{"by":"email-intake","choice":"not-asked","format":"JPEG","scrubbed":true,"found":["EXIF"]}`, "metadata removed by the e-mail intake on arrival: EXIF (the source was not asked)"},
		{"the source kept it, in the browser", `{"by":"browser","choice":"keep","scrubbed":false}`, "kept as sent: the source chose to keep its metadata"},
		{"the browser could not read it", `{"by":"browser","choice":"scrub","format":"PDF","scrubbed":false,"note":"the scrubber could not read this file: stored as sent"}`, "not scrubbed in the source's browser: the scrubber could not read this file"},
		{"the scrubber did not load in the browser", `{"by":"browser","choice":"scrub","scrubbed":false,"note":"the scrubber did not load; the source chose to send the file as it is"}`, "not scrubbed in the source's browser: the scrubber did not load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *pista.ScrubReport
			if err := json.Unmarshal([]byte(tt.meta), &r); err != nil {
				t.Fatal(err)
			}
			got := describeScrub(r)
			if !strings.Contains(got, tt.want) {
				t.Errorf("%s\nwant %q", got, tt.want)
			}
			if r == nil || r.Choice != pista.ScrubChoiceKeep {
				if strings.Contains(got, "chose to keep") {
					t.Errorf("says the source chose to keep the metadata: %s", got)
				}
			}
		})
	}
}
