package smtp

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlText is the readable text of an HTML body: what a mail client shows,
// as plain text. Scripts, styles, templates and the title are skipped; block
// elements end lines and paragraphs; a link's address follows its text
// when the text does not show it.
func htmlText(b []byte) string {
	z := html.NewTokenizer(bytes.NewReader(b))
	var w textWriter
	var skip atom.Atom // inside this raw-text element
	pre := 0
	href, linkStart := "", -1
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF, or a tokenizer error: the text so far is all there is.
			return cleanText(w.String())
		case html.TextToken:
			if skip == 0 {
				w.text(string(z.Text()), pre > 0)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Template, atom.Title:
				if tt == html.StartTagToken {
					skip = a
				}
			case atom.Br:
				w.newline()
			case atom.Li:
				w.lineBreak()
				w.WriteString("• ")
				w.space = false
			case atom.Pre:
				w.paragraph()
				pre++
			case atom.Td, atom.Th:
				w.space = true
			case atom.A:
				href, linkStart = "", w.Len()
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						href = string(v)
					}
				}
			default:
				w.block(a)
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case skip:
				skip = 0
			case atom.Pre:
				pre = max(0, pre-1)
				w.paragraph()
			case atom.A:
				if linkStart >= 0 && showHref(href) {
					target := strings.TrimPrefix(href, "mailto:")
					if !strings.Contains(w.String()[linkStart:], target) {
						w.text(" <"+href+">", false)
					}
				}
				href, linkStart = "", -1
			default:
				w.block(a)
			}
		}
	}
}

// showHref reports whether a link's address is worth keeping in the text.
func showHref(href string) bool {
	h := strings.ToLower(href)
	return strings.HasPrefix(h, "http://") || strings.HasPrefix(h, "https://") || strings.HasPrefix(h, "mailto:")
}

// textWriter writes text with HTML's whitespace rules: runs of spaces
// collapse into one, and at most one blank line separates paragraphs.
type textWriter struct {
	strings.Builder
	space    bool // a space is due before the next text
	newlines int  // newlines at the end of what is written
}

func (w *textWriter) text(s string, pre bool) {
	if s == "" {
		return
	}
	if pre {
		w.WriteString(s)
		w.newlines = len(s) - len(strings.TrimRight(s, "\n"))
		w.space = false
		return
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	w.space = w.space || unicode.IsSpace(first)
	for _, f := range strings.Fields(s) {
		if w.space && w.Len() > 0 && w.newlines == 0 {
			w.WriteByte(' ')
		}
		w.WriteString(f)
		w.space, w.newlines = true, 0
	}
	w.space = unicode.IsSpace(last)
}

// newline ends a line (<br>), keeping at most one blank line.
func (w *textWriter) newline() {
	if w.newlines < 2 {
		w.WriteByte('\n')
		w.newlines++
	}
	w.space = false
}

// lineBreak starts a new line unless at the start of one.
func (w *textWriter) lineBreak() {
	if w.Len() > 0 && w.newlines == 0 {
		w.newline()
	}
	w.space = false
}

// paragraph leaves a blank line before what follows.
func (w *textWriter) paragraph() {
	if w.Len() == 0 {
		return
	}
	for w.newlines < 2 {
		w.newline()
	}
}

// block breaks the text around a block element.
func (w *textWriter) block(a atom.Atom) {
	switch a {
	case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Blockquote, atom.Table, atom.Ul, atom.Ol, atom.Dl, atom.Hr, atom.Figure:
		w.paragraph()
	case atom.Div, atom.Tr, atom.Dt, atom.Dd, atom.Section, atom.Article,
		atom.Header, atom.Footer, atom.Address, atom.Center, atom.Form, atom.Main, atom.Nav, atom.Aside:
		w.lineBreak()
	}
}
