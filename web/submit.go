package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
)

// formOverhead is what a multipart body carries besides file contents:
// boundaries, part headers, the text fields.
const formOverhead = 1 << 20

// seal chooses what the server encrypts a desk's new items to: the
// desk's intake key of the day and the archive's keys, or, without one,
// the desk's key and the archive's (docs/forward-secrecy.md).
func (h *Handler) seal(ctx context.Context, d pista.Desk) (intake.Seal, error) {
	return intake.SealFor(ctx, h.Tips, h.Log, d, h.today(), h.Archive)
}

// today is the intake day now.
func (h *Handler) today() int64 {
	return h.Clock.Day(time.Now())
}

type receiptData struct {
	Desk   string
	Groups []string
}

// submitTip takes a new tip from the landing form: it encrypts every item
// as it streams in, makes the codename, stores the source's lookup hash
// and public key, and shows the codename once.
func (h *Handler) submitTip(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, h.MaxUpload+formOverhead)
	// The landing page's forms carry anonymous tokens even for a source
	// with a session: a new tip does not act on the session, and a second
	// tab, opened before the source logged in, must still work.
	s, ferr := h.readForm(ctx, r, formSpec{
		sessionID: "",
		deskFor:   h.Desks.DeskBySlug,
		contact:   true,
		questions: true,
		seal:      h.seal,
	})
	if ferr != nil && s != nil && len(s.answerErrs) > 0 {
		h.showLandingAgain(w, r, s)
		return
	}
	if ferr != nil {
		h.refused(w, r, ferr)
		return
	}
	stored := false
	defer func() { h.settle(context.WithoutCancel(ctx), s, stored) }()
	codename := keys.NewCodename()
	d, err := h.derive(ctx, codename, admit.New, s.pow)
	if errors.Is(err, errBusy) {
		// Nothing is kept: the source sends it again.
		s.batch.Abort()
		h.busy(w, r, "error.retry.tip")
		return
	} else if err != nil {
		s.batch.Abort()
		h.refused(w, r, refuse(http.StatusServiceUnavailable, "error.busy", err))
		return
	}
	tip := &pista.NewTip{
		Source:       pista.Source{Lookup: d.Lookup, Recipient: d.Recipient()},
		Conversation: pista.Conversation{ID: pista.NewConversationID(), Channel: pista.ChannelWeb, DeskID: s.desk.ID, Preview: s.preview, PreviewIntake: s.previewIntake},
		Items:        s.batch.Items(),
	}
	if err := h.Tips.CreateTip(context.WithoutCancel(ctx), tip); err != nil {
		s.batch.Abort()
		if errors.Is(err, pista.ErrMoved) {
			// A new tip has not moved: its intake key was destroyed
			// while it was sent (the page was open for days).
			h.refused(w, r, refuse(http.StatusConflict, "forward.source.stale", nil))
			return
		}
		h.refused(w, r, storeError(err))
		return
	}
	stored = true
	p := h.page(r, "", "receipt.title")
	p.Private = true
	desk := h.localize(ctx, p.L.Tag, s.desk)[0]
	p.Data = receiptData{Desk: desk.Title, Groups: codename.Groups()}
	h.Render.Render(w, http.StatusOK, "source/receipt", p)
}

// refused shows why a form was refused, and logs what failed on the
// server's side (never who sent it or what they sent).
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, ferr *formError) {
	if ferr.status == http.StatusInsufficientStorage {
		// The error says which: the disk is full, or at its floor.
		h.Log.Warn("a submission was refused: no room on the disk", "err", ferr.err)
	} else if ferr.status >= 500 && ferr.err != nil {
		h.Log.Error("submission failed", "err", ferr.err)
	}
	if ferr.status == http.StatusRequestEntityTooLarge {
		// The client may still be sending: tell it to stop.
		w.Header().Set("Connection", "close")
	}
	h.failMax(w, r, ferr.status, ferr.key, ferr.max)
}
