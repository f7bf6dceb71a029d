package pulled

import (
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameBytes keeps names within what every common file system takes.
const maxNameBytes = 200

// windowsReserved are names Windows will not create, whatever extension.
var windowsReserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true, "COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true, "LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// SafeName turns a file name a source's browser sent into one that is safe
// to create on the journalist's computer: no directories, no control or
// bidirectional-override characters (which can disguise "exe.pdf" as
// "fdp.exe"), no leading dots or dashes, nothing Windows refuses, at most
// maxNameBytes bytes with its extension kept. It returns fallback if
// nothing is left.
func SafeName(name, fallback string) string {
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "_")
	}
	// Browsers on Windows may send a whole path.
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r), r == '\u200b', r == '\ufeff':
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.TrimSpace(b.String())
	s = strings.TrimLeft(s, ".- ")
	s = strings.TrimRight(s, ". ")
	if len(s) > maxNameBytes {
		ext := filepath.Ext(s)
		if len(ext) > 20 || !utf8.ValidString(ext) {
			ext = ""
		}
		base := s[:maxNameBytes-len(ext)]
		for len(base) > 0 && !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		s = base + ext
	}
	stem, _, _ := strings.Cut(s, ".")
	if s == "" || windowsReserved[strings.ToUpper(strings.TrimSpace(stem))] {
		return fallback
	}
	return s
}
