// Package ui renders pista's pages: html/template files embedded in the
// binary and parsed at start-up, one set per page, each with the shared
// layout; and the style sheet. Every text goes through the page's locale
// (package i18n), so that a page in any language is the same template.
package ui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/pista-tips/pista/i18n"
)

//go:embed templates
var templateFS embed.FS

//go:generate go run gzip_static.go

// staticFS holds the gzipped files only; the plain ones beside them in
// ui/static are what they are made from.
//
//go:embed static/*.gz
var staticFS embed.FS

// Page is what every template gets.
type Page struct {
	L        *i18n.Locale
	Lang     string // the ?lang= the visitor chose, "" if none
	CSRF     string
	Newsroom string
	Path     string // the page's path, for the language switcher
	Title    string // message key of the page title
	Intro    string // the newsroom's own words for the landing page, if any
	ExitURL  string // where the "leave quickly" link of source pages goes; "" for none
	// Private marks a source page that the browser's history should not
	// name: it gets the landing page's title, and a script replaces its
	// history entry with the landing page's address.
	Private bool
	Data    any
	// Nav is the journalist's menu on newsroom pages; nil when no one is
	// logged in.
	Nav *NewsroomNav
}

// NewsroomNav is what a logged-in journalist's menu links to.
type NewsroomNav struct {
	Name  string
	Admin bool
	Desks []NavDesk
}

// NavDesk is one of the journalist's desks in the menu.
type NavDesk struct{ Slug, Title string }

// Q returns the query string that keeps the visitor's language in links
// and form actions: "?lang=fr", or "" when it came from Accept-Language.
func (p *Page) Q() string {
	if p.Lang == "" {
		return ""
	}
	return "?lang=" + url.QueryEscape(p.Lang)
}

// InNewsroom reports whether the page is one of the journalists' pages,
// which load the newsroom script and expose their CSRF token to it.
func (p *Page) InNewsroom() bool { return strings.HasPrefix(p.Path, "/newsroom/") }

// Locales lists the languages for the switcher.
func (p *Page) Locales() []*i18n.Locale { return i18n.Locales() }

// LangURL is the current page in another language.
func (p *Page) LangURL(tag string) string { return p.Path + "?lang=" + url.QueryEscape(tag) }

// Renderer holds the parsed templates.
type Renderer struct {
	pages map[string]*template.Template
	log   *slog.Logger
}

var funcs = template.FuncMap{
	"size": HumanSize,
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"add":  func(a, b int) int { return a + b },
	// arabicDigits writes ASCII digits as Arabic-Indic ones, for the
	// codename on Arabic pages (ParseCodename reads both back).
	"arabicDigits": func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return '\u0660' + r - '0'
			}
			return r
		}, s)
	},
}

// NewRenderer parses every page template with the layout.
func NewRenderer(log *slog.Logger) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, log: log}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "templates/layout.html" {
			return err
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, p)
		if err != nil {
			return err
		}
		r.pages[strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")] = t
		return nil
	})
	return r, err
}

// Render writes page name with status. It renders into a buffer first, so
// a template error becomes a clean 500 rather than half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p *Page) {
	t, ok := r.pages[name]
	if !ok {
		panic("ui: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		r.log.Error("rendering page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ErrorData is the Data of the error page.
type ErrorData struct {
	Status  int
	Message string // message key
	Back    string // where the "go back" link points
	Max     int    // fills the message's {max}, if it has one
}

// Error renders the error page in the visitor's language: what went wrong
// and what to do, never a Go error string.
func (r *Renderer) Error(w http.ResponseWriter, p *Page, status int, msgKey, back string) {
	p.Title = "error.title"
	p.Data = ErrorData{Status: status, Message: msgKey, Back: back}
	r.Render(w, status, "error", p)
}

// ErrorMax is Error for a message that names a limit, {max}.
func (r *Renderer) ErrorMax(w http.ResponseWriter, p *Page, status int, msgKey, back string, max int) {
	p.Title = "error.title"
	p.Data = ErrorData{Status: status, Message: msgKey, Back: back, Max: max}
	r.Render(w, status, "error", p)
}

// Static serves the style sheet and the scripts; nothing else, and no
// listing of the folder. Every file is embedded gzipped (at gzip's best
// level, by gzip_static.go and, for the scrubber's WebAssembly, by
// cmd/scrubwasm/build.sh) and sent as it is to browsers that take gzip,
// unpacked on the fly for the others: every page is sent no-store, so a
// slow Tor circuit fetches the script again on each visit, and gzip makes
// it a third of its size. Nothing is compressed at start, which would cost
// memory and time for files that many sources (Tor Browser at its Safest
// level runs no script) never fetch. (Only these fixed files are
// compressed, never a page with a token in it, which compression could
// leak.)
func Static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, "/static/")
		if !ok || name == "" || strings.Contains(name, "/") || strings.HasSuffix(name, ".gz") {
			http.NotFound(w, r)
			return
		}
		f, err := sub.Open(name + ".gz")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		w.Header().Add("Vary", "Accept-Encoding")
		servePrecompressed(w, r, f)
	})
}

// servePrecompressed sends the gzipped file f as it is to browsers that
// take gzip, and unpacked to the others, typed by the request's name.
func servePrecompressed(w http.ResponseWriter, r *http.Request, f fs.File) {
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(r.URL.Path)))
	if acceptsGzip(r) {
		if st, err := f.Stat(); err == nil {
			w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
		}
		w.Header().Set("Content-Encoding", "gzip")
		io.Copy(w, f)
		return
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		http.Error(w, "bad compressed file", http.StatusInternalServerError)
		return
	}
	io.Copy(w, zr)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// HumanSize writes a byte count for people: 1.4 MB.
func HumanSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// Pages lists the names of every page, for tests.
func (r *Renderer) Pages() []string {
	var ns []string
	for n := range r.pages {
		ns = append(ns, n)
	}
	return ns
}

// NewPage starts the Page of a request: its language (package i18n) and
// path, the newsroom's name and the page title's message key.
func NewPage(r *http.Request, newsroom, title string) *Page {
	l, chosen := i18n.FromRequest(r)
	p := &Page{L: l, Newsroom: newsroom, Path: r.URL.Path, Title: title}
	if chosen {
		p.Lang = l.Tag
	}
	return p
}

// LangQuery carries a visitor's ?lang= choice over a redirect: "?lang=fr",
// or "" when the request named no language we have.
func LangQuery(r *http.Request) string {
	if l, ok := i18n.Get(r.URL.Query().Get("lang")); ok {
		return "?lang=" + l.Tag
	}
	return ""
}

// WithLang adds the visitor's ?lang= choice to a local URL that may
// already have a query.
func WithLang(r *http.Request, u string) string {
	q := LangQuery(r)
	if q == "" {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&" + q[1:]
	}
	return u + q
}
