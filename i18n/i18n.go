// Package i18n holds the texts of every page, one message file per
// language (messages/en.json, …), so that translators edit JSON and never
// Go. Every string a page shows goes through Locale.T.
//
// A visitor's language comes from the page's ?lang= parameter first (links
// and forms carry it, so no cookie is needed) and from Accept-Language only
// as a first guess.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"

	"golang.org/x/text/language"
)

//go:embed messages/*.json
var files embed.FS

// Default is the language of a visitor who asks for none we have.
const Default = "en"

// Locale is one language's messages.
type Locale struct {
	Tag  string // "en", "es", "fr", "ar"
	Name string // the language's own name for itself
	Dir  string // "ltr" or "rtl"
	msgs map[string]string
}

// file is the format of a message file. "_meta" carries the language's
// own name and direction.
type file struct {
	Meta struct {
		Name string `json:"name"`
		Dir  string `json:"dir"`
	} `json:"_meta"`
	Messages map[string]string `json:"messages"`
}

var (
	locales = map[string]*Locale{}
	tags    []string
	matcher language.Matcher
	// matchOrder is the tags in the matcher's order: its answers index it.
	matchOrder []string
)

func init() {
	entries, err := files.ReadDir("messages")
	if err != nil {
		panic(err)
	}
	var langs []language.Tag
	// A language's messages may be split over several files: <tag>.json,
	// which holds _meta, and <tag>.<part>.json (en.newsroom.json…), so that
	// each part of the product keeps its own texts. A key in two files of
	// one language is a mistake, caught here.
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".json")
		tag, part, _ := strings.Cut(name, ".")
		b, err := files.ReadFile(path.Join("messages", e.Name()))
		if err != nil {
			panic(err)
		}
		var f file
		if err := json.Unmarshal(b, &f); err != nil {
			panic(fmt.Sprintf("i18n: %s: %v", e.Name(), err))
		}
		l := locales[tag]
		if l == nil {
			l = &Locale{Tag: tag, msgs: map[string]string{}}
			locales[tag] = l
			tags = append(tags, tag)
		}
		if part == "" {
			l.Name = f.Meta.Name
			l.Dir = f.Meta.Dir
		}
		for k, v := range f.Messages {
			if _, dup := l.msgs[k]; dup {
				panic(fmt.Sprintf("i18n: %s: key %q is already in another file of %s", e.Name(), k, tag))
			}
			l.msgs[k] = v
		}
	}
	for _, l := range locales {
		if l.Dir != "rtl" {
			l.Dir = "ltr"
		}
	}
	sort.Strings(tags)
	// The default language goes first: the matcher falls back to it.
	matchOrder = append(matchOrder, Default)
	for _, t := range tags {
		if t != Default {
			matchOrder = append(matchOrder, t)
		}
	}
	for _, t := range matchOrder {
		langs = append(langs, language.Make(t))
	}
	matcher = language.NewMatcher(langs)
}

// Tags lists the available languages.
func Tags() []string { return append([]string(nil), tags...) }

// Locales lists the available languages' locales, by tag.
func Locales() []*Locale {
	var ls []*Locale
	for _, t := range tags {
		ls = append(ls, locales[t])
	}
	return ls
}

// Get returns the locale of tag, and whether there is one.
func Get(tag string) (*Locale, bool) {
	l, ok := locales[tag]
	return l, ok
}

// maxAcceptLanguage bounds the header we parse.
const maxAcceptLanguage = 512

// FromRequest picks the visitor's language: ?lang= if it names one we
// have, else the best match of Accept-Language, else Default. The second
// result reports whether ?lang= chose it, so links can keep carrying it.
func FromRequest(r *http.Request) (*Locale, bool) {
	if l, ok := locales[r.URL.Query().Get("lang")]; ok {
		return l, true
	}
	return Match(r.Header.Get("Accept-Language")), false
}

// Match returns the best locale for an Accept-Language header. Entries
// that do not parse are skipped, not allowed to spoil the others.
func Match(accept string) *Locale {
	if len(accept) > maxAcceptLanguage {
		accept = accept[:maxAcceptLanguage]
	}
	type pref struct {
		tag language.Tag
		q   float32
	}
	var ps []pref
	for _, entry := range strings.Split(accept, ",") {
		ts, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil {
			continue
		}
		for i := range ts {
			ps = append(ps, pref{ts[i], qs[i]})
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].q > ps[j].q })
	var prefs []language.Tag
	for _, p := range ps {
		prefs = append(prefs, p.tag)
	}
	if len(prefs) == 0 {
		return locales[Default]
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		return locales[Default]
	}
	return locales[matchOrder[i]]
}

// T returns the message for key with {name} placeholders replaced by the
// pairs in args ("name", value, …). A missing key shows as [[key]], which
// tests look for, rather than as an empty space.
func (l *Locale) T(key string, args ...any) string {
	m, ok := l.msgs[key]
	if !ok {
		if d := locales[Default]; d != l {
			m, ok = d.msgs[key]
		}
		if !ok {
			return "[[" + key + "]]"
		}
	}
	if len(args) == 0 || !strings.Contains(m, "{") {
		return m
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(m)
}

// Has reports whether the locale itself defines key.
func (l *Locale) Has(key string) bool { _, ok := l.msgs[key]; return ok }

// Keys lists the keys the locale defines.
func (l *Locale) Keys() []string {
	var ks []string
	for k := range l.msgs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
