// Package api serves pista's JSON API under /api/v1, described route by
// route in the OpenAPI document openapi.json (served at
// GET /api/v1/openapi.json).
//
// The journalist part is what `pista pull` uses: a journalist asks for the
// salt and parameters of their passphrase, stretches it on their own
// device (keys.DeriveJournalist) and logs in with the resulting
// authentication key and a TOTP code — the passphrase never reaches the
// server — and gets a bearer token (a server-side session, in memory, an
// hour idle) and a device token (newsroom.Auth: the device's own login
// allowance, to send back as "device" at the next login), then fetches the wrapped keys of their desks and,
// incrementally, the still-encrypted items of their desks' conversations.
//
//	POST /api/v1/journalist/login/params {"name"} → {"salt","kdf"} (an unknown name gets stable fake ones)
//	POST /api/v1/journalist/login        {"name","auth","totp","device"} → {"token","device"}
//	POST /api/v1/journalist/logout
//	GET  /api/v1/journalist/keys         desks and their keys, wrapped to the journalist
//	GET  /api/v1/journalist/items?after=N&limit=M   items with ID > N, oldest first
//	GET  /api/v1/journalist/items/{id}   the item's age file
//	GET  /api/v1/journalist/items/{id}/meta   a file item's name and type, as an age file
//	GET  /api/v1/journalist/conversations/{id}/recipients   the keys a reply is encrypted to
//	POST /api/v1/journalist/conversations/{id}/replies      a reply encrypted on the journalist's device (reply.go)
//	GET, POST /api/v1/journalist/fs/…    the sorter's routes of forward secrecy (forward.go)
//
// The source part is for apps (and `pista submit` / `pista follow`) that
// encrypt on the source's device: the codename is derived there and never
// sent, and the server receives only age files it cannot open. See
// source.go.
//
//	GET    /api/v1/desks                 desks, their recipients, the codename parameters
//	POST   /api/v1/source/tips           a new tip of sealed items (multipart)
//	POST   /api/v1/source/login          {"auth"} → {"token","desk"}
//	POST   /api/v1/source/logout
//	GET    /api/v1/source/replies        the replies to the source
//	GET    /api/v1/source/replies/{id}   a reply's (or a reply file's) age file, encrypted to the source
//	GET    /api/v1/source/replies/{id}/meta  a reply file's name and type, encrypted to the source
//	DELETE /api/v1/source/replies/{id}
//	POST   /api/v1/source/followups      more sealed items (multipart)
//
// Every request with a token checks the account as it is now: a suspended
// account's tokens are refused at once (and stay refused: suspension ends
// them), and removal from a desk ends access to its items at once. Every
// read of a desk's items (list, item, meta) goes to the audit log, with
// no source data.
//
// Errors are JSON {"error": code, "message": text} with a fitting status.
// The API uses no cookies, so it needs no CSRF token.
package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/pow"
)

// Handler serves the API.
type Handler struct {
	Auth   *newsroom.Auth
	Desks  pista.DeskStore
	Tips   pista.TipStore
	Blobs  pista.BlobStore
	Tokens *httpx.Sessions[newsroom.Session] // journalists' tokens
	Log    *slog.Logger

	// reads records the journalists' reads in the audit log (of
	// Auth.Team: made by Register).
	reads *newsroom.ReadAudit

	// SourceTokens seals the sources' tokens (NewSourceTokens); required.
	SourceTokens *httpx.Sealed[SourceSession]
	Salt         []byte   // the instance's codename salt (keys.Derive)
	Archive      []string // archive recipients every item is also encrypted to
	MaxUpload    int64    // bytes a whole submission may carry (0: httpx.DefaultMaxUpload)
	// PoW checks the proofs of work that new tips and sources' logins
	// carry (nil: none are asked for).
	PoW *pow.Issuer
	// Clock numbers the intake days (forward secrecy).
	Clock forward.Clock
}

// NewTokens is the API's token table: an hour idle, twelve hours at most.
func NewTokens() *httpx.Sessions[newsroom.Session] {
	return &httpx.Sessions[newsroom.Session]{Idle: time.Hour, Lifetime: 12 * time.Hour}
}

// maxItemsPage bounds one page of items.
const maxItemsPage = 500

// route is one API route. Its path is both a ServeMux pattern and an
// OpenAPI path template: the two write {id} alike.
type route struct {
	method, path string
	handler      http.HandlerFunc
}

// routes lists every API route: Register serves them, and the tests check
// that openapi.json documents exactly these.
func (h *Handler) routes() []route {
	return []route{
		{"POST", "/api/v1/journalist/login/params", h.loginParams},
		{"POST", "/api/v1/journalist/login", h.login},
		{"POST", "/api/v1/journalist/logout", h.auth(h.logout)},
		{"GET", "/api/v1/journalist/keys", h.auth(h.listKeys)},
		{"GET", "/api/v1/journalist/items", h.auth(h.listItems)},
		{"GET", "/api/v1/journalist/items/{id}", h.auth(h.getItem)},
		{"GET", "/api/v1/journalist/items/{id}/meta", h.auth(h.getItem)},
		{"GET", "/api/v1/journalist/conversations/{id}/recipients", h.auth(h.conversationRecipients)},
		{"POST", "/api/v1/journalist/conversations/{id}/replies", h.auth(h.replyToConversation)},
		{"GET", "/api/v1/journalist/fs/keys", h.asJournalist((*newsroom.Forward).ListKeys)},
		{"POST", "/api/v1/journalist/fs/keys", h.asJournalist((*newsroom.Forward).AddKeys)},
		{"GET", "/api/v1/journalist/fs/unsorted", h.asJournalist((*newsroom.Forward).ListUnsorted)},
		{"POST", "/api/v1/journalist/fs/sort", h.asJournalist((*newsroom.Forward).Sort)},

		{"GET", "/api/v1/desks", h.listDesks},
		{"GET", "/api/v1/source/challenge", h.getChallenge},
		{"POST", "/api/v1/source/tips", h.submitTip},
		{"POST", "/api/v1/source/login", h.loginSource},
		{"POST", "/api/v1/source/logout", h.sourceAuth(h.logoutSource)},
		{"GET", "/api/v1/source/replies", h.sourceAuth(h.listReplies)},
		{"GET", "/api/v1/source/replies/{id}", h.sourceAuth(h.getReply)},
		{"GET", "/api/v1/source/replies/{id}/meta", h.sourceAuth(h.getReply)},
		{"DELETE", "/api/v1/source/replies/{id}", h.sourceAuth(h.deleteReply)},
		{"POST", "/api/v1/source/followups", h.sourceAuth(h.submitFollowUp)},

		{"GET", "/api/v1/openapi.json", serveOpenAPI},
	}
}

// Routes lists the API's routes as "METHOD /path".
func Routes() []string {
	var rs []string
	for _, rt := range (&Handler{}).routes() {
		rs = append(rs, rt.method+" "+rt.path)
	}
	return rs
}

// Register adds the API routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	if h.SourceTokens == nil {
		panic("api: Handler.SourceTokens is nil (NewSourceTokens)")
	}
	if h.MaxUpload <= 0 {
		h.MaxUpload = httpx.DefaultMaxUpload
	}
	h.reads = &newsroom.ReadAudit{Team: h.Auth.Team, Tips: h.Tips, Log: h.Log}
	for _, rt := range h.routes() {
		mux.HandleFunc(rt.method+" "+rt.path, rt.handler)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such API route")
	})
}

// Error is the body of every error answer.
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, Error{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ParamsRequest is the body of POST /api/v1/journalist/login/params.
type ParamsRequest struct {
	Name string `json:"name"`
}

// ParamsResponse says how to stretch the passphrase: Argon2id with KDF's
// parameters under Salt (package keys documents the derivation).
type ParamsResponse = newsroom.LoginParams

// LoginRequest is the body of POST /api/v1/journalist/login. Auth is the
// 32-byte authentication key derived from the passphrase (base64 in JSON).
// Device is the device token of this device's last login, if it kept one:
// it gives the device a login allowance of its own, which attacks on the
// account from elsewhere do not spend.
type LoginRequest struct {
	Name   string `json:"name"`
	Auth   []byte `json:"auth"`
	TOTP   string `json:"totp"`
	Device string `json:"device,omitempty"`
}

func (h *Handler) loginParams(w http.ResponseWriter, r *http.Request) {
	var req ParamsRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be JSON: {\"name\"}")
		return
	}
	p, err := h.Auth.Params(r.Context(), req.Name)
	if err != nil {
		h.Log.Error("api login params", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the server could not answer; try again")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// LoginResponse answers a login. Device is a new device token, to keep
// (in place of the one sent) and send at the next login.
type LoginResponse struct {
	Token  string `json:"token"`
	Device string `json:"device"`
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "the body must be JSON: {\"name\", \"auth\", \"totp\"}")
		return
	}
	j, device, err := h.Auth.Login(r.Context(), req.Name, req.Auth, req.TOTP, req.Device)
	switch {
	case errors.Is(err, newsroom.ErrSuspended):
		writeError(w, http.StatusForbidden, "suspended", err.Error())
		return
	case errors.Is(err, newsroom.ErrNeedsReset):
		writeError(w, http.StatusForbidden, "passphrase_reset", err.Error())
		return
	case errors.Is(err, newsroom.ErrThrottled):
		writeError(w, http.StatusTooManyRequests, "throttled", err.Error())
		return
	case errors.Is(err, newsroom.ErrLoginFailed):
		writeError(w, http.StatusUnauthorized, "login_failed", err.Error())
		return
	case err != nil:
		h.Log.Error("api login", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "the server could not check the login; try again")
		return
	}
	tok, err := h.Tokens.StartToken(r.Context(), newsroom.NewSession(j, device))
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "busy", "too many sessions; try again later")
		return
	}
	h.Log.Info("journalist signed in to the API", "journalist", j.Name)
	writeJSON(w, http.StatusOK, LoginResponse{Token: tok, Device: device})
}

type request struct {
	journalist int64
	j          pista.Journalist
	token      string
}

// auth requires a live token of an account that may still act, as the
// store has it now (newsroom.Auth.Current), on every request.
func (h *Handler) auth(next func(http.ResponseWriter, *http.Request, request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, tok, ok := bearer(w, r, h.Tokens, "/api/v1/journalist/login")
		if !ok {
			return
		}
		j, err := h.Auth.Current(r.Context(), s)
		switch {
		case errors.Is(err, newsroom.ErrSuspended):
			writeError(w, http.StatusForbidden, "suspended", newsroom.ErrSuspended.Error())
			return
		case errors.Is(err, newsroom.ErrSessionEnded):
			h.Tokens.EndToken(r.Context(), tok)
			writeError(w, http.StatusUnauthorized, "unauthorized", "the session has ended; log in again: POST /api/v1/journalist/login")
			return
		case err != nil:
			h.internal(w, err)
			return
		}
		next(w, r, request{journalist: j.ID, j: j, token: tok})
	}
}

// bearer looks the request's bearer token up in tokens, or answers 401
// with where to log in.
func bearer[T any](w http.ResponseWriter, r *http.Request, tokens *httpx.Sessions[T], login string) (T, string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	v, live := tokens.Lookup(r.Context(), tok)
	if !ok || !live {
		writeError(w, http.StatusUnauthorized, "unauthorized", "log in first: POST "+login)
		return v, "", false
	}
	return v, tok, true
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, q request) {
	h.Tokens.EndToken(r.Context(), q.token)
	w.WriteHeader(http.StatusNoContent)
}

// DeskKey is one desk key generation, wrapped to the journalist.
type DeskKey struct {
	Desk      string `json:"desk"`
	Title     string `json:"title"`
	KeyID     int64  `json:"key_id"`
	Recipient string `json:"recipient"`
	Wrapped   []byte `json:"wrapped"` // an age file; base64 in JSON
}

// KeysResponse answers GET /api/v1/journalist/keys.
type KeysResponse struct {
	Keys []DeskKey `json:"keys"`
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	wraps, err := h.Desks.WrapsFor(ctx, q.journalist)
	if err != nil {
		h.internal(w, err)
		return
	}
	desks, err := h.Desks.DesksOf(ctx, q.journalist)
	if err != nil {
		h.internal(w, err)
		return
	}
	bySlug := map[string]pista.Desk{}
	for _, d := range desks {
		bySlug[d.Slug] = d
	}
	resp := KeysResponse{Keys: []DeskKey{}}
	for _, wr := range wraps {
		d := bySlug[wr.DeskSlug]
		k := DeskKey{Desk: wr.DeskSlug, Title: d.Title, KeyID: wr.DeskKeyID, Wrapped: wr.Wrapped}
		if d.KeyID == wr.DeskKeyID {
			k.Recipient = d.Recipient
		}
		resp.Keys = append(resp.Keys, k)
	}
	writeJSON(w, http.StatusOK, resp)
}

// Item describes one item for pull.
type Item struct {
	ID           int64  `json:"id"`
	Conversation string `json:"conversation"`
	Kind         string `json:"kind"`
	Size         int64  `json:"size"`
	MetaSize     int64  `json:"meta_size,omitempty"`
	HasMeta      bool   `json:"has_meta"`
	// Sealing is which key opens the item's objects now: "desk" (the
	// desk's key), "intake" (the intake key IntakeKey, listed by GET
	// fs/keys) or "conv" (the conversation's key, in ConversationKeys).
	Sealing   string `json:"sealing"`
	IntakeKey int64  `json:"intake_key"`
	// Received is how it arrived: "legacy" (before forward secrecy),
	// "fs", or "nofs" (received without forward secrecy).
	Received string    `json:"received"`
	Created  time.Time `json:"created"`
}

// ConversationKey is a conversation's own key: its public key, and its
// secret sealed (an age file) to the desk's key and the archive's.
type ConversationKey struct {
	Recipient string `json:"recipient"`
	Key       []byte `json:"key"`
}

// ItemsResponse answers GET /api/v1/journalist/items. When More is true,
// ask again with after = the last item's ID. ConversationKeys holds the
// keys of the page's conversations that have one, by conversation ID.
type ItemsResponse struct {
	Items            []Item                     `json:"items"`
	ConversationKeys map[string]ConversationKey `json:"conversation_keys"`
	More             bool                       `json:"more"`
}

func (h *Handler) listItems(w http.ResponseWriter, r *http.Request, q request) {
	after, err := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if r.URL.Query().Get("after") == "" {
		after, err = 0, nil
	}
	if err != nil || after < 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "after must be an item ID (a whole number ≥ 0)")
		return
	}
	limit := maxItemsPage
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxItemsPage {
			writeError(w, http.StatusBadRequest, "bad_request", "limit must be between 1 and 500")
			return
		}
		limit = n
	}
	items, err := h.Tips.ItemsFor(r.Context(), q.journalist, after, limit+1)
	if err != nil {
		h.internal(w, err)
		return
	}
	resp := ItemsResponse{Items: []Item{}, ConversationKeys: map[string]ConversationKey{}}
	if len(items) > limit {
		items, resp.More = items[:limit], true
	}
	h.reads.Items(r.Context(), q.j, pista.AuditList, items)
	looked := map[string]bool{}
	for _, it := range items {
		resp.Items = append(resp.Items, Item{ID: it.ID, Conversation: it.ConversationID, Kind: string(it.Kind),
			Size: it.Size, MetaSize: it.MetaSize, HasMeta: it.Meta != "", Sealing: orDefault(it.Sealing, pista.SealingDesk),
			IntakeKey: it.IntakeKey, Received: orDefault(it.Received, pista.ReceivedForward), Created: it.Created})
		if looked[it.ConversationID] {
			continue
		}
		looked[it.ConversationID] = true
		c, err := h.Tips.ConversationFor(r.Context(), q.journalist, it.ConversationID)
		if errors.Is(err, pista.ErrNotFound) {
			continue // deleted since the items were listed
		} else if err != nil {
			h.internal(w, err)
			return
		}
		if c.KeyRecipient != "" {
			resp.ConversationKeys[c.ID] = ConversationKey{Recipient: c.KeyRecipient, Key: c.Key}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (h *Handler) getItem(w http.ResponseWriter, r *http.Request, q request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such item")
		return
	}
	it, err := h.Tips.ItemFor(r.Context(), q.journalist, id)
	meta := strings.HasSuffix(r.URL.Path, "/meta")
	if errors.Is(err, pista.ErrNotFound) || (err == nil && meta && it.Meta == "") {
		writeError(w, http.StatusNotFound, "not_found", "no such item")
		return
	} else if err != nil {
		h.internal(w, err)
		return
	}
	key, size := it.Object, it.Size
	if meta {
		key, size = it.Meta, it.MetaSize
	}
	obj, err := h.Blobs.Open(r.Context(), key)
	if errors.Is(err, pista.ErrNotFound) {
		// The row is there, its object is not (lost on disk, or a
		// restore without its objects): say so, so that pull reports it
		// and goes on, and log the item's ID, which holds no source data.
		h.Log.Error("api: an item's object is missing", "item", id, "meta", meta)
		writeError(w, http.StatusGone, CodeObjectMissing, "this item's encrypted file is missing on the server; the other items are not affected")
		return
	} else if err != nil {
		h.internal(w, err)
		return
	}
	defer obj.Close()
	h.reads.Items(r.Context(), q.j, pista.AuditDownload, []pista.Item{it})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	io.Copy(w, obj)
}

// orDefault is s, or def for "" (what a store writes for "").
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// CodeObjectMissing is the error code of an item whose object the server
// has lost (410 Gone): the item is listed, its file cannot be sent.
const CodeObjectMissing = "object_missing"

func (h *Handler) internal(w http.ResponseWriter, err error) {
	if newsroom.StorageFull(err) {
		// A write the disk (or the database that could not grow) had no
		// room for: the client is told so (507), not "the server failed".
		h.refused(w, storageFull(err))
		return
	}
	h.Log.Error("api", "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "the server failed; try again")
}
