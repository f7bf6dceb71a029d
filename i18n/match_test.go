package i18n_test

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pista-tips/pista/i18n"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name, accept, want string
	}{
		{"empty", "", i18n.Default},
		{"default language", "en", "en"},
		{"regional variant of the default", "en-GB,en;q=0.9", "en"},
		{"unknown language", "xx", i18n.Default},
		{"unknown languages only", "zz-ZZ, qq;q=0.5", i18n.Default},
		{"wildcard", "*", i18n.Default},
		{"garbage", ";;;,,,q=", i18n.Default},
		{"bad quality", "en;q=2", i18n.Default},
		{"very long header", strings.Repeat("en-US;q=0.5,", 1000), "en"},
	}
	// Every available language is found by its tag, by a regional variant
	// and as a second choice after one we do not have.
	for _, tag := range i18n.Tags() {
		tests = append(tests,
			struct{ name, accept, want string }{"tag " + tag, tag, tag},
			struct{ name, accept, want string }{"regional " + tag, tag + "-XX;q=1", tag},
			struct{ name, accept, want string }{"second choice " + tag, "de, " + tag + ";q=0.8", tag},
			struct{ name, accept, want string }{"lower quality first " + tag, "de;q=0.2, " + tag + ";q=0.8", tag},
			struct{ name, accept, want string }{"after a tag x/text does not know " + tag, "xx, " + tag + ";q=0.8", tag},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := i18n.Match(tt.accept)
			if got == nil {
				t.Fatalf("Match(%.60q) = nil", tt.accept)
			}
			if got.Tag != tt.want {
				t.Errorf("Match(%.60q) = %q, want %q", tt.accept, got.Tag, tt.want)
			}
		})
	}
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name, url, accept, want string
		chosen                  bool
	}{
		{"nothing", "/", "", i18n.Default, false},
		{"?lang= of the default", "/?lang=en", "", "en", true},
		{"unknown ?lang= falls back to the header", "/?lang=xx", "en", "en", false},
		{"?lang= with odd characters", "/?lang=%3Cscript%3E", "", i18n.Default, false},
	}
	for _, tag := range i18n.Tags() {
		tests = append(tests, struct {
			name, url, accept, want string
			chosen                  bool
		}{"?lang=" + tag + " wins over the header", "/?lang=" + tag, "xx, en", tag, true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.url, nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			l, chosen := i18n.FromRequest(r)
			if l.Tag != tt.want || chosen != tt.chosen {
				t.Errorf("FromRequest = %q, %v; want %q, %v", l.Tag, chosen, tt.want, tt.chosen)
			}
		})
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{
		"", "en", "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5", "ar", "es-419", "*", "x-private",
		"en;q=0.1;q=0.2", "zh-Hant-TW-u-ca-buddhist", strings.Repeat("a-", 300), "\xff\xfe", "en;q=1e9",
		"i-klingon", "sgn-BE-FR", "en-US-x-twain",
	} {
		f.Add(s)
	}
	tags := i18n.Tags()
	f.Fuzz(func(t *testing.T, accept string) {
		l := i18n.Match(accept)
		if l == nil {
			t.Fatalf("Match(%q) = nil", accept)
		}
		if !slices.Contains(tags, l.Tag) {
			t.Fatalf("Match(%q) = %q, not an available language", accept, l.Tag)
		}
		if got, ok := i18n.Get(l.Tag); !ok || got != l {
			t.Fatalf("Match(%q) returned a locale Get does not know", accept)
		}
		if l.Dir != "ltr" && l.Dir != "rtl" {
			t.Fatalf("Match(%q) = %q with direction %q", accept, l.Tag, l.Dir)
		}
	})
}
