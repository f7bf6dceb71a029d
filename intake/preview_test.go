package intake

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
)

func TestPreviewText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"short", "A tip about the port.", "A tip about the port."},
		{"white space made one", "  line one\n\n\tline two  ", "line one line two"},
		{"cut at PreviewChars", strings.Repeat("é", 200), strings.Repeat("é", pista.PreviewChars)},
		{"right-to-left", "مرحبا بالعالم", "مرحبا بالعالم"},
		{"empty", " \n ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := pista.PreviewText(tt.in)
			if len(got) != pista.PreviewBytes {
				t.Fatalf("PreviewText is %d bytes, want %d", len(got), pista.PreviewBytes)
			}
			if text, _, _ := bytes.Cut(got, []byte{0}); string(text) != tt.want {
				t.Errorf("PreviewText = %q, want %q", text, tt.want)
			}
		})
	}
}

func TestSealAndCheckPreview(t *testing.T) {
	desk, archive := hybrid(t), hybrid(t)
	sealedPreview, err := SealPreview("A tip about the port, with more words than the preview holds. "+strings.Repeat("word ", 100),
		[]age.Recipient{desk.Recipient(), archive.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	if len(sealedPreview) > pista.MaxPreviewSize {
		t.Fatalf("a preview for two keys is %d bytes, over %d", len(sealedPreview), pista.MaxPreviewSize)
	}
	if err := CheckPreview(sealedPreview, 2); err != nil {
		t.Errorf("CheckPreview of SealPreview's: %v", err)
	}
	r, err := age.Decrypt(bytes.NewReader(sealedPreview), desk)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	if text, _, _ := bytes.Cut(plain, []byte{0}); !strings.HasPrefix(string(text), "A tip about the port") || len([]rune(string(text))) != pista.PreviewChars {
		t.Errorf("decrypted preview %q", text)
	}
	if p, err := SealPreview("  \n", []age.Recipient{desk.Recipient()}); p != nil || err != nil {
		t.Errorf("SealPreview of white space = %d bytes, %v; want none", len(p), err)
	}

	refused := []struct {
		name string
		in   []byte
		want error
	}{
		{"too many recipients", sealedPreview, ErrMalformed}, // checked for 1 below
		{"not padded", sealed(t, []byte("short"), desk.Recipient()), ErrMalformed},
		{"too big", make([]byte, pista.MaxPreviewSize+1), ErrTooLarge},
		{"not age", []byte("a preview in plain text"), ErrMalformed},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckPreview(tt.in, 1); !errors.Is(err, tt.want) {
				t.Errorf("CheckPreview = %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzCheckPreview: whatever CheckPreview accepts is small and an age
// file of one hybrid stanza whose plaintext is pista.PreviewBytes.
func FuzzCheckPreview(f *testing.F) {
	a, _ := age.GenerateHybridIdentity()
	good, _ := SealPreview("a tip", []age.Recipient{a.Recipient()})
	f.Add(good)
	f.Add(sealed(f, []byte("a tip"), a.Recipient()))
	f.Add([]byte("age-encryption.org/v1\n-> mlkem768x25519 AAAA\nAAAA\n--- AAAA\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		err := CheckPreview(in, 1)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		if len(in) > pista.MaxPreviewSize {
			t.Fatalf("accepted %d bytes", len(in))
		}
		hdr, err := age.ExtractHeader(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("accepted what age does not parse: %v", err)
		}
		if p, ok := PlaintextSize(int64(len(in) - len(hdr))); !ok || p != pista.PreviewBytes {
			t.Fatalf("accepted a payload of %d bytes of plaintext", p)
		}
	})
}
