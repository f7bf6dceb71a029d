package smtp_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/smtp"
)

// TestEmailScrubsAttachments mails a phone's photo to two desks over a
// real socket: the photo each desk decrypts has no GPS position left
// (exiftool's view), its report says the e-mail intake removed it on
// arrival and that the sender was not asked; a file of a format the
// scrubber does not know is stored as sent, and said so. The photo waits
// for the scrubber only encrypted: nothing of it reaches the disk in the
// clear.
func TestEmailScrubsAttachments(t *testing.T) {
	photo := pistatest.GPSJPEG(t)
	if len(pistatest.ExifGPS(t, photo, ".jpg")) == 0 {
		t.Fatal("the test photo has no GPS position (the test is broken)")
	}
	e := newEnv(t)
	addr := serve(t, smtp.NewServer(e.config()))
	// What must not reach the disk in the clear: a stretch of the photo's
	// bytes (its compressed picture, which scrubbing keeps) and the notes.
	e.markers = append(e.markers, photo[len(photo)-200:len(photo)-100])
	notes := e.mark("NOTES-" + token() + " from the harbour")
	msg := crlf(fmt.Sprintf(`From: Jane <jane@example.net>
To: americas@%[1]s, tips@%[1]s
Subject: photos of the berth
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

The containers land at berth 7.
--b1
Content-Type: image/jpeg
Content-Disposition: attachment; filename="berth7.jpg"
Content-Transfer-Encoding: base64

%[2]s--b1
Content-Type: application/x-notes
Content-Disposition: attachment; filename="notes.xyz"

%[3]s
--b1--
`, domain, b64(photo), notes))
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
		if len(c.files) != 2 {
			t.Fatalf("desk %s: %d files, want the photo and the notes", slug, len(c.files))
		}
		for i, f := range c.files {
			rep := c.scrubs[i]
			if rep == nil || rep.By != pista.ScrubByEmail || rep.Choice != pista.ScrubChoiceNotAsked {
				t.Errorf("desk %s, %s: report %+v, want by the e-mail intake, the sender not asked", slug, f.Name, rep)
				continue
			}
			switch f.Name {
			case "berth7.jpg":
				if gps := pistatest.ExifGPS(t, f.Data, ".jpg"); len(gps) > 0 {
					t.Errorf("desk %s: exiftool finds GPS tags in the photo: %v", slug, gps)
				}
				if !rep.Scrubbed || rep.Format != "JPEG" || !strings.Contains(strings.Join(rep.Found, ","), "GPS") {
					t.Errorf("desk %s: the photo's report %+v, want JPEG scrubbed, GPS found", slug, rep)
				}
				if bytes.Equal(f.Data, photo) {
					t.Errorf("desk %s: the photo was stored as sent", slug)
				}
			case "notes.xyz":
				if rep.Scrubbed || !strings.Contains(rep.Note, "format not known") {
					t.Errorf("desk %s: the notes' report %+v, want stored as sent, format not known", slug, rep)
				}
				if strings.TrimSpace(string(f.Data)) != notes {
					t.Errorf("desk %s: the notes were changed: %q", slug, f.Data)
				}
			default:
				t.Errorf("desk %s: a file %q", slug, f.Name)
			}
		}
	}
	e.scan(t)
	if tmp := e.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
