// Package web serves the source's side of the tip line: server-rendered
// pages that work with JavaScript disabled (Tor Browser at its Safest
// level).
//
//	GET  /                         landing page: desks, safety advice, the form
//	POST /submit                   desk, message, files, contact, keep_metadata → codename
//	POST /login                    codename → the source's page
//	GET  /source                   replies from the newsroom, form to add more
//	POST /source/submit            message, files: a follow-up
//	POST /source/replies/{id}/delete
//	POST /logout
//
// Nothing here logs or stores a source's address, browser, codename,
// message or filename: logs carry only what failed and why, never whose.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/scrub"
	"github.com/pista-tips/pista/ui"
	"github.com/pista-tips/pista/upload"
)

// Session is what a source's session holds: who they are and the identity
// derived from their codename, in memory only.
type Session struct {
	SourceID       int64
	ConversationID string
	Identity       *age.HybridIdentity
}

// Handler serves the source pages.
type Handler struct {
	Desks    pista.DeskStore
	Tips     pista.TipStore
	Settings pista.Settings
	Blobs    pista.BlobStore
	Sessions *httpx.Sessions[Session]
	CSRF     *httpx.CSRF
	Render   *ui.Renderer
	Log      *slog.Logger

	Newsroom  string
	Salt      []byte   // the instance's codename salt (keys.Derive)
	Archive   []string // archive recipients every item is also encrypted to
	MaxUpload int64    // bytes a whole submission may carry
	ExitURL   string   // where the "leave quickly" link goes
	Onion     string   // the tip line's onion address, shown to sources; "" if none
	// SpoolDir is where files are spooled, encrypted under a key held only
	// in memory, while their metadata is removed (the data folder's tmp/).
	SpoolDir string
	// ScrubBudget bounds what scrubbing one file may cost (zero:
	// scrub.DefaultBudget); a file over it is stored as sent, flagged.
	ScrubBudget scrub.Budget
	// Uploads holds the files a browser encrypted and uploaded in pieces
	// (tus), for the forms that name them; nil if resumable uploads are
	// off.
	Uploads *upload.Store
	// Gate admits the key stretching of new tips and logins (nil: one
	// of keys.MaxConcurrentArgon slots, as a gate of its own).
	Gate *admit.Gate
	// PoW checks the proofs of work that buy the priority lanes (nil:
	// none are asked for or accepted).
	PoW *pow.Issuer
}

// Register adds the source routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.showLanding)
	mux.HandleFunc("POST /submit", h.submitTip)
	mux.HandleFunc("POST /login", h.loginSource)
	mux.HandleFunc("GET /source", h.showSource)
	mux.HandleFunc("POST /source/submit", h.submitFollowUp)
	mux.HandleFunc("POST /source/replies/{id}/delete", h.deleteReply)
	mux.HandleFunc("POST /logout", h.logoutSource)
	mux.HandleFunc("GET /pow", h.showChallenge)
}

// page starts a page for r with the CSRF token of its session, if any.
func (h *Handler) page(r *http.Request, title string) *ui.Page {
	p := ui.NewPage(r, h.Newsroom, title)
	_, sid, _ := h.Sessions.Get(r)
	p.CSRF = h.CSRF.Token(sid)
	p.ExitURL = h.ExitURL
	if t, err := h.Settings.NewsroomText(r.Context(), p.L.Tag); err != nil {
		h.Log.Error("newsroom texts", "err", err)
	} else {
		if t.Name != "" {
			p.Newsroom = t.Name
		}
		p.Intro = t.Intro
	}
	return p
}

// localize gives desks their title and description in lang, where the
// newsroom wrote them.
func (h *Handler) localize(ctx context.Context, lang string, desks ...pista.Desk) []pista.Desk {
	texts, err := h.Desks.DeskTexts(ctx, lang)
	if err != nil {
		h.Log.Error("desk texts", "err", err)
		return desks
	}
	for i, d := range desks {
		if t, ok := texts[d.ID]; ok {
			desks[i].Title = t.Title
			if t.Description != "" {
				desks[i].Description = t.Description
			}
		}
	}
	return desks
}

// fail renders the error page with a message key.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, key string) {
	back := "/"
	if _, _, ok := h.Sessions.Get(r); ok {
		back = "/source"
	}
	p := h.page(r, "error.title")
	p.Private = r.URL.Path != "/"
	h.Render.Error(w, p, status, key, back)
}

// NewSessions is the sources' session table: twenty minutes idle, two
// hours at most. Short, because a source may leave a shared computer.
func NewSessions(secure bool) *httpx.Sessions[Session] {
	return &httpx.Sessions[Session]{Cookie: "pista_source", Path: "/", Idle: 20 * time.Minute, Lifetime: 2 * time.Hour, Secure: secure}
}

func (h *Handler) scrubBudget() scrub.Budget {
	if h.ScrubBudget.Memory <= 0 {
		return scrub.DefaultBudget
	}
	return h.ScrubBudget
}
