package smtp_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/smtp"
)

// leaf is a non-multipart entity of a stored e-mail, decoded.
type leaf struct {
	header message.Header
	body   []byte
}

// leaves reads an e-mail with go-message, as a mail client would, and
// returns its non-multipart entities, decoded from their transfer
// encodings.
func leaves(t testing.TB, eml []byte) []leaf {
	t.Helper()
	e, err := message.Read(bytes.NewReader(eml))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("the stored e-mail cannot be read: %v", err)
	}
	var out []leaf
	var walk func(e *message.Entity)
	walk = func(e *message.Entity) {
		if mr := e.MultipartReader(); mr != nil {
			for {
				p, err := mr.NextPart()
				if err == io.EOF {
					return
				} else if err != nil && !message.IsUnknownCharset(err) {
					t.Fatalf("the stored e-mail's parts cannot be read: %v", err)
				}
				walk(p)
			}
		}
		b, err := io.ReadAll(e.Body)
		if err != nil {
			t.Fatalf("a part of the stored e-mail cannot be decoded: %v", err)
		}
		out = append(out, leaf{e.Header, b})
	}
	walk(e)
	return out
}

// checkCopy fails unless eml is the evidence copy of msg: marked at the
// top, every header field of msg as received (a top-level file's Content-*
// fields renamed), readable as MIME, with removed parts, each naming
// its file, and none of files' bytes.
func checkCopy(t testing.TB, slug string, eml, msg []byte, files []file, removed int) {
	t.Helper()
	if !bytes.HasPrefix(eml, []byte("X-Pista-Evidence: attachments-replaced;")) {
		t.Errorf("desk %s: the stored e-mail is not marked as a copy: %q", slug, shorten(eml))
		return
	}
	head, _, ok := bytes.Cut(msg, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("desk %s: the sent mail has no header (the test is broken)", slug)
	}
	for _, line := range bytes.SplitAfter(head, []byte("\r\n")) {
		if !bytes.Contains(eml, line) {
			t.Errorf("desk %s: the copy lost the header line %q", slug, line)
		}
	}
	if n := bytes.Count(eml, []byte("\nX-Pista-Removed: ")); n != removed {
		t.Errorf("desk %s: %d parts replaced in the copy, want %d", slug, n, removed)
	}
	for _, f := range files {
		if len(f.Data) >= 16 && bytes.Contains(eml, f.Data) {
			t.Errorf("desk %s: the copy holds the bytes of %s", slug, f.Name)
		}
		if enc := b64(f.Data); len(enc) >= 40 && bytes.Contains(eml, []byte(enc[:40])) {
			t.Errorf("desk %s: the copy holds the base64 of %s", slug, f.Name)
		}
	}
	got := 0
	for _, l := range leaves(t, eml) {
		if l.header.Get("X-Pista-Removed") == "" {
			continue
		}
		got++
		if mt, _, _ := l.header.ContentType(); mt != "text/plain" {
			t.Errorf("desk %s: a replaced part is %s, want text/plain", slug, mt)
		}
		if !bytes.Contains(l.body, []byte("[pista: ")) {
			t.Errorf("desk %s: a replaced part says %q", slug, l.body)
		}
	}
	if got != removed {
		t.Errorf("desk %s: go-message reads %d replaced parts, want %d", slug, got, removed)
	}
}

// TestEmailEvidenceWithoutMetadata mails a phone's photo, signed and
// authenticated on its way, to two desks over a real socket: the e-mail
// item each desk decrypts keeps every header field as received (Received,
// DKIM-Signature, Authentication-Results…) and the text and HTML parts to
// the byte, is marked as a copy, and has no GPS position anywhere:
// exiftool finds none in any of its parts nor in the whole, and no stretch
// of the photo is in it. The replaced part names the file item and what
// was removed from it.
func TestEmailEvidenceWithoutMetadata(t *testing.T) {
	photo := pistatest.GPSJPEG(t)
	if len(pistatest.ExifGPS(t, photo, ".jpg")) == 0 {
		t.Fatal("the test photo has no GPS position (the test is broken)")
	}
	e := newEnv(t)
	addr := serve(t, smtp.NewServer(e.config()))
	e.markers = append(e.markers, photo[len(photo)-200:len(photo)-100])
	body := e.mark("The containers land at berth 7, " + token())
	html := "<p>" + body + " <b>tonight</b></p>"
	head := crlf(fmt.Sprintf(`Received: from mx.example.net (mx.example.net [192.0.2.7])
	by relay.example.org with ESMTPS id 4Zq; Sun, 6 Dec 2026 10:00:00 +0000
Authentication-Results: relay.example.org;
	dkim=pass header.d=example.net header.s=s1;
	spf=pass smtp.mailfrom=example.net
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=s1;
	h=from:to:subject:date; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;
	b=dGhpcyBpcyBub3QgYSByZWFsIHNpZ25hdHVyZQ==
From: Jane <jane@example.net>
To: americas@%[1]s, tips@%[1]s
Subject: photos of the berth
Date: Sun, 6 Dec 2026 10:00:00 +0000
Message-ID: <berth7@example.net>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"
`, domain))
	alternative := crlf(fmt.Sprintf(`Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

%s=20
--alt
Content-Type: text/html; charset=utf-8

%s
--alt--`, body, html))
	msg := append(head, crlf(`
This is a multi-part message in MIME format.
--b1
`)...)
	msg = append(msg, alternative...)
	msg = append(msg, crlf(`
--b1
Content-Type: image/jpeg; name="berth7.jpg"
Content-Disposition: attachment; filename="berth7.jpg"
Content-Transfer-Encoding: base64

`+b64(photo)+`--b1--
`)...)
	before := e.snapshot()
	if s := send(t, addr, mailOpts{}, "jane@example.net", []string{"americas@" + domain, "tips@" + domain}, msg); s.err != nil {
		t.Fatalf("the mail was refused at %s: %v", s.stage, s.err)
	}
	convs := e.newConversations(t, before)
	for _, slug := range []string{"americas", "maghreb"} {
		if len(convs[slug]) != 1 {
			t.Fatalf("desk %s has %d new conversations, want 1", slug, len(convs[slug]))
		}
		c := convs[slug][0]
		eml := c.email
		checkCopy(t, slug, eml, msg, []file{{Name: "berth7.jpg", Data: photo}}, 1)
		// The header as received, whole and in order, after the mark.
		if _, rest, _ := bytes.Cut(eml, []byte("\r\n")); !bytes.HasPrefix(skipFolded(rest), head) {
			t.Errorf("desk %s: the copy's header is not the one received:\n%s", slug, shorten(rest))
		}
		// The text and HTML parts, to the byte.
		if !bytes.Contains(eml, alternative) {
			t.Errorf("desk %s: the copy lost the text parts as received", slug)
		}
		// No stretch of the photo, in any encoding.
		for i := 0; i+32 <= len(photo); i += 16 {
			if bytes.Contains(eml, photo[i:i+32]) {
				t.Fatalf("desk %s: the copy holds the photo's bytes at %d", slug, i)
			}
		}
		if gps := pistatest.ExifGPS(t, eml, ".eml"); len(gps) > 0 {
			t.Errorf("desk %s: exiftool finds GPS tags in the e-mail: %v", slug, gps)
		}
		var sawText, sawHTML, sawNote bool
		for i, l := range leaves(t, eml) {
			mt, _, _ := l.header.ContentType()
			if gps := pistatest.ExifGPS(t, l.body, ".bin"); len(gps) > 0 {
				t.Errorf("desk %s: exiftool finds GPS tags in part %d (%s): %v", slug, i, mt, gps)
			}
			switch {
			case l.header.Get("X-Pista-Removed") != "":
				sawNote = true
				removed := l.header.Get("X-Pista-Removed")
				if !strings.Contains(removed, "file=1") || !strings.Contains(removed, "berth7.jpg") {
					t.Errorf("desk %s: X-Pista-Removed %q, want file 1, berth7.jpg", slug, removed)
				}
				if ct := l.header.Get("X-Pista-Original-Content-Type"); ct != `image/jpeg; name="berth7.jpg"` {
					t.Errorf("desk %s: the original Content-Type kept as %q", slug, ct)
				}
				note := string(l.body)
				for _, want := range []string{`"berth7.jpg"`, "attachment 1", "GPS", "removed"} {
					if !strings.Contains(note, want) {
						t.Errorf("desk %s: the note does not say %q: %q", slug, want, note)
					}
				}
			case mt == "text/plain":
				sawText = strings.TrimSpace(string(l.body)) == body
			case mt == "text/html":
				sawHTML = strings.TrimSpace(string(l.body)) == html
			}
		}
		if !sawText || !sawHTML || !sawNote {
			t.Errorf("desk %s: text %v, HTML %v, note %v: want all three", slug, sawText, sawHTML, sawNote)
		}
		// The file item itself is still there, scrubbed.
		if len(c.files) != 1 || len(pistatest.ExifGPS(t, c.files[0].Data, ".jpg")) > 0 {
			t.Errorf("desk %s: files %d, want the photo without GPS", slug, len(c.files))
		}
	}
	e.scan(t)
	if tmp := e.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}

	// A signed mail whose only attachment is its signature is stored as
	// received, to the byte: the signature is extracted too.
	signed := crlf(`From: Jane <jane@example.net>
Subject: signed
MIME-Version: 1.0
Content-Type: multipart/signed; micalg=pgp-sha256; protocol="application/pgp-signature"; boundary="s"

This is an OpenPGP/MIME signed message (RFC 4880 and 3156)
--s
Content-Type: text/plain; charset=utf-8

` + e.mark("Signed words "+token()) + `
--s
Content-Type: application/pgp-signature; name="signature.asc"
Content-Disposition: attachment; filename="signature.asc"

-----BEGIN PGP SIGNATURE-----

iHUEARYIAB0WIQQAAAAAAAAAAAAAAAAAAAAAAAAAAAUCZ3N0AAAKCRAAAAAAAAAAAA
=abcd
-----END PGP SIGNATURE-----

--s--
`)
	before = e.snapshot()
	if s := send(t, addr, mailOpts{}, "jane@example.net", []string{"americas@" + domain}, signed); s.err != nil {
		t.Fatalf("the signed mail was refused at %s: %v", s.stage, s.err)
	}
	convs = e.newConversations(t, before)
	if len(convs["americas"]) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs["americas"]))
	}
	if c := convs["americas"][0]; !bytes.Equal(c.email, signed) || len(c.files) != 1 || c.files[0].Name != "signature.asc" {
		t.Errorf("the signed mail: %d files, e-mail as received %v; want its signature as a file and the e-mail to the byte:\n%s",
			len(c.files), bytes.Equal(c.email, signed), c.email)
	}

	// A mail without attachments is stored as received, to the byte, and
	// costs no second object: its message, contact and e-mail are the only
	// objects written (a fourth would fail).
	cfg := e.config()
	cfg.Blobs = newBlobStore(e.st.Blobs, 3)
	addr = serve(t, smtp.NewServer(cfg))
	plain := append(bytes.Clone(head[:bytes.Index(head, []byte("MIME-Version"))]),
		crlf("MIME-Version: 1.0\n")...)
	plain = append(plain, alternative[:bytes.Index(alternative, []byte("\r\n"))+2]...)
	plain = append(plain, crlf("\nThe preamble.\n")...)
	plain = append(plain, alternative[bytes.Index(alternative, []byte("\r\n"))+2:]...)
	plain = append(plain, crlf("\nthe epilogue\n")...)
	before = e.snapshot()
	if s := send(t, addr, mailOpts{}, "jane@example.net", []string{"americas@" + domain}, plain); s.err != nil {
		t.Fatalf("the mail without attachments was refused at %s: %v", s.stage, s.err)
	}
	convs = e.newConversations(t, before)
	if len(convs["americas"]) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs["americas"]))
	}
	if got := convs["americas"][0].email; !bytes.Equal(got, plain) {
		t.Errorf("the mail without attachments was not stored as received:\n%q\nwant\n%q", got, plain)
	}
	e.scan(t)
}

// skipFolded skips the continuation lines of a folded field at the start
// of b (the rest of the X-Pista-Evidence field).
func skipFolded(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		_, b, _ = bytes.Cut(b, []byte("\r\n"))
	}
	return b
}
