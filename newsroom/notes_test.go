package newsroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// TestNotes: a note the browser encrypted to the desk (not to the source)
// is stored as a note by its author, audited, shown to the desk as an
// internal note, and never shown to the source, on their page or through
// the source API.
func TestNotes(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	desk := in.Desk("americas", a)
	in.Desk("maghreb", b)
	src := in.Browser()
	codename := src.Submit("americas", "the mayor lied").Codename(t)
	cs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, a.ID, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatal(err)
	}
	c := cs[0]
	source, err := in.Srv.Stores.Tips.SourceByID(ctx, c.SourceID)
	if err != nil {
		t.Fatal(err)
	}
	ba, bb := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	bb.LoginJournalist(b)
	tok := newsroomCSRF(ba)

	page := ba.Get("/newsroom/c/" + c.ID)
	if !strings.Contains(page.Body, `data-seal-note="/newsroom/c/`+c.ID+`/note/sealed"`) ||
		!strings.Contains(page.Body, `data-recipients="`+desk.Recipient+`"`) {
		t.Fatal("the note form does not give the desk's key alone")
	}
	post := func(br *pistatest.Browser, token string, body []byte) *pistatest.Response {
		req := br.Request(http.MethodPost, "/newsroom/c/"+c.ID+"/note/sealed", bytes.NewReader(body), "application/octet-stream")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		return br.Do(req)
	}
	const note = "Check the <land registry> before calling back."
	good := sealed(t, note, desk.Recipient)
	refused := []struct {
		name   string
		br     *pistatest.Browser
		body   []byte
		token  string
		status int
	}{
		{"to the source too", ba, sealed(t, note, source.Recipient, desk.Recipient), tok, http.StatusBadRequest},
		{"not age", ba, []byte(note), tok, http.StatusBadRequest},
		{"no CSRF token", ba, good, "", http.StatusForbidden},
		{"another desk's journalist", bb, good, newsroomCSRF(bb), http.StatusNotFound},
	}
	if !strings.Contains(page.Body, `data-desk="americas"`) {
		t.Error("the note form does not name the desk its script encrypts to")
	}
	// Written on a page opened before the conversation moved to another
	// desk: refused, nothing stored.
	t.Run("sealed for another desk", func(t *testing.T) {
		before := in.Snapshot(a)
		req := ba.Request(http.MethodPost, "/newsroom/c/"+c.ID+"/note/sealed", bytes.NewReader(good), "application/octet-stream")
		req.Header.Set("X-CSRF-Token", tok)
		req.Header.Set(newsroom.SealedForHeader, "maghreb")
		if r := ba.Do(req); r.Status != http.StatusConflict {
			t.Errorf("status %d, want 409", r.Status)
		}
		in.CheckUnchanged(t, before, a)
	})
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(a)
			if r := post(tt.br, tt.token, tt.body); r.Status != tt.status {
				t.Errorf("status %d, want %d", r.Status, tt.status)
			}
			in.CheckUnchanged(t, before, a)
		})
	}

	r := post(ba, tok, good)
	var ok struct{ Location string }
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &ok) != nil || ok.Location != "/newsroom/c/"+c.ID+"?done=noted" {
		t.Fatalf("a well-formed note: %d %s", r.Status, r.Body)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := items[len(items)-1]
	if last.Kind != pista.KindNote || last.EncryptedBy != "browser" || last.AuthorID != a.ID {
		t.Errorf("the stored note is %+v", last)
	}
	if strings.Contains(in.Log.String(), "land registry") {
		t.Error("the log holds the note")
	}
	if acts := auditActions(t, in.Srv.Stores.Team, desk.ID)[c.ID]; countAction(acts, pista.AuditNote) != 1 {
		t.Errorf("audit = %v, want one note", acts)
	}
	page = ba.Get(ok.Location)
	if !strings.Contains(page.Text(), pistatest.En("notes.note.saved")) || !strings.Contains(page.Text(), pistatest.En("kind.note")) ||
		!strings.Contains(page.Text(), pistatest.En("notes.note.internal")) {
		t.Error("the conversation does not show the note as an internal note")
	}

	// The source: their page lists what they sent and the replies, and
	// nothing of the note; the API lists replies only.
	stok := src.Get("/").CSRF(t)
	if r := src.Post("/login", url.Values{"csrf": {stok}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("source login: %d", r.Status)
	}
	sp := src.Get("/source")
	for _, s := range []string{pistatest.En("kind.note"), "note", strings.ToLower(pistatest.En("kind.note"))} {
		if strings.Contains(strings.ToLower(sp.Text()), strings.ToLower(s)) {
			t.Errorf("the source's page mentions %q", s)
		}
	}
}

// TestBulkChange: the inbox's selection changes status, tags and
// assignee of every conversation selected, or of none, and audits each.
func TestBulkChange(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	c := in.Journalist("carmen")
	desk := in.Desk("americas", a, b)
	other := in.Desk("maghreb", c)
	var ids []string
	for range 3 {
		ids = append(ids, in.StoreTip(desk).Conversation.ID)
	}
	elsewhere := in.StoreTip(other).Conversation.ID
	ba := in.Browser()
	ba.LoginJournalist(a)
	tok := newsroomCSRF(ba)
	inbox := ba.Get("/newsroom/")
	for _, id := range ids {
		if !strings.Contains(inbox.Body, `name="id" value="`+id+`"`) {
			t.Fatalf("no checkbox for %s", id)
		}
	}
	if !strings.Contains(inbox.Body, `action="/newsroom/bulk"`) || !strings.Contains(inbox.Body, `<legend>`+pistatest.En("notes.bulk.legend")) {
		t.Fatal("no bulk form")
	}
	form := func(ids []string, kv ...string) url.Values {
		f := url.Values{"csrf": {tok}, "id": ids}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	get := func(id string) pista.Conversation {
		t.Helper()
		conv, err := in.Srv.Stores.Tips.ConversationFor(ctx, a.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return conv
	}

	refused := []struct {
		name   string
		form   url.Values
		status int
		msg    string
	}{
		{"another desk's conversation", form(append(slices.Clone(ids), elsewhere), "status", "closed"), http.StatusNotFound, "notes.bulk.notyours"},
		{"an assignee off the desk", form(ids, "assignee", itoa(c.ID)), http.StatusBadRequest, "notes.bulk.notmember"},
		{"nothing to change", form(ids), http.StatusBadRequest, "notes.bulk.nothing"},
		{"none selected", form(nil, "status", "closed"), http.StatusBadRequest, "retention.bulk.none"},
		{"a bad status", form(ids, "status", "gone"), http.StatusBadRequest, "newsroom.status.invalid"},
		{"a bad tag", form(ids, "tags_add", "no/slash"), http.StatusBadRequest, "newsroom.tags.invalid"},
		{"too many", form(make([]string, pista.MaxBulkDelete+1), "status", "closed"), http.StatusBadRequest, "retention.bulk.toomany"},
		{"no CSRF token", func() url.Values { f := form(ids, "status", "closed"); f.Del("csrf"); return f }(), http.StatusForbidden, "error.csrf"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			r := ba.Post("/newsroom/bulk", tt.form)
			if r.Status != tt.status || !strings.Contains(r.Text(), pistatest.En(tt.msg)) {
				t.Errorf("status %d, want %d saying %q", r.Status, tt.status, pistatest.En(tt.msg))
			}
			for _, id := range ids {
				if conv := get(id); conv.Status != pista.StatusNew || conv.Assignee != 0 || len(conv.Tags) != 0 {
					t.Errorf("%s changed: %+v", id, conv)
				}
			}
		})
	}

	r := ba.Post("/newsroom/bulk", form(ids[:2], "status", "in_progress", "assignee", itoa(b.ID), "tags_add", "budget, leak"))
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=bulkchanged&n=2") {
		t.Fatalf("bulk change: %d %s", r.Status, r.Header.Get("Location"))
	}
	for _, id := range ids[:2] {
		if conv := get(id); conv.Status != pista.StatusInProgress || conv.Assignee != b.ID || !slices.Equal(conv.Tags, []string{"budget", "leak"}) {
			t.Errorf("%s after the bulk change: %+v", id, conv)
		}
	}
	if conv := get(ids[2]); conv.Status != pista.StatusNew {
		t.Errorf("%s, not selected, changed", ids[2])
	}
	if body := ba.Get(r.Header.Get("Location")).Text(); !strings.Contains(body, pistatest.En("notes.bulk.done", "n", 2)) {
		t.Error("the inbox does not say how many changed")
	}
	audit := auditActions(t, in.Srv.Stores.Team, desk.ID)
	for _, id := range ids[:2] {
		acts := audit[id]
		if countAction(acts, pista.AuditStatus) != 1 || countAction(acts, pista.AuditAssign) != 1 || countAction(acts, pista.AuditTags) != 1 {
			t.Errorf("audit of %s = %v, want a status, an assignment and tags", id, acts)
		}
	}
	if r := ba.Post("/newsroom/bulk", form(ids, "tags_remove", "budget", "assignee", "0")); r.Status != http.StatusSeeOther {
		t.Fatalf("removing a tag: %d", r.Status)
	}
	if conv := get(ids[0]); !slices.Equal(conv.Tags, []string{"leak"}) || conv.Assignee != 0 {
		t.Errorf("after removing a tag and the assignee: %+v", conv)
	}
}

// TestInboxRows: each row shows its channel, its items, how many are new
// since the journalist last looked, and its encrypted preview, inline.
func TestInboxRows(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	in.Desk("americas", a)
	src := in.Browser()
	src.Submit("americas", "the mayor lied")
	ba := in.Browser()
	ba.LoginJournalist(a)
	body := ba.Get("/newsroom/").Body
	for _, want := range []string{`data-preview="`, `data-channel="web"`, `data-new="1"`, pistatest.En("notes.new", "n", 1), `<span data-items>1</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the inbox row lacks %q", want)
		}
	}
	if strings.Contains(body, "mayor") {
		t.Error("the inbox page holds the message in plain text")
	}
}
