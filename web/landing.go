package web

import (
	"net/http"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/ui"
)

type landingData struct {
	Desks           []pista.Desk
	MaxMessage      string
	MaxMessageChars int
	MaxContactChars int
	MaxUpload       string
}

func (h *Handler) formLimits() landingData {
	return landingData{
		MaxMessage:      "100,000",
		MaxMessageChars: httpx.MaxMessageChars,
		MaxContactChars: httpx.MaxContactChars,
		MaxUpload:       ui.HumanSize(h.MaxUpload),
	}
}

func (h *Handler) showLanding(w http.ResponseWriter, r *http.Request) {
	desks, err := h.Desks.Desks(r.Context())
	if err != nil {
		h.Log.Error("listing desks", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d := h.formLimits()
	p := h.page(r, "landing.title")
	d.Desks = h.localize(r.Context(), p.L.Tag, desks...)
	p.Data = d
	h.Render.Render(w, http.StatusOK, "source/landing", p)
}
