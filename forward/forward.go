// Package forward is pista's forward secrecy on the newsroom's side: the
// keys that make a copy of a tip unreadable once it has outlived them.
//
// Three kinds of keys, all age hybrid post-quantum (ML-KEM-768 + X25519):
//
//   - A desk key G (package keys) is long-lived and wrapped to each member.
//     Before forward secrecy every item was encrypted to it; items made
//     then keep that encryption ("legacy").
//   - An intake key I(desk, day) exists for one day (Clock). A member's
//     client makes it ahead (Ahead days), signs its public half with the
//     desk's signing key (SignKey, which only holders of G can derive) and
//     seals its secret half to G (Seal). Every channel encrypts new items
//     to the day's intake key; the server destroys the sealed secret
//     Grace days after its day, once nothing waits under it.
//   - A conversation key K(conv) is random, made by the first sorter that
//     meets the conversation, sealed to G (and the archive recipients).
//     Sorting rewraps each item's age header from I to K (Rewrap, Splice):
//     the payload is untouched, so the server copies bytes it cannot
//     read and sorting costs one decapsulation and one encapsulation per
//     object, whatever its size. Deleting the conversation deletes K.
//
// What it gives: a copy of an object taken while it was under I opens with
// no key once I is destroyed; a copy taken under K opens with no key once
// the conversation is deleted. What it cannot give: whoever held the
// database and the objects together while a key lived, and later obtains
// a member's identity and passphrase, reads what that key opened.
package forward

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/keys"
)

// Day numbers: an intake day is Period long, counted from the Unix epoch.
// Production days are 24 hours; tests shorten them (pista serve
// --intake-day) so that keys expire within a test.
type Clock struct {
	Period time.Duration // 0 means DefaultPeriod
}

// DefaultPeriod is one intake day.
const DefaultPeriod = 24 * time.Hour

// Ahead is how many days of intake keys a member's client keeps made
// (today included): a desk whose members all stay away longer has no
// fresh key, and what it receives is flagged "received without forward
// secrecy".
const Ahead = 7

// Grace is how many days after its own an intake key lives, so that a
// source page loaded just before midnight can still send: its secret is
// destroyed once the day is more than Grace days past and nothing waits
// under it.
const Grace = 3

// MaxHold is how many days after its own an intake key may be kept
// because something still waits under it: past it the server destroys
// it anyway (pista.Forwarder.ExpireIntakeKeys). Otherwise one item no
// sorter can open (a hostile source's, sealed to other keys) would keep
// the day's key, and every tip of that day readable, for ever.
const MaxHold = 14

func (c Clock) period() time.Duration {
	if c.Period <= 0 {
		return DefaultPeriod
	}
	return c.Period
}

// Day is the intake day of t.
func (c Clock) Day(t time.Time) int64 {
	return t.UnixNano() / int64(c.period())
}

// Start is when day d begins.
func (c Clock) Start(d int64) time.Time {
	return time.Unix(0, d*int64(c.period())).UTC()
}

// signInfo is the HKDF info of a desk's signing key.
const signInfo = "pista/v1/desk-sign"

// SignKey derives a desk generation's Ed25519 signing key from its age
// identity string ("AGE-SECRET-KEY-PQ-1…"): HKDF-SHA-256 with an empty
// salt and info "pista/v1/desk-sign" gives the 32-byte seed. Only whoever
// can unwrap the desk key can derive it; the server keeps its public half.
func SignKey(deskIdentity string) ed25519.PrivateKey {
	seed, err := hkdf.Key(sha256.New, []byte(strings.TrimSpace(deskIdentity)), nil, signInfo, ed25519.SeedSize)
	if err != nil {
		panic(err) // only for lengths HKDF-SHA-256 cannot give
	}
	return ed25519.NewKeyFromSeed(seed)
}

// SignPublic is the public half of SignKey(deskIdentity), as the server
// keeps it and clients check intake keys with it.
func SignPublic(deskIdentity string) []byte {
	return []byte(SignKey(deskIdentity).Public().(ed25519.PublicKey))
}

// Statement is what a desk's signing key signs for an intake key: the
// desk key it belongs to, its day and its public key, so that a server
// can neither move an intake key to another desk or day nor make one.
func Statement(deskRecipient string, day int64, intakeRecipient string) []byte {
	return []byte("pista/v1/intake-key\n" + deskRecipient + "\n" + strconv.FormatInt(day, 10) + "\n" + intakeRecipient + "\n")
}

// IntakeKey is a made intake key: its public half, signature and sealed
// secret (an age file to the desk key whose plaintext is the identity).
type IntakeKey struct {
	Day       int64
	Recipient string
	Signature []byte
	Sealed    []byte
}

// MakeIntakeKey makes the intake key of desk generation deskIdentity for
// day.
func MakeIntakeKey(desk *age.HybridIdentity, day int64) (IntakeKey, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return IntakeKey{}, err
	}
	deskRecipient := desk.Recipient().String()
	sealed, err := Seal(id, deskRecipient)
	if err != nil {
		return IntakeKey{}, err
	}
	rec := id.Recipient().String()
	sig := ed25519.Sign(SignKey(desk.String()), Statement(deskRecipient, day, rec))
	return IntakeKey{Day: day, Recipient: rec, Signature: sig, Sealed: sealed}, nil
}

// ErrBadSignature: an intake key is not signed by its desk's key.
var ErrBadSignature = errors.New("the intake key is not signed by the desk's key: do not use it")

// Verify checks an intake key's signature by the desk's signing key
// (signPub, 32 bytes).
func Verify(signPub []byte, deskRecipient string, day int64, intakeRecipient string, sig []byte) error {
	if len(signPub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
		return ErrBadSignature
	}
	if !ed25519.Verify(ed25519.PublicKey(signPub), Statement(deskRecipient, day, intakeRecipient), sig) {
		return ErrBadSignature
	}
	return nil
}

// Seal encrypts an identity to recipients (age1pq1… strings): a standard
// age file whose plaintext is the identity string.
func Seal(id *age.HybridIdentity, recipients ...string) ([]byte, error) {
	rs, err := keys.ParseRecipients(recipients...)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		return nil, err
	}
	io.WriteString(w, id.String())
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MaxSealedSize bounds a sealed key: one stanza per recipient (about
// 1.6 KB each), the desk key's and up to keys.MaxArchive archive keys'.
const MaxSealedSize = 64 << 10

// Open opens a sealed key (an intake key's secret, a conversation key)
// with any of ids.
func Open(sealed []byte, ids ...age.Identity) (*age.HybridIdentity, error) {
	if len(sealed) > MaxSealedSize {
		return nil, errors.New("sealed key too large")
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), ids...)
	if err != nil {
		return nil, err
	}
	s, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return nil, err
	}
	return age.ParseHybridIdentity(string(bytes.TrimSpace(s)))
}

// MakeConversationKey makes a conversation key sealed to recipients (the
// desk key and the archive keys).
func MakeConversationKey(recipients ...string) (recipient string, sealed []byte, id *age.HybridIdentity, err error) {
	id, err = age.GenerateHybridIdentity()
	if err != nil {
		return "", nil, nil, err
	}
	sealed, err = Seal(id, recipients...)
	if err != nil {
		return "", nil, nil, err
	}
	return id.Recipient().String(), sealed, id, nil
}

// ConversationStatement is what a desk's signing key signs for a
// conversation key: the desk key generation that signs, the conversation
// and the key's public half. A server that gave a conversation a key of
// its own (sealed to the desk's public key, which anyone can do) cannot
// sign it: sorters wrap only to a key signed by a desk key they hold.
func ConversationStatement(deskRecipient, conversation, keyRecipient string) []byte {
	return []byte("pista/v1/conversation-key\n" + deskRecipient + "\n" + conversation + "\n" + keyRecipient + "\n")
}

// SignConversationKey signs a conversation key with the signing key of the
// desk generation desk.
func SignConversationKey(desk *age.HybridIdentity, conversation, keyRecipient string) []byte {
	return ed25519.Sign(SignKey(desk.String()), ConversationStatement(desk.Recipient().String(), conversation, keyRecipient))
}

// ErrBadConversationSignature: a conversation key is not signed by a key
// of its desk.
var ErrBadConversationSignature = errors.New("the conversation key is not signed by the desk's key: do not use it")

// VerifyConversationKey checks a conversation key's signature by the
// signing key of the desk generation deskRecipient (signPub, 32 bytes).
func VerifyConversationKey(signPub []byte, deskRecipient, conversation, keyRecipient string, sig []byte) error {
	if len(signPub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize ||
		!ed25519.Verify(ed25519.PublicKey(signPub), ConversationStatement(deskRecipient, conversation, keyRecipient), sig) {
		return ErrBadConversationSignature
	}
	return nil
}

// MaxHeaderSize bounds an age header pista reads or writes: a hybrid
// stanza takes about 1.6 KB, and no item has more than a few dozen.
const MaxHeaderSize = 64 << 10

// Header reads the age header at the start of r: its bytes, exactly as
// stored (a prefix of the object). It reads at most MaxHeaderSize bytes
// and refuses a header age would not write byte for byte alike.
func Header(r io.Reader) ([]byte, error) {
	return readHeader(bufio.NewReaderSize(io.LimitReader(r, MaxHeaderSize+1), 4096))
}

// readHeader reads br up to the end of its age header, and no further.
func readHeader(br *bufio.Reader) ([]byte, error) {
	var h []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return nil, errors.New("age header line too long")
		}
		if err != nil {
			return nil, fmt.Errorf("reading the age header: %w", err)
		}
		h = append(h, line...)
		if len(h) > MaxHeaderSize {
			return nil, errors.New("age header too large")
		}
		if bytes.HasPrefix(line, []byte("---")) {
			break
		}
	}
	canon, err := age.ExtractHeader(bytes.NewReader(h))
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, h) {
		return nil, errors.New("the age header is not in canonical form")
	}
	return h, nil
}

// Rewrap makes a new header for the file whose header is header: the same
// file key, opened with any of ids, wrapped to recipients. The file's
// payload is unchanged: Splice puts the new header in front of it.
func Rewrap(header []byte, ids []age.Identity, recipients []age.Recipient) ([]byte, error) {
	if len(header) > MaxHeaderSize {
		return nil, errors.New("age header too large")
	}
	fileKey, err := age.DecryptHeader(header, ids...)
	if err != nil {
		return nil, err
	}
	return headerFor(fileKey, recipients)
}

// headerFor writes an age v1 header wrapping fileKey to recipients, as
// age.Encrypt would (age-encryption.org/v1 spec: stanzas, bodies in
// unpadded base64 wrapped at 64 columns, the HMAC-SHA-256 of everything
// up to "---" under HKDF(fileKey, "header")).
func headerFor(fileKey []byte, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no recipient")
	}
	var b bytes.Buffer
	b.WriteString("age-encryption.org/v1\n")
	for _, r := range recipients {
		stanzas, err := r.Wrap(fileKey)
		if err != nil {
			return nil, err
		}
		for _, s := range stanzas {
			b.WriteString("->")
			for _, a := range append([]string{s.Type}, s.Args...) {
				b.WriteString(" " + a)
			}
			b.WriteString("\n")
			body := base64.RawStdEncoding.EncodeToString(s.Body)
			for len(body) >= 64 {
				b.WriteString(body[:64] + "\n")
				body = body[64:]
			}
			b.WriteString(body + "\n")
		}
	}
	b.WriteString("---")
	key, err := hkdf.Key(sha256.New, fileKey, nil, "header", 32)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(b.Bytes())
	b.WriteString(" " + base64.RawStdEncoding.EncodeToString(mac.Sum(nil)) + "\n")
	return b.Bytes(), nil
}

// readers are Splice's read buffers, reused.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// Splice writes newHeader then what follows the header of the age file
// old: the same file, rewrapped. It answers the bytes written.
func Splice(w io.Writer, newHeader []byte, old io.Reader) (int64, error) {
	br := readers.Get().(*bufio.Reader)
	br.Reset(old)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	if _, err := readHeader(br); err != nil {
		return 0, fmt.Errorf("reading the stored object's header: %w", err)
	}
	n, err := w.Write(newHeader)
	if err != nil {
		return int64(n), err
	}
	m, err := io.Copy(w, br)
	return int64(n) + m, err
}
