package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/ui"
)

// wrongCodename is derived in place of a malformed codename, so that a
// malformed one takes as long to refuse as a well-formed wrong one.
const wrongCodename = keys.Codename("0000000000000000000000000000")

// parseForm reads a small urlencoded form and checks its CSRF token
// against the visitor's session (sid, "" for none).
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request, sid string) bool {
	if status, key, ok := h.CSRF.ReadForm(w, r, sid); !ok {
		h.fail(w, r, status, key)
		return false
	}
	return true
}

// loginSource logs a source in with their codename. Every wrong codename,
// well-formed or not, gets the same page after the same work: one Argon2id
// derivation and one indexed lookup.
func (h *Handler) loginSource(w http.ResponseWriter, r *http.Request) {
	// Like the submission form, the login form on the landing page
	// carries an anonymous token.
	if !h.parseForm(w, r, "") {
		return
	}
	ctx := r.Context()
	c, perr := keys.ParseCodename(r.PostForm.Get("codename"))
	if perr != nil {
		c = wrongCodename
	}
	d, err := h.derive(ctx, c, admit.Login, r.PostForm.Get(powField))
	if errors.Is(err, errBusy) {
		h.busy(w, r, "error.retry.login")
		return
	} else if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, "error.busy")
		return
	}
	src, err := h.Tips.SourceByLookup(ctx, d.Lookup)
	if err == nil && perr != nil {
		err = pista.ErrNotFound
	}
	var convs []pista.Conversation
	if err == nil {
		convs, err = h.Tips.ConversationsOfSource(ctx, src.ID)
		if err == nil && len(convs) == 0 {
			err = pista.ErrNotFound
		}
	}
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, http.StatusUnauthorized, "error.codename")
		return
	} else if err != nil {
		h.Log.Error("source login", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	// Logging in ends no other session: the source may follow the
	// conversation from more than one device. Logging out ends them all.
	if _, err := h.Sessions.Start(w, r, NewSession(src.ID, convs[0].ID, d)); err != nil {
		h.Log.Error("source login", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	http.Redirect(w, r, ui.WithLang(r, "/source"), http.StatusSeeOther)
}

// notices maps the done= parameter of a redirect to a message key, so
// that only known messages can be shown.
var notices = map[string]string{
	"sent":    "source.notice.sent",
	"deleted": "source.notice.deleted",
}

type replyView struct {
	ID      int64
	Created time.Time
	Text    string
	Files   []replyFileView // the files sent with it
}

type sentView struct {
	Kind    pista.ItemKind
	Size    int64
	Created time.Time
}

type sourceData struct {
	landingData
	Recipients string // the conversation desk's, for the page's script
	// SealedFor is that desk's slug, which the script sends back with
	// what it encrypted (sealed_for): refused if the conversation has
	// moved to another desk since the page was opened.
	SealedFor string
	// Keys are that desk's keys for forward secrecy (landing.go).
	Keys    deskKeys
	Notice  string
	Replies []replyView
	Sent    []sentView
	// RetentionDays is how long the desk keeps the conversation after its
	// last message (0: until the newsroom deletes it).
	RetentionDays int
}

// maxReplyBytes bounds how much of a reply is decrypted for display.
const maxReplyBytes = httpx.MaxMessageBytes

// showSource shows a logged-in source the replies, decrypted in memory
// with the identity their codename derived, and what they have sent.
func (h *Handler) showSource(w http.ResponseWriter, r *http.Request) {
	sess, sid, ok := h.session(w, r)
	if !ok {
		return
	}
	items, err := h.Tips.ItemsOfConversation(r.Context(), sess.ConversationID)
	if err != nil {
		h.Log.Error("listing a source's items", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d := sourceData{landingData: h.formLimits(), Notice: notices[r.URL.Query().Get("done")]}
	if conv, err := h.conversation(r.Context(), sess); err == nil {
		if desk, err := h.Desks.DeskByID(r.Context(), conv.DeskID); err == nil {
			d.Recipients, d.SealedFor = h.recipientList(desk), desk.Slug
			d.Keys = h.deskKeys(r.Context(), desk, h.today())
			d.RetentionDays = desk.RetentionDays
		}
	}
	id, err := sess.Identity()
	if err != nil {
		h.Log.Error("a source's identity", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	afterReply := false // the item before was a reply or one of its files
	for _, it := range items {
		if it.Kind == pista.KindNote {
			// The desk's internal notes are not the source's to see,
			// nor to know of.
			continue
		}
		if it.IsReplyFile() {
			// Stored after its reply, in the same batch.
			f, err := h.replyFile(r.Context(), it, id)
			if err != nil {
				h.Log.Error("decrypting a reply file's name for its source", "err", err)
				continue
			}
			if n := len(d.Replies); n > 0 && afterReply {
				d.Replies[n-1].Files = append(d.Replies[n-1].Files, f)
			} else {
				// Its reply was deleted: the file stands alone.
				afterReply = true
				d.Replies = append(d.Replies, replyView{ID: 0, Created: it.Created, Files: []replyFileView{f}})
			}
			continue
		}
		afterReply = it.Kind == pista.KindReply
		if it.Kind != pista.KindReply {
			d.Sent = append(d.Sent, sentView{Kind: it.Kind, Size: it.Size, Created: it.Created})
			continue
		}
		text, err := h.openReply(r.Context(), it, id)
		if err != nil {
			h.Log.Error("decrypting a reply for its source", "err", err)
			continue
		}
		d.Replies = append(d.Replies, replyView{ID: it.ID, Created: it.Created, Text: text})
	}
	p := h.page(r, sid, "source.title")
	p.Private = true
	p.Data = d
	h.Render.Render(w, http.StatusOK, "source/source", p)
}

func (h *Handler) openReply(ctx context.Context, it pista.Item, id *age.HybridIdentity) (string, error) {
	obj, err := h.Blobs.Open(ctx, it.Object)
	if err != nil {
		return "", err
	}
	defer obj.Close()
	pr, err := age.Decrypt(obj, id)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(pr, maxReplyBytes)); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// submitFollowUp adds a message and files to the source's conversation.
func (h *Handler) submitFollowUp(w http.ResponseWriter, r *http.Request) {
	sess, sid, ok := h.session(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	conv, err := h.conversation(ctx, sess)
	if err != nil {
		h.Log.Error("follow-up", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	desk, err := h.Desks.DeskByID(ctx, conv.DeskID)
	if err != nil {
		h.Log.Error("follow-up", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxUpload+formOverhead)
	s, ferr := h.readForm(ctx, r, formSpec{sessionID: sid, desk: desk, seal: h.seal})
	if ferr != nil {
		h.refused(w, r, ferr)
		return
	}
	if err := h.Tips.AddItemsFor(context.WithoutCancel(ctx), conv.ID, desk.ID, s.batch.Items()); err != nil {
		s.batch.Abort()
		h.settle(context.WithoutCancel(ctx), s, false)
		h.refused(w, r, storeError(err))
		return
	}
	h.settle(context.WithoutCancel(ctx), s, true)
	http.Redirect(w, r, ui.WithLang(r, "/source?done=sent"), http.StatusSeeOther)
}

func (h *Handler) conversation(ctx context.Context, s Session) (pista.Conversation, error) {
	convs, err := h.Tips.ConversationsOfSource(ctx, s.SourceID)
	if err != nil {
		return pista.Conversation{}, err
	}
	for _, c := range convs {
		if c.ID == s.ConversationID {
			return c, nil
		}
	}
	return pista.Conversation{}, pista.ErrNotFound
}

// deleteReply deletes one reply, its row and its object, at the source's
// request.
func (h *Handler) deleteReply(w http.ResponseWriter, r *http.Request) {
	sess, sid, ok := h.session(w, r)
	if !ok {
		return
	}
	if !h.parseForm(w, r, sid) {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		h.fail(w, r, http.StatusNotFound, "error.notfound")
		return
	}
	it, err := h.Tips.DeleteReply(r.Context(), sess.ConversationID, id)
	if errors.Is(err, pista.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.Log.Error("deleting a reply", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	if err := h.Blobs.Delete(context.WithoutCancel(r.Context()), it.Object); err != nil {
		h.Log.Error("deleting a reply's object", "err", err)
	}
	http.Redirect(w, r, ui.WithLang(r, "/source?done=deleted"), http.StatusSeeOther)
}

// logoutSource ends every session of the source, on every device and
// every copy of the cookie (its session epoch changes), and clears the
// cookie.
func (h *Handler) logoutSource(w http.ResponseWriter, r *http.Request) {
	sess, sid, err := h.Sessions.Get(nil, r)
	switch {
	case errors.Is(err, httpx.ErrNoSession):
		// Nothing to end (the page's session ended meanwhile) and nothing
		// for a forged request to do but clear a dead cookie.
	case err != nil:
		h.Log.Error("source logout", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	default:
		if !h.parseForm(w, r, sid) {
			return
		}
		if err := h.Tips.EndSourceSessions(r.Context(), sess.SourceID); err != nil && !errors.Is(err, pista.ErrNotFound) {
			h.Log.Error("source logout", "err", err)
			h.fail(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
	}
	h.Sessions.End(w, r)
	http.Redirect(w, r, ui.WithLang(r, "/"), http.StatusSeeOther)
}
