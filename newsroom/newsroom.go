// Package newsroom serves the journalists' web inbox, under /newsroom/.
//
//	GET  /newsroom/login, POST /newsroom/login[/params]   passphrase stretched in the browser + TOTP
//	POST /newsroom/login/webauthn/{begin,finish}          … or a security key instead of TOTP
//	GET  /newsroom/settings, POST /newsroom/settings/…    passphrase, identity, security keys
//	GET  /newsroom/me/{identity,keys}                     the wrapped identity and desk keys, JSON
//	POST /newsroom/logout
//	GET  /newsroom/                              inbox: newest first, keyset pages, filters
//	GET  /newsroom/conversations.json            the same pages for the script (search)
//	GET  /newsroom/c/{id}                        a conversation's items
//	GET  /newsroom/c/{id}/items/{item}[/meta]    one item, still encrypted
//	GET  /newsroom/c/{id}/download.zip           every item, still encrypted
//	POST /newsroom/c/{id}/{star,unread,reply,delete}
//	POST /newsroom/c/{id}/{status,tags,assign}   the desk's work on it
//	POST /newsroom/c/{id}/reply/sealed           a reply encrypted by the browser, with its files (replyfiles.go)
//	GET, POST /newsroom/search…                  the desks' encrypted search indexes (search.go)
//	GET, POST /newsroom/fs/…                     the sorter's routes of forward secrecy (forward.go)
//
// A journalist sees the conversations of their desks only; any other is a
// 404, exactly like one that does not exist. The server never decrypts an
// item here: the page's script fetches the age files and decrypts them in
// the browser with the desk identities unwrapped there; downloads are age
// files that can also be opened offline (`pista open`). Replies are
// encrypted by the script to the source's, the desk's and the archive's
// keys and arrive sealed. The form without JavaScript, whose reply the
// server encrypts (the plaintext exists only in memory for that request),
// is a fallback an admin can turn off (Handler.NoServerReplies).
//
// Listing conversations, opening one, fetching an item or a zip,
// replying, deleting and changing a conversation's status, tags or
// assignee are recorded in the audit log (TeamStore.AddAudit), with no
// source data (see audit.go).
//
// Every request of a session reads the journalist from the store
// (Auth.Current): a suspension, by an admin's page or by `pista
// journalist suspend` from another process, refuses the session from its
// next request and ends it for good; desk membership is checked by the
// stores' queries on every read, so a removal from a desk takes effect at
// once too.
package newsroom

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/ui"
)

// Handler serves the web inbox.
type Handler struct {
	Auth        *Auth
	Journalists pista.JournalistStore
	Desks       pista.DeskStore
	Tips        pista.TipStore
	Team        pista.TeamStore
	Blobs       pista.BlobStore
	Sessions    *httpx.Sessions[Session]
	CSRF        *httpx.CSRF
	Render      *ui.Renderer
	Log         *slog.Logger
	Newsroom    string
	Archive     []string
	// NoServerReplies turns off the no-JavaScript reply form, whose
	// plaintext the server encrypts (`pista serve --server-replies=false`):
	// replies are then only encrypted in the journalist's browser.
	NoServerReplies bool
	// MaxUpload bounds the bytes of the files of one reply together, as
	// it bounds a source's submission (0: httpx.DefaultMaxUpload).
	MaxUpload int64
	// Clock numbers the intake days of forward secrecy (forward.go).
	Clock forward.Clock

	// Shared, if set, keeps what several instances must see alike
	// (WebAuthn ceremonies, the window of download audit entries); the
	// sessions and Auth are given theirs by the caller.
	Shared pista.Shared

	// RPID is the WebAuthn relying party ID ("": the request's host name).
	RPID       string
	Ceremonies Ceremonies

	downloads recentAudit // download entries recently recorded
}

func (h *Handler) maxUpload() int64 {
	if h.MaxUpload <= 0 {
		return httpx.DefaultMaxUpload
	}
	return h.MaxUpload
}

// NewSessions is the journalists' session table: an hour idle, twelve
// hours at most.
func NewSessions(secure bool) *httpx.Sessions[Session] {
	return &httpx.Sessions[Session]{Cookie: "pista_newsroom", Path: "/newsroom/", Idle: time.Hour, Lifetime: 12 * time.Hour, Secure: secure}
}

// Register adds the inbox routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	h.Ceremonies.Shared = h.Shared
	mux.HandleFunc("GET /newsroom/login", h.showLogin)
	mux.HandleFunc("POST /newsroom/login", h.login)
	mux.HandleFunc("POST /newsroom/login/params", h.loginParams)
	mux.HandleFunc("POST /newsroom/login/webauthn/begin", h.beginWebAuthnLogin)
	mux.HandleFunc("POST /newsroom/login/webauthn/finish", h.finishWebAuthnLogin)
	mux.HandleFunc("GET /newsroom/settings", h.auth(h.showSettings))
	mux.HandleFunc("POST /newsroom/settings/params", h.auth(h.accountParams))
	mux.HandleFunc("POST /newsroom/settings/passphrase", h.auth(h.changePassphrase))
	mux.HandleFunc("POST /newsroom/settings/identity", h.auth(h.importIdentity))
	mux.HandleFunc("POST /newsroom/settings/exported", h.auth(h.recordExport))
	mux.HandleFunc("POST /newsroom/settings/webauthn/begin", h.auth(h.beginWebAuthnRegistration))
	mux.HandleFunc("POST /newsroom/settings/webauthn/finish", h.auth(h.finishWebAuthnRegistration))
	mux.HandleFunc("POST /newsroom/settings/webauthn/delete", h.auth(h.deleteCredential))
	mux.HandleFunc("GET /newsroom/me/identity", h.auth(h.showIdentity))
	mux.HandleFunc("GET /newsroom/me/keys", h.auth(h.listMyKeys))
	mux.HandleFunc("POST /newsroom/logout", h.auth(h.logout))
	mux.HandleFunc("GET /newsroom/{$}", h.auth(h.showInbox))
	mux.HandleFunc("GET /newsroom/c/{id}", h.auth(h.showConversation))
	mux.HandleFunc("GET /newsroom/c/{id}/items/{item}", h.auth(h.downloadItem))
	mux.HandleFunc("GET /newsroom/c/{id}/items/{item}/meta", h.auth(h.downloadItem))
	mux.HandleFunc("GET /newsroom/c/{id}/download.zip", h.auth(h.downloadConversation))
	mux.HandleFunc("POST /newsroom/c/{id}/star", h.auth(h.starConversation))
	mux.HandleFunc("POST /newsroom/c/{id}/unread", h.auth(h.markUnread))
	mux.HandleFunc("POST /newsroom/c/{id}/reply", h.auth(h.replyToSource))
	mux.HandleFunc("POST /newsroom/c/{id}/delete", h.auth(h.deleteConversation))
	h.registerInboxWork(mux)
	h.registerTeam(mux)
	h.registerSearch(mux)
	h.registerRetention(mux)
	h.registerQuestions(mux)
	h.registerNotes(mux)
	h.registerForward(mux)
}

// CSRFHeader carries the page's CSRF token in the script's requests.
const CSRFHeader = "X-CSRF-Token"

// request is a logged-in journalist's request.
type request struct {
	j    pista.Journalist
	sid  string
	sess Session
}

// auth requires a journalist session, and for POSTs a valid CSRF token:
// in the X-CSRF-Token header (the script's requests; a urlencoded body is
// then read too), or in a small urlencoded form.
func (h *Handler) auth(next func(http.ResponseWriter, *http.Request, request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, sid, ok := h.Sessions.Get(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, ui.WithLang(r, "/newsroom/login"), http.StatusSeeOther)
				return
			}
			h.fail(w, r, "", http.StatusUnauthorized, "error.session")
			return
		}
		// The account as the store has it now, on every request: a
		// suspension (also by pista journalist suspend, from another
		// process) or a removal from a desk takes effect at once.
		j, err := h.Auth.Current(r.Context(), sess)
		switch {
		case errors.Is(err, ErrSessionEnded):
			// The account is gone, or its sessions were ended.
			h.Sessions.End(w, r)
			if r.Method == http.MethodGet {
				http.Redirect(w, r, ui.WithLang(r, "/newsroom/login"), http.StatusSeeOther)
				return
			}
			h.fail(w, r, "", http.StatusUnauthorized, "error.session")
			return
		case errors.Is(err, ErrSuspended):
			// A suspended account can do nothing, whatever its roles. Its
			// session can never work again (the suspension moved the
			// account's session epoch on).
			h.fail(w, r, "", http.StatusForbidden, "team.suspended")
			return
		case err != nil:
			// A request the browser gave up on (a page left while its
			// script still fetched) or a database failing for a moment
			// must not log the journalist out.
			if r.Context().Err() == nil {
				h.Log.Error("loading the session's journalist", "err", err)
			}
			h.fail(w, r, sid, writeStatus(err), writeErrorKey(err))
			return
		}
		if tok := r.Header.Get(CSRFHeader); r.Method == http.MethodPost && tok != "" {
			if !h.CSRF.Valid(tok, sid) {
				h.fail(w, r, sid, http.StatusForbidden, "error.csrf")
				return
			}
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
				r.Body = http.MaxBytesReader(w, r.Body, httpx.MaxFormBody)
				if err := r.ParseForm(); err != nil {
					h.fail(w, r, sid, http.StatusBadRequest, "error.form")
					return
				}
			}
		} else if r.Method == http.MethodPost {
			if status, key, ok := h.CSRF.ReadForm(w, r, sid); !ok {
				h.fail(w, r, sid, status, key)
				return
			}
		}
		// The page's menu needs the journalist too: it is in the context,
		// not looked up again.
		r = r.WithContext(context.WithValue(r.Context(), journalistKey{}, j))
		next(w, r, request{j: j, sid: sid, sess: sess})
	}
}

// journalistKey holds, in a request's context, the journalist auth found.
type journalistKey struct{}

func (h *Handler) page(r *http.Request, sid, title string) *ui.Page {
	p := ui.NewPage(r, h.Newsroom, title)
	p.CSRF = h.CSRF.Token(sid)
	p.Nav = h.nav(r)
	return p
}

// nav is the menu of the journalist that auth let through (nil on pages
// without one, such as the login page): the inbox, their desks' pages,
// the admin pages for admins, settings.
func (h *Handler) nav(r *http.Request) *ui.NewsroomNav {
	j, ok := r.Context().Value(journalistKey{}).(pista.Journalist)
	if !ok {
		return nil
	}
	n := &ui.NewsroomNav{Name: j.Name, Admin: j.Admin}
	if desks, err := h.Desks.DesksOf(r.Context(), j.ID); err == nil {
		for _, d := range desks {
			n.Desks = append(n.Desks, ui.NavDesk{Slug: d.Slug, Title: d.Title})
		}
	}
	return n
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, sid string, status int, key string) {
	h.Render.Error(w, h.page(r, sid, "error.title"), status, key, "/newsroom/")
}
