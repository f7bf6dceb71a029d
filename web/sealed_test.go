package web_test

import (
	"bytes"
	"context"
	"fmt"
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

// sealTo encrypts data to the recipients a page offers its script, as the
// script does.
func sealTo(t *testing.T, page string, data []byte) string {
	t.Helper()
	return pistatest.SealTo(t, page, data)
}

// A tip the browser encrypted and one the server encrypted are stored
// alike: standard age files of the same form and size, which the desk key
// opens to the same bytes. Only the recorded flag tells them apart.
func TestBrowserAndServerEncryptionLookAlike(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	deskID, _ := age.GenerateHybridIdentity()
	w, _ := keys.Wrap(deskID, alice.Recipient)
	desk := pista.Desk{Slug: "americas", Title: "Americas", Recipient: deskID.Recipient().String()}
	if err := in.Srv.Stores.Desks.CreateDesk(ctx, &desk, []pista.KeyWrap{{JournalistID: alice.ID, Wrapped: w}}); err != nil {
		t.Fatal(err)
	}
	message := "The audit is in the mayor's safe. " + strings.Repeat("x", 70_000)
	file := bytes.Repeat([]byte("ledger "), 20_000)
	// As the page's script does: the file padded to pista.Padme's length,
	// its exact size in its name-and-type object (the form helper sends
	// files as application/pdf).
	// The source keeps the file's metadata, and the report says so, naming
	// who did not scrub it: "browser" here, "server" on the other path,
	// whose name-and-type object is thus one byte shorter.
	meta := fmt.Sprintf(`{"name":"ledger.txt","type":"application/pdf","size":%d,"scrub":{"by":"browser","choice":"keep","scrubbed":false,"note":"the source chose to keep its metadata: stored as sent"}}`, len(file))
	paddedFile := append(bytes.Clone(file), make([]byte, pista.Padme(int64(len(file)))-int64(len(file)))...)

	// Without JavaScript: the server encrypts. (The source keeps the
	// file's metadata: otherwise the server scrubs what the browser would
	// have scrubbed before encrypting, and the reports say what each
	// found.)
	b := in.Browser()
	r := b.Submit("americas", message, pistatest.Part{Name: "contact", Value: "signal +1 555"}, pistatest.Part{Name: "keep_metadata", Value: "1"},
		pistatest.Part{Name: "files", Value: string(file), Filename: "ledger.txt"})
	if r.Status != http.StatusOK {
		t.Fatalf("plain submission: %d\n%s", r.Status, r.Body)
	}

	// With JavaScript: the browser encrypts, to the keys the page gives.
	b = in.Browser()
	landing := b.Get("/")
	r = b.PostMultipart("/submit", []pistatest.Part{
		{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"},
		{Name: "message", Value: sealTo(t, landing.Body, []byte(message)), Filename: "message.age"},
		{Name: "contact", Value: sealTo(t, landing.Body, []byte("signal +1 555")), Filename: "contact.age"},
		{Name: "files", Value: sealTo(t, landing.Body, paddedFile), Filename: "file.age"},
		{Name: "file_meta", Value: sealTo(t, landing.Body, []byte(meta)), Filename: "meta.age"},
	})
	if r.Status != http.StatusOK || r.Codename(t) == "" {
		t.Fatalf("sealed submission: %d\n%s", r.Status, r.Body)
	}

	items, err := in.Srv.Stores.Tips.ItemsFor(ctx, alice.ID, 0, 100)
	if err != nil || len(items) != 6 {
		t.Fatalf("ItemsFor = %d items, %v; want 3 + 3", len(items), err)
	}
	open := func(key string) []byte {
		obj, err := in.Srv.Stores.Blobs.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		r, err := age.Decrypt(obj, deskID)
		if err != nil {
			t.Fatalf("the desk key does not open object %s: %v", key, err)
		}
		b, _ := io.ReadAll(r)
		return b
	}
	plain, sealed := items[:3], items[3:]
	for i := range plain {
		p, s := plain[i], sealed[i]
		byNames := int64(0)
		if p.Kind == pista.KindFile {
			byNames = int64(len(pista.ScrubByBrowser) - len(pista.ScrubByServer))
		}
		if p.Kind != s.Kind || p.Size != s.Size || p.MetaSize+byNames != s.MetaSize {
			t.Errorf("item %d: server-encrypted %s of %d+%d bytes, browser-encrypted %s of %d+%d bytes",
				i, p.Kind, p.Size, p.MetaSize, s.Kind, s.Size, s.MetaSize)
		}
		if !bytes.Equal(open(p.Object), open(s.Object)) {
			t.Errorf("item %d (%s): the two paths stored different plaintexts", i, p.Kind)
		}
		if p.EncryptedBy != "server" || s.EncryptedBy != "browser" {
			t.Errorf("item %d: EncryptedBy = %q and %q, want server and browser", i, p.EncryptedBy, s.EncryptedBy)
		}
	}
	if got := string(open(sealed[1].Meta)); got != meta {
		t.Errorf("sealed file meta = %q", got)
	}
}

func TestSealedPartsAreChecked(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	x25519, _ := age.GenerateX25519Identity()
	var classic bytes.Buffer
	cw, _ := age.Encrypt(&classic, x25519.Recipient())
	cw.Write([]byte("hello"))
	cw.Close()
	other, _ := age.GenerateHybridIdentity()
	var two bytes.Buffer
	tw, _ := age.Encrypt(&two, other.Recipient(), other.Recipient())
	tw.Write([]byte("hello"))
	tw.Close()

	tests := []struct {
		name  string
		parts func(page string) []pistatest.Part
		want  int
	}{
		{"not an age file", func(string) []pistatest.Part {
			return []pistatest.Part{{Name: "message", Value: "hello, in plain text", Filename: "message.age"}}
		}, http.StatusBadRequest},
		{"classic X25519 age file", func(string) []pistatest.Part {
			return []pistatest.Part{{Name: "message", Value: classic.String(), Filename: "message.age"}}
		}, http.StatusBadRequest},
		{"too many recipients", func(string) []pistatest.Part {
			return []pistatest.Part{{Name: "message", Value: two.String(), Filename: "message.age"}}
		}, http.StatusBadRequest},
		{"file without its name", func(page string) []pistatest.Part {
			return []pistatest.Part{{Name: "files", Value: sealTo(t, page, []byte("x")), Filename: "file.age"}}
		}, http.StatusBadRequest},
		{"name without a file", func(page string) []pistatest.Part {
			return []pistatest.Part{{Name: "file_meta", Value: sealTo(t, page, []byte("{}")), Filename: "meta.age"}}
		}, http.StatusBadRequest},
		{"second message is broken", func(page string) []pistatest.Part {
			return []pistatest.Part{
				{Name: "message", Value: sealTo(t, page, []byte("fine")), Filename: "message.age"},
				{Name: "message", Value: "broken", Filename: "message.age"},
			}
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(alice)
			b := in.Browser()
			landing := b.Get("/")
			parts := append([]pistatest.Part{{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"}},
				tt.parts(landing.Body)...)
			r := b.PostMultipart("/submit", parts)
			if r.Status != tt.want {
				t.Fatalf("status %d, want %d\n%s", r.Status, tt.want, r.Body)
			}
			in.CheckUnchanged(t, before, alice)
		})
	}
	_ = ctx
}
