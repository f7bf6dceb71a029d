package apiclient

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
)

// Desks fetches the desks and the codename parameters.
func (c *Client) Desks(ctx context.Context) (api.DesksResponse, error) {
	var d api.DesksResponse
	err := c.GetJSON(ctx, "/api/v1/desks", &d)
	return d, err
}

// ErrIncompatible is returned when a server derives codenames otherwise
// than this program can.
var ErrIncompatible = errors.New("the server derives codenames otherwise than this version of pista can")

// CodenameKDF checks the codename parameters a server publishes and
// returns the Argon2id parameters to derive with (keys.DeriveWith). Each
// instance has its own (keys.InstanceKDF), so any Argon2id parameters
// within keys.CheckCodenameKDF's bounds are accepted: a server cannot make
// this program spend more than 256 MiB on a codename. The rest (digits,
// Argon2id version and output length, HKDF) must be what keys derives.
func CodenameKDF(p api.Codename) (keys.KDF, error) {
	if len(p.Salt) < 8 || len(p.Salt) > 64 {
		return keys.KDF{}, fmt.Errorf("%w: a salt of %d bytes", ErrIncompatible, len(p.Salt))
	}
	a := p.Argon2id
	k := keys.KDF{Memory: a.MemoryKiB, Time: a.Time, Threads: a.Threads}
	if err := keys.CheckCodenameKDF(k); err != nil {
		return keys.KDF{}, fmt.Errorf("%w: %w", ErrIncompatible, err)
	}
	if want := api.CodenameParamsWith(p.Salt, k); p.Digits != want.Digits || p.Argon2id != want.Argon2id || p.HKDF != want.HKDF {
		return keys.KDF{}, ErrIncompatible
	}
	return k, nil
}

// CheckCodename is CodenameKDF without the parameters.
func CheckCodename(p api.Codename) error {
	_, err := CodenameKDF(p)
	return err
}

// MaxRecipients bounds the keys a desk lists (its own and the newsroom's
// archive keys): each costs an encapsulation and a stanza in every item.
const MaxRecipients = 32

// Recipients parses a desk's recipients.
func Recipients(d api.Desk) ([]age.Recipient, error) {
	if len(d.Recipients) == 0 {
		return nil, fmt.Errorf("the server lists no key for desk %q", Printable(d.Slug, 64))
	}
	if len(d.Recipients) > MaxRecipients {
		return nil, fmt.Errorf("the server lists %d keys for desk %q, more than the %d this program encrypts to", len(d.Recipients), Printable(d.Slug, 64), MaxRecipients)
	}
	return keys.ParseRecipients(d.Recipients...)
}

// Sealing is what a source's items are encrypted to: with forward
// secrecy, the desk's intake key of the day (signed by the desk) and the
// archive keys; without, the desk's recipients.
type Sealing struct {
	To []age.Recipient
	// IntakeKey is the ID of the intake key To begins with, declared to
	// the server (api.IntakeKeyHeader); 0 when To is the desk's
	// recipients.
	IntakeKey int64
	// NoForward says why the items go without forward secrecy; "" when
	// IntakeKey is set.
	NoForward string
}

// Why a desk's items go without forward secrecy.
const (
	NoIntakeKey  = "the desk has no intake key today"
	BadIntakeKey = "the desk's intake key is not signed by the desk's key"
)

// SealingFor chooses what to encrypt a desk's items to: its intake key of
// the day and the archive keys if the server lists one whose signature by
// the desk's signing key checks (forward.Verify), else its recipients.
func SealingFor(d api.Desk) (Sealing, error) {
	to, err := Recipients(d)
	if err != nil {
		return Sealing{}, err
	}
	plain := Sealing{To: to, NoForward: NoIntakeKey}
	if d.Intake == nil {
		return plain, nil
	}
	plain.NoForward = BadIntakeKey
	if d.Intake.ID <= 0 || d.DeskKey == "" {
		return plain, nil
	}
	if err := forward.Verify(d.SignKey, d.DeskKey, d.Intake.Day, d.Intake.Recipient, d.Intake.Signature); err != nil {
		return plain, nil
	}
	// The archive keys: the recipients without the desk's key, which
	// must be among them once.
	var archive []string
	seen := 0
	for _, r := range d.Recipients {
		if r == d.DeskKey {
			seen++
			continue
		}
		archive = append(archive, r)
	}
	if seen != 1 {
		return plain, nil
	}
	rs, err := keys.ParseRecipients(append([]string{d.Intake.Recipient}, archive...)...)
	if err != nil || len(rs) != len(to) {
		return plain, nil
	}
	return Sealing{To: rs, IntakeKey: d.Intake.ID}, nil
}

// header declares s's intake key, if any, in h.
func (s Sealing) header(h http.Header) http.Header {
	if s.IntakeKey == 0 {
		return h
	}
	if h == nil {
		h = http.Header{}
	}
	h.Set(api.IntakeKeyHeader, strconv.FormatInt(s.IntakeKey, 10))
	return h
}

// File is a file to send.
type File struct {
	Name, Type string // sent only inside the encrypted file_meta part
	// Question is the ID of the desk's file question the file answers,
	// or "" (sent only inside the encrypted file_meta part too).
	Question string
	Open     func() (io.ReadCloser, error)
	// Scrub, if not nil, is called once what Open returned has been read
	// and closed: its report (who scrubbed the file's metadata, what was
	// found, what the source chose) goes into the encrypted file_meta.
	Scrub func() *pista.ScrubReport
}

// Sealed is what a source sends: every item is encrypted on this device,
// while it streams to the server, to the desk's recipients.
type Sealed struct {
	Message string
	Contact string // only with a new tip
	Files   []File
	// Answers is the JSON of the answers to the desk's questions
	// (pista.Answers), sealed in one part; only with a new tip.
	Answers []byte
}

// SubmitTip sends a new tip to desk from the source whose keys d derived
// from a new codename, encrypted as seal says (SealingFor). The codename
// is not sent: only d's lookup hash and public key.
func (c *Client) SubmitTip(ctx context.Context, desk string, d keys.Derived, seal Sealing, s Sealed) error {
	tip := &api.TipPart{Desk: desk, Lookup: d.Lookup, Recipient: d.Recipient()}
	proof, err := c.Prove(ctx)
	if err != nil {
		return err
	}
	return c.postSealed(ctx, "/api/v1/source/tips", tip, seal.To, s, seal.header(proof))
}

// FollowUp adds items to the logged-in source's conversation, encrypted
// as seal says (SealingFor of the conversation's desk).
func (c *Client) FollowUp(ctx context.Context, seal Sealing, s Sealed) error {
	if s.Contact != "" {
		return errors.New("contact details go with a new tip only")
	}
	if s.Answers != nil {
		return errors.New("answers to the desk's questions go with a new tip only")
	}
	return c.postSealed(ctx, "/api/v1/source/followups", nil, seal.To, s, seal.header(nil))
}

// postSealed streams a multipart body of sealed parts: nothing is held in
// memory or written to disk but age's 64 KiB chunks.
func (c *Client) postSealed(ctx context.Context, path string, tip *api.TipPart, to []age.Recipient, s Sealed, header http.Header) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	done := make(chan error, 1)
	go func() {
		err := writeSealed(mw, tip, to, s)
		pw.CloseWithError(err)
		done <- err
	}()
	resp, err := c.do(ctx, http.MethodPost, path, pr, mw.FormDataContentType(), header)
	// The server may answer before reading everything (a refusal): stop
	// the writer.
	pr.CloseWithError(errRequestEnded)
	werr := <-done
	if errors.Is(werr, errRequestEnded) {
		werr = nil
	}
	if err != nil {
		if _, refused := errors.AsType[*Error](err); !refused && werr != nil {
			return werr // a file could not be read, say
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return werr
}

var errRequestEnded = errors.New("the request ended")

func writeSealed(mw *multipart.Writer, tip *api.TipPart, to []age.Recipient, s Sealed) error {
	if tip != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="tip"`)
		h.Set("Content-Type", "application/json")
		w, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if err := json.NewEncoder(w).Encode(tip); err != nil {
			return err
		}
	}
	if s.Message != "" {
		if err := SealPart(mw, "message", to, func(w io.Writer) error {
			_, err := io.WriteString(w, s.Message)
			return err
		}); err != nil {
			return err
		}
		// A new tip's first message also gets the inbox's preview, sealed
		// here like the message (pista.PreviewText: padded, so that its
		// size says nothing of the message's).
		if preview := pista.PreviewText(s.Message); tip != nil && preview[0] != 0 {
			if err := SealPart(mw, "preview", to, func(w io.Writer) error {
				_, err := w.Write(preview)
				return err
			}); err != nil {
				return err
			}
		}
	}
	if s.Answers != nil {
		if err := SealPart(mw, "answers", to, func(w io.Writer) error {
			_, err := w.Write(s.Answers)
			return err
		}); err != nil {
			return err
		}
	}
	for _, f := range s.Files {
		// Padded inside the encryption, as the server and the browser pad
		// (pista.Padme), so that the upload does not give the file's
		// exact size; the size travels in the encrypted file_meta.
		var size int64
		if err := SealPart(mw, "file", to, func(w io.Writer) error {
			r, err := f.Open()
			if err != nil {
				return err
			}
			defer r.Close()
			if size, err = io.Copy(w, r); err != nil {
				return err
			}
			_, err = io.CopyN(w, zeros{}, pista.Padme(size)-size)
			return err
		}); err != nil {
			return err
		}
		fm := pista.FileMeta{Name: f.Name, Type: f.Type, Size: &size, Question: f.Question}
		if f.Scrub != nil {
			fm.Scrub = f.Scrub()
		}
		meta, _ := json.Marshal(fm)
		if err := SealPart(mw, "file_meta", to, func(w io.Writer) error {
			_, err := w.Write(meta)
			return err
		}); err != nil {
			return err
		}
	}
	if s.Contact != "" {
		if err := SealPart(mw, "contact", to, func(w io.Writer) error {
			_, err := io.WriteString(w, s.Contact)
			return err
		}); err != nil {
			return err
		}
	}
	return mw.Close()
}

// SealPart writes one part: an age file of what write writes. The part
// names no file: a file's name travels only encrypted, in its file_meta.
func SealPart(mw *multipart.Writer, name string, to []age.Recipient, write func(io.Writer) error) error {
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="`+name+`"`)
	h.Set("Content-Type", "application/octet-stream")
	pw, err := mw.CreatePart(h)
	if err != nil {
		return err
	}
	w, err := age.Encrypt(pw, to...)
	if err != nil {
		return err
	}
	if err := write(w); err != nil {
		return err
	}
	return w.Close()
}

// LoginSource logs a source in with the authentication key derived from
// the codename, and answers the slug of the conversation's desk.
func (c *Client) LoginSource(ctx context.Context, auth []byte) (desk string, err error) {
	var lr api.SourceLoginResponse
	req := api.SourceLoginRequest{Auth: base64.StdEncoding.EncodeToString(auth)}
	proof, err := c.Prove(ctx)
	if err != nil {
		return "", err
	}
	if err := c.postJSON(ctx, "/api/v1/source/login", req, &lr, proof); err != nil {
		return "", err
	}
	c.Token = lr.Token
	return lr.Desk, nil
}

// LogoutSource ends the source's session.
func (c *Client) LogoutSource(ctx context.Context) {
	if c.Token != "" {
		c.PostJSON(ctx, "/api/v1/source/logout", nil, nil)
		c.Token = ""
	}
}

// MaxReplies bounds the replies a source's client reads: a conversation
// with more is not one a newsroom has.
const MaxReplies = 1000

// Replies lists the replies to the logged-in source, oldest first.
func (c *Client) Replies(ctx context.Context) ([]api.Reply, error) {
	var rr api.RepliesResponse
	if err := c.GetJSON(ctx, "/api/v1/source/replies", &rr); err != nil {
		return nil, err
	}
	if len(rr.Replies) > MaxReplies {
		return nil, fmt.Errorf("the server lists %d replies, more than the %d this program reads", len(rr.Replies), MaxReplies)
	}
	slices.SortFunc(rr.Replies, func(a, b api.Reply) int { return cmp.Compare(a.ID, b.ID) })
	return rr.Replies, nil
}

// ErrReplyTooLong is returned for a reply longer than asked for.
var ErrReplyTooLong = errors.New("the reply is longer than expected")

// Reply fetches a reply and decrypts it, here, with the source's identity.
// It reads at most max bytes of plaintext, and exactly the size the list
// declared of its age file.
func (c *Client) Reply(ctx context.Context, reply api.Reply, identity age.Identity, max int64) ([]byte, error) {
	id := reply.ID
	if reply.Size <= 0 || reply.Size > AgeSizeBound(max) {
		return nil, ErrReplyTooLong
	}
	resp, err := c.Do(ctx, http.MethodGet, "/api/v1/source/replies/"+strconv.FormatInt(id, 10), nil, "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r, err := age.Decrypt(Exact(resp, reply.Size), identity)
	if err != nil {
		return nil, fmt.Errorf("reply %d: %w", id, err)
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reply %d: %w", id, err)
	}
	if int64(len(b)) > max {
		return nil, ErrReplyTooLong
	}
	return b, nil
}

// AgeSizeBound is the largest age file a plaintext of n bytes makes here:
// a header with a few hybrid stanzas (about 1.5 KiB each) and, per 64 KiB
// chunk, a 16-byte tag, after a 16-byte nonce.
func AgeSizeBound(n int64) int64 {
	const header = 64 << 10
	return header + 16 + n + 16*(n/(64<<10)+1)
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Prove asks the server for a proof-of-work challenge and solves it (a
// fraction of a second at the most the server may ask, pow.MaxBits), for
// the header of a new tip or a login. A server that asks for none (404)
// gets none.
func (c *Client) Prove(ctx context.Context) (http.Header, error) {
	var ch api.ChallengeResponse
	if err := c.GetJSONMax(ctx, "/api/v1/source/challenge", 4<<10, &ch); err != nil {
		if e, ok := errors.AsType[*Error](err); ok && e.Status == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	sol, err := pow.Solve(ctx, ch.Challenge)
	if err != nil {
		return nil, err
	}
	return http.Header{api.PoWHeader: {sol}}, nil
}
