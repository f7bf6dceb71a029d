package apiclient_test

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/forward"
)

// SealingFor uses a desk's intake key only if its signature by the desk's
// signing key checks: then what it encrypts opens with the intake key and
// the archive's, not with the desk's key; otherwise it encrypts to the
// desk's recipients and says why.
func TestSealingFor(t *testing.T) {
	deskID, _ := age.GenerateHybridIdentity()
	archive, _ := age.GenerateHybridIdentity()
	other, _ := age.GenerateHybridIdentity()
	k, err := forward.MakeIntakeKey(deskID, 20428)
	if err != nil {
		t.Fatal(err)
	}
	intakeID, err := forward.Open(k.Sealed, deskID)
	if err != nil {
		t.Fatal(err)
	}
	desk := func() api.Desk {
		return api.Desk{Slug: "americas", DeskKey: deskID.Recipient().String(),
			Recipients: []string{deskID.Recipient().String(), archive.Recipient().String()},
			SignKey:    forward.SignPublic(deskID.String()),
			Intake:     &api.DeskIntake{ID: 12, Day: 20428, Recipient: k.Recipient, Signature: k.Signature}}
	}
	opens := func(s apiclient.Sealing, id age.Identity) bool {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, s.To...)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "tip")
		w.Close()
		_, err = age.Decrypt(&buf, id)
		return err == nil
	}

	s, err := apiclient.SealingFor(desk())
	if err != nil || s.IntakeKey != 12 || s.NoForward != "" || len(s.To) != 2 {
		t.Fatalf("a signed intake key: %+v, %v", s, err)
	}
	if !opens(s, intakeID) || !opens(s, archive) || opens(s, deskID) {
		t.Error("with an intake key: not to the intake key and the archive, or to the desk's key")
	}

	forged := func(f func(*api.Desk)) api.Desk { d := desk(); f(&d); return d }
	otherKey, _ := forward.MakeIntakeKey(other, 20428)
	for name, c := range map[string]struct {
		d    api.Desk
		want string
	}{
		"no intake key":         {forged(func(d *api.Desk) { d.Intake = nil }), apiclient.NoIntakeKey},
		"no signing key":        {forged(func(d *api.Desk) { d.SignKey = nil }), apiclient.BadIntakeKey},
		"another signer":        {forged(func(d *api.Desk) { d.SignKey = forward.SignPublic(other.String()) }), apiclient.BadIntakeKey},
		"another key, own sig":  {forged(func(d *api.Desk) { d.Intake.Recipient, d.Intake.Signature = otherKey.Recipient, otherKey.Signature }), apiclient.BadIntakeKey},
		"another day":           {forged(func(d *api.Desk) { d.Intake.Day++ }), apiclient.BadIntakeKey},
		"desk key not listed":   {forged(func(d *api.Desk) { d.Recipients[0] = other.Recipient().String() }), apiclient.BadIntakeKey},
		"signature of 63 bytes": {forged(func(d *api.Desk) { d.Intake.Signature = d.Intake.Signature[:63] }), apiclient.BadIntakeKey},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := apiclient.SealingFor(c.d)
			if err != nil {
				t.Fatal(err)
			}
			if s.IntakeKey != 0 || s.NoForward != c.want {
				t.Errorf("IntakeKey %d, NoForward %q; want 0, %q", s.IntakeKey, s.NoForward, c.want)
			}
			if len(s.To) != len(c.d.Recipients) {
				t.Errorf("%d recipients, want the desk's %d", len(s.To), len(c.d.Recipients))
			}
		})
	}
}
