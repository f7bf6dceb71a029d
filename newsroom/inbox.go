package newsroom

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
)

// inboxPageSize is how many conversations a page of the inbox shows.
const inboxPageSize = 50

// registerInboxWork adds the routes of the desk's work on conversations:
// their status, tags and assignee, sealed replies, and the inbox's pages
// for the script.
func (h *Handler) registerInboxWork(mux *http.ServeMux) {
	mux.HandleFunc("GET /newsroom/conversations.json", h.auth(h.listConversationsJSON))
	mux.HandleFunc("POST /newsroom/c/{id}/status", h.auth(h.setStatus))
	mux.HandleFunc("POST /newsroom/c/{id}/tags", h.auth(h.setTags))
	mux.HandleFunc("POST /newsroom/c/{id}/assign", h.auth(h.assign))
	mux.HandleFunc("POST /newsroom/c/{id}/reply/sealed", h.auth(h.replySealed))
	mux.HandleFunc("POST /newsroom/c/{id}/transfer", h.auth(h.transferConversation))
}

// statuses are the statuses a conversation can have, in the order the
// pages list them.
var statuses = []pista.Status{pista.StatusNew, pista.StatusInProgress, pista.StatusClosed}

// filter is what the inbox is narrowed to, from the GET query: every
// field's zero value lets everything through.
type filter struct {
	Desk    string // a desk's slug
	Unread  bool
	Starred bool
	Mine    bool // assigned to the journalist
	Status  pista.Status
	Tag     string
}

// Any reports whether something is filtered.
func (f filter) Any() bool { return f != filter{} }

// query is the URL query of the filter's page before before (0: the first
// page), in language lang ("" for none).
func (f filter) query(before int64, lang string) string {
	v := url.Values{}
	if f.Desk != "" {
		v.Set("desk", f.Desk)
	}
	if f.Unread {
		v.Set("unread", "1")
	}
	if f.Starred {
		v.Set("starred", "1")
	}
	if f.Mine {
		v.Set("mine", "1")
	}
	if f.Status != "" {
		v.Set("status", string(f.Status))
	}
	if f.Tag != "" {
		v.Set("tag", f.Tag)
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if lang != "" {
		v.Set("lang", lang)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// readPage reads the filters and the page of the request's query. A
// desk the journalist is not on is a 404; a status or tag that cannot be
// one is a 400 that says which.
func (h *Handler) readPage(r *http.Request, q request, desks []pista.Desk) (pista.Page, filter, int, string) {
	v := r.URL.Query()
	f := filter{Desk: v.Get("desk"), Unread: v.Get("unread") == "1", Starred: v.Get("starred") == "1",
		Mine: v.Get("mine") == "1", Status: pista.Status(v.Get("status")), Tag: v.Get("tag")}
	before, _ := strconv.ParseInt(v.Get("before"), 10, 64)
	p := pista.Page{Before: max(before, 0), Limit: inboxPageSize + 1, Unread: f.Unread, Starred: f.Starred, Status: f.Status, Tag: f.Tag}
	if f.Mine {
		p.Assignee = q.j.ID
	}
	if f.Desk != "" {
		for _, d := range desks {
			if d.Slug == f.Desk {
				p.DeskID = d.ID
			}
		}
		if p.DeskID == 0 {
			return p, f, http.StatusNotFound, "error.notfound"
		}
	}
	if f.Status != "" && !f.Status.Valid() {
		return p, f, http.StatusBadRequest, "newsroom.status.invalid"
	}
	if f.Tag != "" && !pista.ValidTag(f.Tag) {
		return p, f, http.StatusBadRequest, "newsroom.tags.invalid"
	}
	return p, f, 0, ""
}

type inboxData struct {
	Name          string
	Notice        string
	Desks         []pista.Desk
	Filter        filter
	Statuses      []pista.Status
	Conversations []pista.Conversation
	NextURL       string // the next page with the same filters, "" if none
	SearchURL     string // the first page of conversations.json with the same filters
	// Keep says how long each conversation is kept, by ID.
	Keep map[string]keepView
	// Coordinates holds the IDs of the desks whose conversations the
	// journalist may delete in bulk; the page offers checkboxes if any.
	Coordinates map[int64]bool
	MaxBulk     int
	BulkDeleted int // how many a bulk deletion just deleted
	BulkChanged int // how many a bulk action just changed
	// Previews are each row's encrypted preview (base64), by ID; FirstURLs,
	// for rows without one, where their first message is fetched.
	Previews, FirstURLs map[string]string
	// Members are whom a bulk action can assign to.
	Members []pista.Member
	MaxTags int
	// ConvKeys are the rows' conversation keys (forward secrecy), sealed
	// to the desk's key and the archive's, in base64, by ID.
	ConvKeys map[string]string
}

var notices = map[string]string{
	"deleted":     "newsroom.deleted",
	"replied":     "newsroom.reply.sent",
	"starred":     "newsroom.starred.notice",
	"unread":      "newsroom.unread.notice",
	"status":      "newsroom.status.notice",
	"tags":        "newsroom.tags.notice",
	"assigned":    "newsroom.assign.notice",
	"held":        "retention.held.notice",
	"released":    "retention.released.notice",
	"noted":       "notes.note.saved",
	"transferred": "nr-files.transfer.done",
}

// page reads a filtered page of the journalist's inbox: the
// conversations, and the LastItem to ask the next page before (0 if this
// is the last).
func (h *Handler) inboxPage(w http.ResponseWriter, r *http.Request, q request, respond func(status int, key string)) ([]pista.Desk, filter, []pista.Conversation, int64, bool) {
	ctx := r.Context()
	desks, err := h.Desks.DesksOf(ctx, q.j.ID)
	if err != nil {
		h.Log.Error("inbox", "err", err)
		respond(writeStatus(err), writeErrorKey(err))
		return nil, filter{}, nil, 0, false
	}
	p, f, status, key := h.readPage(r, q, desks)
	if status != 0 {
		respond(status, key)
		return nil, f, nil, 0, false
	}
	convs, err := h.Tips.ConversationsFor(ctx, q.j.ID, p)
	if err != nil {
		h.Log.Error("inbox", "err", err)
		respond(writeStatus(err), writeErrorKey(err))
		return nil, f, nil, 0, false
	}
	var next int64
	if len(convs) > inboxPageSize {
		convs = convs[:inboxPageSize]
		next = convs[len(convs)-1].LastItem
	}
	h.auditList(ctx, q, convs)
	return desks, f, convs, next, true
}

// showInbox lists the conversations of the journalist's desks, newest
// activity first, a page at a time, narrowed by the query's filters.
func (h *Handler) showInbox(w http.ResponseWriter, r *http.Request, q request) {
	desks, f, convs, next, ok := h.inboxPage(w, r, q, func(status int, key string) { h.fail(w, r, q.sid, status, key) })
	if !ok {
		return
	}
	p := h.page(r, q.sid, "newsroom.inbox.heading")
	d := inboxData{Name: q.j.Name, Desks: desks, Filter: f, Statuses: statuses, Conversations: convs,
		Notice: notices[r.URL.Query().Get("done")], SearchURL: "/newsroom/conversations.json" + f.query(0, "")}
	if next != 0 {
		d.NextURL = "/newsroom/" + f.query(next, p.Lang)
	}
	retention := map[int64]int{}
	for _, desk := range desks {
		retention[desk.ID] = desk.RetentionDays
	}
	now := pista.Now()
	d.Keep = make(map[string]keepView, len(convs))
	for _, c := range convs {
		d.Keep[c.ID] = keepOf(c, retention[c.DeskID], now)
	}
	coordinates, err := h.coordinatedDesks(r.Context(), q.j)
	if err != nil {
		h.internal(w, r, q, "checking a permission", err)
		return
	}
	d.Coordinates, d.MaxBulk, d.MaxTags = coordinates, pista.MaxBulkDelete, pista.MaxTags
	switch r.URL.Query().Get("done") {
	case "bulkdeleted":
		d.BulkDeleted, _ = strconv.Atoi(r.URL.Query().Get("n"))
	case "bulkchanged":
		d.BulkChanged, _ = strconv.Atoi(r.URL.Query().Get("n"))
	}
	d.Previews, d.FirstURLs = inboxPreviews(convs)
	d.ConvKeys = conversationKeys(convs)
	if d.Members, err = h.assignable(r.Context(), desks); err != nil {
		h.internal(w, r, q, "listing members", err)
		return
	}
	p.Data = d
	h.Render.Render(w, http.StatusOK, "newsroom/inbox", p)
}

// jsonItem is an item as conversations.json lists it: where to fetch its
// age file (and its file's name-and-type age file).
type jsonItem struct {
	ID   int64          `json:"id"`
	Kind pista.ItemKind `json:"kind"`
	Size int64          `json:"size"`
	URL  string         `json:"url"`
	Meta string         `json:"meta,omitempty"`
	// Sealing and IntakeKey say which key opens it (forward secrecy).
	Sealing   string `json:"sealing"`
	IntakeKey int64  `json:"intake_key,omitempty"`
}

type jsonConversation struct {
	ID      string     `json:"id"`
	Desk    string     `json:"desk"`
	URL     string     `json:"url"`
	Updated time.Time  `json:"updated"`
	Items   []jsonItem `json:"items"`
	// KeyRecipient and Key are its own key, once sorted (forward
	// secrecy); Key is sealed to the desk's key and the archive's.
	KeyRecipient string `json:"key_recipient,omitempty"`
	Key          []byte `json:"key,omitempty"`
}

type jsonPage struct {
	Conversations []jsonConversation `json:"conversations"`
	// Next is the URL of the next page, with the same filters; "" after
	// the last page.
	Next string `json:"next"`
}

// listConversationsJSON is a page of the inbox, with the same filters,
// for the inbox's script: it searches the decrypted text in the browser,
// so it walks the pages and fetches each conversation's items. Nothing of
// what is searched for is ever sent.
func (h *Handler) listConversationsJSON(w http.ResponseWriter, r *http.Request, q request) {
	respond := func(status int, key string) { h.jsonError(w, r, status, key) }
	_, f, convs, next, ok := h.inboxPage(w, r, q, respond)
	if !ok {
		return
	}
	out := jsonPage{Conversations: []jsonConversation{}}
	for _, c := range convs {
		items, err := h.Tips.ItemsOfConversation(r.Context(), c.ID)
		if err != nil {
			h.Log.Error("listing items", "err", err)
			respond(writeStatus(err), writeErrorKey(err))
			return
		}
		jc := jsonConversation{ID: c.ID, Desk: c.DeskSlug, URL: "/newsroom/c/" + c.ID, Updated: c.Updated, Items: []jsonItem{},
			KeyRecipient: c.KeyRecipient, Key: c.Key}
		for _, it := range items {
			ji := jsonItem{ID: it.ID, Kind: it.Kind, Size: it.Size, URL: itemURL(c.ID, it.ID, false), Sealing: sealingOf(it), IntakeKey: it.IntakeKey}
			if it.Meta != "" {
				ji.Meta = itemURL(c.ID, it.ID, true)
			}
			jc.Items = append(jc.Items, ji)
		}
		out.Conversations = append(out.Conversations, jc)
	}
	if next != 0 {
		out.Next = "/newsroom/conversations.json" + f.query(next, "")
	}
	writeJSON(w, http.StatusOK, out)
}

// itemURL is where an item's age file (or its meta's) is fetched.
func itemURL(conv string, item int64, meta bool) string {
	u := "/newsroom/c/" + conv + "/items/" + strconv.FormatInt(item, 10)
	if meta {
		u += "/meta"
	}
	return u
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonError answers the script with the message of key in the page's
// language: {"error": "…"}.
func (h *Handler) jsonError(w http.ResponseWriter, r *http.Request, status int, key string) {
	l, _ := i18n.FromRequest(r)
	writeJSON(w, status, map[string]string{"error": l.T(key)})
}

// maxTagsField bounds the tags field: MaxTags tags of 32 characters of up
// to four bytes, and their separators.
const maxTagsField = pista.MaxTags * (32*4 + 2)
