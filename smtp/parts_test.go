package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

func TestHTMLText(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"paragraphs", "<p>One</p><p>Two</p>", "One\n\nTwo"},
		{"whitespace", "<p>  many \n\t spaces   here </p>", "many spaces here"},
		{"inline tags", "Hello <b>bold</b><i>italic</i> end", "Hello bolditalic end"},
		{"br", "a<br>b<br/><br>c", "a\nb\n\nc"},
		{"skipped", "<head><title>T</title><style>p{}</style></head><script>alert(1)</script>text<template>no</template>", "text"},
		{"entities", "<p>a &amp; b &lt;c&gt; &eacute;</p>", "a & b <c> é"},
		{"link", `<a href="https://example.com/x">the doc</a>.`, "the doc <https://example.com/x>."},
		{"link showing its address", `<a href="https://example.com/x">https://example.com/x</a>`, "https://example.com/x"},
		{"mailto", `<a href="mailto:a@b.c">a@b.c</a> or <a href="mailto:d@e.f">write</a>`, "a@b.c or write <mailto:d@e.f>"},
		{"javascript link", `<a href="javascript:x()">click</a>`, "click"},
		{"list", "<ul><li>one</li><li>two</li></ul>after", "• one\n• two\n\nafter"},
		{"table", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"pre", "<p>x</p><pre>  keep\n    this</pre>y", "x\n\n  keep\n    this\n\ny"},
		{"broken", "<p>unclosed <b>tags <div>and <<< garbage", "unclosed tags\nand <<< garbage"},
		{"empty", "", ""},
		{"only markup", "<html><body></body></html>", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := htmlText([]byte(c.in)); got != c.want {
				t.Errorf("htmlText(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestHeaderGuard(t *testing.T) {
	fields := func(n int) string { return strings.Repeat("X-A: b\r\n", n) }
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"a normal header", "From: a\r\nSubject: b\r\n folded\r\n\r\nbody\r\n", true},
		{"fields at the limit", fields(maxHeaderFields) + "\r\nbody", true},
		{"too many fields", fields(maxHeaderFields+1) + "\r\nbody", false},
		{"blocks apart", fields(maxHeaderFields) + "\r\n" + fields(maxHeaderFields) + "\r\n", true},
		{"a body line ends a block", fields(maxHeaderFields) + "not a field\r\n" + fields(maxHeaderFields), true},
		{"continuations count in bytes", "X: " + strings.Repeat(" "+strings.Repeat("y", 998)+"\r\n", maxHeaderBytes/1000+1), false},
		{"base64 lines are no fields", strings.Repeat(strings.Repeat("QUJD", 19)+"\r\n", 100_000), true},
		{"bare LF", strings.Repeat("X-A: b\n", maxHeaderFields+1), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &failure{cancel: func() {}}
			_, err := io.Copy(io.Discard, &headerGuard{r: strings.NewReader(c.in), fail: f})
			if c.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.ok && (!errors.Is(err, errHeaderTooLarge) || !errors.Is(f.get(), errHeaderTooLarge)) {
				t.Errorf("got %v (recorded %v), want errHeaderTooLarge", err, f.get())
			}
		})
	}
}

func TestContact(t *testing.T) {
	header := func(s string) mail.Header {
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(s + "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		return mail.Header{Header: message.Header{Header: h}}
	}
	cases := []struct {
		name, header, envelope, subject, want string
	}{
		{"name and address", "From: Ana Pérez <ana@example.net>\r\n", "bounce@example.net", "Hola",
			"From: Ana Pérez <ana@example.net>\nReply: mailto:ana@example.net?subject=Re%3A%20Hola\n"},
		{"already a reply", "From: ana@example.net\r\n", "", "RE: Hola",
			"From: ana@example.net\nReply: mailto:ana@example.net?subject=RE%3A%20Hola\n"},
		{"reply-to", "From: a@example.net\r\nReply-To: \"B\" <b@example.net>\r\n", "", "",
			"From: a@example.net\nReply-To: B <b@example.net>\nReply: mailto:b@example.net\n"},
		{"no from", "Subject: x\r\n", "env@example.net", "x",
			"From: env@example.net\nReply: mailto:env@example.net?subject=Re%3A%20x\n"},
		{"nothing", "Subject: x\r\n", "", "x", ""},
		{"unparsable from", "From: =?UTF-8?B?2KPYrdmF2K8=?= at home\r\n", "", "",
			"From: أحمد at home\n"},
		{"special characters", "From: <a+b?c@example.net>\r\n", "", "¿Qué? & más",
			"From: a+b?c@example.net\nReply: mailto:a+b%3Fc@example.net?subject=Re%3A%20%C2%BFQu%C3%A9%3F%20%26%20m%C3%A1s\n"},
		{"a newline in an encoded name", "From: =?UTF-8?Q?Evil=0AReply:_mailto:x@y?= <a@example.net>\r\n", "", "",
			"From: Evil Reply: mailto:x@y <a@example.net>\n"},
		{"unparsable from, an envelope", "From: someone at home\r\n", "env@example.net", "",
			"From: someone at home\nReply: mailto:env@example.net\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := contact(header(c.header), c.envelope, c.subject); got != c.want {
				t.Errorf("got\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	inner := errors.New("database is locked")
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("desk address %q: %w", "Fuente.Secreta", inner), "database is locked"},
		{fmt.Errorf("lookup: %w", errors.New("no fuente.secreta here")), "no … here"},
		{errors.New("no Fuente.Secreta here"), "no … here"},
	} {
		if got := redact(c.err, "Fuente.Secreta"); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestPickAlternative(t *testing.T) {
	html, plain := text{s: "from html"}, text{s: "plain", plain: true}
	if got := pickAlternative([]text{html, plain}); got != plain {
		t.Errorf("got %q, want the plain text", got.s)
	}
	if got := pickAlternative([]text{html}); got != html {
		t.Errorf("got %q, want the HTML's text", got.s)
	}
	if got := pickAlternative(nil); got.s != "" {
		t.Errorf("got %q from nothing", got.s)
	}
}

func TestLimiter(t *testing.T) {
	lim := defaultLimits
	lim.peerMessages, lim.peerWindow, lim.peerConns, lim.conns, lim.peers = 3, 30*time.Second, 2, 3, 4
	l := newLimiter(lim)
	now := time.Unix(1_000_000, 0)
	l.now = func() time.Time { return now }
	tcp := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 25} }

	a, b := l.keyOf(tcp("192.0.2.1")), l.keyOf(tcp("192.0.2.2"))
	if a == b {
		t.Fatal("two addresses share a key")
	}
	if l.keyOf(tcp("::ffff:192.0.2.1")) != a {
		t.Error("an IPv4-mapped address has another key than its IPv4 address")
	}
	if l.keyOf(tcp("2001:db8:1:2::1")) != l.keyOf(tcp("2001:db8:1:2:ffff::9")) {
		t.Error("one IPv6 /64 has two keys")
	}
	if l.keyOf(tcp("2001:db8:1:2::1")) == l.keyOf(tcp("2001:db8:1:3::1")) {
		t.Error("two IPv6 /64s share a key")
	}
	if newLimiter(lim).keyOf(tcp("192.0.2.1")) == a {
		t.Error("two limiters give one address the same key: the key is not random")
	}

	t.Run("messages", func(t *testing.T) {
		for i := range 3 {
			if err := l.message(a); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
		}
		if err := l.message(a); err != errPeerRate {
			t.Fatalf("4th message: got %v, want errPeerRate", err)
		}
		if err := l.message(b); err != nil {
			t.Fatalf("another peer: %v", err)
		}
		now = now.Add(10 * time.Second) // one token back
		if err := l.message(a); err != nil {
			t.Fatalf("after 10 s: %v", err)
		}
		if err := l.message(a); err != errPeerRate {
			t.Fatalf("again after 10 s: got %v, want errPeerRate", err)
		}
	})

	t.Run("connections", func(t *testing.T) {
		if err := l.open(a); err != nil {
			t.Fatal(err)
		}
		if err := l.open(a); err != nil {
			t.Fatal(err)
		}
		if err := l.open(a); err != errPeerConns {
			t.Fatalf("3rd connection of a peer: got %v, want errPeerConns", err)
		}
		if err := l.open(b); err != nil {
			t.Fatal(err)
		}
		if err := l.open(l.keyOf(tcp("192.0.2.3"))); err != errBusy {
			t.Fatalf("4th connection in all: got %v, want errBusy", err)
		}
		l.close(a)
		l.close(a)
		l.close(b)
		if l.conns != 0 {
			t.Errorf("%d connections counted after all closed", l.conns)
		}
	})

	t.Run("forgetting peers", func(t *testing.T) {
		now = now.Add(time.Hour) // every bucket full again
		for i := range 10 {
			now = now.Add(time.Second) // sweeps run at most once a second
			k := l.keyOf(tcp("198.51.100." + string(rune('0'+i))))
			if err := l.open(k); err != nil {
				t.Fatalf("peer %d: %v", i, err)
			}
			l.close(k)
		}
		if len(l.peers) > lim.peers {
			t.Errorf("%d peers remembered, at most %d", len(l.peers), lim.peers)
		}
		// A peer whose bucket is not full is remembered, or its limit
		// would reset.
		for range 3 {
			l.message(a)
		}
		for i := range 10 {
			now = now.Add(time.Second)
			k := l.keyOf(tcp("203.0.113." + string(rune('0'+i))))
			l.open(k)
			l.close(k)
		}
		if _, ok := l.peers[a]; !ok {
			t.Error("a peer with a used bucket was forgotten")
		}
	})
}
