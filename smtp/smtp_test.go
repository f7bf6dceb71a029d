package smtp_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"golang.org/x/text/encoding/charmap"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/smtp"
)

// crlf turns a message written with \n line ends into one with CRLF.
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

// b64 is data in base64 lines of 76 characters, as mailers write it.
func b64(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s + "\n")
	return b.String()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// latin1 is s in ISO-8859-1.
func latin1(s string) string {
	b, err := charmap.ISO8859_1.NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return b
}

// reply is the contact line that answers subject at addr.
func reply(addr, subject string) string {
	return "Reply: mailto:" + addr + "?subject=" + strings.ReplaceAll(url.QueryEscape("Re: "+subject), "+", "%20") + "\n"
}

// accepted is a mail that must be stored: what each desk must find.
type accepted struct {
	name string
	from string   // envelope sender
	to   []string // RCPT
	msg  []byte
	want map[string]wantConv // by desk slug
}

type wantConv struct {
	message string
	files   []file
	contact string
	// notKept: parts not extracted and replaced in the e-mail item, besides
	// files (see evidence.go).
	notKept int
}

func TestEmail(t *testing.T) {
	e := newEnv(t)
	s := smtp.NewServer(e.config())
	s.SetPeerLimits(1000, 10*time.Minute, 100) // every test mail comes from 127.0.0.1
	addr := serve(t, s)

	t.Run("deliveries", func(t *testing.T) {
		for _, c := range acceptedMails(e) {
			t.Run(c.name, func(t *testing.T) {
				before := e.snapshot()
				if r := send(t, addr, mailOpts{}, c.from, c.to, c.msg); r.stage != ok {
					t.Fatalf("refused at %s: %v", r.stage, r.err)
				}
				e.checkStored(t, before, c)
			})
		}
	})

	small := e.config()
	small.MaxMessageBytes = smallLimit
	smallAddr := serve(t, smtp.NewServer(small))
	t.Run("refusals", func(t *testing.T) {
		for _, c := range refusedMails(e) {
			t.Run(c.name, func(t *testing.T) {
				before := e.snapshot()
				to := addr
				if c.small {
					to = smallAddr
				}
				r := send(t, to, c.opts, c.from, c.to, c.msg)
				if r.stage != c.stage || r.code() != c.code {
					t.Errorf("got %q at %q (code %d), want code %d at %q", r.err, r.stage, r.code(), c.code, c.stage)
				}
				e.checkUnchanged(t, before)
			})
		}
	})

	t.Run("size advertised", func(t *testing.T) {
		for _, c := range []struct {
			addr string
			want int64
		}{{addr, smtp.DefaultMaxMessageBytes}, {smallAddr, smallLimit}} {
			cl, err := dialHello(c.addr)
			if err != nil {
				t.Fatal(err)
			}
			if n, ok := cl.MaxMessageSize(); !ok || int64(n) != c.want {
				t.Errorf("SIZE %d (%v), want %d", n, ok, c.want)
			}
			cl.Close()
		}
	})

	t.Run("chunking", func(t *testing.T) {
		tok := token()
		sender := e.mark("bdat-" + tok + "@example.net")
		subject := e.mark("In chunks " + tok)
		body := e.mark("Sent with BDAT " + tok)
		c := accepted{
			name: "chunking", from: sender, to: []string{"americas@" + domain},
			msg: crlf("From: " + sender + "\nSubject: " + subject + "\n\n" + body + "\n"),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tp := textproto.NewConn(conn)
		step := func(code int, format string, args ...any) {
			t.Helper()
			if format != "" {
				if err := tp.PrintfLine(format, args...); err != nil {
					t.Fatal(err)
				}
			}
			if _, msg, err := tp.ReadResponse(code); err != nil {
				t.Fatalf("%s: %v %s", fmt.Sprintf(format, args...), err, msg)
			}
		}
		before := e.snapshot()
		step(220, "")
		step(250, "EHLO client.example.net")
		step(250, "MAIL FROM:<%s>", sender)
		step(250, "RCPT TO:<americas@%s>", domain)
		half := len(c.msg) / 2
		fmt.Fprintf(tp.W, "BDAT %d\r\n%s", half, c.msg[:half])
		tp.W.Flush()
		step(250, "")
		fmt.Fprintf(tp.W, "BDAT %d LAST\r\n%s", len(c.msg)-half, c.msg[half:])
		tp.W.Flush()
		step(250, "")
		step(221, "QUIT")
		e.checkStored(t, before, c)
	})

	t.Run("starttls", func(t *testing.T) {
		if c, err := gosmtp.Dial(addr); err != nil {
			t.Fatal(err)
		} else {
			if err := c.Hello("client.example.net"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.Extension("STARTTLS"); ok {
				t.Error("STARTTLS offered without a TLS configuration")
			}
			c.Close()
		}
		serverTLS, clientTLS := selfSigned(t)
		cfg := e.config()
		cfg.TLS = serverTLS
		ts := smtp.NewServer(cfg)
		taddr := serve(t, ts)
		tok := token()
		subject := e.mark("Over TLS " + tok)
		body := e.mark("Sent over STARTTLS " + tok)
		sender := e.mark("tls-" + tok + "@example.net")
		c := accepted{
			name: "starttls", from: sender, to: []string{"americas@" + domain},
			msg: crlf("From: " + sender + "\nSubject: " + subject + "\n\n" + body + "\n"),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		}
		before := e.snapshot()
		if r := send(t, taddr, mailOpts{tls: clientTLS}, c.from, c.to, c.msg); r.stage != ok {
			t.Fatalf("refused at %s: %v", r.stage, r.err)
		}
		e.checkStored(t, before, c)

		// A client that cannot verify the certificate goes no further.
		bad := clientTLS.Clone()
		bad.RootCAs = nil
		before = e.snapshot()
		if r := send(t, taddr, mailOpts{tls: bad}, c.from, c.to, c.msg); r.stage == ok || !strings.Contains(fmt.Sprint(r.err), "certificate") {
			t.Errorf("an unverified certificate was accepted: stage %q, %v", r.stage, r.err)
		}
		e.checkUnchanged(t, before)
	})

	t.Run("rate limit", func(t *testing.T) {
		const n = 3
		rs := smtp.NewServer(e.config())
		rs.SetPeerLimits(n, 10*time.Minute, 2)
		raddr := serve(t, rs)
		mail := func() (string, []byte) {
			tok := token()
			sender := e.mark("rate-" + tok + "@example.net")
			return sender, crlf("From: " + sender + "\nSubject: " + e.mark("Rate "+tok) + "\n\n" + e.mark("Rate body "+tok) + "\n")
		}
		for i := range n {
			from, msg := mail()
			if r := send(t, raddr, mailOpts{}, from, []string{"americas@" + domain}, msg); r.stage != ok {
				t.Fatalf("mail %d of %d refused at %s: %v", i+1, n, r.stage, r.err)
			}
		}
		before := e.snapshot()
		from, msg := mail()
		r := send(t, raddr, mailOpts{}, from, []string{"americas@" + domain}, msg)
		if r.stage != atMail || r.code() != 451 {
			t.Errorf("mail %d: got %v at %q, want 451 at MAIL", n+1, r.err, r.stage)
		}
		e.checkUnchanged(t, before)

		// Two connections at once, not three.
		var open []*gosmtp.Client
		for range 2 {
			c, err := dialHello(raddr)
			if err != nil {
				t.Fatalf("connection refused under the limit: %v", err)
			}
			open = append(open, c)
		}
		if c, err := dialHello(raddr); err == nil {
			c.Close()
			t.Fatal("a third connection was accepted")
		} else if r := (sent{atDial, err}); r.code() != 421 {
			t.Errorf("third connection: got %v, want 421", err)
		}
		open[0].Close()
		// The server sees the hang-up when it reads next.
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := dialHello(raddr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no connection accepted after one closed: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		open[1].Close()
	})

	t.Run("messages per connection", func(t *testing.T) {
		c, err := gosmtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.example.net"); err != nil {
			t.Fatal(err)
		}
		tok := token()
		sender := e.mark("many-" + tok + "@example.net")
		msg := crlf("From: " + sender + "\nSubject: " + e.mark("Many "+tok) + "\n\n" + e.mark("One of many "+tok) + "\n")
		for i := range smtp.MaxMessagesPerConn {
			if r := sendOn(c, mailOpts{}, sender, []string{"americas@" + domain}, msg); r.stage != ok {
				t.Fatalf("mail %d refused at %s: %v", i+1, r.stage, r.err)
			}
		}
		r := sendOn(c, mailOpts{}, sender, []string{"americas@" + domain}, msg)
		if r.stage != atMail || r.code() != 421 {
			t.Errorf("mail %d on one connection: got %v at %q, want 421 at MAIL", smtp.MaxMessagesPerConn+1, r.err, r.stage)
		}
		if err := c.Noop(); err == nil {
			t.Error("the connection is still open after 421")
		}
	})

	t.Run("too many unknown recipients", func(t *testing.T) {
		c, err := gosmtp.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Hello("client.example.net"); err != nil {
			t.Fatal(err)
		}
		if err := c.Mail("probe@example.net", nil); err != nil {
			t.Fatal(err)
		}
		var last error
		for i := range 11 {
			last = c.Rcpt(fmt.Sprintf("guess%d@%s", i, domain), nil)
			if r := (sent{atRcpt, last}); i < 10 && r.code() != 550 {
				t.Errorf("unknown recipient %d: got %v, want 550", i+1, last)
			}
		}
		if r := (sent{atRcpt, last}); r.code() != 421 {
			t.Errorf("11th recipient after 10 unknown ones: got %v, want 421", last)
		}
		if err := c.Noop(); err == nil {
			t.Error("the connection is still open after 421")
		}
	})

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	e.scan(t)
}

// checkStored fails unless the mail c made, for each desk it names, one
// new e-mail conversation holding what c wants, and nothing else.
func (e *env) checkStored(t *testing.T, before state, c accepted) {
	t.Helper()
	got := e.newConversations(t, before)
	if len(got) != len(c.want) {
		t.Errorf("conversations in desks %v, want %d desks", slices.Collect(mapKeys(got)), len(c.want))
	}
	lookups := map[string]bool{}
	for slug, w := range c.want {
		cs := got[slug]
		if len(cs) != 1 {
			t.Errorf("desk %s: %d new conversations, want 1", slug, len(cs))
			continue
		}
		cv := cs[0]
		if cv.Channel != pista.ChannelEmail {
			t.Errorf("desk %s: channel %q", slug, cv.Channel)
		}
		if cv.source.Recipient != "" || len(cv.source.Lookup) != 32 || lookups[string(cv.source.Lookup)] {
			t.Errorf("desk %s: source %+v, want a random 32-byte lookup and no recipient", slug, cv.source)
		}
		lookups[string(cv.source.Lookup)] = true
		var want []pista.ItemKind
		if w.message != "" {
			want = append(want, pista.KindMessage)
		}
		for range w.files {
			want = append(want, pista.KindFile)
		}
		if w.contact != "" {
			want = append(want, pista.KindContact)
		}
		want = append(want, pista.KindEmail)
		if !slices.Equal(cv.kinds, want) {
			t.Errorf("desk %s: items %v, want %v", slug, cv.kinds, want)
		}
		if cv.message != w.message {
			t.Errorf("desk %s: message\n%q\nwant\n%q", slug, cv.message, w.message)
		}
		if cv.contact != w.contact {
			t.Errorf("desk %s: contact\n%q\nwant\n%q", slug, cv.contact, w.contact)
		}
		// As received, or (with an attachment) the copy without them.
		if removed := len(w.files) + w.notKept; removed > 0 {
			checkCopy(t, slug, cv.email, c.msg, w.files, removed)
		} else if !bytes.Equal(cv.email, c.msg) {
			t.Errorf("desk %s: the stored e-mail (%d bytes) is not the one sent (%d bytes)", slug, len(cv.email), len(c.msg))
		}
		if len(cv.files) != len(w.files) {
			t.Errorf("desk %s: %d files, want %d", slug, len(cv.files), len(w.files))
			continue
		}
		for i, f := range cv.files {
			wf := w.files[i]
			if f.Name != wf.Name || f.Type != wf.Type {
				t.Errorf("desk %s: file %d is %q (%s), want %q (%s)", slug, i, f.Name, f.Type, wf.Name, wf.Type)
			}
			if !bytes.Equal(f.Data, wf.Data) {
				t.Errorf("desk %s: file %q: %d bytes differ from the %d sent", slug, wf.Name, len(f.Data), len(wf.Data))
			}
		}
	}
	if tmp := e.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// acceptedMails are the mails that must be stored, their plaintext marked.
func acceptedMails(e *env) []accepted {
	var cs []accepted
	to := func(local string) []string { return []string{local + "@" + domain} }

	{ // plain text
		tok := token()
		sender := e.mark("fuente-" + tok + "@example.net")
		subject := e.mark("Plain tip " + tok)
		body := e.mark("The mayor's contract " + tok + " was signed twice.")
		cs = append(cs, accepted{
			name: "plain text", from: sender, to: to("americas"),
			msg: crlf("From: Fuente Uno <" + sender + ">\nTo: americas@" + domain + "\nSubject: " + subject +
				"\nDate: Mon, 2 Jun 2025 10:00:00 +0000\nMessage-ID: <" + tok + "@example.net>\n\n" + body + "\nSecond line.\n"),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + body + "\nSecond line.\n",
				contact: "From: Fuente Uno <" + sender + ">\n" + reply(sender, subject),
			}},
		})
	}

	{ // attachments: a PDF, a Latin-1 text file named in RFC 2231, an Arabic name in RFC 2047, an inline image without a name
		tok := token()
		sender := e.mark("docs-" + tok + "@example.net")
		subject := e.mark("Documents " + tok)
		body := e.mark("Three files attached " + tok + ".")
		pdf := append([]byte("%PDF-1.7\n"), randomBytes(3000)...)
		e.markers = append(e.markers, pdf[9:73])
		pdfName := e.mark("contrato-" + tok + ".pdf")
		txt := latin1(e.mark("Año de la firma: " + tok + ", mañana."))
		e.mark(txt)
		txtName := e.mark("año-" + tok + ".txt")
		arName := e.mark("وثيقة-" + tok + ".docx")
		doc := randomBytes(500)
		e.markers = append(e.markers, doc[:64])
		png := append([]byte("\x89PNG\r\n\x1a\n"), randomBytes(200)...)
		e.markers = append(e.markers, png[8:72])
		msg := "From: " + sender + "\nSubject: " + subject + "\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/mixed; boundary=\"outer-" + tok + "\"\n\n" +
			"This is a multi-part message in MIME format.\n" +
			"--outer-" + tok + "\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n" +
			"--outer-" + tok + "\nContent-Type: application/pdf; name=\"" + pdfName + "\"\nContent-Disposition: attachment; filename=\"" + pdfName + "\"\nContent-Transfer-Encoding: base64\n\n" + b64(pdf) +
			"--outer-" + tok + "\nContent-Type: text/plain; charset=iso-8859-1\nContent-Disposition: attachment;\n filename*=UTF-8''" + url.PathEscape(txtName) + "\nContent-Transfer-Encoding: quoted-printable\n\n" + qp(txt) + "\n" +
			"--outer-" + tok + "\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;\n name=\"" + mime.BEncoding.Encode("UTF-8", arName) + "\"\nContent-Disposition: attachment;\n filename=\"" + mime.BEncoding.Encode("UTF-8", arName) + "\"\nContent-Transfer-Encoding: base64\n\n" + b64(doc) +
			"--outer-" + tok + "\nContent-Type: image/png\nContent-ID: <img1@" + tok + ">\nContent-Disposition: inline\nContent-Transfer-Encoding: base64\n\n" + b64(png) +
			"--outer-" + tok + "--\nepilogue\n"
		cs = append(cs, accepted{
			name: "attachments", from: sender, to: to("americas"), msg: crlf(msg),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				files: []file{
					{pdfName, "application/pdf", pdf},
					{txtName, "text/plain", []byte(txt)},
					{arName, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", doc},
					{"part-6.png", "image/png", png},
				},
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // Arabic: RFC 2047 subject and name, base64 UTF-8 body, Reply-To
		tok := token()
		sender := e.mark("masdar-" + tok + "@example.net")
		replyTo := e.mark("rudud-" + tok + "@example.org")
		name := e.mark("مصدر موثوق " + tok)
		subject := e.mark("تسريب وثائق العقد " + tok)
		body := e.mark("هذه وثائق العقد الذي وقعه الوزير " + tok + ".\nالسطر الثاني.")
		cs = append(cs, accepted{
			name: "arabic", from: sender, to: to("maghreb"),
			msg: crlf("From: " + mime.BEncoding.Encode("UTF-8", name) + " <" + sender + ">\nReply-To: " + replyTo +
				"\nSubject: " + e.mark(mime.BEncoding.Encode("UTF-8", subject)) +
				"\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n" +
				e.mark(b64([]byte(body)))),
			want: map[string]wantConv{"maghreb": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				contact: "From: " + name + " <" + sender + ">\nReply-To: " + replyTo + "\n" + reply(replyTo, subject),
			}},
		})
	}

	{ // Spanish in ISO-8859-1: Q-encoded subject, quoted-printable body
		tok := token()
		sender := e.mark("fuente-es-" + tok + "@example.es")
		subject := e.mark("Información sobre el alcalde " + tok)
		body := e.mark("El señor alcalde firmó el contrato " + tok + ".\nAño 2024, mañana, pingüino.")
		e.mark(latin1(body))
		cs = append(cs, accepted{
			name: "spanish latin-1", from: sender, to: to("americas"),
			msg: crlf("From: =?ISO-8859-1?Q?Jos=E9_Mu=F1oz?= <" + sender + ">\nSubject: " + mime.QEncoding.Encode("ISO-8859-1", latin1(subject)) +
				"\nMIME-Version: 1.0\nContent-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n" +
				qp(latin1(body)) + "\n"),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				contact: "From: José Muñoz <" + sender + ">\n" + reply(sender, subject),
			}},
		})
	}

	{ // Spanish in UTF-8: Q-encoded subject, base64 body, no From (the envelope stands in)
		tok := token()
		sender := e.mark("sobre-" + tok + "@example.es")
		subject := e.mark("Contratación irregular " + tok)
		body := e.mark("La licitación número " + tok + " se adjudicó sin concurso.")
		cs = append(cs, accepted{
			name: "spanish utf-8 without from", from: sender, to: to("americas"),
			msg: crlf("Subject: " + mime.QEncoding.Encode("UTF-8", subject) +
				"\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n" + b64([]byte(body))),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // HTML only
		tok := token()
		sender := e.mark("html-" + tok + "@example.net")
		subject := e.mark("HTML " + tok)
		html := `<html><head><title>Ignored title</title><style>p { color: red }</style>
<script>alert("x")</script></head>
<body><p>Hello <b>journalist</b> ` + e.mark("html body "+tok) + `,</p>
<p>See <a href="https://example.com/doc">the document</a> &amp; more.</p>
<ul><li>one</li><li>two</li></ul></body></html>
`
		cs = append(cs, accepted{
			name: "html only", from: sender, to: to("americas"),
			msg: crlf("From: " + sender + "\nSubject: " + subject +
				"\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + qp(html) + "\n"),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\nHello journalist html body " + tok + ",\n\nSee the document <https://example.com/doc> & more.\n\n• one\n• two\n",
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // an alternative: the plain text is kept, the HTML only in the e-mail
		tok := token()
		sender := e.mark("alt-" + tok + "@example.net")
		subject := e.mark("Alternative " + tok)
		plain := e.mark("The plain version " + tok)
		msg := "From: " + sender + "\nSubject: " + subject + "\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=b" + tok + "\n\n" +
			"--b" + tok + "\nContent-Type: text/plain; charset=utf-8\n\n" + plain + "\n" +
			"--b" + tok + "\nContent-Type: text/html; charset=utf-8\n\n<p>" + e.mark("The HTML version "+tok) + "</p>\n" +
			"--b" + tok + "--\n"
		cs = append(cs, accepted{
			name: "alternative", from: sender, to: to("americas"), msg: crlf(msg),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\n" + plain + "\n",
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // a 10 MB attachment
		tok := token()
		sender := e.mark("big-" + tok + "@example.net")
		subject := e.mark("Large file " + tok)
		data := randomBytes(10 << 20)
		e.markers = append(e.markers, data[:64], data[len(data)/2:len(data)/2+64], data[len(data)-64:])
		enc := b64(data)
		e.markers = append(e.markers, []byte(enc[:76]))
		name := e.mark("dump-" + tok + ".bin")
		msg := "From: " + sender + "\nSubject: " + subject + "\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B" + tok + "\n\n" +
			"--B" + tok + "\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=" + name + "\nContent-Transfer-Encoding: base64\n\n" + enc +
			"--B" + tok + "--\n"
		cs = append(cs, accepted{
			name: "10 MB attachment", from: sender, to: to("americas"), msg: crlf(msg),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n",
				files:   []file{{name, "application/octet-stream", data}},
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // an alias, the domain in capitals
		tok := token()
		sender := e.mark("alias-" + tok + "@example.net")
		subject := e.mark("To the alias " + tok)
		body := e.mark("Sent to tips@ " + tok)
		cs = append(cs, accepted{
			name: "alias", from: sender, to: []string{"Tips@MAIL.Example.ORG"},
			msg: crlf("From: " + sender + "\nSubject: " + subject + "\n\n" + body + "\n"),
			want: map[string]wantConv{"maghreb": {
				message: "Subject: " + subject + "\n\n" + body + "\n",
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // two desks (one of them twice, by its slug and its alias), with a file
		tok := token()
		sender := e.mark("both-" + tok + "@example.net")
		subject := e.mark("For both desks " + tok)
		body := e.mark("Both desks should see " + tok)
		data := randomBytes(100 << 10)
		e.markers = append(e.markers, data[:64])
		name := e.mark("shared-" + tok + ".zip")
		msg := "From: " + sender + "\nSubject: " + subject + "\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=X" + tok + "\n\n" +
			"--X" + tok + "\n\n" + body + "\n" +
			"--X" + tok + "\nContent-Type: application/zip; name=" + name + "\nContent-Transfer-Encoding: base64\n\n" + b64(data) +
			"--X" + tok + "--\n"
		w := wantConv{
			message: "Subject: " + subject + "\n\n" + body + "\n",
			files:   []file{{name, "application/zip", data}},
			contact: "From: " + sender + "\n" + reply(sender, subject),
		}
		cs = append(cs, accepted{
			name: "two desks", from: sender, to: []string{"americas@" + domain, "maghreb@" + domain, "tips@" + domain},
			msg: crlf(msg), want: map[string]wantConv{"americas": w, "maghreb": w},
		})
	}

	{ // more parts than are extracted
		tok := token()
		sender := e.mark("parts-" + tok + "@example.net")
		subject := e.mark("Many parts " + tok)
		var b strings.Builder
		b.WriteString("From: " + sender + "\nSubject: " + subject + "\nContent-Type: multipart/mixed; boundary=P\n\n--P\n\n" + e.mark("Many parts body "+tok) + "\n")
		var files []file
		for i := range 104 {
			name := fmt.Sprintf("f%d.bin", i)
			data := []byte(fmt.Sprint("part ", i))
			b.WriteString("--P\nContent-Type: application/octet-stream; name=" + name + "\n\n" + string(data) + "\n")
			if i < 98 {
				files = append(files, file{name, "application/octet-stream", data})
			}
		}
		b.WriteString("--P--\n")
		cs = append(cs, accepted{
			name: "too many parts", from: sender, to: to("americas"), msg: crlf(b.String()),
			want: map[string]wantConv{"americas": {
				message: "Subject: " + subject + "\n\nMany parts body " + tok +
					"\n\n[pista: 6 parts of this e-mail were not extracted (past 100 parts, or nested deeper than 10); of them, the e-mail attached keeps only the texts past the 100th part: files, and anything nested too deep, could not have their metadata removed.]\n",
				files:   files,
				notKept: 6,
				contact: "From: " + sender + "\n" + reply(sender, subject),
			}},
		})
	}

	{ // nested deeper than extracted
		tok := token()
		sender := e.mark("deep-" + tok + "@example.net")
		var b strings.Builder
		b.WriteString("From: " + sender + "\n")
		for i := range 12 {
			fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=d%d\n\n--d%d\n", i, i)
		}
		b.WriteString("\n" + e.mark("Too deep "+tok) + "\n")
		for i := 11; i >= 0; i-- {
			fmt.Fprintf(&b, "--d%d--\n", i)
		}
		cs = append(cs, accepted{
			name: "nested too deep", from: sender, to: to("americas"), msg: crlf(b.String()),
			want: map[string]wantConv{"americas": {
				message: "[pista: 1 part of this e-mail was not extracted (past 100 parts, or nested deeper than 10); of them, the e-mail attached keeps only the texts past the 100th part: files, and anything nested too deep, could not have their metadata removed.]\n",
				notKept: 1,
				contact: "From: " + sender + "\nReply: mailto:" + sender + "\n",
			}},
		})
	}

	{ // a text longer than a message item holds
		tok := token()
		sender := e.mark("long-" + tok + "@example.net")
		head := e.mark("Long text " + tok + "\n")
		var b strings.Builder
		b.WriteString(head)
		for b.Len() < 4<<20+100 {
			b.WriteString("0123456789abcde\n")
		}
		tail := e.mark("beyond the cut " + tok)
		body := b.String() + tail
		cs = append(cs, accepted{
			name: "text cut", from: sender, to: to("americas"),
			msg: crlf("From: " + sender + "\nContent-Transfer-Encoding: base64\n\n" + b64([]byte(body))),
			want: map[string]wantConv{"americas": {
				message: strings.TrimRight(body[:4<<20], "\n") + "\n\n[pista: this text was cut at 4 MiB; the whole e-mail as received is attached.]\n",
				contact: "From: " + sender + "\nReply: mailto:" + sender + "\n",
			}},
		})
	}

	{ // only a file, no text, no subject, a null envelope sender
		tok := token()
		data := randomBytes(1000)
		e.markers = append(e.markers, data[:64])
		sender := e.mark("nosubject-" + tok + "@example.net")
		msg := "From: <" + sender + ">\nMIME-Version: 1.0\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n" + b64(data)
		cs = append(cs, accepted{
			name: "only a file", from: "", to: to("americas"), msg: crlf(msg),
			want: map[string]wantConv{"americas": {
				files:   []file{{"part-1.pdf", "application/pdf", data}},
				contact: "From: " + sender + "\nReply: mailto:" + sender + "\n",
			}},
		})
	}
	return cs
}

// qp is s in quoted-printable.
func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return strings.ReplaceAll(b.String(), "\r\n", "\n")
}

// refused is a mail that must be refused, leaving nothing behind.
type refused struct {
	name  string
	opts  mailOpts
	from  string
	to    []string
	msg   []byte
	stage stage
	code  int
	small bool // sent to a server whose limit is smallLimit
}

// smallLimit is the size limit of a server that tests a message over it
// without sending 32 MiB.
const smallLimit = 1 << 20

func refusedMails(e *env) []refused {
	var cs []refused
	malformed := func(name, msg string) {
		tok := token()
		sender := e.mark("bad-" + tok + "@example.net")
		msg = strings.ReplaceAll(msg, "TOKEN", tok)
		e.mark("Broken " + tok)
		cs = append(cs, refused{
			name: name, from: sender, to: []string{"americas@" + domain},
			msg: crlf(strings.ReplaceAll(msg, "SENDER", sender)), stage: atEnd, code: 554,
		})
	}
	malformed("malformed: no blank line after the header",
		"From: SENDER\nSubject: Broken TOKEN\nThis line is the body, not a header\n")
	malformed("malformed: no header",
		"\nBroken TOKEN, a body without a header\n")
	malformed("malformed: multipart cut short",
		"From: SENDER\nSubject: Broken TOKEN\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nBroken TOKEN text\n--zz\nContent-Type: application/pdf\n\nthe rest never came\n")
	malformed("malformed: multipart without boundary",
		"From: SENDER\nSubject: Broken TOKEN\nContent-Type: multipart/mixed\n\nBroken TOKEN\n")
	malformed("malformed: multipart without parts",
		"From: SENDER\nSubject: Broken TOKEN\nContent-Type: multipart/mixed; boundary=zz\n\nBroken TOKEN, no boundary line anywhere\n")
	malformed("malformed: bad base64",
		"From: SENDER\nSubject: Broken TOKEN\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\nBroken TOKEN text\n--zz\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjcK!!!not base64***\n--zz--\n")
	malformed("malformed: unknown transfer encoding",
		"From: SENDER\nSubject: Broken TOKEN\nContent-Transfer-Encoding: x-martian\n\nBroken TOKEN\n")
	malformed("malformed: header line starting with a space",
		" From: SENDER\nSubject: Broken TOKEN\n\nBroken TOKEN\n")

	plain := func() (string, []byte) {
		tok := token()
		sender := e.mark("refused-" + tok + "@example.net")
		return sender, crlf("From: " + sender + "\nSubject: " + e.mark("Refused "+tok) + "\n\n" + e.mark("Refused body "+tok) + "\n")
	}
	{
		from, msg := plain()
		cs = append(cs, refused{name: "unknown recipient", from: from, to: []string{"nobody@" + domain}, msg: msg, stage: atRcpt, code: 550})
	}
	{
		from, msg := plain()
		cs = append(cs, refused{name: "other domain", from: from, to: []string{"americas@example.com"}, msg: msg, stage: atRcpt, code: 550})
	}
	{
		from, msg := plain()
		cs = append(cs, refused{name: "unknown after a desk", from: from, to: []string{"americas@" + domain, "europe@" + domain}, msg: msg, stage: atRcpt, code: 550})
	}
	{
		tok := token()
		sender := e.mark("huge-" + tok + "@example.net")
		var b strings.Builder
		b.WriteString("From: " + sender + "\nSubject: " + e.mark("Huge "+tok) + "\nContent-Type: multipart/mixed; boundary=H\n\n--H\n\n" +
			e.mark("Huge body "+tok) + "\n--H\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
		data := randomBytes(smallLimit)
		e.markers = append(e.markers, data[:64])
		b.WriteString(b64(data) + "--H--\n")
		cs = append(cs, refused{name: "oversized", from: sender, to: []string{"americas@" + domain}, msg: crlf(b.String()), stage: atEnd, code: 552, small: true})
	}
	{
		tok := token()
		sender := e.mark("long-" + tok + "@example.net")
		msg := crlf("From: " + sender + "\nSubject: " + e.mark("Long line "+tok) + "\n\n" + e.mark("Long line body "+tok) + strings.Repeat("z", 3000) + "\n")
		cs = append(cs, refused{name: "line too long", from: sender, to: []string{"americas@" + domain}, msg: msg, stage: atEnd, code: 500})
	}
	{
		from, msg := plain()
		cs = append(cs, refused{name: "oversized, declared", opts: mailOpts{size: smtp.DefaultMaxMessageBytes + 1}, from: from, to: []string{"americas@" + domain}, msg: msg, stage: atMail, code: 552})
	}
	{
		tok := token()
		sender := e.mark("fields-" + tok + "@example.net")
		var b strings.Builder
		b.WriteString("From: " + sender + "\nSubject: " + e.mark("Many fields "+tok) + "\n")
		for i := range 12_000 {
			fmt.Fprintf(&b, "X-F%d: v\n", i)
		}
		b.WriteString("\n" + e.mark("Body after many fields "+tok) + "\n")
		cs = append(cs, refused{name: "header too large", from: sender, to: []string{"americas@" + domain}, msg: crlf(b.String()), stage: atEnd, code: 552})
	}
	return cs
}
