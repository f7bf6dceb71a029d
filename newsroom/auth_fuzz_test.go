package newsroom

import (
	"encoding/base64"
	"testing"
)

// FuzzDecodeBytes checks the reader of the base64 fields of the login and
// settings forms (keys, salts, wrapped identities): it answers nil or
// bytes within its bounds that are exactly what the field encodes.
func FuzzDecodeBytes(f *testing.F) {
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 32)), 32, 32)
	f.Add("AAAA", 1, 16)
	f.Add("====", 0, 4)
	f.Add("", 0, 0)
	f.Fuzz(func(t *testing.T, s string, min, max int) {
		if min < 0 || max < min || max > 1<<16 {
			return
		}
		b := decodeBytes(s, min, max)
		if b == nil {
			return
		}
		if len(b) < min || len(b) > max {
			t.Fatalf("decodeBytes(%q, %d, %d) = %d bytes", s, min, max, len(b))
		}
		if got := base64.StdEncoding.EncodeToString(b); got != s {
			t.Fatalf("decodeBytes(%q) = bytes that encode as %q", s, got)
		}
	})
}
