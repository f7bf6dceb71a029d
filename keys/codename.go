package keys

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"
	"unicode"
)

// CodenameDigits is the number of decimal digits in a codename: 10^28 is
// about 2^93, above the 90 bits a codename must carry.
const CodenameDigits = 28

// maxCodenameInput bounds what ParseCodename reads: 28 digits with generous
// separators fit well within it; anything longer is not a codename.
const maxCodenameInput = 200

// ErrMalformedCodename is returned for input that cannot be a codename.
var ErrMalformedCodename = errors.New("a codename is 28 digits")

var codenameSpace = new(big.Int).Exp(big.NewInt(10), big.NewInt(CodenameDigits), nil)

// Codename is a canonical codename: exactly CodenameDigits ASCII digits.
type Codename string

// NewCodename returns a fresh uniformly random codename.
func NewCodename() Codename {
	n, err := rand.Int(rand.Reader, codenameSpace)
	if err != nil {
		panic("keys: crypto/rand failed: " + err.Error())
	}
	s := n.String()
	return Codename(strings.Repeat("0", CodenameDigits-len(s)) + s)
}

// String writes the codename in groups of four digits for people.
func (c Codename) String() string {
	var b strings.Builder
	for i, r := range string(c) {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Groups returns the groups of four digits, for pages that lay them out.
func (c Codename) Groups() []string {
	var g []string
	for i := 0; i < len(c); i += 4 {
		g = append(g, string(c[i:min(i+4, len(c))]))
	}
	return g
}

// ParseCodename reads a codename as a source typed it: digits of any
// decimal script (ASCII, Arabic-Indic, Persian, full-width…), with spaces,
// dashes, dots and other separators between them ignored. It answers
// ErrMalformedCodename unless exactly CodenameDigits digits are found and
// nothing else but separators.
func ParseCodename(s string) (Codename, error) {
	if len(s) > maxCodenameInput {
		return "", ErrMalformedCodename
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r > unicode.MaxASCII && isDigitOfScript(r):
			d, _ := digitValue(r)
			b.WriteByte('0' + d)
		case unicode.IsSpace(r) || r == '-' || r == '.' || r == '_' || r == '/' || r == ',' ||
			r == '\u200e' || r == '\u200f' || r == '\u061c' || r == '\u2010' || r == '\u2011' ||
			r == '\u2012' || r == '\u2013' || r == '\u2014' || r == '\u2212' || r == '\u066b' || r == '\u066c':
			// separators, including bidi marks that right-to-left text
			// editors insert between groups of digits
		default:
			return "", ErrMalformedCodename
		}
		if b.Len() > CodenameDigits {
			return "", ErrMalformedCodename
		}
	}
	if b.Len() != CodenameDigits {
		return "", ErrMalformedCodename
	}
	return Codename(b.String()), nil
}

// digitZeros are the zeros of the decimal scripts a codename may be typed
// in besides ASCII: Arabic-Indic, Extended Arabic-Indic (Persian, Urdu) and
// full-width digits, each a run of ten code points.
var digitZeros = []rune{'\u0660', '\u06f0', '\uff10'}

// digitValue returns the value of a digit of one of digitZeros' scripts.
func digitValue(r rune) (byte, bool) {
	for _, z := range digitZeros {
		if r >= z && r <= z+9 {
			return byte(r - z), true
		}
	}
	return 0, false
}

func isDigitOfScript(r rune) bool { _, ok := digitValue(r); return ok }
