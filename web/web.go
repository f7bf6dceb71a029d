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
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/scrub"
	"github.com/pista-tips/pista/ui"
	"github.com/pista-tips/pista/upload"
)

// Session is what a source's session holds: who they are and the seed of
// the identity derived from their codename. It is sealed into the source's
// cookie (httpx.Sealed), never kept on the server.
type Session struct {
	SourceID       int64
	ConversationID string
	seed           []byte // of the source's identity (keys.IdentityFromSeed)
}

// NewSession is the session of a source who logged in to conversationID
// with the keys d their codename derived.
func NewSession(sourceID int64, conversationID string, d keys.Derived) Session {
	return Session{SourceID: sourceID, ConversationID: conversationID, seed: d.Seed}
}

// Identity rebuilds the source's age identity from the session's seed,
// for the pages that decrypt replies: it costs about a tenth of a
// millisecond (ML-KEM-768 and X25519 keys from the seed), which the
// other requests need not pay.
func (s Session) Identity() (*age.HybridIdentity, error) { return keys.IdentityFromSeed(s.seed) }

// Handler serves the source pages.
type Handler struct {
	Desks    pista.DeskStore
	Tips     pista.TipStore
	Settings pista.Settings
	Blobs    pista.BlobStore
	Sessions *httpx.Sealed[Session] // NewSessions
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
	// Clock numbers the intake days (forward secrecy): new items go to
	// the desk's intake key of the day.
	Clock forward.Clock
}

// Register adds the source routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.showLanding)
	mux.HandleFunc("POST /submit", h.submitTip)
	mux.HandleFunc("POST /login", h.loginSource)
	mux.HandleFunc("GET /source", h.showSource)
	mux.HandleFunc("POST /source/submit", h.submitFollowUp)
	mux.HandleFunc("POST /source/replies/{id}/delete", h.deleteReply)
	mux.HandleFunc("GET /source/files/{id}", h.downloadReplyFile)
	mux.HandleFunc("POST /logout", h.logoutSource)
	mux.HandleFunc("GET /pow", h.showChallenge)
}

// page starts a page for r with the CSRF token of its session sid, if
// any ("": an anonymous token).
func (h *Handler) page(r *http.Request, sid, title string) *ui.Page {
	p := ui.NewPage(r, h.Newsroom, title)
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

// session returns the request's live session and its ID, sealing its
// cookie again if it was last used over a minute ago; or it answers the
// request (the session page for a session that ended, whose cookie it
// clears) and returns false.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) (Session, string, bool) {
	s, sid, err := h.Sessions.Get(w, r)
	switch {
	case errors.Is(err, httpx.ErrNoSession):
		if _, cerr := r.Cookie(h.Sessions.Cookie); cerr == nil {
			h.Sessions.End(w, r)
		}
		h.fail(w, r, http.StatusUnauthorized, "error.session")
		return s, "", false
	case err != nil:
		h.Log.Error("source session", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return s, "", false
	}
	return s, sid, true
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
	h.failMax(w, r, status, key, 0)
}

// failMax is fail for a message that names a limit ({max}).
func (h *Handler) failMax(w http.ResponseWriter, r *http.Request, status int, key string, max int) {
	back := "/"
	_, sid, err := h.Sessions.Get(nil, r)
	if err == nil {
		back = "/source"
	}
	p := h.page(r, sid, "error.title")
	p.Private = r.URL.Path != "/"
	h.Render.ErrorMax(w, p, status, key, back, max)
}

// sessionPurpose binds the web's sealed sessions to their cookie: an API
// token, sealed under the same key, does not open as one.
const sessionPurpose = "pista source web session"

// NewSessions seals the sources' sessions into their cookie with keys:
// twenty minutes idle, two hours at most. Short, because a source may
// leave a shared computer. Every request checks the source's session
// epoch in tips (pista.TipStore.SourceSessionEpoch): logging out, or the
// conversation's deletion, ends every copy of the cookie.
func NewSessions(keys *httpx.KeyRing, tips pista.TipStore, secure bool) (*httpx.Sealed[Session], error) {
	s, err := httpx.NewSealed[Session](keys, sessionPurpose)
	if err != nil {
		return nil, err
	}
	s.Cookie, s.Path, s.Secure = "pista_source", "/", secure
	s.Idle, s.Lifetime = 20*time.Minute, 2*time.Hour
	s.Encode, s.Decode = encodeSession, decodeSession
	s.Epoch = func(ctx context.Context, v Session) (int64, error) {
		return tips.SourceSessionEpoch(ctx, v.SourceID, v.ConversationID)
	}
	return s, nil
}

// encodeSession writes the source ID (8 bytes), the identity's seed and
// the conversation ID.
func encodeSession(s Session) ([]byte, error) {
	if len(s.seed) != keys.SeedSize || s.ConversationID == "" {
		return nil, errors.New("web: a session needs a seed and a conversation")
	}
	b := binary.BigEndian.AppendUint64(nil, uint64(s.SourceID))
	b = append(b, s.seed...)
	return append(b, s.ConversationID...), nil
}

func decodeSession(b []byte) (Session, error) {
	if len(b) <= 8+keys.SeedSize {
		return Session{}, errors.New("web: a sealed session too short")
	}
	return Session{
		SourceID:       int64(binary.BigEndian.Uint64(b)),
		ConversationID: string(b[8+keys.SeedSize:]),
		seed:           bytes.Clone(b[8 : 8+keys.SeedSize]),
	}, nil
}

func (h *Handler) scrubBudget() scrub.Budget {
	if h.ScrubBudget.Memory <= 0 {
		return scrub.DefaultBudget
	}
	return h.ScrubBudget
}
