package newsroom

// Moving a conversation to another desk (pista.Transferer documents the
// design). The conversation page offers the desks it may go to, each with
// its keys; the page's script decrypts every item with the desk keys on
// this device, encrypts it again to the chosen desk's key and the
// archive's (and the source's, for replies and their files), and posts
// the copies in one multipart body:
//
//	POST /newsroom/c/{id}/transfer
//	  transfer    JSON {"to": desk slug, "items": [the item IDs, in the page's order]}
//	  object      for each item, in that order: its copy, an age file
//	  meta        right after the object of an item that has one: its copy
//
// The server checks each age file's form (one hybrid stanza per key, and
// as many keys as the item needs), that no copy is larger than what it
// copies, and that the items are exactly the conversation's now; it
// writes the copies' objects as they arrive, then in one store
// transaction replaces the items and moves the conversation, then deletes
// the old objects. A request that fails half way (the browser closed, a
// copy refused) deletes the copies it wrote and changes nothing.
//
// Who may: a member of the conversation's desk (who holds its key) who is
// also a member of the other desk, or a coordinator of the conversation's
// desk, who may send it to any desk. Both desks' audit logs record it.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/ui"
)

// MaxTransferItems bounds the items of a conversation a browser moves in
// one request (and so the manifest's length): far more than a
// conversation has.
const MaxTransferItems = 10_000

// maxTransferManifest bounds the transfer part: a slug and the IDs.
const maxTransferManifest = 64 + MaxTransferItems*20

// transferManifest is the transfer part of the body.
type transferManifest struct {
	To    string  `json:"to"`
	Items []int64 `json:"items"`
}

// transferDesk is a desk the conversation page offers to move it to.
type transferDesk struct {
	Slug, Title string
	Recipients  string // its current key and the archive's, by spaces
}

// transferTargets lists the desks j may move conversation c to.
func (h *Handler) transferTargets(ctx context.Context, j pista.Journalist, c pista.Conversation) ([]transferDesk, error) {
	all, err := h.Desks.Desks(ctx)
	if err != nil {
		return nil, err
	}
	coordinator := h.may(ctx, j, ActTransferAny, c.DeskID) == nil
	var out []transferDesk
	for _, d := range all {
		if d.ID == c.DeskID {
			continue
		}
		if !coordinator && !h.activeMember(ctx, d.ID, j.ID) {
			continue
		}
		out = append(out, transferDesk{Slug: d.Slug, Title: d.Title, Recipients: strings.Join(append([]string{d.Recipient}, h.Archive...), " ")})
	}
	return out, nil
}

func (h *Handler) activeMember(ctx context.Context, deskID, journalistID int64) bool {
	m, err := h.Team.Membership(ctx, deskID, journalistID)
	return err == nil && m.JournalistID == journalistID && !m.Pending && !m.Suspended
}

// transferConversation takes the copies of a conversation's items for
// another desk, and moves it there. It answers JSON: {"location": …} or
// {"error": …}.
func (h *Handler) transferConversation(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	c, ok := h.conversationJSON(w, r, q)
	if !ok {
		return
	}
	var err error
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		h.jsonError(w, r, http.StatusBadRequest, "error.form")
		return
	}
	old, err := h.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil {
		h.Log.Error("listing items", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	if len(old) == 0 || len(old) > MaxTransferItems {
		h.jsonError(w, r, http.StatusRequestEntityTooLarge, "error.toolarge")
		return
	}
	// The body: the manifest, and each copy no larger than what it
	// copies once their headers (at most intake.MaxSealedHeader) differ.
	limit := int64(maxTransferManifest) + 1<<20
	for _, it := range old {
		limit += it.Size + it.MetaSize + 2*(intake.MaxSealedHeader+httpx.MaxPartHeaderBytes+256)
	}
	if room, ok := h.Blobs.(pista.Roomer); ok && r.ContentLength > 0 {
		if err := room.Room(r.ContentLength); err != nil {
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
			return
		}
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	mr := intake.NewPartReader(r.Body, params["boundary"])

	part, err := mr.NextPart()
	if err != nil || part.FormName() != "transfer" || partHeaderBytes(part) > httpx.MaxPartHeaderBytes {
		h.jsonError(w, r, http.StatusBadRequest, "error.form")
		return
	}
	b, err := io.ReadAll(io.LimitReader(part, maxTransferManifest+1))
	var m transferManifest
	if err != nil || len(b) > maxTransferManifest || json.Unmarshal(b, &m) != nil {
		h.jsonError(w, r, http.StatusBadRequest, "error.form")
		return
	}
	to, err := h.Desks.DeskBySlug(ctx, m.To)
	if errors.Is(err, pista.ErrNotFound) {
		h.jsonError(w, r, http.StatusBadRequest, "error.desk")
		return
	} else if err != nil {
		h.Log.Error("loading a desk", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	if to.ID == c.DeskID {
		h.jsonError(w, r, http.StatusBadRequest, "nr-files.transfer.same")
		return
	}
	if h.may(ctx, q.j, ActTransferAny, c.DeskID) != nil && !h.activeMember(ctx, to.ID, q.j.ID) {
		h.jsonError(w, r, http.StatusForbidden, "nr-files.transfer.forbidden")
		return
	}
	if len(m.Items) != len(old) {
		h.jsonError(w, r, http.StatusConflict, "nr-files.transfer.stale")
		return
	}
	for i, it := range old {
		if m.Items[i] != it.ID {
			h.jsonError(w, r, http.StatusConflict, "nr-files.transfer.stale")
			return
		}
	}

	batch := intake.NewBatch(h.Blobs, nil, -1)
	copies, key, err := readCopies(ctx, mr, batch, old, len(h.Archive))
	if err != nil {
		batch.Abort()
		var tooBig *http.MaxBytesError
		switch {
		case key != "":
			h.jsonError(w, r, http.StatusBadRequest, key)
		case errors.Is(err, intake.ErrMalformed):
			h.jsonError(w, r, http.StatusBadRequest, "nr-files.transfer.malformed")
		case errors.Is(err, intake.ErrTooLarge) || errors.As(err, &tooBig):
			w.Header().Set("Connection", "close")
			h.jsonError(w, r, http.StatusRequestEntityTooLarge, "nr-files.transfer.malformed")
		case httpx.ClientFault(err) || ctx.Err() != nil:
			// The browser went away: nothing changed.
			h.jsonError(w, r, http.StatusBadRequest, "error.form")
		default:
			h.Log.Error("storing a transfer's copies", "err", err)
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		}
		return
	}
	replaced, err := h.Tips.TransferConversation(context.WithoutCancel(ctx), q.j.ID, c.ID, c.DeskID, to.ID, copies)
	if err != nil {
		batch.Abort()
		switch {
		case errors.Is(err, pista.ErrTransferStale):
			h.jsonError(w, r, http.StatusConflict, "nr-files.transfer.stale")
		case errors.Is(err, pista.ErrNotFound):
			h.jsonError(w, r, http.StatusNotFound, "error.notfound")
		default:
			h.Log.Error("transferring a conversation", "err", err)
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		}
		return
	}
	// Objects after the rows: what is left if this fails, the sweep
	// removes.
	if _, err := pista.DeleteObjects(context.WithoutCancel(ctx), h.Blobs, replaced); err != nil {
		h.Log.Error("deleting a transferred conversation's old objects", "err", err)
	}
	h.Log.Info("journalist moved a conversation to another desk", "journalist", q.j.Name, "from", c.DeskSlug, "to", to.Slug)
	subject := c.DeskSlug + " → " + to.Slug
	for _, d := range []pista.Desk{{ID: c.DeskID, Slug: c.DeskSlug}, to} {
		h.addAudit(ctx, pista.AuditEntry{Created: pista.Now(), ActorID: q.j.ID, ActorName: q.j.Name, Action: pista.AuditTransfer,
			DeskID: d.ID, DeskSlug: d.Slug, ConversationID: c.ID, Subject: subject})
	}
	loc := "/newsroom/?done=transferred"
	if _, err := h.Tips.ConversationFor(ctx, q.j.ID, c.ID); err == nil {
		loc = "/newsroom/c/" + c.ID + "?done=transferred"
	}
	writeJSON(w, http.StatusOK, map[string]string{"location": ui.WithLang(r, loc)})
}

// readCopies reads each item's copy (and its meta's) from mr into batch,
// checking its form: an age file for the new desk's key and the archive's
// (archive of them), and the source's key too for what the source reads.
// It answers a message key for a body of the wrong shape.
func readCopies(ctx context.Context, mr *intake.PartReader, batch *intake.Batch, old []pista.Item, archive int) ([]pista.ItemCopy, string, error) {
	copies := make([]pista.ItemCopy, 0, len(old))
	next := func(name string) (io.Reader, string, error) {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, "error.form", errors.New("the body ends early")
		}
		if err != nil {
			return nil, "", err
		}
		if part.FormName() != name || partHeaderBytes(part) > httpx.MaxPartHeaderBytes {
			return nil, "error.form", errors.New("an unexpected part")
		}
		return part, "", nil
	}
	for _, it := range old {
		recipients := 1 + archive
		if it.ForSource() {
			recipients++
		}
		p, key, err := next("object")
		if err != nil {
			return nil, key, err
		}
		// A copy's plaintext is the item's: never more than its object.
		if _, err := batch.AddEncrypted(ctx, it.Kind, p, recipients, it.Size); err != nil {
			return nil, "", err
		}
		if it.Meta != "" {
			p, key, err := next("meta")
			if err != nil {
				return nil, key, err
			}
			if _, err := batch.AddEncryptedMeta(ctx, p, recipients, it.MetaSize); err != nil {
				return nil, "", err
			}
		}
		n := batch.Items()[len(batch.Items())-1]
		copies = append(copies, pista.ItemCopy{Of: it.ID, Object: n.Object, Size: n.Size, Meta: n.Meta, MetaSize: n.MetaSize, EncryptedBy: "browser"})
	}
	if _, err := mr.NextPart(); err != io.EOF {
		if err != nil {
			return nil, "", err
		}
		return nil, "error.form", errors.New("more parts than items")
	}
	return copies, "", nil
}
