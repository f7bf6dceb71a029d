package intake

// Sealed items are those an app encrypted itself, on the source's device,
// before sending them (the API's source routes). The server cannot read
// them, so it cannot encrypt them again; it checks what it can of their
// form and stores them byte for byte.
//
// What is checked: the part is an age file whose header age's own parser
// accepts, written exactly as age writes it, holding exactly one
// post-quantum hybrid recipient stanza (mlkem768x25519, with a
// well-formed encapsulated key and wrapped file key) per recipient the
// item must be encrypted to, and nothing else; and its payload has a size
// age's STREAM format can have. What cannot be checked: which keys the
// stanzas are for. age hides a stanza's recipient by design, so an app
// that encrypts to the wrong key yields items no journalist can open; the
// server has no way to tell, and says so in the API's documentation.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/pista-tips/pista"
)

// ErrMalformed is returned for a sealed item that is not an age file of
// the expected form, as a *MalformedError that says why.
var ErrMalformed = errors.New("not a well-formed age file for this desk")

// MalformedError says why a sealed item was refused. Its text does not
// quote the item beyond a few bytes of what age's parser reports, and may
// be shown to whoever sent it.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string        { return ErrMalformed.Error() + ": " + e.Reason }
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// HybridStanza is the type of the recipient stanzas of age's post-quantum
// hybrid keys (age1pq1…), the only keys pista encrypts to.
const HybridStanza = "mlkem768x25519"

// Sizes of a well-formed hybrid stanza: its argument is an ML-KEM-768
// ciphertext (1,088 bytes) and an X25519 share (32 bytes); its body is a
// 16-byte file key sealed with ChaCha20-Poly1305 (16 more).
const (
	hybridEncSize  = 1088 + 32
	hybridBodySize = 16 + 16
)

// MaxSealedHeader bounds the age header of a sealed item: a hybrid stanza
// takes about 1.6 KiB, so this leaves room for the desk key and dozens of
// archive keys, and a header that is not over by then is not one pista
// wrote.
const MaxSealedHeader = 64 << 10

// Sizes of age's STREAM payload: a 16-byte nonce, then chunks of up to
// 64 KiB of plaintext, each followed by a 16-byte tag.
const (
	streamNonce = 16
	streamTag   = 16
	streamChunk = 64 << 10
)

func malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// stanzaRecorder is an age.Identity that opens nothing: it records the
// header's stanzas as age's parser handed them over.
type stanzaRecorder struct{ stanzas []*age.Stanza }

func (s *stanzaRecorder) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	s.stanzas = stanzas
	return nil, age.ErrIncorrectIdentity
}

// CheckHeader reads the age header at the start of r and checks that it
// has exactly recipients hybrid stanzas and nothing else (see the top of
// this file). It reads at most MaxSealedHeader bytes, and returns the
// header's length and a reader of the whole file, the bytes it read
// included.
func CheckHeader(r io.Reader, recipients int) (int, io.Reader, error) {
	var head bytes.Buffer
	hdr, err := age.ExtractHeader(io.TeeReader(io.LimitReader(r, MaxSealedHeader), &head))
	if err != nil {
		if head.Len() >= MaxSealedHeader {
			return 0, nil, malformed("the age header is over %d bytes", MaxSealedHeader)
		}
		return 0, nil, malformed("the age header does not parse (%s)", clip(err.Error()))
	}
	// age writes headers one way; anything else was not written by age.
	if !bytes.HasPrefix(head.Bytes(), hdr) {
		return 0, nil, malformed("the age header is not in age's canonical encoding")
	}
	rec := &stanzaRecorder{}
	_, err = age.DecryptHeader(hdr, rec)
	if _, ok := errors.AsType[*age.NoIdentityMatchError](err); !ok {
		// age reached the identities only if the header parsed again.
		return 0, nil, malformed("the age header does not parse")
	}
	if err := checkStanzas(rec.stanzas, recipients); err != nil {
		return 0, nil, err
	}
	return len(hdr), io.MultiReader(bytes.NewReader(head.Bytes()), r), nil
}

func checkStanzas(stanzas []*age.Stanza, recipients int) error {
	for i, s := range stanzas {
		if s.Type != HybridStanza {
			return malformed("recipient stanza %d is of type %q, not %q: pista keys are post-quantum (age1pq1…)", i+1, clip(s.Type), HybridStanza)
		}
		if len(s.Args) != 1 {
			return malformed("recipient stanza %d has %d arguments, not 1", i+1, len(s.Args))
		}
		enc, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[0])
		if err != nil || len(enc) != hybridEncSize || len(s.Body) != hybridBodySize {
			return malformed("recipient stanza %d is not a well-formed %s stanza", i+1, HybridStanza)
		}
	}
	if len(stanzas) != recipients {
		return malformed("the file is encrypted to %d recipients; this desk has %d (its key and the newsroom's archive keys, from GET /api/v1/desks)", len(stanzas), recipients)
	}
	return nil
}

// clip shortens what age's parser says, which may quote the input.
func clip(s string) string {
	const n = 120
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// PlaintextSize is the size of the plaintext of an age payload (nonce and
// STREAM chunks) of n bytes, and whether n is a size such a payload can
// have.
func PlaintextSize(n int64) (int64, bool) {
	c := n - streamNonce
	if c < streamTag {
		return 0, false
	}
	chunks := (c + streamChunk + streamTag - 1) / (streamChunk + streamTag)
	p := c - chunks*streamTag
	want := (p + streamChunk - 1) / streamChunk
	if p == 0 {
		want = 1 // only an empty file has an empty chunk
	}
	return p, want == chunks
}

// plaintextBound is a lower bound of the plaintext in the first n bytes of
// a payload, exact at the end: every whole chunk holds 64 KiB, and a
// partial one at most its size less the tag.
func plaintextBound(n int64) int64 {
	c := n - streamNonce
	if c <= 0 {
		return 0
	}
	chunks := (c + streamChunk + streamTag - 1) / (streamChunk + streamTag)
	return max(c-chunks*streamTag, 0)
}

// sealedReader passes a sealed item through, checking its payload: at
// most max bytes of plaintext (ErrTooLarge past it) and, at its end, a
// size age's STREAM format can have (ErrMalformed otherwise).
type sealedReader struct {
	r      io.Reader
	header int   // bytes of header still to come
	n      int64 // payload bytes read
	max    int64 // -1: no limit
	size   int64 // plaintext size, once at EOF
}

func (s *sealedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	h := min(n, s.header)
	s.header -= h
	s.n += int64(n - h)
	if s.max >= 0 && plaintextBound(s.n) > s.max {
		return n, ErrTooLarge
	}
	if err == io.EOF {
		size, ok := PlaintextSize(s.n)
		if s.header > 0 || !ok {
			return n, malformed("the age payload is truncated or has a size age never writes")
		}
		s.size = size
	}
	return n, err
}

// AddEncrypted stores an item that the source's app encrypted itself: r
// must be a whole age file whose header has exactly recipients hybrid
// stanzas and nothing else (CheckHeader), and it is stored as it is. max
// bounds its plaintext size, which the size of an age file gives exactly
// (-1: no limit); the batch's limit counts it too. It answers the
// plaintext size, ErrMalformed or ErrTooLarge.
func (b *Batch) AddEncrypted(ctx context.Context, kind pista.ItemKind, r io.Reader, recipients int, max int64) (int64, error) {
	key, size, plain, err := b.putSealed(ctx, r, recipients, max, kind == pista.KindFile)
	if err != nil {
		return 0, err
	}
	b.items = append(b.items, pista.Item{Kind: kind, Object: key, Size: size})
	return plain, nil
}

// AddEncryptedMeta stores, as AddEncrypted does, the sealed name and type
// (a JSON pista.FileMeta) of the file item added just before.
func (b *Batch) AddEncryptedMeta(ctx context.Context, r io.Reader, recipients int, max int64) (int64, error) {
	if len(b.items) == 0 || b.items[len(b.items)-1].Kind != pista.KindFile || b.items[len(b.items)-1].Meta != "" {
		return 0, errors.New("intake: file metadata without its file")
	}
	key, size, plain, err := b.putSealed(ctx, r, recipients, max, false)
	if err != nil {
		return 0, err
	}
	it := &b.items[len(b.items)-1]
	it.Meta, it.MetaSize = key, size
	return plain, nil
}

func (b *Batch) putSealed(ctx context.Context, r io.Reader, recipients int, max int64, counted bool) (key string, size, plain int64, err error) {
	if counted && b.remaining >= 0 && (max < 0 || max > b.remaining) {
		max = b.remaining
	}
	hlen, whole, err := CheckHeader(r, recipients)
	if err != nil {
		return "", 0, 0, err
	}
	sr := &sealedReader{r: whole, header: hlen, max: max}
	key, size, err = b.blobs.Put(ctx, sr)
	if err != nil {
		return "", 0, 0, err
	}
	b.keys = append(b.keys, key)
	if counted && b.remaining >= 0 {
		b.remaining -= sr.size
	}
	return key, size, sr.size, nil
}
