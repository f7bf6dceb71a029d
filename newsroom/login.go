package newsroom

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/ui"
)

// The login is driven by the page's script (newsroom/login.js), which
// never sends the passphrase:
//
//	POST /newsroom/login/params           csrf, name → {"salt","kdf"}
//	POST /newsroom/login                  csrf, name, auth, totp → {"next"}
//	POST /newsroom/login/webauthn/begin   csrf, name, auth → {"state","options"}
//	POST /newsroom/login/webauthn/finish  csrf, state, credential → {"next"}
//
// auth is the base64 of the 32-byte authentication key the browser
// derived (package keys). Every answer is JSON; an error is
// {"error": a sentence in the page's language}.
//
// A successful login also sets the device cookie (pista_device, only sent
// to /newsroom/login…): the signed device token of Auth, by which this
// browser keeps a login allowance of its own while the account is under
// attack. It holds the tokens of the last few accounts that logged in
// from the browser.

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.Sessions.Get(r); ok {
		http.Redirect(w, r, ui.WithLang(r, "/newsroom/"), http.StatusSeeOther)
		return
	}
	p := h.page(r, "", "newsroom.login.heading")
	h.Render.Render(w, http.StatusOK, "newsroom/login", p)
}

// readForm reads a script's small form and checks its CSRF token; on
// failure it has answered.
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request, sid string) bool {
	if status, key, ok := h.CSRF.ReadForm(w, r, sid); !ok {
		h.jsonError(w, r, status, key)
		return false
	}
	return true
}

// decodeKey reads a base64 key of exactly n bytes ("" or anything else: nil).
func decodeKey(s string, n int) []byte { return decodeBytes(s, n, n) }

// loginParams tells the browser how to stretch the passphrase of a name.
func (h *Handler) loginParams(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, "") {
		return
	}
	p, err := h.Auth.Params(r.Context(), r.PostForm.Get("name"))
	if err != nil {
		h.Log.Error("login params", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// loginError answers a failed login with its message.
func (h *Handler) loginError(w http.ResponseWriter, r *http.Request, err error) {
	key, status := "newsroom.login.failed", http.StatusUnauthorized
	switch {
	case errors.Is(err, ErrThrottled):
		key, status = "auth.login.throttled", http.StatusTooManyRequests
	case errors.Is(err, ErrSuspended):
		key, status = "nr-auth.login.suspended", http.StatusForbidden
	case errors.Is(err, ErrNeedsReset):
		key, status = "nr-auth.login.reset", http.StatusForbidden
	case errors.Is(err, ErrLoginFailed):
	default:
		h.Log.Error("journalist login", "err", err)
		key, status = "error.internal", http.StatusInternalServerError
	}
	h.jsonError(w, r, status, key)
}

// login checks the authentication key and TOTP code, then starts a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, "") {
		return
	}
	f := r.PostForm
	j, device, err := h.Auth.Login(r.Context(), f.Get("name"), decodeKey(f.Get("auth"), 32), f.Get("totp"), deviceCookie(r))
	if err != nil {
		h.loginError(w, r, err)
		return
	}
	h.startSession(w, r, j, device)
}

// deviceCookieName is the device cookie's; it goes to the login routes only.
const (
	deviceCookieName = "pista_device"
	deviceCookiePath = "/newsroom/login"
)

// deviceCookie returns the request's device tokens ("" if none).
func deviceCookie(r *http.Request) string {
	c, err := r.Cookie(deviceCookieName)
	if err != nil || len(c.Value) > maxDeviceTokens*(DeviceTokenLen+1) {
		return ""
	}
	return c.Value
}

// setDeviceCookie puts the new token first in the device cookie, in place
// of the tokens it held for the same account, keeping maxDeviceTokens.
func (h *Handler) setDeviceCookie(w http.ResponseWriter, r *http.Request, j pista.Journalist, device string) {
	tokens := []string{device}
	for _, t := range strings.Split(deviceCookie(r), ".") {
		if _, mine := h.Auth.checkDevice(t, j.ID); t != "" && !mine && len(tokens) < maxDeviceTokens {
			tokens = append(tokens, t)
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookieName, Value: strings.Join(tokens, "."), Path: deviceCookiePath,
		MaxAge: int(deviceLifetime / time.Second), HttpOnly: true,
		Secure: h.Sessions.Secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, j pista.Journalist, device string) {
	h.Sessions.End(w, r)
	h.setDeviceCookie(w, r, j, device)
	if _, err := h.Sessions.Start(w, r, NewSession(j, device)); err != nil {
		h.jsonError(w, r, http.StatusServiceUnavailable, "error.busy")
		return
	}
	h.Log.Info("journalist signed in", "journalist", j.Name)
	writeJSON(w, http.StatusOK, map[string]string{"next": ui.WithLang(r, "/newsroom/")})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, q request) {
	h.Sessions.End(w, r)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/login"), http.StatusSeeOther)
}
