package newsroom

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/ui"
)

// Security keys and passkeys (WebAuthn, go-webauthn) are a second factor
// instead of a TOTP code:
//
//	POST /newsroom/settings/webauthn/begin    csrf, auth → {"state","options"}
//	POST /newsroom/settings/webauthn/finish   csrf, state, name, credential → {"ok"}
//	POST /newsroom/settings/webauthn/delete   csrf, id, auth → {"ok"}
//	POST /newsroom/login/webauthn/begin       csrf, name, auth → {"state","options"}
//	POST /newsroom/login/webauthn/finish      csrf, state, credential → {"next"}
//
// A security key replaces the code, never the passphrase: the login's
// first step counts the attempt and checks the authentication key, but
// answers the same whether it was right or not (and whether the name
// exists: an account without security keys, or no account, gets made-up
// credential IDs derived from the name, the same each time); the second
// step refuses unless both the key and the assertion were right, with one
// answer for either failure. Adding or removing a security key asks for
// the passphrase again (auth). The challenge of each ceremony is held in
// memory (Ceremonies): one use, five minutes, and at most maxCeremonies
// at once.
//
// The relying party ID is Handler.RPID (pista serve --webauthn-rp-id) or
// else the host name the browser asked for. WebAuthn needs a host name:
// a server reached at an IP address cannot use security keys.

// Bounds of the ceremonies held in memory.
const (
	ceremonyLife   = 5 * time.Minute
	maxCeremonies  = 1000
	maxCredentials = 10      // security keys of one account
	maxCredName    = 64      // characters of a key's name
	maxCredJSON    = 8 << 10 // a browser's answer; real ones are under 2 KiB
)

// Ceremonies holds the WebAuthn challenges in progress: in memory, or in
// Shared when several instances serve one tip line (a ceremony begun on
// one instance finishes on another).
type Ceremonies struct {
	Shared pista.Shared

	mu sync.Mutex
	m  map[string]ceremony
}

// ceremonyKind names the ceremonies in Shared.
const ceremonyKind = "webauthn"

// sharedCeremony is a ceremony as Shared keeps it: the attempt's account
// by its ID, read again when the ceremony ends.
type sharedCeremony struct {
	Journalist int64
	Login      bool
	Name       string
	KeyOK      bool
	Device     []byte
	Session    webauthn.SessionData
}

type ceremony struct {
	journalist int64
	login      bool
	attempt    Attempt // a login's first factor
	session    webauthn.SessionData
	expires    time.Time
}

var errTooMany = errors.New("too many WebAuthn ceremonies in progress")

func (c *Ceremonies) put(ctx context.Context, cer ceremony) (string, error) {
	if c.Shared != nil {
		return c.putShared(ctx, cer)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]ceremony{}
	}
	now := time.Now()
	for k, v := range c.m {
		if now.After(v.expires) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= maxCeremonies {
		return "", errTooMany
	}
	b := make([]byte, 24)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	cer.expires = now.Add(ceremonyLife)
	c.m[id] = cer
	return id, nil
}

func (c *Ceremonies) putShared(ctx context.Context, cer ceremony) (string, error) {
	n, err := c.Shared.Count(ctx, ceremonyKind)
	if err != nil {
		return "", err
	}
	if n >= maxCeremonies {
		return "", errTooMany
	}
	b, err := json.Marshal(sharedCeremony{
		Journalist: cer.journalist, Login: cer.login, Session: cer.session,
		Name: cer.attempt.name, KeyOK: cer.attempt.keyOK, Device: cer.attempt.device,
	})
	if err != nil {
		return "", err
	}
	id := make([]byte, 24)
	rand.Read(id)
	state := base64.RawURLEncoding.EncodeToString(id)
	if err := c.Shared.Put(ctx, ceremonyKind, ceremonyKey(state), b, time.Now().Add(ceremonyLife)); err != nil {
		return "", err
	}
	return state, nil
}

// ceremonyKey is the key of a ceremony in Shared: a hash of its state,
// which is the capability to finish it.
func ceremonyKey(state string) []byte {
	h := sha256.Sum256([]byte(state))
	return h[:]
}

// take returns and forgets a ceremony (each works once). A shared
// ceremony's account is read again from journalists.
func (c *Ceremonies) take(ctx context.Context, id string, login bool, journalists pista.JournalistStore) (ceremony, bool) {
	if c.Shared != nil {
		if id == "" || len(id) > 64 {
			return ceremony{}, false
		}
		b, ok, err := c.Shared.Take(ctx, ceremonyKind, ceremonyKey(id))
		var sc sharedCeremony
		if err != nil || !ok || json.Unmarshal(b, &sc) != nil {
			return ceremony{}, false
		}
		cer := ceremony{journalist: sc.Journalist, login: sc.Login, session: sc.Session,
			attempt: Attempt{name: sc.Name, keyOK: sc.KeyOK, device: sc.Device}}
		if sc.Journalist != 0 {
			j, err := journalists.JournalistByID(ctx, sc.Journalist)
			if err != nil {
				return ceremony{}, false
			}
			cer.attempt.j = j
		}
		return cer, cer.login == login
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cer, ok := c.m[id]
	if !ok {
		return cer, false
	}
	delete(c.m, id)
	return cer, cer.login == login && time.Now().Before(cer.expires)
}

// waUser is a journalist as go-webauthn sees them.
type waUser struct {
	j     pista.Journalist
	creds []webauthn.Credential
	rows  []pista.WebAuthnCredential
}

func (u *waUser) WebAuthnID() []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(u.j.ID))
	return b
}
func (u *waUser) WebAuthnName() string                       { return u.j.Name }
func (u *waUser) WebAuthnDisplayName() string                { return u.j.Name }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (h *Handler) webauthnUser(r *http.Request, j pista.Journalist) (*waUser, error) {
	rows, err := h.Team.Credentials(r.Context(), j.ID)
	if err != nil {
		return nil, err
	}
	u := &waUser{j: j, rows: rows}
	for _, row := range rows {
		var c webauthn.Credential
		if err := json.Unmarshal(row.Data, &c); err != nil {
			return nil, err
		}
		u.creds = append(u.creds, c)
	}
	return u, nil
}

var errNoHostName = errors.New("webauthn needs a host name")

// relyingParty is the WebAuthn configuration for this request's host.
func (h *Handler) relyingParty(r *http.Request) (*webauthn.WebAuthn, error) {
	host := r.Host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	rpid := h.RPID
	if rpid == "" {
		rpid = strings.ToLower(host)
	}
	if rpid == "" || net.ParseIP(strings.Trim(rpid, "[]")) != nil {
		return nil, errNoHostName
	}
	scheme := "http"
	if r.TLS != nil || h.Sessions.Secure {
		scheme = "https"
	}
	return webauthn.New(&webauthn.Config{
		RPID:          rpid,
		RPDisplayName: h.Newsroom,
		RPOrigins:     []string{scheme + "://" + r.Host},
	})
}

// ceremonyParties are the two sides of a WebAuthn ceremony: the relying
// party for this request's host and journalist j with their security
// keys. On failure it has answered and ok is false.
func (h *Handler) ceremonyParties(w http.ResponseWriter, r *http.Request, j pista.Journalist) (*webauthn.WebAuthn, *waUser, bool) {
	rp, err := h.relyingParty(r)
	if err != nil {
		h.webauthnFailed(w, r, err)
		return nil, nil, false
	}
	u, err := h.webauthnUser(r, j)
	if err != nil {
		h.webauthnFailed(w, r, err)
		return nil, nil, false
	}
	return rp, u, true
}

func (h *Handler) webauthnFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errNoHostName):
		h.jsonError(w, r, http.StatusBadRequest, "nr-auth.webauthn.hostname")
	case errors.Is(err, errTooMany):
		h.jsonError(w, r, http.StatusServiceUnavailable, "error.busy")
	default:
		h.Log.Error("webauthn", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
	}
}

// beginWebAuthnLogin counts the attempt and checks the authentication key
// (keeping the result for the second step), then asks the browser for an
// assertion of one of the account's security keys: the answer is the same
// for a right and a wrong key.
func (h *Handler) beginWebAuthnLogin(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, "") {
		return
	}
	f := r.PostForm
	at, err := h.Auth.Begin(r.Context(), f.Get("name"), decodeKey(f.Get("auth"), 32), deviceCookie(r))
	if err != nil {
		h.loginError(w, r, err)
		return
	}
	rp, err := h.relyingParty(r)
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	// Unknown names ask the store too (for ID 0), to take the same time.
	u, err := h.webauthnUser(r, at.Journalist())
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	if len(u.creds) == 0 {
		u.creds = []webauthn.Credential{{ID: h.Auth.mac("pista/v1/fake-credential", at.Name())}}
	}
	assertion, session, err := rp.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	state, err := h.Ceremonies.put(r.Context(), ceremony{journalist: at.Journalist().ID, login: true, attempt: at, session: *session})
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": state, "options": assertion.Response})
}

// finishWebAuthnLogin checks the assertion and, if it and the first step's
// authentication key were right, starts a session.
func (h *Handler) finishWebAuthnLogin(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, "") {
		return
	}
	f := r.PostForm
	cer, ok := h.Ceremonies.take(r.Context(), f.Get("state"), true, h.Journalists)
	if !ok || len(f.Get("credential")) > maxCredJSON {
		h.jsonError(w, r, http.StatusUnauthorized, "newsroom.login.failed")
		return
	}
	ctx := r.Context()
	var u *waUser
	var cred *webauthn.Credential
	if aj := cer.attempt.Journalist(); aj.ID != 0 {
		rp, err := h.relyingParty(r)
		if err != nil {
			h.webauthnFailed(w, r, err)
			return
		}
		if u, err = h.webauthnUser(r, aj); err != nil {
			h.webauthnFailed(w, r, err)
			return
		}
		if parsed, err := protocol.ParseCredentialRequestResponseBytes([]byte(f.Get("credential"))); err == nil && len(u.creds) > 0 {
			cred, _ = rp.ValidateLogin(u, cer.session, parsed)
		}
	}
	j, device, err := h.Auth.Finish(ctx, cer.attempt, cred != nil)
	if err != nil {
		h.loginError(w, r, err)
		return
	}
	for _, row := range u.rows {
		if string(row.ID) == string(cred.ID) {
			row.Data, _ = json.Marshal(cred)
			// The signature counter; on a full disk, the login goes on.
			if err := h.Team.UpdateCredential(context.WithoutCancel(ctx), row); err != nil {
				h.Log.Error("updating a security key's counter", "err", err)
			}
		}
	}
	h.startSession(w, r, j, device)
}

// beginWebAuthnRegistration asks the browser to make a credential.
func (h *Handler) beginWebAuthnRegistration(w http.ResponseWriter, r *http.Request, q request) {
	if !h.proveKey(w, r, q, r.PostForm.Get("auth")) {
		return
	}
	rp, u, ok := h.ceremonyParties(w, r, q.j)
	if !ok {
		return
	}
	if len(u.creds) >= maxCredentials {
		h.jsonError(w, r, http.StatusBadRequest, "nr-auth.webauthn.toomany")
		return
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range u.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := rp.BeginRegistration(u,
		webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementPreferred),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		}))
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	state, err := h.Ceremonies.put(r.Context(), ceremony{journalist: q.j.ID, session: *session})
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"state": state, "options": creation.Response})
}

// finishWebAuthnRegistration checks the new credential and stores it.
func (h *Handler) finishWebAuthnRegistration(w http.ResponseWriter, r *http.Request, q request) {
	f := r.PostForm
	cer, ok := h.Ceremonies.take(r.Context(), f.Get("state"), false, h.Journalists)
	if !ok || cer.journalist != q.j.ID {
		h.jsonError(w, r, http.StatusBadRequest, "nr-auth.webauthn.expired")
		return
	}
	name := strings.TrimSpace(f.Get("name"))
	if name == "" || utf8.RuneCountInString(name) > maxCredName || !utf8.ValidString(name) ||
		len(f.Get("credential")) > maxCredJSON {
		h.jsonError(w, r, http.StatusBadRequest, "nr-auth.webauthn.name.bad")
		return
	}
	rp, u, ok := h.ceremonyParties(w, r, q.j)
	if !ok {
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes([]byte(f.Get("credential")))
	if err != nil {
		h.jsonError(w, r, http.StatusBadRequest, "nr-auth.webauthn.refused")
		return
	}
	cred, err := rp.CreateCredential(u, cer.session, parsed)
	if err != nil {
		h.jsonError(w, r, http.StatusBadRequest, "nr-auth.webauthn.refused")
		return
	}
	data, err := json.Marshal(cred)
	if err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	ctx := r.Context()
	if err := h.Team.AddCredential(ctx, &pista.WebAuthnCredential{ID: cred.ID, JournalistID: q.j.ID, Name: name, Data: data}); err != nil {
		h.webauthnFailed(w, r, err)
		return
	}
	h.Team.AddAudit(ctx, pista.AuditEntry{ActorID: q.j.ID, ActorName: q.j.Name, Action: pista.AuditSecondFactor})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// deleteCredential removes one of the journalist's security keys, once
// the passphrase was proved again (the page's script asks for it).
func (h *Handler) deleteCredential(w http.ResponseWriter, r *http.Request, q request) {
	id, err := base64.RawURLEncoding.DecodeString(r.PostForm.Get("id"))
	if err != nil || len(id) == 0 || len(id) > 1023 {
		h.jsonError(w, r, http.StatusBadRequest, "error.form")
		return
	}
	if !h.proveKey(w, r, q, r.PostForm.Get("auth")) {
		return
	}
	ctx := r.Context()
	if err := h.Team.DeleteCredential(ctx, q.j.ID, id); errors.Is(err, pista.ErrNotFound) {
		h.jsonError(w, r, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.Log.Error("deleting a security key", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	h.Team.AddAudit(ctx, pista.AuditEntry{ActorID: q.j.ID, ActorName: q.j.Name, Action: pista.AuditSecondFactor})
	writeJSON(w, http.StatusOK, map[string]string{"next": ui.WithLang(r, "/newsroom/settings?done=key-removed")})
}
