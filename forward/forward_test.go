package forward

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

func encryptTo(t *testing.T, plain []byte, rs ...age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIntakeKeySignedAndSealed(t *testing.T) {
	desk, _ := age.GenerateHybridIdentity()
	k, err := MakeIntakeKey(desk, 20000)
	if err != nil {
		t.Fatal(err)
	}
	signPub := SignPublic(desk.String())
	if err := Verify(signPub, desk.Recipient().String(), 20000, k.Recipient, k.Signature); err != nil {
		t.Fatalf("a made key does not verify: %v", err)
	}
	for name, err := range map[string]error{
		"another day":  Verify(signPub, desk.Recipient().String(), 20001, k.Recipient, k.Signature),
		"another desk": Verify(signPub, "age1pq1other", 20000, k.Recipient, k.Signature),
		"another key":  Verify(signPub, desk.Recipient().String(), 20000, k.Recipient+"x", k.Signature),
	} {
		if err == nil {
			t.Errorf("%s: the signature verified", name)
		}
	}
	id, err := Open(k.Sealed, desk)
	if err != nil {
		t.Fatal(err)
	}
	if id.Recipient().String() != k.Recipient {
		t.Fatal("the sealed secret is not the intake key's")
	}
	other, _ := age.GenerateHybridIdentity()
	if _, err := Open(k.Sealed, other); err == nil {
		t.Fatal("another key opened the sealed secret")
	}
}

func TestConversationKeySigned(t *testing.T) {
	desk, _ := age.GenerateHybridIdentity()
	rec, _, _, err := MakeConversationKey(desk.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	sig := SignConversationKey(desk, "conv-1", rec)
	signPub, deskRec := SignPublic(desk.String()), desk.Recipient().String()
	if err := VerifyConversationKey(signPub, deskRec, "conv-1", rec, sig); err != nil {
		t.Fatalf("a signed key does not verify: %v", err)
	}
	other, _ := age.GenerateHybridIdentity()
	for name, err := range map[string]error{
		"another conversation": VerifyConversationKey(signPub, deskRec, "conv-2", rec, sig),
		"another desk key":     VerifyConversationKey(signPub, other.Recipient().String(), "conv-1", rec, sig),
		"another key":          VerifyConversationKey(signPub, deskRec, "conv-1", other.Recipient().String(), sig),
		"another signer":       VerifyConversationKey(SignPublic(other.String()), deskRec, "conv-1", rec, sig),
		"no signature":         VerifyConversationKey(signPub, deskRec, "conv-1", rec, nil),
		// An intake key's signature is not a conversation key's.
		"an intake statement": VerifyConversationKey(signPub, deskRec, "conv-1", rec,
			ed25519.Sign(SignKey(desk.String()), Statement(deskRec, 1, rec))),
	} {
		if err == nil {
			t.Errorf("%s: the signature verified", name)
		}
	}
}

func TestRewrapKeepsThePayload(t *testing.T) {
	intake, _ := age.GenerateHybridIdentity()
	conv, _ := age.GenerateHybridIdentity()
	archive, _ := age.GenerateHybridIdentity()
	for _, size := range []int{0, 1, 64 << 10, 200 << 10} {
		plain := bytes.Repeat([]byte("tip "), size/4+1)[:size]
		old := encryptTo(t, plain, intake.Recipient())
		h, err := Header(bytes.NewReader(old))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(old, h) {
			t.Fatal("the header is not the object's prefix")
		}
		nh, err := Rewrap(h, []age.Identity{intake}, []age.Recipient{conv.Recipient(), archive.Recipient()})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := Splice(&out, nh, bytes.NewReader(old))
		if err != nil || n != int64(out.Len()) {
			t.Fatal(n, err)
		}
		if !bytes.Equal(out.Bytes()[len(nh):], old[len(h):]) {
			t.Fatal("the payload changed")
		}
		for _, id := range []age.Identity{conv, archive} {
			r, err := age.Decrypt(bytes.NewReader(out.Bytes()), id)
			if err != nil {
				t.Fatalf("size %d: the rewrapped file does not open: %v", size, err)
			}
			got, _ := io.ReadAll(r)
			if !bytes.Equal(got, plain) {
				t.Fatal("the rewrapped file decrypts to something else")
			}
		}
		if _, err := age.Decrypt(bytes.NewReader(out.Bytes()), intake); err == nil {
			t.Fatal("the intake key opens the rewrapped file")
		}
		if _, err := age.Decrypt(bytes.NewReader(old), conv); err == nil {
			t.Fatal("the conversation key opens the intake copy")
		}
	}
}

func TestRewrapRefusesAWrongKey(t *testing.T) {
	intake, _ := age.GenerateHybridIdentity()
	other, _ := age.GenerateHybridIdentity()
	old := encryptTo(t, []byte("x"), intake.Recipient())
	h, _ := Header(bytes.NewReader(old))
	if _, err := Rewrap(h, []age.Identity{other}, []age.Recipient{other.Recipient()}); err == nil {
		t.Fatal("rewrapped with a key that does not open the header")
	}
	if _, err := Header(strings.NewReader("age-encryption.org/v1\n-> X25519 a\n")); err == nil {
		t.Fatal("a cut header was read")
	}
}

func TestClock(t *testing.T) {
	c := Clock{}
	d := c.Day(c.Start(20000).Add(DefaultPeriod - 1))
	if d != 20000 {
		t.Fatal(d)
	}
}
