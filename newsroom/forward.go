package newsroom

// The journalists' routes of forward secrecy (docs/forward-secrecy.md,
// package forward), served alike behind the inbox's session and CSRF
// header and behind the API's bearer token:
//
//	GET  /newsroom/fs/keys       /api/v1/journalist/fs/keys       today, the desks' days without an intake key, the live intake keys
//	POST /newsroom/fs/keys       /api/v1/journalist/fs/keys       intake keys a member's client made, signed and sealed
//	GET  /newsroom/fs/unsorted   /api/v1/journalist/fs/unsorted   items (their age headers) and previews still to sort
//	POST /newsroom/fs/sort       /api/v1/journalist/fs/sort       conversation keys, rewrapped headers, rewrapped previews
//
// Forward implements them once; Handler and the API's handler put their
// own authentication in front. Answers are JSON, bytes in standard
// base64; errors are {"error": code, "message": text}, as the API's, on
// both, since the same sorter (the inbox's Worker, `pista sort`) reads
// them. A refused request changes nothing.
//
// The server never holds a key that opens an item here: it checks the
// form of what it is given (signatures of intake keys with the desk's
// signing key, stanza counts and types of sealed keys and headers) and
// copies the payloads it cannot read behind the new headers.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/intake"
)

// Forward serves the forward secrecy routes of a journalist's sorter.
type Forward struct {
	Desks pista.DeskStore
	Tips  pista.TipStore
	Blobs pista.BlobStore
	// Archive are the archive recipients: every sealed key, header and
	// preview also has a stanza for each.
	Archive []string
	Clock   forward.Clock
	Log     *slog.Logger
	// Now is the time (nil: time.Now), for tests.
	Now func() time.Time
}

func (f *Forward) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Limits of the forward secrecy routes.
const (
	// MaxFSKeysBody bounds POST fs/keys: pista.MaxIntakeKeys keys whose
	// sealed secret is at most forward.MaxSealedSize (base64: 4/3 of
	// it), with room for the rest of each key.
	MaxFSKeysBody = pista.MaxIntakeKeys*(forward.MaxSealedSize*4/3+8<<10) + 4<<10
	// MaxFSSortBody bounds POST fs/sort: a thousand rewrapped items of a
	// few recipients' stanzas each (about 1.6 KiB a stanza, two headers
	// an item) fit, with their conversations' keys and previews.
	MaxFSSortBody = 8 << 20
	// DefaultFSUnsorted and MaxFSUnsorted are GET fs/unsorted's page
	// sizes: each item costs the reading of one or two headers.
	DefaultFSUnsorted = 200
	MaxFSUnsorted     = 500
	// MaxFSPreviews is how many previews GET fs/unsorted lists, and a
	// sort takes at most MaxFSSortPreviews.
	MaxFSPreviews     = 100
	MaxFSSortPreviews = 500
	// maxRecipientLen bounds an age1pq1… public key (about 1,960
	// characters).
	maxRecipientLen = 4 << 10
	// maxConversationID bounds a conversation ID (26 characters).
	maxConversationID = 64
	// maxSealedPlaintext bounds what a sealed key holds: an identity
	// string (AGE-SECRET-KEY-PQ-1…, under 100 characters).
	maxSealedPlaintext = 1 << 10
)

// FSKeys answers GET fs/keys.
type FSKeys struct {
	Day           int64 `json:"day"`
	PeriodSeconds int64 `json:"period_seconds"`
	Ahead         int   `json:"ahead"`
	Grace         int   `json:"grace"`
	// Desks are the journalist's desks and their current generation.
	Desks []FSDesk `json:"desks"`
	// Intake are the live intake keys of the journalist's desks, every
	// generation.
	Intake []FSIntakeKey `json:"intake"`
}

// FSDesk is one of the journalist's desks, its current key generation,
// that generation's signing key (nil until a member posted intake keys)
// and the days of [day, day+ahead) it has no intake key for.
type FSDesk struct {
	ID        int64   `json:"id"`
	Slug      string  `json:"slug"`
	KeyID     int64   `json:"key_id"`
	Recipient string  `json:"recipient"`
	SignKey   []byte  `json:"sign_key"`
	NeedDays  []int64 `json:"need_days"`
}

// FSIntakeKey is a live intake key, its secret sealed to its desk key.
type FSIntakeKey struct {
	ID        int64  `json:"id"`
	DeskID    int64  `json:"desk_id"`
	DeskKeyID int64  `json:"desk_key_id"`
	Day       int64  `json:"day"`
	Recipient string `json:"recipient"`
	Signature []byte `json:"signature"`
	Sealed    []byte `json:"sealed"`
}

// FSAddKeys is the body of POST fs/keys.
type FSAddKeys struct {
	DeskKeyID int64      `json:"desk_key_id"`
	SignKey   []byte     `json:"sign_key"`
	Keys      []FSNewKey `json:"keys"`
}

// FSNewKey is an intake key a member's client made (forward.MakeIntakeKey).
type FSNewKey struct {
	Day       int64  `json:"day"`
	Recipient string `json:"recipient"`
	Signature []byte `json:"signature"`
	Sealed    []byte `json:"sealed"`
}

// FSAdded answers POST fs/keys: how many keys were stored (a day that
// already had one keeps it).
type FSAdded struct {
	Added int `json:"added"`
}

// fsError is a refused or failed request.
type fsError struct {
	status    int
	code, msg string
	err       error // for the log, never shown
}

func refuseFS(status int, code, format string, args ...any) *fsError {
	return &fsError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badFS(format string, args ...any) *fsError {
	return refuseFS(http.StatusBadRequest, "bad_request", format, args...)
}

// failedFS is a failure of the server's (a store, the disk).
func failedFS(what string, err error) *fsError {
	if StorageFull(err) {
		return &fsError{status: http.StatusInsufficientStorage, code: "storage_full",
			msg: "the server has no room to store this now; try again later", err: fmt.Errorf("%s: %w", what, err)}
	}
	return &fsError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again",
		err: fmt.Errorf("%s: %w", what, err)}
}

func (f *Forward) fail(w http.ResponseWriter, r *http.Request, e *fsError) {
	if e.err != nil && r.Context().Err() == nil {
		if e.status == http.StatusInsufficientStorage {
			f.Log.Warn("forward secrecy: no room on the disk", "err", e.err)
		} else {
			f.Log.Error("forward secrecy", "err", e.err)
		}
	}
	if e.status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "message": e.msg})
}

// decodeFS reads a JSON body of at most limit bytes into v.
func decodeFS(w http.ResponseWriter, r *http.Request, limit int64, v any, shape string) *fsError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return refuseFS(http.StatusRequestEntityTooLarge, "too_large", "the body is over %d bytes", limit)
		}
		return badFS("the body must be JSON %s, bytes in standard base64 (%s)", shape, clipFS(err.Error()))
	}
	if dec.More() {
		return badFS("the body must be one JSON object %s", shape)
	}
	return nil
}

// clipFS shortens a parser's message, which may quote the input.
func clipFS(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// today is the intake day now.
func (f *Forward) today() int64 { return f.Clock.Day(f.now()) }

// ListKeys answers GET fs/keys for the journalist j.
func (f *Forward) ListKeys(w http.ResponseWriter, r *http.Request, j pista.Journalist) {
	ctx := r.Context()
	day := f.today()
	period := f.Clock.Period
	if period <= 0 {
		period = forward.DefaultPeriod
	}
	out := FSKeys{Day: day, PeriodSeconds: int64(period / time.Second), Ahead: forward.Ahead, Grace: forward.Grace,
		Desks: []FSDesk{}, Intake: []FSIntakeKey{}}
	desks, err := f.Desks.DesksOf(ctx, j.ID)
	if err != nil {
		f.fail(w, r, failedFS("listing the journalist's desks", err))
		return
	}
	live, err := f.Tips.IntakeKeysFor(ctx, j.ID)
	if err != nil {
		f.fail(w, r, failedFS("listing intake keys", err))
		return
	}
	have := map[[2]int64]bool{} // generation, day
	for _, k := range live {
		have[[2]int64{k.DeskKeyID, k.Day}] = true
		out.Intake = append(out.Intake, FSIntakeKey{ID: k.ID, DeskID: k.DeskID, DeskKeyID: k.DeskKeyID, Day: k.Day,
			Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed})
	}
	for _, d := range desks {
		sign, err := f.Tips.SignKey(ctx, d.KeyID)
		if err != nil && !errors.Is(err, pista.ErrNotFound) {
			f.fail(w, r, failedFS("reading a signing key", err))
			return
		}
		fd := FSDesk{ID: d.ID, Slug: d.Slug, KeyID: d.KeyID, Recipient: d.Recipient, SignKey: sign, NeedDays: []int64{}}
		for n := day; n < day+forward.Ahead; n++ {
			if !have[[2]int64{d.KeyID, n}] {
				fd.NeedDays = append(fd.NeedDays, n)
			}
		}
		out.Desks = append(out.Desks, fd)
	}
	writeJSON(w, http.StatusOK, out)
}

// AddKeys answers POST fs/keys for the journalist j: it checks every key
// (the window of days, the recipient, the signature by sign_key, the
// sealed secret's form) and stores them all, or refuses them all.
func (f *Forward) AddKeys(w http.ResponseWriter, r *http.Request, j pista.Journalist) {
	ctx := r.Context()
	var req FSAddKeys
	if e := decodeFS(w, r, MaxFSKeysBody, &req, `{"desk_key_id", "sign_key", "keys": [{"day", "recipient", "signature", "sealed"}]}`); e != nil {
		f.fail(w, r, e)
		return
	}
	switch {
	case len(req.Keys) == 0:
		f.fail(w, r, badFS("no keys"))
		return
	case len(req.Keys) > pista.MaxIntakeKeys:
		f.fail(w, r, badFS("at most %d keys at once", pista.MaxIntakeKeys))
		return
	case len(req.SignKey) != 32:
		f.fail(w, r, badFS("sign_key must be an Ed25519 public key (32 bytes)"))
		return
	}
	desk, e := f.currentDesk(ctx, j, req.DeskKeyID)
	if e != nil {
		f.fail(w, r, e)
		return
	}
	if have, err := f.Tips.SignKey(ctx, req.DeskKeyID); err != nil && !errors.Is(err, pista.ErrNotFound) {
		f.fail(w, r, failedFS("reading a signing key", err))
		return
	} else if have != nil && !bytes.Equal(have, req.SignKey) {
		f.fail(w, r, refuseFS(http.StatusConflict, "sign_key", "this desk key already has another signing key: derive it again from the desk key (forward.SignKey)"))
		return
	}
	day := f.today()
	keys := make([]pista.IntakeKey, 0, len(req.Keys))
	days := map[int64]bool{}
	for i, k := range req.Keys {
		if e := checkNewKey(k, day, desk.Recipient, req.SignKey); e != nil {
			e.msg = "key " + strconv.Itoa(i+1) + ": " + e.msg
			f.fail(w, r, e)
			return
		}
		if days[k.Day] {
			f.fail(w, r, badFS("key %d: day %d comes twice", i+1, k.Day))
			return
		}
		days[k.Day] = true
		keys = append(keys, pista.IntakeKey{DeskID: desk.ID, DeskKeyID: req.DeskKeyID, Day: k.Day, Recipient: k.Recipient,
			Signature: k.Signature, Sealed: k.Sealed})
	}
	n, err := f.Tips.AddIntakeKeys(ctx, j.ID, req.DeskKeyID, req.SignKey, keys)
	switch {
	case errors.Is(err, pista.ErrSignKey):
		f.fail(w, r, refuseFS(http.StatusConflict, "sign_key", "this desk key already has another signing key: derive it again from the desk key (forward.SignKey)"))
		return
	case errors.Is(err, pista.ErrNotCurrent):
		f.fail(w, r, refuseFS(http.StatusConflict, "not_current", "this desk key is no longer the desk's current one: load GET fs/keys again"))
		return
	case errors.Is(err, pista.ErrNotFound):
		f.fail(w, r, refuseFS(http.StatusNotFound, "not_found", "no such desk key among your desks'"))
		return
	case err != nil:
		f.fail(w, r, failedFS("storing intake keys", err))
		return
	}
	if n > 0 {
		f.Log.Info("journalist added intake keys", "journalist", j.Name, "desk", desk.Slug, "keys", n)
	}
	writeJSON(w, http.StatusOK, FSAdded{Added: n})
}

// currentDesk finds the journalist's desk whose current key generation is
// deskKeyID: 409 if it is an older generation of one of their desks, 404
// if it is none of theirs.
func (f *Forward) currentDesk(ctx context.Context, j pista.Journalist, deskKeyID int64) (pista.Desk, *fsError) {
	desks, err := f.Desks.DesksOf(ctx, j.ID)
	if err != nil {
		return pista.Desk{}, failedFS("listing the journalist's desks", err)
	}
	for _, d := range desks {
		if d.KeyID == deskKeyID {
			return d, nil
		}
	}
	wraps, err := f.Desks.WrapsFor(ctx, j.ID)
	if err != nil {
		return pista.Desk{}, failedFS("listing the journalist's desk keys", err)
	}
	for _, wr := range wraps {
		if wr.DeskKeyID == deskKeyID {
			return pista.Desk{}, refuseFS(http.StatusConflict, "not_current", "this desk key is no longer the desk's current one: load GET fs/keys again")
		}
	}
	return pista.Desk{}, refuseFS(http.StatusNotFound, "not_found", "no such desk key among your desks'")
}

// checkNewKey checks one intake key a client made for the desk key
// deskRecipient on day today: its day within [today-1, today+Ahead], a
// hybrid recipient, a signature by signKey, and a sealed secret that is
// an age file of one hybrid stanza holding an identity string.
func checkNewKey(k FSNewKey, today int64, deskRecipient string, signKey []byte) *fsError {
	if k.Day < today-1 || k.Day > today+forward.Ahead {
		return badFS("day %d is outside [%d, %d]: today is %d", k.Day, today-1, today+forward.Ahead, today)
	}
	if e := checkRecipient(k.Recipient); e != nil {
		return e
	}
	if err := forward.Verify(signKey, deskRecipient, k.Day, k.Recipient, k.Signature); err != nil {
		return refuseFS(http.StatusBadRequest, "bad_signature", "the signature is not sign_key's over this desk key, day and recipient (forward.Statement)")
	}
	return checkSealed(k.Sealed, 1)
}

// checkRecipient checks an age1pq1… public key.
func checkRecipient(s string) *fsError {
	if len(s) > maxRecipientLen {
		return badFS("the recipient is over %d bytes", maxRecipientLen)
	}
	if _, err := age.ParseHybridRecipient(s); err != nil {
		return badFS("the recipient is not a post-quantum age public key (age1pq1…)")
	}
	return nil
}

// checkSealed checks a sealed key (forward.Seal): at most
// forward.MaxSealedSize bytes, an age file of exactly stanzas hybrid
// stanzas whose payload holds no more than an identity string.
func checkSealed(b []byte, stanzas int) *fsError {
	if len(b) > forward.MaxSealedSize {
		return badFS("the sealed key is over %d bytes", forward.MaxSealedSize)
	}
	n, _, err := intake.CheckHeader(bytes.NewReader(b), stanzas)
	if err != nil {
		return refuseFS(http.StatusBadRequest, "malformed_key", "the sealed key is %s", clipFS(err.Error()))
	}
	if p, ok := intake.PlaintextSize(int64(len(b) - n)); !ok || p > maxSealedPlaintext {
		return refuseFS(http.StatusBadRequest, "malformed_key", "the sealed key's payload is not an identity's")
	}
	return nil
}

// forwarder is the handler's Forward, made from its stores.
func (h *Handler) forwarder() *Forward {
	return &Forward{Desks: h.Desks, Tips: h.Tips, Blobs: h.Blobs, Archive: h.Archive, Clock: h.Clock, Log: h.Log}
}

// registerForward adds the sorter's routes, behind the session (and the
// CSRF header on POSTs).
func (h *Handler) registerForward(mux *http.ServeMux) {
	fw := h.forwarder()
	as := func(serve func(http.ResponseWriter, *http.Request, pista.Journalist)) http.HandlerFunc {
		return h.auth(func(w http.ResponseWriter, r *http.Request, q request) { serve(w, r, q.j) })
	}
	mux.HandleFunc("GET /newsroom/fs/keys", as(fw.ListKeys))
	mux.HandleFunc("POST /newsroom/fs/keys", as(fw.AddKeys))
	mux.HandleFunc("GET /newsroom/fs/unsorted", as(fw.ListUnsorted))
	mux.HandleFunc("POST /newsroom/fs/sort", as(fw.Sort))
}

// conversationKeys are the keys of the conversations that have one, in
// base64, by ID: the inbox's script opens their previews and items with
// them.
func conversationKeys(convs []pista.Conversation) map[string]string {
	keys := map[string]string{}
	for _, c := range convs {
		if c.KeyRecipient != "" {
			keys[c.ID] = base64.StdEncoding.EncodeToString(c.Key)
		}
	}
	return keys
}
