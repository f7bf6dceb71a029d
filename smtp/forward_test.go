package smtp_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/smtp"
)

// addIntakeKey stores d's intake key of day as a member's client makes it,
// and answers the stored key and its identity.
func (e *env) addIntakeKey(t *testing.T, d *desk, day int64) (pista.IntakeKey, *age.HybridIdentity) {
	t.Helper()
	return pistatest.AddIntakeKey(t, e.st.Tips, e.j.ID, d.Desk, d.id, day)
}

// opensWith reports whether the object key opens with id.
func (e *env) opensWith(t *testing.T, key string, id age.Identity) bool {
	t.Helper()
	rc, err := e.st.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("opening object: %v", err)
	}
	defer rc.Close()
	r, err := age.Decrypt(rc, id)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, r)
	return err == nil
}

// A mail to a desk with an intake key of the day and to one without,
// over a real SMTP connection: the first desk's items (message, file,
// contact, the e-mail itself) and preview open with its intake key and
// not with its key, marked sealing intake, received fs; the second's open
// with its key, received without forward secrecy.
func TestEmailUnderIntakeKey(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Clock = forward.Clock{Period: time.Hour}
	s := smtp.NewServer(cfg)
	addr := serve(t, s)
	americas, maghreb := e.desks["americas"], e.desks["maghreb"]
	key, intakeID := e.addIntakeKey(t, americas, cfg.Clock.Day(time.Now()))
	// maghreb's key is of yesterday: none today.
	_, maghrebOld := e.addIntakeKey(t, maghreb, cfg.Clock.Day(time.Now())-1)

	tok := token()
	data := bytes.Repeat([]byte("ledger "+tok), 1000)
	msg := "From: src-" + tok + "@example.net\nSubject: The port " + tok + "\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B" + tok + "\n\n" +
		"--B" + tok + "\nContent-Type: text/plain\n\nThe ledgers are forged " + tok + ".\n" +
		"--B" + tok + "\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=ledger.bin\nContent-Transfer-Encoding: base64\n\n" + b64(data) +
		"--B" + tok + "--\n"
	before := e.snapshot()
	if r := send(t, addr, mailOpts{}, "src-"+tok+"@example.net", []string{"americas@" + domain, "maghreb@" + domain}, crlf(msg)); r.stage != ok {
		t.Fatalf("refused at %s: %v", r.stage, r.err)
	}
	items, err := e.st.Tips.ItemsFor(context.Background(), e.j.ID, before.lastItem, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	convs := map[string]pista.Conversation{}
	for _, it := range items {
		c, err := e.st.Tips.ConversationFor(context.Background(), e.j.ID, it.ConversationID)
		if err != nil {
			t.Fatal(err)
		}
		convs[c.ID] = c
		seen[c.DeskID]++
		var want, other age.Identity
		sealing, intakeKey, received := pista.SealingDesk, int64(0), pista.ReceivedNoForward
		if c.DeskID == americas.ID {
			want, other = intakeID, americas.id
			sealing, intakeKey, received = pista.SealingIntake, key.ID, pista.ReceivedForward
		} else {
			want, other = maghreb.id, maghrebOld
		}
		if it.Sealing != sealing || it.IntakeKey != intakeKey || it.Received != received {
			t.Errorf("desk %d, %s item: sealing %q, intake key %d, received %q; want %q, %d, %q",
				c.DeskID, it.Kind, it.Sealing, it.IntakeKey, it.Received, sealing, intakeKey, received)
		}
		for _, k := range []string{it.Object, it.Meta} {
			if k == "" {
				continue
			}
			if !e.opensWith(t, k, want) || e.opensWith(t, k, other) {
				t.Errorf("desk %d, %s item: an object is not under the key it should be", c.DeskID, it.Kind)
			}
		}
	}
	if seen[americas.ID] < 4 || seen[maghreb.ID] < 4 {
		t.Fatalf("items by desk %v, want message, file, contact, e-mail for each", seen)
	}
	for _, c := range convs {
		wantIntake, id := int64(0), maghreb.id
		if c.DeskID == americas.ID {
			wantIntake, id = key.ID, intakeID
		}
		if c.PreviewIntake != wantIntake {
			t.Errorf("desk %d: preview under intake key %d, want %d", c.DeskID, c.PreviewIntake, wantIntake)
		}
		if _, err := age.Decrypt(bytes.NewReader(c.Preview), id); err != nil {
			t.Errorf("desk %d: the preview does not open with the key it should be under: %v", c.DeskID, err)
		}
	}
}
