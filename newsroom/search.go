package newsroom

// The desks' search indexes, kept by the journalists' browsers.
//
//	GET  /newsroom/search.json                         each desk's segments, keys, bounds
//	GET  /newsroom/search/{desk}/segments/{id}         one segment, an age file
//	POST /newsroom/search/{desk}/segments[?replaces=…] a new segment (body: an age file),
//	                                                   replacing others (a compaction)
//	GET  /newsroom/search/{desk}/items?after=ID        the desk's items after a cursor
//
// A desk's index is a list of segments: age files that a member's
// browser encrypted to the desk's current key and the archive keys. Each
// maps normalized words to conversation IDs and says up to which item of
// the desk it covers; the browser downloads them all, decrypts and merges
// them, searches in memory, and indexes what is newer than its cursor (the
// items route) in the background, uploading what it added as a new
// segment, or a merge of small segments replacing them. The server checks
// that a segment is an age file with a stanza per key, and bounds its
// size (pista.MaxIndexSegmentSize) and the desk's count
// (pista.MaxIndexSegments); it never sees a word, neither of the index
// nor of a search. What it does see: the segments' sizes, when they come,
// from whom, and which items a browser fetches to index (README, "Search").
//
// Only active members of the desk reach any of this; any other desk is a
// 404, like one that does not exist. POSTs need the CSRF header, as every
// script's request of the inbox.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
)

// searchItemsPage is how many items one request of the items route lists.
const searchItemsPage = pista.MaxItemsLimit

// maxReplacesField bounds the replaces query: MaxIndexReplaces IDs of 26
// characters and their commas.
const maxReplacesField = pista.MaxIndexReplaces * 27

func (h *Handler) registerSearch(mux *http.ServeMux) {
	mux.HandleFunc("GET /newsroom/search.json", h.auth(h.listSearchIndexes))
	mux.HandleFunc("GET /newsroom/search/{desk}/segments/{id}", h.auth(h.downloadSegment))
	mux.HandleFunc("POST /newsroom/search/{desk}/segments", h.auth(h.addSegment))
	mux.HandleFunc("GET /newsroom/search/{desk}/items", h.auth(h.listIndexItems))
}

type jsonSegment struct {
	ID      string    `json:"id"`
	Size    int64     `json:"size"`
	URL     string    `json:"url"`
	Created time.Time `json:"created"`
}

type jsonSearchDesk struct {
	Desk string `json:"desk"`
	// Recipients are what a segment is encrypted to: the desk's current
	// key, then the archive keys.
	Recipients []string      `json:"recipients"`
	Segments   []jsonSegment `json:"segments"`
	Items      string        `json:"items"`  // the items route, without after
	Upload     string        `json:"upload"` // where to POST a segment
}

type jsonSearch struct {
	Desks          []jsonSearchDesk `json:"desks"`
	MaxSegmentSize int64            `json:"max_segment_size"`
	MaxSegments    int              `json:"max_segments"`
}

// searchDesk finds the journalist's desk of the request's {desk}: false,
// after answering 404, if they are not an active member of one by that
// name.
func (h *Handler) searchDesk(w http.ResponseWriter, r *http.Request, q request) (pista.Desk, bool) {
	desks, err := h.Desks.DesksOf(r.Context(), q.j.ID)
	if err != nil {
		h.Log.Error("search index", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return pista.Desk{}, false
	}
	slug := r.PathValue("desk")
	for _, d := range desks {
		if d.Slug == slug {
			return d, true
		}
	}
	h.jsonError(w, r, http.StatusNotFound, "error.notfound")
	return pista.Desk{}, false
}

// segments lists a desk's segments, answering the request itself on
// failure.
func (h *Handler) segments(w http.ResponseWriter, r *http.Request, q request, d pista.Desk) ([]pista.IndexSegment, bool) {
	gs, err := h.Tips.IndexSegments(r.Context(), q.j.ID, d.ID)
	if errors.Is(err, pista.ErrNotFound) {
		h.jsonError(w, r, http.StatusNotFound, "error.notfound")
		return nil, false
	} else if err != nil {
		h.Log.Error("search index", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return nil, false
	}
	return gs, true
}

// listSearchIndexes tells the browser, for each of the journalist's
// desks, the segments of its index and what to encrypt new ones to.
func (h *Handler) listSearchIndexes(w http.ResponseWriter, r *http.Request, q request) {
	desks, err := h.Desks.DesksOf(r.Context(), q.j.ID)
	if err != nil {
		h.Log.Error("search index", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	out := jsonSearch{Desks: []jsonSearchDesk{}, MaxSegmentSize: pista.MaxIndexSegmentSize, MaxSegments: pista.MaxIndexSegments}
	for _, d := range desks {
		gs, ok := h.segments(w, r, q, d)
		if !ok {
			return
		}
		base := "/newsroom/search/" + d.Slug
		jd := jsonSearchDesk{Desk: d.Slug, Recipients: append([]string{d.Recipient}, h.Archive...),
			Segments: []jsonSegment{}, Items: base + "/items", Upload: base + "/segments"}
		for _, g := range gs {
			jd.Segments = append(jd.Segments, jsonSegment{ID: g.ID, Size: g.Size, URL: base + "/segments/" + g.ID, Created: g.Created})
		}
		out.Desks = append(out.Desks, jd)
	}
	writeJSON(w, http.StatusOK, out)
}

// downloadSegment sends one segment's age file as it is stored.
func (h *Handler) downloadSegment(w http.ResponseWriter, r *http.Request, q request) {
	d, ok := h.searchDesk(w, r, q)
	if !ok {
		return
	}
	gs, ok := h.segments(w, r, q, d)
	if !ok {
		return
	}
	id := r.PathValue("id")
	for _, g := range gs {
		if g.ID != id {
			continue
		}
		f, err := h.Blobs.Open(r.Context(), g.Object)
		if err != nil {
			h.Log.Error("opening a search index segment", "err", err)
			h.jsonError(w, r, http.StatusInternalServerError, "error.internal")
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(g.Size, 10))
		io.Copy(w, f)
		return
	}
	h.jsonError(w, r, http.StatusNotFound, "error.notfound")
}

// addSegment stores a segment the browser encrypted, after checking that
// it is an age file for the desk's keys, replacing the segments the query
// names. The object is written first, then the row; a row that cannot be
// written takes its object with it, and replaced segments' objects go
// after the row's transaction (or with the start-up sweep).
func (h *Handler) addSegment(w http.ResponseWriter, r *http.Request, q request) {
	ctx := r.Context()
	d, ok := h.searchDesk(w, r, q)
	if !ok {
		return
	}
	var replaces []string
	if v := r.URL.Query().Get("replaces"); v != "" {
		if len(v) > maxReplacesField {
			h.jsonError(w, r, http.StatusBadRequest, "search.index.malformed")
			return
		}
		replaces = strings.Split(v, ",")
	}
	// Refused before the upload, when it would be anyway (the store checks
	// again, in its transaction).
	if gs, ok := h.segments(w, r, q, d); !ok {
		return
	} else if len(gs)-len(replaces) >= pista.MaxIndexSegments {
		h.jsonError(w, r, http.StatusConflict, "search.index.full")
		return
	}
	if r.ContentLength > pista.MaxIndexSegmentSize {
		h.jsonError(w, r, http.StatusRequestEntityTooLarge, "search.index.toolarge")
		return
	}
	body := http.MaxBytesReader(w, r.Body, pista.MaxIndexSegmentSize)
	_, all, err := intake.CheckHeader(body, 1+len(h.Archive))
	var key string
	var size int64
	if err == nil {
		key, size, err = h.Blobs.Put(ctx, all)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			h.jsonError(w, r, http.StatusRequestEntityTooLarge, "search.index.toolarge")
		case errors.Is(err, intake.ErrMalformed):
			h.jsonError(w, r, http.StatusBadRequest, "search.index.malformed")
		default:
			h.Log.Error("storing a search index segment", "err", err)
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		}
		return
	}
	g := pista.IndexSegment{DeskID: d.ID, Object: key, Size: size, AuthorID: q.j.ID}
	bg := context.WithoutCancel(ctx)
	replaced, err := h.Tips.AddIndexSegment(bg, q.j.ID, &g, replaces)
	if err != nil {
		if err := h.Blobs.Delete(bg, key); err != nil {
			h.Log.Error("deleting a refused search index segment", "err", err)
		}
		switch {
		case errors.Is(err, pista.ErrIndexFull):
			h.jsonError(w, r, http.StatusConflict, "search.index.full")
		case errors.Is(err, pista.ErrNotFound):
			// Another browser compacted these segments first, or the
			// journalist left the desk.
			h.jsonError(w, r, http.StatusConflict, "search.index.conflict")
		default:
			h.Log.Error("storing a search index segment", "err", err)
			h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		}
		return
	}
	for _, old := range replaced {
		if err := h.Blobs.Delete(bg, old.Object); err != nil {
			h.Log.Error("deleting a replaced search index segment", "err", err)
		}
	}
	h.Log.Info("search index segment added", "journalist", q.j.Name, "desk", d.Slug, "size", size, "replaced", len(replaced))
	writeJSON(w, http.StatusOK, map[string]any{"id": g.ID, "replaced": len(replaced)})
}

type jsonIndexItem struct {
	ID           int64          `json:"id"`
	Conversation string         `json:"conversation"`
	Kind         pista.ItemKind `json:"kind"`
	Size         int64          `json:"size"`
	URL          string         `json:"url"`
	Meta         string         `json:"meta,omitempty"`
	// Sealing and IntakeKey say which key opens it (forward secrecy).
	Sealing   string `json:"sealing"`
	IntakeKey int64  `json:"intake_key,omitempty"`
}

// jsonConversationKey is a conversation's own key (forward secrecy): its
// public key, and its secret sealed to the desk's key and the archive's.
type jsonConversationKey struct {
	Recipient string `json:"recipient"`
	Key       []byte `json:"key"`
}

// listIndexItems lists the desk's items after the cursor (0: from the
// first), a page at a time: what a browser still has to index. next is
// the cursor of the next page, 0 after the last.
func (h *Handler) listIndexItems(w http.ResponseWriter, r *http.Request, q request) {
	d, ok := h.searchDesk(w, r, q)
	if !ok {
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	items, err := h.Tips.DeskItemsFor(r.Context(), q.j.ID, d.ID, max(after, 0), searchItemsPage)
	if errors.Is(err, pista.ErrNotFound) {
		h.jsonError(w, r, http.StatusNotFound, "error.notfound")
		return
	} else if err != nil {
		h.Log.Error("listing items to index", "err", err)
		h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
		return
	}
	// ConversationKeys are the keys of the page's conversations that have
	// one, by ID: the browser opens them with the desk's key to read the
	// items sorted under them.
	out := struct {
		Items            []jsonIndexItem                `json:"items"`
		ConversationKeys map[string]jsonConversationKey `json:"conversation_keys"`
		Next             int64                          `json:"next"`
	}{Items: []jsonIndexItem{}, ConversationKeys: map[string]jsonConversationKey{}}
	looked := map[string]bool{}
	for _, it := range items {
		if !looked[it.ConversationID] && sealingOf(it) == pista.SealingConversation {
			looked[it.ConversationID] = true
			c, err := h.Tips.ConversationFor(r.Context(), q.j.ID, it.ConversationID)
			if err != nil && !errors.Is(err, pista.ErrNotFound) {
				h.Log.Error("listing items to index", "err", err)
				h.jsonError(w, r, writeStatus(err), writeErrorKey(err))
				return
			}
			if err == nil && c.KeyRecipient != "" {
				out.ConversationKeys[c.ID] = jsonConversationKey{Recipient: c.KeyRecipient, Key: c.Key}
			}
		}
		ji := jsonIndexItem{ID: it.ID, Conversation: it.ConversationID, Kind: it.Kind, Size: it.Size,
			URL: itemURL(it.ConversationID, it.ID, false), Sealing: sealingOf(it), IntakeKey: it.IntakeKey}
		if it.Meta != "" {
			ji.Meta = itemURL(it.ConversationID, it.ID, true)
		}
		out.Items = append(out.Items, ji)
	}
	if len(items) == searchItemsPage {
		out.Next = items[len(items)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}
