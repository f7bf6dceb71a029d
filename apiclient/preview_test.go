package apiclient_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// TestSubmitTipSendsPreview: an app's new tip carries the inbox's preview
// of its message, sealed on the device to the desk; follow-ups carry none.
func TestSubmitTipSendsPreview(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	desk, deskKey := in.DeskWithIdentity("americas", j)
	c, err := apiclient.New(in.TS.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	desks, err := c.Desks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range desks.Desks {
		if x.Slug != desk.Slug {
			continue
		}
		to, err := apiclient.Recipients(x)
		if err != nil {
			t.Fatal(err)
		}
		k, err := apiclient.CodenameKDF(desks.Codename)
		if err != nil {
			t.Fatal(err)
		}
		derived, err := keys.DeriveWith(ctx, keys.NewCodename(), desks.Codename.Salt, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.SubmitTip(ctx, x.Slug, derived, apiclient.Sealing{To: to}, apiclient.Sealed{Message: "  The port's ledgers\nare forged.  "}); err != nil {
			t.Fatalf("SubmitTip: %v", err)
		}
	}
	cs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
	if err != nil || len(cs) != 1 {
		t.Fatalf("inbox: %d conversations, %v", len(cs), err)
	}
	r, err := age.Decrypt(bytes.NewReader(cs[0].Preview), deskKey)
	if err != nil {
		t.Fatalf("the desk key does not open the app's preview: %v", err)
	}
	p, _ := io.ReadAll(r)
	if text, _, _ := bytes.Cut(p, []byte{0}); string(text) != "The port's ledgers are forged." || len(p) != pista.PreviewBytes {
		t.Errorf("the preview is %q, %d bytes", text, len(p))
	}
}
