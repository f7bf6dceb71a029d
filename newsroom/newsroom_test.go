package newsroom_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// inboxPageSize mirrors newsroom's inboxPageSize: conversations per page.
const inboxPageSize = 50

// conv is a conversation a test made, with its items.
type conv struct {
	pista.Conversation
	message, file pista.Item // file has a Meta object
}

// submitTip sends a tip with a message and a file through the landing
// form, and finds it through member, a member of the desk.
func submitTip(in *pistatest.Instance, desk string, member *pistatest.Journalist) conv {
	t := in.T
	t.Helper()
	r := in.Browser().Submit(desk, "a tip for "+desk, pistatest.Part{Name: "files", Filename: "leak.pdf", Value: "%PDF-1.7"})
	if r.Status != http.StatusOK {
		t.Fatalf("submitting a tip: %d\n%s", r.Status, r.Body)
	}
	ctx := context.Background()
	cs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, member.ID, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatalf("finding the new conversation: %v %d", err, len(cs))
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, cs[0].ID)
	if err != nil || len(items) != 2 || items[0].Kind != pista.KindMessage || items[1].Kind != pista.KindFile {
		t.Fatalf("the new conversation's items: %v %+v", err, items)
	}
	return conv{Conversation: cs[0], message: items[0], file: items[1]}
}

// newsroomCSRF is the session token from the journalist's inbox.
func newsroomCSRF(b *pistatest.Browser) string {
	b.T.Helper()
	r := b.Get("/newsroom/")
	if r.Status != http.StatusOK {
		b.T.Fatalf("inbox: %d", r.Status)
	}
	return r.CSRF(b.T)
}

// followUp adds a message to a conversation, as a source's follow-up
// does.
func followUp(in *pistatest.Instance, id string, desk pista.Desk) {
	t := in.T
	t.Helper()
	rs, err := keys.ParseRecipients(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(in.Srv.Stores.Blobs, rs, -1)
	if err := b.AddText(context.Background(), pista.KindMessage, "more"); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.AddItems(context.Background(), id, b.Items()); err != nil {
		t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type route struct {
	name string
	ok   int // status for a member of the conversation's desk
	do   func(b *pistatest.Browser, tok string, c conv) *pistatest.Response
	// destructive routes act on a fresh conversation when they succeed.
	destructive bool
}

var routes = []route{
	{"conversation page", http.StatusOK, func(b *pistatest.Browser, _ string, c conv) *pistatest.Response {
		return b.Get("/newsroom/c/" + c.ID)
	}, false},
	{"message download", http.StatusOK, func(b *pistatest.Browser, _ string, c conv) *pistatest.Response {
		return b.Get("/newsroom/c/" + c.ID + "/items/" + itoa(c.message.ID))
	}, false},
	{"file download", http.StatusOK, func(b *pistatest.Browser, _ string, c conv) *pistatest.Response {
		return b.Get("/newsroom/c/" + c.ID + "/items/" + itoa(c.file.ID))
	}, false},
	{"file name and type download", http.StatusOK, func(b *pistatest.Browser, _ string, c conv) *pistatest.Response {
		return b.Get("/newsroom/c/" + c.ID + "/items/" + itoa(c.file.ID) + "/meta")
	}, false},
	{"download.zip", http.StatusOK, func(b *pistatest.Browser, _ string, c conv) *pistatest.Response {
		return b.Get("/newsroom/c/" + c.ID + "/download.zip")
	}, false},
	{"star", http.StatusSeeOther, func(b *pistatest.Browser, tok string, c conv) *pistatest.Response {
		return b.Post("/newsroom/c/"+c.ID+"/star", url.Values{"csrf": {tok}, "star": {"1"}})
	}, false},
	{"mark unread", http.StatusSeeOther, func(b *pistatest.Browser, tok string, c conv) *pistatest.Response {
		return b.Post("/newsroom/c/"+c.ID+"/unread", url.Values{"csrf": {tok}})
	}, false},
	{"reply", http.StatusSeeOther, func(b *pistatest.Browser, tok string, c conv) *pistatest.Response {
		return b.Post("/newsroom/c/"+c.ID+"/reply", url.Values{"csrf": {tok}, "reply": {"Can we talk?"}})
	}, false},
	{"delete", http.StatusSeeOther, func(b *pistatest.Browser, tok string, c conv) *pistatest.Response {
		return b.Post("/newsroom/c/"+c.ID+"/delete", url.Values{"csrf": {tok}, "confirm": {"1"}})
	}, true},
}

// TestPermissions checks that a journalist reaches every route of the
// conversations of their desks, and gets for another desk's exactly what
// a conversation that does not exist gives.
func TestPermissions(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	desk1 := in.Desk("americas", a)
	desk2 := in.Desk("maghreb", b)
	c1 := submitTip(in, "americas", a)
	c2 := submitTip(in, "maghreb", b)
	ba, bb := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	bb.LoginJournalist(b)
	// Each journalist, their desk and conversation, and the other
	// desk's conversation with its member.
	who := []struct {
		name          string
		br            *pistatest.Browser
		desk          pista.Desk
		own, foreign  conv
		foreignMember *pistatest.Journalist
		otherSlug     string
	}{
		{"A (desk 1)", ba, desk1, c1, c2, b, "maghreb"},
		{"B (desk 2)", bb, desk2, c2, c1, a, "americas"},
	}

	for _, w := range who {
		tok := newsroomCSRF(w.br)
		for _, rt := range routes {
			t.Run(w.name+"/"+rt.name+"/own desk", func(t *testing.T) {
				c := w.own
				if rt.destructive {
					c = conv{Conversation: pista.Conversation{ID: in.StoreTip(w.desk).Conversation.ID}}
				}
				r := rt.do(w.br, tok, c)
				if r.Status != rt.ok {
					t.Fatalf("status %d, want %d\n%.1500s", r.Status, rt.ok, r.Body)
				}
				if r.Status == http.StatusOK && strings.HasPrefix(r.Header.Get("Content-Type"), "application/octet-stream") &&
					!strings.HasPrefix(r.Body, "age-encryption.org/v1\n") {
					t.Errorf("the download is not an age file: %.40q", r.Body)
				}
			})
			t.Run(w.name+"/"+rt.name+"/other desk", func(t *testing.T) {
				before := in.Snapshot(a, b)
				r := rt.do(w.br, tok, w.foreign)
				if r.Status != http.StatusNotFound {
					t.Fatalf("status %d, want 404\n%.1500s", r.Status, r.Body)
				}
				if !strings.Contains(r.Text(), pistatest.En("error.notfound")) {
					t.Errorf("the 404 page does not say %q", pistatest.En("error.notfound"))
				}
				// The same request for a conversation that does not exist
				// gets the same answer; only the page's own address (in
				// its language links) differs.
				missing := w.foreign
				missing.ID = "aaaaaaaaaaaaaaaaaaaaaaaaaa"
				m := rt.do(w.br, tok, missing)
				if m.Status != r.Status || strings.ReplaceAll(m.Body, missing.ID, "ID") != strings.ReplaceAll(r.Body, w.foreign.ID, "ID") {
					t.Errorf("another desk's conversation is distinguishable from a missing one: %d vs %d", r.Status, m.Status)
				}
				in.CheckUnchanged(t, before, a, b)
				if _, err := in.Srv.Stores.Tips.ConversationFor(context.Background(), w.foreignMember.ID, w.foreign.ID); err != nil {
					t.Errorf("the other desk's conversation is gone: %v", err)
				}
			})
		}
	}

	// An item of one conversation is not reachable through another's URL.
	c1b := submitTip(in, "americas", a)
	crossed := []struct {
		name string
		br   *pistatest.Browser
		path string
	}{
		{"A: desk 2's item under desk 1's conversation", ba, "/newsroom/c/" + c1.ID + "/items/" + itoa(c2.message.ID)},
		{"A: desk 2's file name under desk 1's conversation", ba, "/newsroom/c/" + c1.ID + "/items/" + itoa(c2.file.ID) + "/meta"},
		{"A: another conversation's item on the same desk", ba, "/newsroom/c/" + c1.ID + "/items/" + itoa(c1b.message.ID)},
		{"B: desk 1's item under desk 2's conversation", bb, "/newsroom/c/" + c2.ID + "/items/" + itoa(c1.message.ID)},
		{"A: the name of a message (no meta)", ba, "/newsroom/c/" + c1.ID + "/items/" + itoa(c1.message.ID) + "/meta"},
		{"A: item that is not a number", ba, "/newsroom/c/" + c1.ID + "/items/x"},
		{"A: item that does not exist", ba, "/newsroom/c/" + c1.ID + "/items/999999"},
	}
	for _, tt := range crossed {
		t.Run(tt.name, func(t *testing.T) {
			if r := tt.br.Get(tt.path); r.Status != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", tt.path, r.Status)
			}
		})
	}

	t.Run("inboxes list their own desk only", func(t *testing.T) {
		for _, w := range who {
			rows := inboxRows(t, w.br.Get("/newsroom/"))
			if _, ok := rows[w.own.ID]; !ok {
				t.Errorf("%s's inbox lacks their desk's conversation", w.name)
			}
			if _, ok := rows[w.foreign.ID]; ok {
				t.Errorf("%s's inbox lists the other desk's conversation", w.name)
			}
			if r := w.br.Get("/newsroom/?desk=" + w.otherSlug); r.Status != http.StatusNotFound {
				t.Errorf("%s filtering the inbox by the other desk: %d, want 404", w.name, r.Status)
			}
		}
	})

	t.Run("zip holds every item of the conversation", func(t *testing.T) {
		r := ba.Get("/newsroom/c/" + c1.ID + "/download.zip")
		zr, err := zip.NewReader(bytes.NewReader([]byte(r.Body)), int64(len(r.Body)))
		if err != nil {
			t.Fatalf("reading the zip: %v", err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		want := []string{
			c1.ID + "/" + pad(c1.message.ID) + "-message.age",
			c1.ID + "/" + pad(c1.file.ID) + "-file.age",
			c1.ID + "/" + pad(c1.file.ID) + "-file.meta.age",
		}
		for _, w := range want {
			if !slices.Contains(names, w) {
				t.Errorf("the zip lacks %s: %v", w, names)
			}
		}
	})
}

func pad(id int64) string {
	s := itoa(id)
	return strings.Repeat("0", max(0, 10-len(s))) + s
}

type row struct{ unread, starred bool }

var rowRe = regexp.MustCompile(`(?s)<tr class="(unread)?"[^>]*>\s*(?:<td>(?:<input[^>]*>)?</td>\s*)?<td><a href="/newsroom/c/([a-z2-7]+)[^"]*">(<span[^>]*>★</span>)?`)

// inboxRows reads the conversations of an inbox page.
func inboxRows(t testing.TB, r *pistatest.Response) map[string]row {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("inbox: %d\n%s", r.Status, r.Body)
	}
	rows := map[string]row{}
	for _, m := range rowRe.FindAllStringSubmatch(r.Body, -1) {
		rows[m[2]] = row{unread: m[1] != "", starred: m[3] != ""}
	}
	return rows
}

var olderRe = regexp.MustCompile(`href="(/newsroom/\?before=[^"]+)"`)

// inboxOrder lists the conversations of an inbox page in order, and the
// link to older ones.
func inboxOrder(t testing.TB, r *pistatest.Response) ([]string, string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("inbox: %d\n%s", r.Status, r.Body)
	}
	var ids []string
	for _, m := range rowRe.FindAllStringSubmatch(r.Body, -1) {
		ids = append(ids, m[2])
	}
	older := ""
	if m := olderRe.FindStringSubmatch(r.Body); m != nil {
		older = html.UnescapeString(m[1])
	}
	return ids, older
}

func TestUnreadPerJournalist(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	a2 := in.Journalist("andrés")
	desk := in.Desk("americas", a, a2)
	c := submitTip(in, "americas", a)
	ba, ba2 := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	ba2.LoginJournalist(a2)
	tok := newsroomCSRF(ba)

	steps := []struct {
		name              string
		do                func()
		unreadA, unreadA2 bool
	}{
		{"a new tip is unread for both", func() {}, true, true},
		{"A reads it: read for A only", func() { ba.Get("/newsroom/c/" + c.ID) }, false, true},
		{"A marks it unread", func() {
			if r := ba.Post("/newsroom/c/"+c.ID+"/unread", url.Values{"csrf": {tok}}); r.Status != http.StatusSeeOther {
				t.Fatalf("mark unread: %d", r.Status)
			}
		}, true, true},
		{"A2 reads it: read for A2 only", func() { ba2.Get("/newsroom/c/" + c.ID) }, true, false},
		{"A reads it too", func() { ba.Get("/newsroom/c/" + c.ID) }, false, false},
		{"a follow-up from the source makes it unread for both", func() { followUp(in, c.ID, desk) }, true, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			if got := inboxRows(t, ba.Get("/newsroom/"))[c.ID].unread; got != s.unreadA {
				t.Errorf("unread for A = %v, want %v", got, s.unreadA)
			}
			if got := inboxRows(t, ba2.Get("/newsroom/"))[c.ID].unread; got != s.unreadA2 {
				t.Errorf("unread for A2 = %v, want %v", got, s.unreadA2)
			}
		})
	}
}

func TestStar(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	a2 := in.Journalist("andrés")
	desk := in.Desk("americas", a, a2)
	c := in.StoreTip(desk).Conversation
	ba, ba2 := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	ba2.LoginJournalist(a2)
	tok := newsroomCSRF(ba)

	starValue := regexp.MustCompile(`name="star" value="([01])"`)
	steps := []struct {
		name     string
		star     string
		starredA bool
	}{
		{"star", "1", true},
		{"star again", "1", true},
		{"unstar", "0", false},
		{"unstar again", "0", false},
		{"star once more", "1", true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := ba.Post("/newsroom/c/"+c.ID+"/star", url.Values{"csrf": {tok}, "star": {s.star}})
			back := r.Header.Get("Location")
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(back, "/newsroom/c/"+c.ID) {
				t.Fatalf("star: %d %s", r.Status, back)
			}
			if got := inboxRows(t, ba.Get("/newsroom/"))[c.ID].starred; got != s.starredA {
				t.Errorf("A's inbox: starred = %v, want %v", got, s.starredA)
			}
			// The conversation page offers the opposite action.
			page := ba.Get(back)
			wantNext := map[bool]string{true: "0", false: "1"}[s.starredA]
			if m := starValue.FindStringSubmatch(page.Body); m == nil || m[1] != wantNext {
				t.Errorf("the conversation page's star button sends %v, want %s", m, wantNext)
			}
			if !strings.Contains(page.Text(), pistatest.En("newsroom.starred.notice")) {
				t.Errorf("the page after starring lacks the notice %q", pistatest.En("newsroom.starred.notice"))
			}
			if inboxRows(t, ba2.Get("/newsroom/"))[c.ID].starred {
				t.Error("A's star shows in A2's inbox")
			}
		})
	}
}

func TestInboxPages(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	americas := in.Desk("americas", j)
	maghreb := in.Desk("maghreb", j)
	var all, onAmericas []string // newest first
	for i := range inboxPageSize + 5 {
		id := in.StoreTip(americas).Conversation.ID
		all = append([]string{id}, all...)
		onAmericas = append([]string{id}, onAmericas...)
		if i%20 == 0 {
			all = append([]string{in.StoreTip(maghreb).Conversation.ID}, all...)
		}
	}
	br := in.Browser()
	br.LoginJournalist(j)

	tests := []struct {
		name   string
		first  string
		want   []string
		filter string // what the link to older conversations must keep
	}{
		{"all desks", "/newsroom/", all, ""},
		{"one desk", "/newsroom/?desk=americas", onAmericas, "desk=americas"},
		{"one desk, with ?lang=", "/newsroom/?desk=americas&lang=en", onAmericas, "lang=en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, older := inboxOrder(t, br.Get(tt.first))
			if len(first) != inboxPageSize {
				t.Fatalf("the first page lists %d conversations, want %d", len(first), inboxPageSize)
			}
			if older == "" {
				t.Fatal("the first page has no link to older conversations")
			}
			if !strings.Contains(older, tt.filter) {
				t.Errorf("the link %q does not keep %q", older, tt.filter)
			}
			second, older2 := inboxOrder(t, br.Get(older))
			if older2 != "" {
				t.Errorf("the last page links to more: %q", older2)
			}
			if len(second) != len(tt.want)-inboxPageSize {
				t.Errorf("the second page lists %d conversations, want %d", len(second), len(tt.want)-inboxPageSize)
			}
			for _, id := range second {
				if slices.Contains(first, id) {
					t.Errorf("conversation %s is on both pages", id)
				}
			}
			if got := append(first, second...); !slices.Equal(got, tt.want) {
				t.Errorf("the pages list\n%v\nwant, newest first,\n%v", got, tt.want)
			}
		})
	}
	t.Run("a page past the end", func(t *testing.T) {
		if ids, older := inboxOrder(t, br.Get("/newsroom/?before=1")); len(ids) != 0 || older != "" {
			t.Errorf("?before=1 lists %d conversations and links to %q", len(ids), older)
		}
	})
	t.Run("a malformed before", func(t *testing.T) {
		if ids, _ := inboxOrder(t, br.Get("/newsroom/?before=-5")); len(ids) != inboxPageSize {
			t.Errorf("?before=-5 lists %d conversations, want the first page", len(ids))
		}
	})
}

// login logs in from a fresh browser as the login page's script does.
func login(in *pistatest.Instance, name, password, code string) (*pistatest.Browser, *pistatest.Response) {
	b := in.Browser()
	return b, b.PostLogin(name, password, code)
}

func TestLoginRefused(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	tests := []struct {
		name   string
		try    func(j *pistatest.Journalist) *pistatest.Response
		status int
		key    string
	}{
		{"wrong password", func(j *pistatest.Journalist) *pistatest.Response {
			_, r := login(in, j.Name, "wrong password, long enough", j.Code(t))
			return r
		}, http.StatusUnauthorized, "newsroom.login.failed"},
		{"unknown name", func(j *pistatest.Journalist) *pistatest.Response {
			_, r := login(in, "nobody", j.Password, j.Code(t))
			return r
		}, http.StatusUnauthorized, "newsroom.login.failed"},
		{"no TOTP code", func(j *pistatest.Journalist) *pistatest.Response {
			_, r := login(in, j.Name, j.Password, "")
			return r
		}, http.StatusUnauthorized, "newsroom.login.failed"},
		{"wrong TOTP code", func(j *pistatest.Journalist) *pistatest.Response {
			code := []byte(j.Code(t))
			code[0] = '0' + (code[0]-'0'+1)%10
			_, r := login(in, j.Name, j.Password, string(code))
			return r
		}, http.StatusUnauthorized, "newsroom.login.failed"},
		{"another journalist's TOTP code", func(j *pistatest.Journalist) *pistatest.Response {
			other := in.Journalist(j.Name + "-other")
			_, r := login(in, j.Name, j.Password, other.Code(t))
			return r
		}, http.StatusUnauthorized, "newsroom.login.failed"},
		{"replayed TOTP code", func(j *pistatest.Journalist) *pistatest.Response {
			code := j.Code(t)
			if _, r := login(in, j.Name, j.Password, code); r.Status != http.StatusOK {
				t.Fatalf("first login: %d", r.Status)
			}
			_, r := login(in, j.Name, j.Password, code)
			return r
		}, http.StatusUnauthorized, "newsroom.login.failed"},
		{"no csrf", func(j *pistatest.Journalist) *pistatest.Response {
			return in.Browser().Post("/newsroom/login", url.Values{"name": {j.Name}, "auth": {base64.StdEncoding.EncodeToString(j.Keys.Auth)}, "totp": {j.Code(t)}})
		}, http.StatusForbidden, "error.csrf"},
		{"wrong csrf", func(j *pistatest.Journalist) *pistatest.Response {
			return in.Browser().Post("/newsroom/login", url.Values{"csrf": {"AAAA"}, "name": {j.Name}, "auth": {base64.StdEncoding.EncodeToString(j.Keys.Auth)}, "totp": {j.Code(t)}})
		}, http.StatusForbidden, "error.csrf"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := in.Journalist("j" + itoa(int64(i)))
			r := tt.try(j)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d", r.Status, tt.status)
			}
			if !strings.Contains(r.Text(), pistatest.En(tt.key)) {
				t.Errorf("the page does not say %q", pistatest.En(tt.key))
			}
			for _, c := range r.Header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "pista_newsroom=") && !strings.Contains(c, "Max-Age=0") {
					t.Errorf("a refused login set a session cookie: %s", c)
				}
			}
		})
	}
}

func TestLoginThrottled(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	other := in.Journalist("bilal")
	for i := range 5 {
		// The code does not matter: the password is checked first.
		if _, r := login(in, j.Name, "not the password at all", "123456"); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i+1, r.Status)
		}
	}
	tests := []struct {
		name   string
		j      *pistatest.Journalist
		status int
		key    string
	}{
		{"sixth attempt, right password and code", j, http.StatusTooManyRequests, "auth.login.throttled"},
		{"another account is not locked", other, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, r := login(in, tt.j.Name, tt.j.Password, tt.j.Code(t))
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d", r.Status, tt.status)
			}
			if tt.key != "" && !strings.Contains(r.Text(), pistatest.En(tt.key)) {
				t.Errorf("the page does not say %q", pistatest.En(tt.key))
			}
			inbox := b.Get("/newsroom/")
			if loggedIn := inbox.Status == http.StatusOK; loggedIn != (tt.status == http.StatusOK) {
				t.Errorf("inbox after the login: %d", inbox.Status)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	b := in.Browser()
	b.LoginJournalist(j)
	tok := newsroomCSRF(b)
	if r := b.Post("/newsroom/logout", url.Values{"csrf": {"wrong"}}); r.Status != http.StatusForbidden {
		t.Errorf("logout with a wrong csrf: %d, want 403", r.Status)
	}
	if r := b.Post("/newsroom/logout", url.Values{"csrf": {tok}}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := b.Get("/newsroom/"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/newsroom/login" {
		t.Errorf("inbox after logout: %d %s, want a redirect to the login", r.Status, r.Header.Get("Location"))
	}
}

// TestSessionSurvivesAbandonedRequest: a request the browser gives up on
// (a page left while its script still fetches) fails the account lookup
// with the request's context; that must not log the journalist out, as it
// once did.
func TestSessionSurvivesAbandonedRequest(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	b := in.Browser()
	b.LoginJournalist(j)
	u, err := url.Parse(b.Base + "/newsroom/")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	for _, c := range b.Client.Jar.Cookies(u) {
		req.AddCookie(c)
	}
	w := httptest.NewRecorder()
	in.Srv.Handler.ServeHTTP(w, req)
	if w.Code == http.StatusOK {
		t.Fatalf("the abandoned request was answered 200: the test did not reach the account lookup")
	}
	if r := b.Get("/newsroom/"); r.Status != http.StatusOK {
		t.Errorf("the inbox after an abandoned request: %d %s, want 200 (still logged in)", r.Status, r.Header.Get("Location"))
	}
}

func TestPostNeedsSessionCSRF(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	a2 := in.Journalist("andrés")
	desk := in.Desk("americas", a, a2)
	c := in.StoreTip(desk).Conversation
	ba, ba2 := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	ba2.LoginJournalist(a2)
	tests := []struct {
		name string
		tok  string
	}{
		{"no csrf", ""},
		{"anonymous token from the login page", in.Browser().Get("/newsroom/login").CSRF(t)},
		{"another journalist's session token", newsroomCSRF(ba2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(a)
			for _, p := range []struct{ path, field, value string }{
				{"/star", "star", "1"}, {"/reply", "reply", "hello"}, {"/delete", "confirm", "1"},
			} {
				r := ba.Post("/newsroom/c/"+c.ID+p.path, url.Values{"csrf": {tt.tok}, p.field: {p.value}})
				if r.Status != http.StatusForbidden {
					t.Errorf("POST %s: %d, want 403", p.path, r.Status)
				}
			}
			in.CheckUnchanged(t, before, a)
			if got := inboxRows(t, ba.Get("/newsroom/"))[c.ID]; got.starred {
				t.Error("the conversation was starred")
			}
		})
	}
}

func TestDeleteConversation(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	in.Desk("americas", a)
	doomed := submitTip(in, "americas", a)
	kept := submitTip(in, "americas", a)
	b := in.Browser()
	b.LoginJournalist(a)
	tok := newsroomCSRF(b)
	ctx := context.Background()
	exists := func(key string) bool {
		obj, err := in.Srv.Stores.Blobs.Open(ctx, key)
		if err == nil {
			obj.Close()
		}
		return err == nil
	}

	if r := b.Post("/newsroom/c/"+doomed.ID+"/delete", url.Values{"csrf": {tok}}); r.Status != http.StatusBadRequest {
		t.Errorf("delete without the confirm box: %d, want 400", r.Status)
	}
	if !exists(doomed.message.Object) {
		t.Fatal("a delete without confirmation removed an object")
	}
	r := b.Post("/newsroom/c/"+doomed.ID+"/delete", url.Values{"csrf": {tok}, "confirm": {"1"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.Status)
	}
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"deleted message object", doomed.message.Object, false},
		{"deleted file object", doomed.file.Object, false},
		{"deleted file name object", doomed.file.Meta, false},
		{"other conversation's message", kept.message.Object, true},
		{"other conversation's file", kept.file.Object, true},
		{"other conversation's file name", kept.file.Meta, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exists(tt.key); got != tt.want {
				t.Errorf("object exists = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("the conversation is gone", func(t *testing.T) {
		if r := b.Get("/newsroom/c/" + doomed.ID); r.Status != http.StatusNotFound {
			t.Errorf("GET: %d, want 404", r.Status)
		}
		if _, err := in.Srv.Stores.Tips.ConversationFor(ctx, a.ID, doomed.ID); !errors.Is(err, pista.ErrNotFound) {
			t.Errorf("ConversationFor: %v, want ErrNotFound", err)
		}
		if _, ok := inboxRows(t, b.Get("/newsroom/"))[doomed.ID]; ok {
			t.Error("the inbox still lists it")
		}
		if r := b.Post("/newsroom/c/"+doomed.ID+"/delete", url.Values{"csrf": {tok}, "confirm": {"1"}}); r.Status != http.StatusNotFound {
			t.Errorf("deleting it again: %d, want 404", r.Status)
		}
	})
}

// TestReplyReachesSource follows a reply from the inbox to the source's
// page, where it is decrypted with the codename's key.
func TestReplyReachesSource(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	in.Desk("americas", a)
	src := in.Browser()
	codename := src.Submit("americas", "the mayor lied").Codename(t)
	cs, err := in.Srv.Stores.Tips.ConversationsFor(context.Background(), a.ID, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatal(err)
	}
	b := in.Browser()
	b.LoginJournalist(a)
	tok := newsroomCSRF(b)
	const reply = "Thank you. Could you tell us <more>?"
	tests := []struct {
		name   string
		reply  string
		status int
	}{
		{"empty reply", "  \r\n ", http.StatusBadRequest},
		{"reply too long", strings.Repeat("x", 100_001), http.StatusRequestEntityTooLarge},
		{"reply", reply, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.Post("/newsroom/c/"+cs[0].ID+"/reply", url.Values{"csrf": {tok}, "reply": {tt.reply}})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d", r.Status, tt.status)
			}
		})
	}
	if strings.Contains(in.Log.String(), "more>") {
		t.Errorf("the log holds the reply:\n%s", in.Log.String())
	}
	stok := src.Get("/").CSRF(t)
	if r := src.Post("/login", url.Values{"csrf": {stok}, "codename": {codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("source login: %d", r.Status)
	}
	page := src.Get("/source")
	if page.Status != http.StatusOK || !strings.Contains(page.Text(), reply) {
		t.Errorf("the source's page lacks the reply (status %d):\n%s", page.Status, page.Body)
	}
	if strings.Count(page.Body, "/source/replies/") != 1 {
		t.Errorf("the source's page shows %d replies, want 1", strings.Count(page.Body, "/source/replies/"))
	}
}
