package smtp

import (
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-message/mail"
)

// headerText is a header field decoded from RFC 2047 (or its raw value
// if a charset is unknown), on one line.
func headerText(h mail.Header, key string) string {
	return oneLine(decodeWords(h.Get(key)), maxHeaderTextBytes)
}

// oneLine is s as valid UTF-8 on one line, without control characters,
// trimmed and cut to at most n bytes.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	return truncate(strings.TrimSpace(s), n)
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// contact is the conversation's contact item: who sent the mail and how
// to answer it from a mail client, or "" if nothing says.
//
//	From: Name <addr>
//	Reply-To: Other <addr2>
//	Reply: mailto:addr2?subject=Re%3A%20Subject
//
// The From header says who; the envelope sender stands in for it if there
// is none, and for its address if it has none that parses. Replies go to
// Reply-To if the mail has one.
func contact(h mail.Header, envelope, subject string) string {
	envelope = oneLine(envelope, maxHeaderTextBytes)
	from, fromAddr := addressLine(h, "From")
	if from == "" {
		from = envelope
	}
	if fromAddr == "" {
		fromAddr = envelope
	}
	replyTo, replyAddr := addressLine(h, "Reply-To")
	if replyAddr == "" {
		replyAddr = fromAddr
	}
	var b strings.Builder
	if from != "" {
		b.WriteString("From: " + from + "\n")
	}
	if replyTo != "" {
		b.WriteString("Reply-To: " + replyTo + "\n")
	}
	if replyAddr != "" {
		b.WriteString("Reply: " + mailto(replyAddr, subject) + "\n")
	}
	return b.String()
}

// addressLine is an address header as a person reads it, and its first
// address; for a header that does not parse, its decoded text and no
// address.
func addressLine(h mail.Header, key string) (line, first string) {
	addrs, err := addressList(h.Header, key)
	if err != nil || len(addrs) == 0 {
		return headerText(h, key), ""
	}
	var parts []string
	for _, a := range addrs {
		addr := oneLine(a.Address, maxHeaderTextBytes)
		if name := oneLine(a.Name, maxHeaderTextBytes); name != "" {
			parts = append(parts, name+" <"+addr+">")
		} else {
			parts = append(parts, addr)
		}
	}
	return truncate(strings.Join(parts, ", "), maxHeaderTextBytes), oneLine(addrs[0].Address, maxHeaderTextBytes)
}

// mailto is a mailto: URI (RFC 6068) that answers subject.
func mailto(addr, subject string) string {
	u := "mailto:" + url.PathEscape(addr)
	if subject == "" {
		return u
	}
	if !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	return u + "?subject=" + strings.ReplaceAll(url.QueryEscape(subject), "+", "%20")
}

// headerGuard bounds the header blocks of a raw message before go-message
// reads them: a header block (a line "name:" and the lines that follow it
// that are other fields or continuations) may have at most maxHeaderFields
// fields and maxHeaderBytes bytes. It looks at every line of the message,
// bodies too, without knowing which are headers; a body rarely has
// thousands of consecutive "name:" lines, and base64 never does.
type headerGuard struct {
	r    io.Reader
	fail *failure

	state  int
	block  bool
	fields int
	bytes  int
}

const (
	lineStart = iota // at the start of a line
	lineName         // in what may be a field name
	lineField        // in a field line (after "name:")
	lineCont         // in a continuation line
	lineOther        // in any other line
)

func (g *headerGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	for _, c := range p[:n] {
		switch g.state {
		case lineStart:
			switch {
			case c == ' ' || c == '\t':
				g.state = lineCont
			case c > ' ' && c < 0x7f && c != ':':
				g.state = lineName
			default: // a blank line, or one that cannot be a field
				g.state, g.block = lineOther, false
			}
		case lineName:
			if c == ':' {
				g.state = lineField
				if !g.block {
					g.block, g.fields, g.bytes = true, 0, 0
				}
				g.fields++
			} else if c <= ' ' || c >= 0x7f {
				g.state, g.block = lineOther, false
			}
		}
		if c == '\n' {
			g.state = lineStart
		}
		if g.block {
			g.bytes++
			if g.fields > maxHeaderFields || g.bytes > maxHeaderBytes {
				g.fail.set(errHeaderTooLarge)
				return 0, errHeaderTooLarge
			}
		}
	}
	return n, err
}
