package intake

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob"
)

// sealed encrypts plaintext to recipients with age, as an app does.
func sealed(t testing.TB, plaintext []byte, to ...age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plaintext)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hybrid(t testing.TB) *age.HybridIdentity {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPlaintextSize(t *testing.T) {
	for _, n := range []int64{0, 1, 15, 16, streamChunk - 1, streamChunk, streamChunk + 1, 2 * streamChunk, 3*streamChunk + 7} {
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, hybrid(t).Recipient())
		w.Write(make([]byte, n))
		w.Close()
		hdr, err := age.ExtractHeader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		payload := int64(buf.Len() - len(hdr))
		got, ok := PlaintextSize(payload)
		if !ok || got != n {
			t.Errorf("PlaintextSize(%d) = %d, %v; want %d, true", payload, got, ok, n)
		}
		if b := plaintextBound(payload); b != n {
			t.Errorf("plaintextBound(%d) = %d at the end; want %d", payload, b, n)
		}
		// The bound never runs ahead of the plaintext: a limit cannot
		// refuse a file that ends within it.
		for m := range payload {
			if b := plaintextBound(m); b > n {
				t.Fatalf("plaintextBound(%d) = %d, above the whole file's %d", m, b, n)
			}
		}
	}
	for _, bad := range []int64{-1, 0, 15, 16, 31} {
		if _, ok := PlaintextSize(bad); ok {
			t.Errorf("PlaintextSize(%d) accepted", bad)
		}
	}
}

func TestCheckHeader(t *testing.T) {
	desk, archive := hybrid(t), hybrid(t)
	x, _ := age.GenerateX25519Identity()
	good := sealed(t, []byte("a tip"), desk.Recipient(), archive.Recipient())
	var armored bytes.Buffer
	aw := armor.NewWriter(&armored)
	aw.Write(good)
	aw.Close()
	huge := append([]byte("age-encryption.org/v1\n-> X25519 "), bytes.Repeat([]byte("A"), MaxSealedHeader)...)
	tests := []struct {
		name   string
		in     []byte
		reason string // "" for accepted
	}{
		{"two hybrid stanzas", good, ""},
		{"one stanza", sealed(t, []byte("a tip"), desk.Recipient()), "encrypted to 1 recipients"},
		{"three stanzas", sealed(t, []byte("a tip"), desk.Recipient(), archive.Recipient(), hybrid(t).Recipient()), "encrypted to 3 recipients"},
		{"x25519", sealed(t, []byte("a tip"), x.Recipient()), `of type "X25519"`},
		{"empty", nil, "does not parse"},
		{"text", []byte("hello, this is not age\n"), "does not parse"},
		{"armored", armored.Bytes(), "does not parse"},
		{"header cut", good[:100], "does not parse"},
		{"huge header", huge, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hlen, r, err := CheckHeader(bytes.NewReader(tt.in), 2)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				all, _ := io.ReadAll(r)
				if !bytes.Equal(all, tt.in) {
					t.Fatal("the reader does not give back the file as it was")
				}
				if hlen <= 0 || hlen >= len(tt.in) {
					t.Fatalf("header length %d of a %d-byte file", hlen, len(tt.in))
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %v, want ErrMalformed saying %q", err, tt.reason)
			}
		})
	}
}

// newStore is a blob store in a temporary folder, and a function listing
// what it holds, temporary files included.
func newStore(t *testing.T) (*blob.Local, func() []string) {
	dir := t.TempDir()
	b, err := blob.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b, func() []string {
		var names []string
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				names = append(names, p)
			}
			return err
		})
		return names
	}
}

func TestAddEncrypted(t *testing.T) {
	ctx := context.Background()
	desk := hybrid(t)
	file := make([]byte, 200<<10)
	rand.Read(file)

	t.Run("stored as sent", func(t *testing.T) {
		blobs, _ := newStore(t)
		b := NewBatch(blobs, nil, -1)
		msg := sealed(t, []byte("the message"), desk.Recipient())
		if n, err := b.AddEncrypted(ctx, pista.KindMessage, bytes.NewReader(msg), 1, 100); err != nil || n != 11 {
			t.Fatalf("AddEncrypted = %d, %v", n, err)
		}
		f := sealed(t, file, desk.Recipient())
		if _, err := b.AddEncrypted(ctx, pista.KindFile, bytes.NewReader(f), 1, -1); err != nil {
			t.Fatal(err)
		}
		if _, err := b.AddEncryptedMeta(ctx, bytes.NewReader(sealed(t, []byte(`{"name":"a.pdf"}`), desk.Recipient())), 1, 100); err != nil {
			t.Fatal(err)
		}
		items := b.Items()
		if len(items) != 2 || items[1].Meta == "" || items[1].Size != int64(len(f)) {
			t.Fatalf("items %+v", items)
		}
		obj, _ := blobs.Open(ctx, items[1].Object)
		stored, _ := io.ReadAll(obj)
		obj.Close()
		if !bytes.Equal(stored, f) {
			t.Fatal("the stored object differs from what was sent")
		}
		r, err := age.Decrypt(bytes.NewReader(stored), desk)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(r); !bytes.Equal(got, file) {
			t.Fatal("the stored file does not decrypt to the original")
		}
	})

	refusals := []struct {
		name  string
		in    []byte
		max   int64
		batch int64
		want  error
	}{
		{"over its limit", sealed(t, file, desk.Recipient()), 200<<10 - 1, -1, ErrTooLarge},
		{"over the batch's limit", sealed(t, file, desk.Recipient()), -1, 100 << 10, ErrTooLarge},
		{"cut inside a tag", func() []byte {
			s := sealed(t, file, desk.Recipient())
			h, _ := age.ExtractHeader(bytes.NewReader(s))
			return s[:len(h)+streamNonce+streamChunk+streamTag+5]
		}(), -1, -1, ErrMalformed},
		{"no payload", func() []byte {
			s := sealed(t, nil, desk.Recipient())
			h, _ := age.ExtractHeader(bytes.NewReader(s))
			return h
		}(), -1, -1, ErrMalformed},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			blobs, files := newStore(t)
			b := NewBatch(blobs, nil, tt.batch)
			if _, err := b.AddEncrypted(ctx, pista.KindFile, bytes.NewReader(tt.in), 1, tt.max); !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if left := files(); len(left) != 0 {
				t.Fatalf("left %v", left)
			}
		})
	}

	t.Run("meta without file", func(t *testing.T) {
		blobs, _ := newStore(t)
		b := NewBatch(blobs, nil, -1)
		if _, err := b.AddEncryptedMeta(ctx, bytes.NewReader(sealed(t, []byte("{}"), desk.Recipient())), 1, 100); err == nil {
			t.Fatal("accepted")
		}
	})

	t.Run("abort deletes", func(t *testing.T) {
		blobs, files := newStore(t)
		b := NewBatch(blobs, nil, -1)
		for range 3 {
			if _, err := b.AddEncrypted(ctx, pista.KindMessage, bytes.NewReader(sealed(t, []byte("m"), desk.Recipient())), 1, -1); err != nil {
				t.Fatal(err)
			}
		}
		b.Abort()
		if left := files(); len(left) != 0 {
			t.Fatalf("left %v", left)
		}
	})
}

// FuzzCheckHeader checks that the verifier never accepts what age would
// not parse as a file for two hybrid recipients, and that it gives back
// exactly what it read.
func FuzzCheckHeader(f *testing.F) {
	a, _ := age.GenerateHybridIdentity()
	b, _ := age.GenerateHybridIdentity()
	x, _ := age.GenerateX25519Identity()
	f.Add(sealed(f, []byte("a tip"), a.Recipient(), b.Recipient()))
	f.Add(sealed(f, []byte("a tip"), a.Recipient()))
	f.Add(sealed(f, []byte("a tip"), x.Recipient()))
	f.Add([]byte("age-encryption.org/v1\n-> mlkem768x25519 AAAA\nAAAA\n--- AAAA\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		hlen, r, err := CheckHeader(bytes.NewReader(in), 2)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		all, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(all, in) {
			t.Fatalf("the reader gave back %d bytes of %d (%v)", len(all), len(in), err)
		}
		hdr, err := age.ExtractHeader(bytes.NewReader(in))
		if err != nil || len(hdr) != hlen || !bytes.HasPrefix(in, hdr) {
			t.Fatalf("accepted a header age reads otherwise: %v", err)
		}
		rec := &stanzaRecorder{}
		age.DecryptHeader(hdr, rec)
		if len(rec.stanzas) != 2 {
			t.Fatalf("accepted %d stanzas", len(rec.stanzas))
		}
		for _, s := range rec.stanzas {
			if s.Type != HybridStanza {
				t.Fatalf("accepted a stanza of type %q", s.Type)
			}
		}
	})
}
