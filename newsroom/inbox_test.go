package newsroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// work is a POST of the desk's work on a conversation.
func work(b *pistatest.Browser, tok, id, what string, form url.Values) *pistatest.Response {
	form.Set("csrf", tok)
	return b.Post("/newsroom/c/"+id+"/"+what, form)
}

// load reads a conversation as j sees it.
func load(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, id string) pista.Conversation {
	t.Helper()
	c, err := in.Srv.Stores.Tips.ConversationFor(context.Background(), j.ID, id)
	if err != nil {
		t.Fatalf("ConversationFor: %v", err)
	}
	return c
}

// TestDeskWork sets status, tags and assignee through the forms, and
// checks what is refused: bad values with a clear 400 that changes
// nothing, another desk's conversation with a 404.
func TestDeskWork(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	a2 := in.Journalist("andrés")
	b := in.Journalist("bilal")
	americas := in.Desk("americas", a, a2)
	maghreb := in.Desk("maghreb", b)
	c := in.StoreTip(americas).Conversation
	foreign := in.StoreTip(maghreb).Conversation
	ba := in.Browser()
	ba.LoginJournalist(a)
	tok := newsroomCSRF(ba)

	type state struct {
		status   pista.Status
		tags     []string
		assignee int64
	}
	read := func() state {
		cv := load(t, in, a, c.ID)
		return state{cv.Status, cv.Tags, cv.Assignee}
	}
	steps := []struct {
		name   string
		what   string
		form   url.Values
		status int
		msg    string // message key the page shows, for refusals
		want   state
	}{
		{"a new conversation", "", nil, 0, "", state{pista.StatusNew, []string{}, 0}},
		{"in progress", "status", url.Values{"status": {"in_progress"}}, http.StatusSeeOther, "", state{pista.StatusInProgress, []string{}, 0}},
		{"unknown status", "status", url.Values{"status": {"done"}}, http.StatusBadRequest, "newsroom.status.invalid", state{pista.StatusInProgress, []string{}, 0}},
		{"tags", "tags", url.Values{"tags": {"Elections, budget  élections budget"}}, http.StatusSeeOther, "", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, 0}},
		{"a bad tag", "tags", url.Values{"tags": {"fine mayor's-cousin"}}, http.StatusBadRequest, "newsroom.tags.invalid", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, 0}},
		{"a tag too long", "tags", url.Values{"tags": {strings.Repeat("x", 33)}}, http.StatusBadRequest, "newsroom.tags.invalid", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, 0}},
		{"too many tags", "tags", url.Values{"tags": {"a b c d e f g h i j k"}}, http.StatusBadRequest, "newsroom.tags.toomany", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, 0}},
		{"assign a member", "assign", url.Values{"assignee": {itoa(a2.ID)}}, http.StatusSeeOther, "", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, a2.ID}},
		{"assign another desk's member", "assign", url.Values{"assignee": {itoa(b.ID)}}, http.StatusBadRequest, "newsroom.assign.notmember", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, a2.ID}},
		{"assign nobody who exists", "assign", url.Values{"assignee": {"999999"}}, http.StatusBadRequest, "newsroom.assign.notmember", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, a2.ID}},
		{"assign a non-number", "assign", url.Values{"assignee": {"ana"}}, http.StatusBadRequest, "newsroom.assign.notmember", state{pista.StatusInProgress, []string{"budget", "elections", "élections"}, a2.ID}},
		{"no tags", "tags", url.Values{"tags": {""}}, http.StatusSeeOther, "", state{pista.StatusInProgress, []string{}, a2.ID}},
		{"assign nobody", "assign", url.Values{"assignee": {"0"}}, http.StatusSeeOther, "", state{pista.StatusInProgress, []string{}, 0}},
		{"closed", "status", url.Values{"status": {"closed"}}, http.StatusSeeOther, "", state{pista.StatusClosed, []string{}, 0}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.what != "" {
				r := work(ba, tok, c.ID, s.what, s.form)
				if r.Status != s.status {
					t.Fatalf("status %d, want %d\n%.1500s", r.Status, s.status, r.Body)
				}
				if s.msg != "" && !strings.Contains(r.Text(), pistatest.En(s.msg)) {
					t.Errorf("the page does not say %q", pistatest.En(s.msg))
				}
			}
			got := read()
			if got.status != s.want.status || got.assignee != s.want.assignee || !slices.Equal(append([]string{}, got.tags...), s.want.tags) {
				t.Errorf("the conversation is %+v, want %+v", got, s.want)
			}
		})
	}

	// The conversation page shows what was set, and offers the desk's
	// members only.
	work(ba, tok, c.ID, "assign", url.Values{"assignee": {itoa(a2.ID)}})
	work(ba, tok, c.ID, "tags", url.Values{"tags": {"leads"}})
	page := ba.Get("/newsroom/c/" + c.ID)
	for _, want := range []string{pistatest.En("newsroom.status.closed"), pistatest.En("newsroom.assign.to", "name", "andrés"),
		`<span class="tag">leads</span>`, `<option value="` + itoa(a2.ID) + `" selected>andrés</option>`} {
		if !strings.Contains(page.Text(), want) && !strings.Contains(page.Body, want) {
			t.Errorf("the conversation page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `<option value="`+itoa(b.ID)+`"`) {
		t.Error("the conversation page offers another desk's member")
	}

	// Another desk's conversation: a 404, and nothing changed.
	for _, w := range []struct{ what, field, value string }{{"status", "status", "closed"}, {"tags", "tags", "x"}, {"assign", "assignee", itoa(a.ID)}} {
		t.Run("other desk/"+w.what, func(t *testing.T) {
			r := work(ba, tok, foreign.ID, w.what, url.Values{w.field: {w.value}})
			if r.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.Status)
			}
			cv := load(t, in, b, foreign.ID)
			if cv.Status != pista.StatusNew || len(cv.Tags) != 0 || cv.Assignee != 0 {
				t.Errorf("the other desk's conversation changed: %+v", cv)
			}
		})
	}
	// Without the CSRF token: refused.
	if r := ba.Post("/newsroom/c/"+c.ID+"/status", url.Values{"status": {"new"}}); r.Status != http.StatusForbidden {
		t.Errorf("a status change without CSRF token: %d, want 403", r.Status)
	}
}

// TestInboxFilters checks each filter of the inbox, that the link to the
// next page keeps them, and that conversations.json gives the same pages.
func TestInboxFilters(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	a2 := in.Journalist("andrés")
	americas := in.Desk("americas", a, a2)
	maghreb := in.Desk("maghreb", a)
	ctx := context.Background()
	tips := in.Srv.Stores.Tips
	var closed, tagged, mine, starred, read, onMaghreb []string
	var all []string
	for i := range 60 {
		desk := americas
		if i%10 == 9 {
			desk = maghreb
		}
		id := in.StoreTip(desk).Conversation.ID
		all = append(all, id)
		if desk.ID == maghreb.ID {
			onMaghreb = append(onMaghreb, id)
		}
		if i%2 == 0 {
			tips.SetStatus(ctx, a.ID, id, pista.StatusClosed)
			closed = append(closed, id)
		}
		if i%3 == 0 {
			tips.SetTags(ctx, a.ID, id, []string{"budget"})
			tagged = append(tagged, id)
		}
		if i%5 == 0 && desk.ID == americas.ID {
			tips.SetAssignee(ctx, a.ID, id, a.ID)
			mine = append(mine, id)
		} else if i%5 == 1 && desk.ID == americas.ID {
			tips.SetAssignee(ctx, a.ID, id, a2.ID)
		}
		if i%4 == 0 {
			tips.SetStar(ctx, a.ID, id, true)
			starred = append(starred, id)
		}
		if i%7 != 0 {
			tips.MarkRead(ctx, a.ID, id)
			read = append(read, id)
		}
	}
	var unread []string
	for _, id := range all {
		if !slices.Contains(read, id) {
			unread = append(unread, id)
		}
	}
	br := in.Browser()
	br.LoginJournalist(a)

	// pages walks every page from first, following the older link.
	pages := func(t *testing.T, first string) []string {
		var ids []string
		next := first
		for n := 0; next != ""; n++ {
			if n > 10 {
				t.Fatal("more than 10 pages")
			}
			page, older := inboxOrder(t, br.Get(next))
			ids = append(ids, page...)
			next = older
			if next != "" {
				u, _ := url.Parse(first)
				for k := range u.Query() {
					if !strings.Contains(next, k+"=") {
						t.Errorf("the link to older conversations %s lost the filter %s", next, k)
					}
				}
			}
		}
		return ids
	}
	// jsonPages does the same through conversations.json.
	jsonPages := func(t *testing.T, first string) []string {
		var ids []string
		next := first
		for n := 0; next != ""; n++ {
			if n > 10 {
				t.Fatal("more than 10 pages")
			}
			r := br.Get(next)
			if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("%s: %d %s\n%s", next, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
			var p struct {
				Conversations []struct {
					ID    string
					Items []struct {
						ID        int64
						Kind, URL string
					}
				}
				Next string
			}
			if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Conversations {
				ids = append(ids, c.ID)
				if len(c.Items) != 1 || c.Items[0].Kind != "message" || c.Items[0].URL != "/newsroom/c/"+c.ID+"/items/"+itoa(c.Items[0].ID) {
					t.Errorf("conversation %s lists items %+v", c.ID, c.Items)
				}
			}
			next = p.Next
		}
		return ids
	}
	tests := []struct {
		name  string
		query string
		want  []string // in any order
	}{
		{"no filter", "", all},
		{"one desk", "desk=maghreb", onMaghreb},
		{"closed", "status=closed", closed},
		{"tagged", "tag=budget", tagged},
		{"assigned to me", "mine=1", mine},
		{"starred", "starred=1", starred},
		{"unread", "unread=1", unread},
		{"closed and tagged", "status=closed&tag=budget", intersect(closed, tagged)},
		{"closed and tagged, with ?lang=", "status=closed&tag=budget&lang=fr", intersect(closed, tagged)},
		{"starred and mine", "starred=1&mine=1", intersect(starred, mine)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := slices.Sorted(slices.Values(tt.want))
			got := pages(t, "/newsroom/?"+tt.query)
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Errorf("the inbox lists %d conversations, want %d", len(got), len(want))
			}
			got = jsonPages(t, "/newsroom/conversations.json?"+tt.query)
			if slices.Sort(got); !slices.Equal(got, want) {
				t.Errorf("conversations.json lists %d conversations, want %d", len(got), len(want))
			}
		})
	}

	bad := []struct {
		name, query string
		status      int
		msg         string
	}{
		{"unknown status", "status=done", http.StatusBadRequest, "newsroom.status.invalid"},
		{"bad tag", "tag=Not+A+Tag", http.StatusBadRequest, "newsroom.tags.invalid"},
		{"another desk", "desk=europe", http.StatusNotFound, "error.notfound"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := br.Get("/newsroom/?" + tt.query)
			if r.Status != tt.status || !strings.Contains(r.Text(), pistatest.En(tt.msg)) {
				t.Errorf("status %d, want %d saying %q", r.Status, tt.status, pistatest.En(tt.msg))
			}
			r = br.Get("/newsroom/conversations.json?" + tt.query)
			var e struct{ Error string }
			if r.Status != tt.status || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error != pistatest.En(tt.msg) {
				t.Errorf("conversations.json: %d %s, want %d saying %q", r.Status, r.Body, tt.status, pistatest.En(tt.msg))
			}
		})
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// sealed encrypts text with age to recipients, as the page's script does.
func sealed(t *testing.T, text string, recipients ...string) []byte {
	t.Helper()
	rs, err := keys.ParseRecipients(recipients...)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	w.Close()
	return buf.Bytes()
}

// TestSealedReply sends replies encrypted as the browser does, and checks
// that the server stores only well-formed ones for the right number of
// keys, and that the source reads them.
func TestSealedReply(t *testing.T) {
	in := pistatest.New(t, server.Config{NoServerReplies: true})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	desk := in.Desk("americas", a)
	in.Desk("maghreb", b)
	src := in.Browser()
	codename := src.Submit("americas", "the mayor lied").Codename(t)
	cs, err := in.Srv.Stores.Tips.ConversationsFor(context.Background(), a.ID, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatal(err)
	}
	c := cs[0]
	source, err := in.Srv.Stores.Tips.SourceByID(context.Background(), c.SourceID)
	if err != nil {
		t.Fatal(err)
	}
	ba, bb := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	bb.LoginJournalist(b)
	tok := newsroomCSRF(ba)

	// The page gives the script the keys to encrypt to, and, with server
	// replies off, no form for the server to encrypt.
	page := ba.Get("/newsroom/c/" + c.ID)
	if !strings.Contains(page.Body, `data-recipients="`+source.Recipient+" "+desk.Recipient+`"`) {
		t.Errorf("the conversation page does not give the source's and the desk's keys")
	}
	if !strings.Contains(regexp.MustCompile(`<form[^>]*id="reply-form"[^>]*>`).FindString(page.Body), `hidden data-js-only`) {
		t.Errorf("with server replies off, the reply form is not hidden from pages without JavaScript")
	}
	if r := ba.Post("/newsroom/c/"+c.ID+"/reply", url.Values{"csrf": {tok}, "reply": {"plain"}}); r.Status != http.StatusForbidden ||
		!strings.Contains(r.Text(), pistatest.En("newsroom.reply.serveroff")) {
		t.Errorf("a reply for the server to encrypt, with server replies off: %d", r.Status)
	}

	post := func(br *pistatest.Browser, id, token string, body []byte) *pistatest.Response {
		req := br.Request(http.MethodPost, "/newsroom/c/"+id+"/reply/sealed", bytes.NewReader(body), "application/octet-stream")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		return br.Do(req)
	}
	other, _ := age.GenerateHybridIdentity()
	x25519, _ := age.GenerateX25519Identity()
	const reply = "Thank you. Could you tell us <more>?"
	good := sealed(t, reply, source.Recipient, desk.Recipient)
	refused := []struct {
		name   string
		body   []byte
		token  string
		status int
		msg    string
	}{
		{"one key only", sealed(t, reply, source.Recipient), tok, http.StatusBadRequest, "newsroom.reply.malformed"},
		{"three keys", sealed(t, reply, source.Recipient, desk.Recipient, other.Recipient().String()), tok, http.StatusBadRequest, "newsroom.reply.malformed"},
		{"a classic X25519 key", func() []byte {
			var buf bytes.Buffer
			w, _ := age.Encrypt(&buf, x25519.Recipient(), x25519.Recipient())
			w.Write([]byte(reply))
			w.Close()
			return buf.Bytes()
		}(), tok, http.StatusBadRequest, "newsroom.reply.malformed"},
		{"not age", []byte("Thank you, in plain text"), tok, http.StatusBadRequest, "newsroom.reply.malformed"},
		{"header only", good[:bytes.Index(good, []byte("\n---"))+50], tok, http.StatusBadRequest, "newsroom.reply.malformed"},
		{"too long", sealed(t, strings.Repeat("x", 400_001), source.Recipient, desk.Recipient), tok, http.StatusRequestEntityTooLarge, "error.message.toolong"},
		{"no CSRF token", good, "", http.StatusForbidden, "error.csrf"},
		{"a wrong CSRF token", good, "x" + tok, http.StatusForbidden, "error.csrf"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(a)
			r := post(ba, c.ID, tt.token, tt.body)
			if r.Status != tt.status || !strings.Contains(r.Text(), pistatest.En(tt.msg)) {
				t.Errorf("status %d %.300s, want %d saying %q", r.Status, r.Body, tt.status, pistatest.En(tt.msg))
			}
			in.CheckUnchanged(t, before, a)
		})
	}
	t.Run("another desk", func(t *testing.T) {
		before := in.Snapshot(a)
		if r := post(bb, c.ID, newsroomCSRF(bb), good); r.Status != http.StatusNotFound {
			t.Errorf("status %d, want 404", r.Status)
		}
		in.CheckUnchanged(t, before, a)
	})

	r := post(ba, c.ID, tok, good)
	var ok struct{ Location string }
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &ok) != nil || ok.Location != "/newsroom/c/"+c.ID+"?done=replied" {
		t.Fatalf("a well-formed sealed reply: %d %s", r.Status, r.Body)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := items[len(items)-1]
	if last.Kind != pista.KindReply || last.EncryptedBy != "browser" || last.AuthorID != a.ID {
		t.Errorf("the stored reply is %+v", last)
	}
	if strings.Contains(in.Log.String(), "more>") {
		t.Errorf("the log holds the reply")
	}
	stok := src.Get("/").CSRF(t)
	if r := src.Post("/login", url.Values{"csrf": {stok}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("source login: %d", r.Status)
	}
	if page := src.Get("/source"); !strings.Contains(page.Text(), reply) {
		t.Errorf("the source's page lacks the reply")
	}
}

// TestServerRepliesOn checks the default: the form without JavaScript
// is shown and works, and says the server encrypts.
func TestServerRepliesOn(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	desk := in.Desk("americas", a)
	c := in.StoreTip(desk).Conversation
	ba := in.Browser()
	ba.LoginJournalist(a)
	page := ba.Get("/newsroom/c/" + c.ID)
	replyForm := regexp.MustCompile(`<form[^>]*id="reply-form"[^>]*>`).FindString(page.Body)
	if replyForm == "" || strings.Contains(replyForm, `hidden data-js-only`) || !strings.Contains(page.Text(), pistatest.En("newsroom.reply.hint")) {
		t.Error("the reply form for the server to encrypt is not shown")
	}
}

// TestAudit checks that reading, downloading, replying, changing the
// status, tags and assignee, and deleting are in the audit log, with no
// source data.
func TestAudit(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	desk := in.Desk("americas", a)
	conv := submitTip(in, "americas", a)
	ba := in.Browser()
	ba.LoginJournalist(a)
	tok := newsroomCSRF(ba)
	ba.Get("/newsroom/c/" + conv.ID)
	ba.Get("/newsroom/c/" + conv.ID + "/items/" + itoa(conv.message.ID))
	ba.Get("/newsroom/c/" + conv.ID + "/items/" + itoa(conv.file.ID)) // within the same window: one entry
	work(ba, tok, conv.ID, "status", url.Values{"status": {"closed"}})
	work(ba, tok, conv.ID, "tags", url.Values{"tags": {"budget"}})
	work(ba, tok, conv.ID, "assign", url.Values{"assignee": {itoa(a.ID)}})
	work(ba, tok, conv.ID, "reply", url.Values{"reply": {"a reply"}})
	work(ba, tok, conv.ID, "delete", url.Values{"confirm": {"1"}})
	es, err := in.Srv.Stores.Team.Audit(context.Background(), pista.AuditQuery{DeskIDs: []int64{desk.ID}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []pista.AuditAction
	for _, e := range slices.Backward(es) {
		if e.ConversationID != conv.ID || e.ActorID != a.ID || e.DeskID != desk.ID {
			t.Errorf("entry %+v is not ana's on the conversation", e)
		}
		got = append(got, e.Action)
	}
	want := []pista.AuditAction{pista.AuditList, pista.AuditRead, pista.AuditDownload, pista.AuditStatus, pista.AuditTags, pista.AuditAssign, pista.AuditReply, pista.AuditDelete}
	if !slices.Equal(got, want) {
		t.Errorf("audit log %v, want %v", got, want)
	}
}
