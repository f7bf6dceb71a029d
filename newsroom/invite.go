package newsroom

// Joining by invitation. A coordinator (or an admin) makes a one-time
// link; the server keeps only the SHA-256 of its random token. Whoever
// opens it chooses a name and a passphrase; their browser makes their age
// identity, stretches the passphrase (keys.JournalistKDF) and wraps the
// identity with the wrapping key, and sends only the public key, the salt,
// the authentication key and the wrapped identity, with a TOTP code for
// the secret this page gave them. The new account is a pending member of
// the desk until a coordinator's browser wraps the desk key to it.
//
//	GET  /newsroom/invite/{token}   the form, with a fresh TOTP secret (QR code and text)
//	POST /newsroom/invite/{token}   name, recipient, salt, kdf, auth, wrapped, totp_secret, totp → JSON

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/ui"
)

// nameRE is what a journalist's user name may be (the same rule as
// `pista journalist add`).
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Sizes of what the invitation form sends.
const (
	// maxNewWrappedIdentity bounds a wrapped identity: a nonce, a hybrid
	// identity string (under 100 bytes) and a tag (keys.UnwrapIdentity
	// refuses more than 4 KiB too).
	maxNewWrappedIdentity = 4096
	// minNewWrappedIdentity is a nonce, a tag and "AGE-SECRET-KEY-PQ-1".
	minNewWrappedIdentity = 12 + 16 + 19
	// totpSecretLen is the base32 length of the 20-byte secrets
	// keys.NewTOTP makes.
	totpSecretLen = 32
)

type inviteData struct {
	Token    string
	DeskSlug string
	Role     pista.Role
	Admin    bool
	KDF      string
	Secret   string
	URI      string
	QR       template.HTML
	Expires  time.Time
}

// invitation finds the unexpired invitation of the URL's token.
func (h *Handler) invitation(r *http.Request) (pista.Invitation, string, error) {
	token := r.PathValue("token")
	if len(token) != 43 {
		return pista.Invitation{}, "", pista.ErrNotFound
	}
	sum := sha256.Sum256([]byte(token))
	inv, err := h.Team.Invitation(r.Context(), sum[:], time.Now())
	if err != nil {
		return inv, "", err
	}
	slug := ""
	if inv.DeskID != 0 {
		d, err := h.Desks.DeskByID(r.Context(), inv.DeskID)
		if err != nil {
			return inv, "", err
		}
		slug = d.Slug
	}
	return inv, slug, nil
}

func (h *Handler) inviteFail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, pista.ErrNotFound) {
		h.Render.Error(w, h.page(r, "", "error.title"), http.StatusGone, "team.invite.gone", "")
		return
	}
	h.Log.Error("loading an invitation", "err", err)
	h.Render.Error(w, h.page(r, "", "error.title"), writeStatus(err), writeErrorKey(err), "")
}

// showInvitation is the form to make an account from an invitation.
func (h *Handler) showInvitation(w http.ResponseWriter, r *http.Request) {
	inv, slug, err := h.invitation(r)
	if err != nil {
		h.inviteFail(w, r, err)
		return
	}
	account := "admin"
	if slug != "" {
		account = slug
	}
	secret, uri, err := keys.NewTOTP(h.Newsroom, account)
	if err != nil {
		h.inviteFail(w, r, err)
		return
	}
	svg, err := qrSVG(uri)
	if err != nil {
		h.inviteFail(w, r, err)
		return
	}
	p := h.page(r, "", "team.invite.title")
	p.Data = inviteData{Token: r.PathValue("token"), DeskSlug: slug, Role: inv.Role, Admin: inv.Admin, KDF: keys.JournalistKDF,
		Secret: secret, URI: uri, QR: svg, Expires: inv.Expires}
	h.Render.Render(w, http.StatusOK, "newsroom/invite", p)
}

// newAccount is what the invitation form sends, checked.
type newAccount struct {
	j    pista.Journalist
	step int64
}

// readNewAccount checks every field of the invitation form. It answers
// the message key of the first thing wrong.
func readNewAccount(f map[string][]string, now time.Time) (newAccount, string) {
	get := func(k string) string {
		if v := f[k]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	var a newAccount
	name := get("name")
	if !nameRE.MatchString(name) {
		return a, "team.name.bad"
	}
	recipient := get("recipient")
	if len(recipient) > 4096 {
		return a, "team.recipient.bad"
	}
	if _, err := age.ParseHybridRecipient(recipient); err != nil {
		return a, "team.recipient.bad"
	}
	kdf := get("kdf")
	if _, err := keys.ParseKDF(kdf); err != nil {
		return a, "team.keys.bad"
	}
	b64 := base64.StdEncoding.Strict()
	salt, err := b64.DecodeString(get("salt"))
	if err != nil || len(salt) != keys.JournalistSaltSize {
		return a, "team.keys.bad"
	}
	auth, err := b64.DecodeString(get("auth"))
	if err != nil || len(auth) != 32 {
		return a, "team.keys.bad"
	}
	wrappedField := get("wrapped")
	if len(wrappedField) > base64.StdEncoding.EncodedLen(maxNewWrappedIdentity) {
		return a, "team.keys.bad"
	}
	wrapped, err := b64.DecodeString(wrappedField)
	if err != nil || len(wrapped) < minNewWrappedIdentity || len(wrapped) > maxNewWrappedIdentity {
		return a, "team.keys.bad"
	}
	secret := get("totp_secret")
	if len(secret) != totpSecretLen {
		return a, "team.totp.bad"
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret); err != nil {
		return a, "team.totp.bad"
	}
	step, ok := keys.CheckTOTP(secret, strings.TrimSpace(get("totp")), now)
	if !ok {
		return a, "team.totp.bad"
	}
	a.j = pista.Journalist{Name: name, Recipient: recipient, TOTPSecret: secret,
		Auth: pista.JournalistAuth{Salt: salt, KDF: kdf, Hash: keys.AuthHash(auth), WrappedIdentity: wrapped}}
	a.step = step
	return a, ""
}

// acceptInvitation makes the account. It answers JSON to the page's
// script: {"next": …} or {"error": …}.
func (h *Handler) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	if status, key, ok := h.CSRF.ReadForm(w, r, ""); !ok {
		h.jsonResult(w, r, status, "", key)
		return
	}
	inv, slug, err := h.invitation(r)
	if errors.Is(err, pista.ErrNotFound) {
		h.jsonResult(w, r, http.StatusGone, "", "team.invite.gone")
		return
	} else if err != nil {
		h.Log.Error("loading an invitation", "err", err)
		h.jsonResult(w, r, writeStatus(err), "", writeErrorKey(err))
		return
	}
	a, bad := readNewAccount(r.PostForm, time.Now())
	if bad != "" {
		h.jsonResult(w, r, http.StatusBadRequest, "", bad)
		return
	}
	sum := sha256.Sum256([]byte(r.PathValue("token")))
	err = h.Team.AcceptInvitation(r.Context(), sum[:], time.Now(), &a.j)
	switch {
	case errors.Is(err, pista.ErrExists):
		h.jsonResult(w, r, http.StatusConflict, "", "team.name.taken")
		return
	case errors.Is(err, pista.ErrNotFound):
		h.jsonResult(w, r, http.StatusGone, "", "team.invite.gone")
		return
	case err != nil:
		h.Log.Error("accepting an invitation", "err", err)
		h.jsonResult(w, r, writeStatus(err), "", writeErrorKey(err))
		return
	}
	h.Auth.UseTOTPStep(a.j, a.step) // the code that confirmed the authenticator does not log in
	h.auditTeam(r.Context(), a.j, pista.AuditJoin, pista.Desk{ID: inv.DeskID, Slug: slug}, string(inv.Role))
	h.Log.Info("journalist joined by invitation", "journalist", a.j.Name)
	next := "/newsroom/login?joined=desk"
	if inv.Admin && inv.DeskID == 0 {
		next = "/newsroom/login?joined=admin"
	}
	h.jsonResult(w, r, http.StatusOK, next, "")
}

// qrSVG draws text as a QR code in SVG, labelled by the page's qr-label.
func qrSVG(text string) (template.HTML, error) { return ui.QRSVG(text, "qr-label") }
