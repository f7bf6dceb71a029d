package newsroom

import (
	"errors"
	"github.com/pista-tips/pista/ui"
	"net/http"
)

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := h.Sessions.Get(r); ok {
		http.Redirect(w, r, ui.WithLang(r, "/newsroom/"), http.StatusSeeOther)
		return
	}
	p := h.page(r, "", "newsroom.login.heading")
	h.Render.Render(w, http.StatusOK, "newsroom/login", p)
}

// login checks password and TOTP code, then starts a session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if status, key, ok := h.CSRF.ReadForm(w, r, ""); !ok {
		h.fail(w, r, "", status, key)
		return
	}
	f := r.PostForm
	j, err := h.Auth.Login(r.Context(), f.Get("name"), f.Get("password"), f.Get("totp"))
	if err != nil {
		key, status := "newsroom.login.failed", http.StatusUnauthorized
		if errors.Is(err, ErrThrottled) {
			key, status = "newsroom.login.throttled", http.StatusTooManyRequests
		} else if !errors.Is(err, ErrLoginFailed) {
			h.Log.Error("journalist login", "err", err)
			key, status = "error.internal", http.StatusInternalServerError
		}
		p := h.page(r, "", "newsroom.login.heading")
		p.Data = key
		h.Render.Render(w, status, "newsroom/login", p)
		return
	}
	h.Sessions.End(w, r)
	if _, err := h.Sessions.Start(w, r, j.ID); err != nil {
		h.fail(w, r, "", http.StatusServiceUnavailable, "error.busy")
		return
	}
	h.Log.Info("journalist signed in", "journalist", j.Name)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/"), http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, q request) {
	h.Sessions.End(w, r)
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/login"), http.StatusSeeOther)
}
