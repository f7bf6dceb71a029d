package api

// The source routes: what an app needs to send tips and read replies while
// encrypting and decrypting everything on the source's device.
//
// # Keys on the device
//
// GET /api/v1/desks publishes the desks' recipients (the desk's key and the
// newsroom's archive keys) and the parameters of the codename derivations,
// the instance salt included. An app makes a codename, derives the
// authentication key, its lookup hash and the source's age identity
// exactly as the server's web pages do (package keys), and never sends the
// codename: it sends the lookup hash and the source's public key with the
// first tip, and the authentication key to log in. The server hashes the
// key and finds the source, so logging in needs no Argon2id on the server,
// and whoever reads the database learns only the hash.
//
// # Forward secrecy
//
// Each desk also lists its key (desk_key), the key that signs its intake
// keys (sign_key) and the intake key of the day (intake), made by a
// member's client (docs/forward-secrecy.md). An app that checks the intake
// key's signature encrypts to it and the archive keys instead of the
// desk's key, and declares it (IntakeKeyHeader): the server destroys the
// intake key's secret a few days later, once the newsroom has moved the
// items under their conversation's key, so that an old copy of them opens
// with no key. The server checks the declared key is live and of the
// desk's current key, else refuses the submission (409); undeclared items
// are stored as received without forward secrecy.
//
// # Sealed items
//
// Every item an app sends is a complete age file, encrypted on the device
// to every recipient of the desk. The server checks its form and stores it
// byte for byte (intake.AddEncrypted): the header must parse, with exactly
// one hybrid (mlkem768x25519) stanza per recipient and nothing else, and
// the payload must have a size age writes. It cannot check which keys the
// stanzas are for: age hides that by design. A submission is all or
// nothing: a part refused deletes every object already written.
//
// # Source tokens
//
// Logging in gives a bearer token that holds the session itself, sealed
// (httpx.Sealed, under an hourly key of the database's settings, bound
// to its purpose so that a web cookie does not stand for one): the source's ID
// and conversation and the source's session epoch, never a key. The
// server keeps no table of them, so no number of sources can lock another
// out, and tokens outlive a restart. A token lasts two hours from login;
// every request checks the epoch, so logging out (from the API or the web
// pages) ends every token of the source at once, and so does the deletion
// of its conversation. Logging in again ends none: a source may follow
// its conversation from several devices.

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
)

// Limits of sealed submissions besides the web form's (httpx), which apply
// to the plaintext sizes: an age file's size gives its plaintext's exactly.
const (
	// maxTipPart bounds the JSON "tip" part: a slug, a 32-byte hash and a
	// public key of about 2 KiB.
	maxTipPart = 8 << 10
	// maxSealedMeta bounds a file's sealed name and type: the JSON of a
	// name of MaxFilenameBytes and a type of MaxSmallField with every byte
	// escaped (\u00XX).
	maxSealedMeta = 6*(httpx.MaxFilenameBytes+httpx.MaxSmallField) + 64
	// maxLoginBody bounds a source login: a base64 key and some JSON.
	maxLoginBody = 4 << 10
	// lookupSize is the size of a lookup hash (SHA-256).
	lookupSize = 32
)

// sealedBodyLimit bounds the body of a sealed submission: the plaintext
// limit, plus what age adds (16 bytes a 64 KiB chunk, a header a part)
// and the multipart framing.
func sealedBodyLimit(maxUpload int64) int64 {
	return maxUpload + maxUpload/(64<<10)*16 + httpx.MaxParts*(intake.MaxSealedHeader+httpx.MaxPartHeaderBytes+64) + 1<<20
}

// SourceSession is what a source's token stands for.
type SourceSession struct {
	SourceID       int64
	ConversationID string
}

// tokenPurpose binds the sources' API tokens to the API: a web session
// cookie, sealed under the same key, does not open as one.
const tokenPurpose = "pista source api token"

// NewSourceTokens seals the sources' tokens with keys: two hours from
// login, the web pages' sessions' lifetime. They have no idle expiry: a
// bearer token cannot slide without the client taking a new one at every
// answer, and the API is used from a source's own device, where an app
// can forget it. Every request checks the source's session epoch in tips.
func NewSourceTokens(keys *httpx.KeyRing, tips pista.TipStore) (*httpx.Sealed[SourceSession], error) {
	s, err := httpx.NewSealed[SourceSession](keys, tokenPurpose)
	if err != nil {
		return nil, err
	}
	s.Lifetime = 2 * time.Hour
	s.Encode = func(v SourceSession) ([]byte, error) {
		if v.ConversationID == "" {
			return nil, errors.New("api: a token needs a conversation")
		}
		return append(binary.BigEndian.AppendUint64(nil, uint64(v.SourceID)), v.ConversationID...), nil
	}
	s.Decode = func(b []byte) (SourceSession, error) {
		if len(b) <= 8 {
			return SourceSession{}, errors.New("api: a sealed token too short")
		}
		return SourceSession{SourceID: int64(binary.BigEndian.Uint64(b)), ConversationID: string(b[8:])}, nil
	}
	s.Epoch = func(ctx context.Context, v SourceSession) (int64, error) {
		return tips.SourceSessionEpoch(ctx, v.SourceID, v.ConversationID)
	}
	return s, nil
}

// DesksResponse answers GET /api/v1/desks.
type DesksResponse struct {
	Desks    []Desk   `json:"desks"`
	Codename Codename `json:"codename"`
}

// Desk is a desk as an app shows it and encrypts to it.
type Desk struct {
	Slug        string `json:"slug"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Recipients are the desk's key and the newsroom's archive keys
	// (age1pq1…): every item sent to the desk must be encrypted to all
	// of them, and to nothing else.
	Recipients []string `json:"recipients"`
	// DeskKey is the desk's own key (the first of Recipients), SignKey
	// the Ed25519 public key that signs its intake keys (null until a
	// member made one), Intake the day's intake key (null if none). An
	// app that checks Intake's signature (forward.Verify) encrypts to
	// Intake.Recipient and the archive keys (Recipients without DeskKey)
	// and says so (IntakeKeyHeader): the items then have forward secrecy.
	DeskKey string      `json:"desk_key"`
	SignKey []byte      `json:"sign_key"`
	Intake  *DeskIntake `json:"intake"`
	// Questions are what the desk asks a new tip's source, in order, with
	// their labels in each language of the instance (pista.Question):
	// answered in one sealed "answers" part, the JSON of pista.Answers.
	Questions []pista.Question `json:"questions"`
}

// DeskIntake is a desk's intake key of the day (docs/forward-secrecy.md).
type DeskIntake struct {
	ID        int64  `json:"id"`
	Day       int64  `json:"day"`
	Recipient string `json:"recipient"`
	// Signature is the Ed25519 signature of forward.Statement(DeskKey,
	// Day, Recipient) by SignKey.
	Signature []byte `json:"signature"`
}

// IntakeKeyHeader declares the intake key (DeskIntake.ID) a submission's
// items are encrypted to, with the archive keys, in place of the desk's
// key. Without it the items are stored as received without forward
// secrecy.
const IntakeKeyHeader = "Pista-Intake-Key"

// Codename is how a codename is made and what it derives, for apps that
// derive keys on the device: master = Argon2id(the codename's 28 ASCII
// digits, salt); auth = HKDF-SHA-256(master, empty salt, auth info);
// lookup = SHA-256(auth); seed = HKDF-SHA-256(master, empty salt, seed
// info); the source's identity is the age hybrid identity whose
// ML-KEM-768-X25519 seed is seed ("AGE-SECRET-KEY-PQ-1…", seed in Bech32).
type Codename struct {
	Digits   int      `json:"digits"`
	Salt     []byte   `json:"salt"`
	Argon2id Argon2id `json:"argon2id"`
	HKDF     HKDF     `json:"hkdf"`
}

// Argon2id are the parameters of the codename's stretching: the
// instance's own (an app must derive with what the server publishes, not
// with constants of its own), version 0x13 (19), MemoryKiB in KiB.
type Argon2id struct {
	Version   int    `json:"version"`
	MemoryKiB uint32 `json:"memory_kib"`
	Time      uint32 `json:"time"`
	Threads   uint8  `json:"threads"`
	Length    int    `json:"length"`
}

// HKDF are the parameters of the two keys drawn from the stretched
// codename.
type HKDF struct {
	Hash       string `json:"hash"`
	AuthInfo   string `json:"auth_info"`
	AuthLength int    `json:"auth_length"`
	SeedInfo   string `json:"seed_info"`
	SeedLength int    `json:"seed_length"`
}

// CodenameParams are the codename parameters of the instance whose salt
// this is (keys.InstanceKDF: each instance keeps the Argon2id parameters
// it was made with), or an error for a salt that names none.
func CodenameParams(salt []byte) (Codename, error) {
	k, err := keys.InstanceKDF(salt)
	if err != nil {
		return Codename{}, err
	}
	return CodenameParamsWith(salt, k), nil
}

// CodenameParamsWith are the codename parameters with salt and Argon2id
// parameters k.
func CodenameParamsWith(salt []byte, k keys.KDF) Codename {
	return Codename{
		Digits: keys.CodenameDigits,
		Salt:   salt,
		Argon2id: Argon2id{Version: 0x13, MemoryKiB: k.Memory, Time: k.Time,
			Threads: k.Threads, Length: keys.MasterSize},
		HKDF: HKDF{Hash: "SHA-256", AuthInfo: keys.AuthLabel, AuthLength: keys.AuthSize,
			SeedInfo: keys.SeedLabel, SeedLength: keys.SeedSize},
	}
}

// recipientsOf lists what a desk's items are encrypted to.
func (h *Handler) recipientsOf(d pista.Desk) []string {
	rs := []string{d.Recipient}
	for _, a := range h.Archive {
		if a != "" {
			rs = append(rs, a)
		}
	}
	return rs
}

func (h *Handler) listDesks(w http.ResponseWriter, r *http.Request) {
	desks, err := h.Desks.Desks(r.Context())
	if err != nil {
		h.internal(w, err)
		return
	}
	params, err := CodenameParams(h.Salt)
	if err != nil {
		h.internal(w, err)
		return
	}
	resp := DesksResponse{Desks: []Desk{}, Codename: params}
	day := h.Clock.Day(time.Now())
	for _, d := range desks {
		q, err := h.Desks.Questions(r.Context(), d.ID)
		if err != nil {
			h.internal(w, err)
			return
		}
		desk := Desk{Slug: d.Slug, Title: d.Title, Description: d.Description, Recipients: h.recipientsOf(d), DeskKey: d.Recipient, Questions: q.Questions}
		signKey, in := intake.Publish(r.Context(), h.Tips, h.Log, d, day)
		desk.SignKey = signKey
		if in != nil {
			desk.Intake = &DeskIntake{ID: in.ID, Day: in.Day, Recipient: in.Recipient, Signature: in.Signature}
		}
		resp.Desks = append(resp.Desks, desk)
	}
	writeJSON(w, http.StatusOK, resp)
}

// TipPart is the JSON of the "tip" part that opens POST
// /api/v1/source/tips.
type TipPart struct {
	Desk string `json:"desk"`
	// Lookup is keys.LookupHash of the source's authentication key.
	Lookup []byte `json:"lookup"`
	// Recipient is the source's age1pq1… public key: replies are
	// encrypted to it.
	Recipient string `json:"recipient"`
}

// Accepted answers a stored submission. It carries no identifier: a source
// has no use for the server's, and should keep none.
type Accepted struct {
	OK bool `json:"ok"`
}

// SourceLoginRequest is the body of POST /api/v1/source/login.
type SourceLoginRequest struct {
	// Auth is the source's authentication key, base64 (standard, padded).
	Auth string `json:"auth"`
}

// SourceLoginResponse answers a source's login: the token and the desk of
// the conversation, whose recipients follow-ups are encrypted to.
type SourceLoginResponse struct {
	Token string `json:"token"`
	Desk  string `json:"desk"`
}

// Reply describes one reply to the source.
type Reply struct {
	ID      int64     `json:"id"`
	Created time.Time `json:"created"`
	Size    int64     `json:"size"`
	// Kind is "reply" for a reply's text, "file" for a file a journalist
	// sent with the reply before it: its bytes padded (pista.Padme) at
	// GET /api/v1/source/replies/{id}, its name, type and exact size (a
	// JSON pista.FileMeta) at …/{id}/meta, both encrypted to the source.
	Kind     pista.ItemKind `json:"kind"`
	MetaSize int64          `json:"meta_size,omitempty"`
}

// RepliesResponse answers GET /api/v1/source/replies, oldest first.
type RepliesResponse struct {
	Replies []Reply `json:"replies"`
}

// apiError is a refused request.
type apiError struct {
	status    int
	code, msg string
	err       error // for the log, never shown
}

func refuse(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func (h *Handler) refused(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusInsufficientStorage {
		// The error says which: the disk is full, or at its floor.
		h.Log.Warn("an api submission was refused: no room on the disk", "err", e.err)
	} else if e.status >= 500 && e.err != nil {
		h.Log.Error("api submission failed", "err", e.err)
	}
	if e.status == http.StatusRequestEntityTooLarge {
		// The client may still be sending: tell it to stop.
		w.Header().Set("Connection", "close")
	}
	writeError(w, e.status, e.code, e.msg)
}

// sealedForm is a sealed submission being read.
type sealedForm struct {
	batch      *intake.Batch
	recipients int
	contact    bool // a contact part is allowed
	parts      int
	messages   int64 // plaintext bytes of messages so far
	items      int   // messages and files
	files      int
	contacts   int
	answers    int // sealed answers parts (a new tip may have one)
	// preview is the new tip's "preview" part (pista.Conversation.Preview).
	preview []byte
}

// readParts reads the sealed parts of a multipart body, after the tip part
// if any: message, contact, file each followed by its file_meta. Each is
// stored as it arrives; the caller aborts the batch on error.
func (h *Handler) readParts(ctx context.Context, mr *intake.PartReader, f *sealedForm) *apiError {
	pendingFile := false
	for {
		part, aerr := nextPart(mr, &f.parts)
		if aerr != nil {
			return aerr
		}
		if part == nil {
			break
		}
		name := part.FormName()
		if pendingFile && name != "file_meta" {
			return refuse(http.StatusBadRequest, "bad_request", `each "file" part must be followed at once by its "file_meta" part`)
		}
		var err error
		switch name {
		case "message":
			var n int64
			n, err = f.batch.AddEncrypted(ctx, pista.KindMessage, part, f.recipients, httpx.MaxMessageBytes-f.messages)
			f.messages += n
			f.items++
		case "contact":
			if !f.contact {
				return refuse(http.StatusBadRequest, "bad_request", `a "contact" part goes with a new tip only`)
			}
			if f.contacts++; f.contacts > 1 {
				return refuse(http.StatusBadRequest, "bad_request", `a tip has at most one "contact" part`)
			}
			_, err = f.batch.AddEncrypted(ctx, pista.KindContact, part, f.recipients, 4*httpx.MaxContactChars)
		case "answers":
			if !f.contact {
				return refuse(http.StatusBadRequest, "bad_request", `an "answers" part goes with a new tip only`)
			}
			if f.answers++; f.answers > 1 {
				return refuse(http.StatusBadRequest, "bad_request", `a tip has at most one "answers" part`)
			}
			_, err = f.batch.AddEncrypted(ctx, pista.KindAnswers, part, f.recipients, pista.MaxAnswersBytes)
			f.items++
		case "file":
			if f.files++; f.files > httpx.MaxFiles {
				return refuse(http.StatusRequestEntityTooLarge, "too_large", "too many files: at most "+strconv.Itoa(httpx.MaxFiles))
			}
			_, err = f.batch.AddEncrypted(ctx, pista.KindFile, part, f.recipients, -1)
			f.items++
			pendingFile = true
		case "preview":
			if !f.contact || f.preview != nil {
				return refuse(http.StatusBadRequest, "bad_request", `a new tip has at most one "preview" part; follow-ups have none`)
			}
			b, rerr := io.ReadAll(io.LimitReader(part, pista.MaxPreviewSize+1))
			if rerr != nil {
				err = rerr
				break
			}
			if err = intake.CheckPreview(b, f.recipients); err == nil {
				f.preview = b
			}
		case "file_meta":
			if !pendingFile {
				return refuse(http.StatusBadRequest, "bad_request", `a "file_meta" part must follow its "file" part`)
			}
			_, err = f.batch.AddEncryptedMeta(ctx, part, f.recipients, maxSealedMeta)
			pendingFile = false
		default:
			return refuse(http.StatusBadRequest, "bad_request", `unexpected part: the parts are "message", "preview", "contact", "answers" and "file" followed by "file_meta"`)
		}
		if err != nil {
			return sealedError(name, err)
		}
	}
	if pendingFile {
		return refuse(http.StatusBadRequest, "bad_request", `the last "file" part has no "file_meta" part`)
	}
	if f.items == 0 {
		return refuse(http.StatusBadRequest, "empty", `send at least one "message" or "file" part`)
	}
	f.batch.Sort()
	return nil
}

// nextPart returns the next part, nil at the end.
func nextPart(mr *intake.PartReader, parts *int) (*multipart.Part, *apiError) {
	if *parts++; *parts > httpx.MaxParts {
		return nil, refuse(http.StatusRequestEntityTooLarge, "too_large", "too many parts: at most "+strconv.Itoa(httpx.MaxParts))
	}
	part, err := mr.NextPart()
	if err == io.EOF {
		return nil, nil
	}
	if errors.Is(err, intake.ErrPartHeader) {
		return nil, refuse(http.StatusBadRequest, "bad_request", "a part's headers are too long")
	}
	if err != nil {
		return nil, sealedError("", err)
	}
	n := 0
	for k, vs := range part.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	if n > httpx.MaxPartHeaderBytes {
		return nil, refuse(http.StatusBadRequest, "bad_request", "a part's headers are too long")
	}
	return part, nil
}

// declaredIntake reads the request's IntakeKeyHeader: 0 if none.
func declaredIntake(r *http.Request) (int64, *apiError) {
	v := r.Header.Get(IntakeKeyHeader)
	if v == "" {
		return 0, nil
	}
	id, err := intake.ParseIntakeKeyID(v)
	if err != nil {
		return 0, refuse(http.StatusBadRequest, "bad_request", IntakeKeyHeader+" must be the id of the desk's intake key (GET /api/v1/desks)")
	}
	return id, nil
}

// checkIntake checks the declared intake key id (0: none) against the
// desk, and marks the batch's items: under the intake key, or received
// without forward secrecy. It answers the intake key the preview is
// under (0: none).
func (h *Handler) checkIntake(ctx context.Context, f *sealedForm, desk pista.Desk, id int64) (int64, *apiError) {
	if id != 0 {
		err := intake.CheckDeclared(ctx, h.Tips, desk, id, h.Clock.Day(time.Now()))
		if errors.Is(err, intake.ErrIntakeKey) {
			return 0, intakeExpired()
		} else if err != nil {
			return 0, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err}
		}
	}
	f.batch.MarkSealing(id)
	if f.preview == nil {
		return 0, nil
	}
	return id, nil
}

// intakeExpired refuses items sealed to an intake key that is no longer
// the desk's.
func intakeExpired() *apiError {
	return refuse(http.StatusConflict, "intake_key_expired", "the intake key "+IntakeKeyHeader+" names is not the desk's key of the day any more (or the conversation moved to another desk): nothing was stored; fetch the desks again (GET /api/v1/desks), encrypt to the intake key it lists and send once more")
}

// storageFull answers a submission the disk has no room for (507): the
// log says why (full, or at the floor of free space).
func storageFull(err error) *apiError {
	return &apiError{status: http.StatusInsufficientStorage, code: "storage_full",
		msg: "the server has no room to store this now; try again later", err: err}
}

// sealedError turns an error met while reading a part into the answer.
func sealedError(part string, err error) *apiError {
	var mbe *http.MaxBytesError
	if me, ok := errors.AsType[*intake.MalformedError](err); ok {
		return refuse(http.StatusBadRequest, "malformed_item", "the "+strconv.Quote(part)+" part is "+me.Error())
	}
	if errors.As(err, &mbe) {
		return refuse(http.StatusRequestEntityTooLarge, "too_large", "the submission is larger than this server takes")
	}
	if errors.Is(err, intake.ErrTooLarge) {
		msg := "the submission is larger than this server takes"
		switch part {
		case "message":
			msg = "the messages are too long: at most " + strconv.Itoa(httpx.MaxMessageBytes) + " bytes in all"
		case "contact":
			msg = "the contact is too long"
		case "file_meta":
			msg = "a file's name and type are too long"
		case "preview":
			msg = "the preview is too large: at most " + strconv.Itoa(pista.MaxPreviewSize) + " bytes"
		}
		return refuse(http.StatusRequestEntityTooLarge, "too_large", msg)
	}
	if errors.Is(err, pista.ErrStorageFull) {
		return storageFull(err)
	}
	if httpx.ClientFault(err) {
		// Not logged: it may name the source's address or quote the body.
		return &apiError{status: http.StatusBadRequest, code: "bad_request", msg: "the body is not a complete multipart/form-data body"}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err}
}

// multipartReader checks the request's type and bounds its body.
func (h *Handler) multipartReader(w http.ResponseWriter, r *http.Request) (*intake.PartReader, *apiError) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return nil, refuse(http.StatusBadRequest, "bad_request", "the body must be multipart/form-data")
	}
	r.Body = http.MaxBytesReader(w, r.Body, sealedBodyLimit(h.MaxUpload))
	// Through a 64 KiB buffer (multipart alone reads the socket 4 KiB at
	// a time), each part's header bounded while it is read.
	return intake.NewPartReader(r.Body, params["boundary"]), nil
}

// submitTip takes a new tip of sealed items: the tip part, then the items.
func (h *Handler) submitTip(w http.ResponseWriter, r *http.Request) {
	if !h.proved(w, r) {
		return
	}
	ctx := r.Context()
	mr, aerr := h.multipartReader(w, r)
	if aerr != nil {
		h.refused(w, aerr)
		return
	}
	declared, aerr := declaredIntake(r)
	if aerr != nil {
		h.refused(w, aerr)
		return
	}
	f := &sealedForm{contact: true}
	tip, desk, aerr := h.readTipPart(ctx, mr, &f.parts)
	if aerr != nil {
		h.refused(w, aerr)
		return
	}
	rs, err := keys.ParseRecipients(h.recipientsOf(desk)...)
	if err != nil {
		h.refused(w, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err})
		return
	}
	f.recipients = len(rs)
	f.batch = intake.NewBatch(h.Blobs, rs, h.MaxUpload)
	if aerr := h.readParts(ctx, mr, f); aerr != nil {
		f.batch.Abort()
		h.refused(w, aerr)
		return
	}
	if f.answers == 0 {
		// Required answers cannot be checked inside their encryption: an
		// app checks them; the server checks that some came.
		q, err := h.Desks.Questions(ctx, desk.ID)
		if err != nil {
			f.batch.Abort()
			h.refused(w, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err})
			return
		}
		if q.HasRequired() {
			f.batch.Abort()
			h.refused(w, refuse(http.StatusBadRequest, "answers_required", `the desk has required questions (GET /api/v1/desks): send their answers in an "answers" part`))
			return
		}
	}
	f.batch.MarkEncryptedBy("app")
	previewIntake, aerr := h.checkIntake(ctx, f, desk, declared)
	if aerr != nil {
		f.batch.Abort()
		h.refused(w, aerr)
		return
	}
	t := &pista.NewTip{
		Source:       pista.Source{Lookup: tip.Lookup, Recipient: tip.Recipient},
		Conversation: pista.Conversation{ID: pista.NewConversationID(), Channel: pista.ChannelAPI, DeskID: desk.ID, Preview: f.preview, PreviewIntake: previewIntake},
		Items:        f.batch.Items(),
	}
	if err := h.Tips.CreateTip(context.WithoutCancel(ctx), t); err != nil {
		f.batch.Abort()
		if errors.Is(err, pista.ErrMoved) {
			// A new tip has not moved: the intake key it declared was
			// destroyed while it was sent.
			h.refused(w, intakeExpired())
			return
		}
		if errors.Is(err, pista.ErrExists) {
			h.refused(w, refuse(http.StatusConflict, "codename_in_use", "that lookup hash is taken: make a new codename for each new tip, and send follow-ups with POST /api/v1/source/followups"))
			return
		}
		if errors.Is(err, pista.ErrStorageFull) {
			h.refused(w, storageFull(err))
			return
		}
		h.refused(w, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err})
		return
	}
	writeJSON(w, http.StatusCreated, Accepted{OK: true})
}

// readTipPart reads and checks the first part of a new tip.
func (h *Handler) readTipPart(ctx context.Context, mr *intake.PartReader, parts *int) (TipPart, pista.Desk, *apiError) {
	var tip TipPart
	part, aerr := nextPart(mr, parts)
	if aerr != nil {
		return tip, pista.Desk{}, aerr
	}
	if part == nil || part.FormName() != "tip" {
		return tip, pista.Desk{}, refuse(http.StatusBadRequest, "bad_request", `the first part must be "tip": {"desk", "lookup", "recipient"}`)
	}
	dec := json.NewDecoder(io.LimitReader(part, maxTipPart))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tip); err != nil {
		return tip, pista.Desk{}, refuse(http.StatusBadRequest, "bad_request", `the "tip" part must be JSON: {"desk", "lookup", "recipient"}`)
	}
	if len(tip.Lookup) != lookupSize {
		return tip, pista.Desk{}, refuse(http.StatusBadRequest, "bad_request", "lookup must be the base64 of the 32-byte SHA-256 of the authentication key")
	}
	if rs, err := keys.ParseRecipients(tip.Recipient); err != nil || len(rs) != 1 {
		return tip, pista.Desk{}, refuse(http.StatusBadRequest, "bad_request", "recipient must be the source's post-quantum age public key (age1pq1…)")
	}
	desk, err := h.Desks.DeskBySlug(ctx, tip.Desk)
	if errors.Is(err, pista.ErrNotFound) {
		return tip, desk, refuse(http.StatusBadRequest, "unknown_desk", "no such desk; GET /api/v1/desks lists them")
	} else if err != nil {
		return tip, desk, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err}
	}
	// Refuse a taken lookup before storing anything; CreateTip checks
	// again.
	if _, err := h.Tips.SourceByLookup(ctx, tip.Lookup); err == nil {
		return tip, desk, refuse(http.StatusConflict, "codename_in_use", "that lookup hash is taken: make a new codename for each new tip, and send follow-ups with POST /api/v1/source/followups")
	} else if !errors.Is(err, pista.ErrNotFound) {
		return tip, desk, &apiError{status: http.StatusInternalServerError, code: "internal", msg: "the server failed; try again", err: err}
	}
	return tip, desk, nil
}

// loginSource logs a source in with their authentication key. Every wrong
// key, well-formed or not, gets the same answer after the same work: one
// hash and one indexed lookup.
func (h *Handler) loginSource(w http.ResponseWriter, r *http.Request) {
	if !h.proved(w, r) {
		return
	}
	var req SourceLoginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `the body must be JSON: {"auth": base64 of the authentication key}`)
		return
	}
	ctx := r.Context()
	auth, perr := base64.StdEncoding.DecodeString(req.Auth)
	if perr == nil && len(auth) != keys.AuthSize {
		perr = errors.New("wrong size")
	}
	if perr != nil {
		auth = make([]byte, keys.AuthSize)
	}
	src, err := h.Tips.SourceByLookup(ctx, keys.LookupHash(auth))
	if err == nil && perr != nil {
		err = pista.ErrNotFound
	}
	var convs []pista.Conversation
	if err == nil {
		convs, err = h.Tips.ConversationsOfSource(ctx, src.ID)
		if err == nil && len(convs) == 0 {
			err = pista.ErrNotFound
		}
	}
	var desk pista.Desk
	if err == nil {
		desk, err = h.Desks.DeskByID(ctx, convs[0].DeskID)
	}
	if errors.Is(err, pista.ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "login_failed", "that key was not recognised")
		return
	} else if err != nil {
		h.internal(w, err)
		return
	}
	tok, err := h.SourceTokens.StartToken(ctx, SourceSession{SourceID: src.ID, ConversationID: convs[0].ID})
	if err != nil {
		h.internal(w, err)
		return
	}
	writeJSON(w, http.StatusOK, SourceLoginResponse{Token: tok, Desk: desk.Slug})
}

type sourceRequest struct {
	SourceSession
}

// sourceAuth opens the request's source token, or answers 401: no token,
// or one that is not a live source token of this instance (malformed,
// expired, logged out, its conversation deleted, a web cookie).
func (h *Handler) sourceAuth(next func(http.ResponseWriter, *http.Request, sourceRequest)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s, _, err := h.SourceTokens.Lookup(r.Context(), tok)
		if errors.Is(err, httpx.ErrNoSession) {
			writeError(w, http.StatusUnauthorized, "unauthorized", "log in first: POST /api/v1/source/login")
			return
		} else if err != nil {
			h.internal(w, err)
			return
		}
		next(w, r, sourceRequest{SourceSession: s})
	}
}

// logoutSource ends every token and web session of the source.
func (h *Handler) logoutSource(w http.ResponseWriter, r *http.Request, q sourceRequest) {
	if err := h.Tips.EndSourceSessions(r.Context(), q.SourceID); err != nil && !errors.Is(err, pista.ErrNotFound) {
		h.internal(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// replies lists the replies of the source's conversation.
func (h *Handler) replies(ctx context.Context, q sourceRequest) ([]pista.Item, error) {
	items, err := h.Tips.ItemsOfConversation(ctx, q.ConversationID)
	if err != nil {
		return nil, err
	}
	var rs []pista.Item
	for _, it := range items {
		if it.ForSource() {
			rs = append(rs, it)
		}
	}
	return rs, nil
}

func (h *Handler) listReplies(w http.ResponseWriter, r *http.Request, q sourceRequest) {
	items, err := h.replies(r.Context(), q)
	if err != nil {
		h.internal(w, err)
		return
	}
	resp := RepliesResponse{Replies: []Reply{}}
	for _, it := range items {
		resp.Replies = append(resp.Replies, Reply{ID: it.ID, Created: it.Created, Size: it.Size, Kind: it.Kind, MetaSize: it.MetaSize})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) getReply(w http.ResponseWriter, r *http.Request, q sourceRequest) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such reply")
		return
	}
	items, err := h.replies(r.Context(), q)
	if err != nil {
		h.internal(w, err)
		return
	}
	meta := strings.HasSuffix(r.URL.Path, "/meta")
	for _, it := range items {
		if it.ID != id || (meta && it.Meta == "") {
			continue
		}
		key, size := it.Object, it.Size
		if meta {
			key, size = it.Meta, it.MetaSize
		}
		obj, err := h.Blobs.Open(r.Context(), key)
		if err != nil {
			h.internal(w, err)
			return
		}
		defer obj.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		io.Copy(w, obj)
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no such reply")
}

func (h *Handler) deleteReply(w http.ResponseWriter, r *http.Request, q sourceRequest) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such reply")
		return
	}
	it, err := h.Tips.DeleteReply(r.Context(), q.ConversationID, id)
	if errors.Is(err, pista.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "no such reply")
		return
	} else if err != nil {
		h.internal(w, err)
		return
	}
	if err := h.Blobs.Delete(context.WithoutCancel(r.Context()), it.Object); err != nil {
		h.Log.Error("deleting a reply's object", "err", err)
	}
	w.WriteHeader(http.StatusNoContent)
}

// submitFollowUp adds sealed items to the source's conversation.
func (h *Handler) submitFollowUp(w http.ResponseWriter, r *http.Request, q sourceRequest) {
	ctx := r.Context()
	desk, err := h.deskOf(ctx, q.SourceSession)
	if errors.Is(err, pista.ErrNotFound) {
		// The newsroom deleted the conversation since the token was
		// checked.
		writeError(w, http.StatusUnauthorized, "unauthorized", "this conversation no longer exists")
		return
	} else if err != nil {
		h.internal(w, err)
		return
	}
	declared, aerr := declaredIntake(r)
	if aerr != nil {
		h.refused(w, aerr)
		return
	}
	mr, aerr := h.multipartReader(w, r)
	if aerr != nil {
		h.refused(w, aerr)
		return
	}
	rs, err := keys.ParseRecipients(h.recipientsOf(desk)...)
	if err != nil {
		h.internal(w, err)
		return
	}
	f := &sealedForm{recipients: len(rs), batch: intake.NewBatch(h.Blobs, rs, h.MaxUpload)}
	if aerr := h.readParts(ctx, mr, f); aerr != nil {
		f.batch.Abort()
		h.refused(w, aerr)
		return
	}
	f.batch.MarkEncryptedBy("app")
	if _, aerr := h.checkIntake(ctx, f, desk, declared); aerr != nil {
		f.batch.Abort()
		h.refused(w, aerr)
		return
	}
	if err := h.Tips.AddItemsFor(context.WithoutCancel(ctx), q.ConversationID, desk.ID, f.batch.Items()); err != nil {
		f.batch.Abort()
		if errors.Is(err, pista.ErrMoved) {
			writeError(w, http.StatusConflict, "moved", "the conversation was moved to another desk while this was sent: nothing was stored; log in again (POST /api/v1/source/login answers the conversation's desk), encrypt to that desk's keys (GET /api/v1/desks) and send once more")
			return
		}
		if errors.Is(err, pista.ErrStorageFull) {
			h.refused(w, storageFull(err))
			return
		}
		h.internal(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, Accepted{OK: true})
}

// deskOf finds the desk of a source's conversation.
func (h *Handler) deskOf(ctx context.Context, s SourceSession) (pista.Desk, error) {
	convs, err := h.Tips.ConversationsOfSource(ctx, s.SourceID)
	if err != nil {
		return pista.Desk{}, err
	}
	for _, c := range convs {
		if c.ID == s.ConversationID {
			return h.Desks.DeskByID(ctx, c.DeskID)
		}
	}
	return pista.Desk{}, pista.ErrNotFound
}
