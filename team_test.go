package pista

import "testing"

func TestValidTag(t *testing.T) {
	for _, ok := range []string{"mayor", "budget-2026", "port_authority", "عاجل", "économie", "a", "3d", "naïve"} {
		if !ValidTag(ok) {
			t.Errorf("ValidTag(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"", "Mayor", "two words", "-lead", "_x", "a,b", "x\x00", "\xff", "thirty-three-characters-long-tag!",
		"abcdefghijabcdefghijabcdefghijabc", "<b>", "tag\n"} {
		if ValidTag(bad) {
			t.Errorf("ValidTag(%q) = true, want false", bad)
		}
	}
}

func FuzzValidTag(f *testing.F) {
	f.Add("mayor")
	f.Add("عاجل")
	f.Fuzz(func(t *testing.T, s string) {
		if ValidTag(s) && (len([]rune(s)) > 32 || s == "") {
			t.Fatalf("ValidTag(%q) accepted a tag of %d runes", s, len([]rune(s)))
		}
	})
}
