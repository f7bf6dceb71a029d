package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// TestPreviews: a new tip's conversation keeps a preview of its first
// message that only the desk's key opens, whether the server encrypted it
// (no JavaScript) or the browser did (a "preview" part); both are the
// same size whatever the message's length. A preview that is not one is
// refused with the whole tip.
func TestPreviews(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	deskID, _ := age.GenerateHybridIdentity()
	w, _ := keys.Wrap(deskID, alice.Recipient)
	desk := pista.Desk{Slug: "americas", Title: "Americas", Recipient: deskID.Recipient().String()}
	if err := in.Srv.Stores.Desks.CreateDesk(ctx, &desk, []pista.KeyWrap{{JournalistID: alice.ID, Wrapped: w}}); err != nil {
		t.Fatal(err)
	}
	previews := func() [][]byte {
		t.Helper()
		convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, alice.ID, pista.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, c := range convs {
			out = append(out, c.Preview)
		}
		return out
	}
	open := func(b []byte) string {
		t.Helper()
		r, err := age.Decrypt(bytes.NewReader(b), deskID)
		if err != nil {
			t.Fatalf("the desk key does not open the preview: %v", err)
		}
		p, _ := io.ReadAll(r)
		if len(p) != pista.PreviewBytes {
			t.Errorf("a preview of %d bytes, want %d", len(p), pista.PreviewBytes)
		}
		text, _, _ := bytes.Cut(p, []byte{0})
		return string(text)
	}

	short, long := "The mayor's safe.", "The audit is in the mayor's safe.\n\n"+strings.Repeat("More words. ", 100)
	for _, m := range []string{short, long} {
		if r := in.Browser().Submit("americas", m); r.Status != http.StatusOK {
			t.Fatalf("plain submission: %d", r.Status)
		}
	}
	ps := previews()
	if len(ps) != 2 || len(ps[0]) == 0 || len(ps[0]) != len(ps[1]) {
		t.Fatalf("server-made previews of %v bytes: want two of one size", []int{len(ps[0]), len(ps[len(ps)-1])})
	}
	if got := open(ps[1]); got != short {
		t.Errorf("the short message's preview = %q", got)
	}
	if got := open(ps[0]); !strings.HasPrefix(got, "The audit is in the mayor's safe. More words.") || len([]rune(got)) != pista.PreviewChars {
		t.Errorf("the long message's preview = %q", got)
	}

	sealedTip := func(preview []byte) *pistatest.Response {
		b := in.Browser()
		landing := b.Get("/")
		parts := []pistatest.Part{
			{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"},
			{Name: "message", Value: sealTo(t, landing.Body, []byte(long)), Filename: "message.age"},
		}
		if preview != nil {
			parts = append(parts, pistatest.Part{Name: "preview", Value: sealTo(t, landing.Body, preview), Filename: "preview.age"})
		}
		return b.PostMultipart("/submit", parts)
	}
	if r := sealedTip(pista.PreviewText(long)); r.Status != http.StatusOK || r.Codename(t) == "" {
		t.Fatalf("sealed submission with a preview: %d\n%s", r.Status, r.Body)
	}
	ps = previews()
	if len(ps) != 3 || len(ps[0]) != len(ps[1]) || open(ps[0]) != open(ps[1]) {
		t.Errorf("the browser's preview differs from the server's")
	}
	if r := sealedTip(nil); r.Status != http.StatusOK {
		t.Fatalf("sealed submission without a preview: %d", r.Status)
	}
	if ps = previews(); len(ps) != 4 || ps[0] != nil {
		t.Errorf("a tip sent without a preview has one of %d bytes", len(ps[0]))
	}

	t.Run("refused", func(t *testing.T) {
		for name, preview := range map[string][]byte{
			"not padded": []byte("The audit"),
			"too big":    make([]byte, 2*pista.MaxPreviewSize),
		} {
			r := sealedTip(preview)
			if r.Status != http.StatusBadRequest && r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s: status %d, want 400 or 413", name, r.Status)
			}
		}
		if ps := previews(); len(ps) != 4 {
			t.Errorf("a refused tip was stored: %d conversations", len(ps))
		}
	})
}
