package newsroom

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/keys"
)

// The settings page and what the browser's key module fetches:
//
//	GET  /newsroom/settings                  passphrase, identity, security keys
//	POST /newsroom/settings/params           csrf → {"salt","kdf"}   (the account's, as at login)
//	POST /newsroom/settings/passphrase       csrf, old_auth, salt, kdf, auth, wrapped → {"ok"}
//	POST /newsroom/settings/identity         csrf, auth, wrapped → {"ok"}   (import)
//	POST /newsroom/settings/exported         csrf → {"ok"}   (records an export)
//	GET  /newsroom/me/identity               {"name","recipient","wrapped"}
//	GET  /newsroom/me/keys                   {"keys":[{"desk","title","key_id","recipient","wrapped"}]}
//
// The browser does the cryptography: it unwraps the identity with the old
// wrapping key, derives new keys from the new passphrase under a new salt
// and re-wraps; the server checks the old authentication key and stores
// the new salt, the hash of the new key and the wrapped identity. base64
// is standard base64 with padding throughout.

// Bounds of what the settings forms carry.
const (
	maxSaltSize = 64
	// A wrapped identity is a 12-byte nonce, the identity string (about
	// 90 characters for a hybrid key) and a 16-byte tag; UnwrapIdentity
	// takes up to 4096 bytes.
	minWrappedIdentity = 12 + 16 + 16
	maxWrappedIdentity = 4096
)

type settingsData struct {
	Name        string
	Recipient   string
	HasIdentity bool
	Keys        []credentialRow
	Notice      string
}

type credentialRow struct {
	ID      string // base64url, for the delete form
	Name    string
	Created time.Time
}

func (h *Handler) showSettings(w http.ResponseWriter, r *http.Request, q request) {
	creds, err := h.Team.Credentials(r.Context(), q.j.ID)
	if err != nil {
		h.Log.Error("settings", "err", err)
		h.fail(w, r, q.sid, writeStatus(err), writeErrorKey(err))
		return
	}
	d := settingsData{Name: q.j.Name, Recipient: q.j.Recipient, HasIdentity: len(q.j.Auth.WrappedIdentity) > 0}
	for _, c := range creds {
		d.Keys = append(d.Keys, credentialRow{ID: base64.RawURLEncoding.EncodeToString(c.ID), Name: c.Name, Created: c.Created})
	}
	if r.URL.Query().Get("done") == "key-removed" {
		d.Notice = "nr-auth.webauthn.removed"
	}
	p := h.page(r, q.sid, "nr-auth.settings.heading")
	p.Data = d
	h.Render.Render(w, http.StatusOK, "newsroom/settings", p)
}

// decodeBytes reads standard base64 of min to max bytes; anything else
// (too long to be that, not canonical base64, out of bounds) is nil.
func decodeBytes(s string, min, max int) []byte {
	if len(s) > 4*max/3+4 {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) < min || len(b) > max {
		return nil
	}
	// One spelling only: Go's decoder skips line breaks, which no browser
	// puts there.
	if base64.StdEncoding.EncodeToString(b) != s {
		return nil
	}
	return b
}

// proveKey checks the authentication key of the logged-in journalist
// (changing the passphrase or the second factor asks for it again). A
// wrong one is counted against the login throttle of the device the
// session logged in from (or the account's, for unknown devices): a
// stolen session cannot guess the passphrase faster than a login could.
func (h *Handler) proveKey(w http.ResponseWriter, r *http.Request, q request, auth string) bool {
	th := h.Auth.Throttle
	if q.sess.Device != nil {
		if !th.AttemptDevice(q.sess.Device) {
			h.jsonError(w, r, http.StatusTooManyRequests, "auth.settings.throttled")
			return false
		}
	} else if !th.AttemptAccount(q.j.Name) {
		h.jsonError(w, r, http.StatusTooManyRequests, "auth.settings.throttled")
		return false
	}
	if !keys.CheckAuth(q.j.Auth.Hash, decodeKey(auth, 32)) {
		h.jsonError(w, r, http.StatusForbidden, "nr-auth.settings.wrongpassphrase")
		return false
	}
	if q.sess.Device != nil {
		th.RefundDevice(q.sess.Device)
	} else {
		th.RefundAccount(q.j.Name)
	}
	return true
}

// saveAuth stores j's new passphrase check and wrapped identity, records
// it in the audit log as a passphrase change and answers {"ok": true}.
// what names the change in the log if it fails.
func (h *Handler) saveAuth(w http.ResponseWriter, r *http.Request, q request, a pista.JournalistAuth, what string) {
	j := q.j
	if err := h.Journalists.SetAuth(r.Context(), j.ID, a); err != nil {
		h.Log.Error(what, "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	// SetAuth ended every session and token of the account, this one too:
	// the session that made the change goes on, at the new epoch.
	if now, err := h.Journalists.JournalistByID(r.Context(), j.ID); err == nil {
		q.sess.Epoch = now.SessionEpoch
		h.Sessions.Update(r.Context(), q.sid, q.sess)
	} else {
		h.Log.Error(what+": reading the account back", "err", err)
	}
	h.Team.AddAudit(r.Context(), pista.AuditEntry{ActorID: j.ID, ActorName: j.Name, Action: pista.AuditPassphrase})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// changePassphrase stores a new salt, authentication hash and wrapped
// identity, all made in the browser, after checking the old key.
func (h *Handler) changePassphrase(w http.ResponseWriter, r *http.Request, q request) {
	f := r.PostForm
	salt := decodeBytes(f.Get("salt"), keys.JournalistSaltSize, maxSaltSize)
	auth := decodeKey(f.Get("auth"), 32)
	_, kdfErr := keys.ParseKDF(f.Get("kdf"))
	var wrapped []byte
	if f.Get("wrapped") != "" {
		wrapped = decodeBytes(f.Get("wrapped"), minWrappedIdentity, maxWrappedIdentity)
		if wrapped == nil {
			h.jsonError(w, r, http.StatusBadRequest, "error.form")
			return
		}
	}
	if salt == nil || auth == nil || kdfErr != nil || (wrapped == nil && len(q.j.Auth.WrappedIdentity) > 0) {
		// A new passphrase must re-wrap a stored identity, never drop it.
		h.jsonError(w, r, http.StatusBadRequest, "error.form")
		return
	}
	if !h.proveKey(w, r, q, f.Get("old_auth")) {
		return
	}
	a := pista.JournalistAuth{Salt: salt, KDF: f.Get("kdf"), Hash: keys.AuthHash(auth), WrappedIdentity: wrapped}
	h.saveAuth(w, r, q, a, "changing a passphrase")
}

// importIdentity stores an identity the browser read from a file and
// wrapped (accounts made on the command line). The browser checked that
// it matches the account's public key; the server cannot, and checks the
// passphrase and the size.
func (h *Handler) importIdentity(w http.ResponseWriter, r *http.Request, q request) {
	f := r.PostForm
	wrapped := decodeBytes(f.Get("wrapped"), minWrappedIdentity, maxWrappedIdentity)
	if wrapped == nil {
		h.jsonError(w, r, http.StatusBadRequest, "error.form")
		return
	}
	if !h.proveKey(w, r, q, f.Get("auth")) {
		return
	}
	a := q.j.Auth
	a.WrappedIdentity = wrapped
	h.saveAuth(w, r, q, a, "importing an identity")
}

// accountParams tells the browser how to stretch the current passphrase.
func (h *Handler) accountParams(w http.ResponseWriter, r *http.Request, q request) {
	p, err := h.Auth.Params(r.Context(), q.j.Name)
	if err != nil {
		h.Log.Error("settings params", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// recordExport writes the export of the identity (done in the browser)
// to the audit log.
func (h *Handler) recordExport(w http.ResponseWriter, r *http.Request, q request) {
	h.Team.AddAudit(r.Context(), pista.AuditEntry{ActorID: q.j.ID, ActorName: q.j.Name, Action: pista.AuditExportIdentity})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// Identity answers GET /newsroom/me/identity.
type Identity struct {
	Name      string `json:"name"`
	Recipient string `json:"recipient"`
	Wrapped   []byte `json:"wrapped"` // base64; empty if not stored
}

func (h *Handler) showIdentity(w http.ResponseWriter, r *http.Request, q request) {
	writeJSON(w, http.StatusOK, Identity{Name: q.j.Name, Recipient: q.j.Recipient, Wrapped: q.j.Auth.WrappedIdentity})
}

// DeskKey is one desk key generation wrapped to the journalist: an age
// file to their recipient holding the desk's identity. Recipient is set
// for the desk's current generation.
type DeskKey struct {
	Desk      string `json:"desk"`
	Title     string `json:"title"`
	KeyID     int64  `json:"key_id"`
	Recipient string `json:"recipient"`
	Wrapped   []byte `json:"wrapped"`
}

func (h *Handler) listMyKeys(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	wraps, err := h.Desks.WrapsFor(ctx, q.j.ID)
	if err != nil {
		h.Log.Error("listing keys", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	desks, err := h.Desks.DesksOf(ctx, q.j.ID)
	if err != nil {
		h.Log.Error("listing keys", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	bySlug := map[string]pista.Desk{}
	for _, d := range desks {
		bySlug[d.Slug] = d
	}
	out := struct {
		Keys []DeskKey `json:"keys"`
	}{Keys: []DeskKey{}}
	for _, wr := range wraps {
		d, ok := bySlug[wr.DeskSlug]
		if !ok {
			continue // not an active member (pending, or removed)
		}
		k := DeskKey{Desk: wr.DeskSlug, Title: d.Title, KeyID: wr.DeskKeyID, Wrapped: wr.Wrapped}
		if d.KeyID == wr.DeskKeyID {
			k.Recipient = d.Recipient
		}
		out.Keys = append(out.Keys, k)
	}
	writeJSON(w, http.StatusOK, out)
}
