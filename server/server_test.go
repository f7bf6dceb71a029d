package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

func TestSecurityHeaders(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)
	tip := in.StoreTip(desk)
	nb := in.Browser()
	nb.LoginJournalist(j)
	b := in.Browser()

	tests := []struct {
		name       string
		do         func() *pistatest.Response
		wantStatus int
	}{
		{"landing page", func() *pistatest.Response { return b.Get("/") }, http.StatusOK},
		{"landing page in another language", func() *pistatest.Response { return b.Get("/?lang=en") }, http.StatusOK},
		{"newsroom login page", func() *pistatest.Response { return b.Get("/newsroom/login") }, http.StatusOK},
		{"unknown page (404)", func() *pistatest.Response { return b.Get("/no/such/page") }, http.StatusNotFound},
		{"style sheet", func() *pistatest.Response { return b.Get("/static/style.css") }, http.StatusOK},
		{"error page (refused form)", func() *pistatest.Response {
			return b.PostMultipart("/submit", []pistatest.Part{{Name: "message", Value: "x"}})
		}, http.StatusForbidden},
		{"redirect to the login", func() *pistatest.Response { return b.Get("/newsroom/") }, http.StatusSeeOther},
		{"API error", func() *pistatest.Response { return b.Get("/api/v1/journalist/items") }, http.StatusUnauthorized},
		{"API unknown route", func() *pistatest.Response { return b.Get("/api/v2/whatever") }, http.StatusNotFound},
		{"inbox", func() *pistatest.Response { return nb.Get("/newsroom/") }, http.StatusOK},
		{"encrypted item download", func() *pistatest.Response {
			return nb.Get("/newsroom/c/" + tip.Conversation.ID + "/items/" + itoa(tip.Items[0].ID))
		}, http.StatusOK},
		{"conversation zip", func() *pistatest.Response { return nb.Get("/newsroom/c/" + tip.Conversation.ID + "/download.zip") }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.Status, tt.wantStatus)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
				}
			}
			for k, want := range map[string]string{
				"Cache-Control":                "no-store",
				"Referrer-Policy":              "no-referrer",
				"X-Content-Type-Options":       "nosniff",
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := r.Header.Get("Onion-Location"); got != "" {
				t.Errorf("Onion-Location %q without an onion address", got)
			}
		})
	}
}

func TestOnionLocation(t *testing.T) {
	in := pistatest.New(t, server.Config{Onion: "pistaexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion"})
	r := in.Browser().Get("/?lang=en")
	want := "http://pistaexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion/?lang=en"
	if got := r.Header.Get("Onion-Location"); got != want {
		t.Errorf("Onion-Location = %q, want %q", got, want)
	}
}

func TestCrossOriginPost(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	tests := []struct {
		name    string
		headers map[string]string
		refused bool
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"Sec-Fetch-Site same-site (a sibling domain)", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"Origin of another site, no Sec-Fetch-Site", map[string]string{"Origin": "https://evil.example"}, true},
		{"Sec-Fetch-Site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"no browser headers (a command-line client)", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := in.Browser()
			before := in.Snapshot(j)
			tok := b.Get("/").CSRF(t)
			body, ct := pistatest.MultipartBody(t, []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}})
			req := b.Request(http.MethodPost, "/submit", body, ct)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			r := b.Do(req)
			if !tt.refused {
				if r.Status != http.StatusOK || !strings.Contains(r.Body, `id="codename"`) {
					t.Fatalf("same-origin submission: status %d, want 200 with a codename", r.Status)
				}
				return
			}
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			if !strings.Contains(r.Text(), pistatest.En("error.csrf")) {
				t.Errorf("the page does not say why:\n%s", r.Body)
			}
			in.CheckUnchanged(t, before, j)
		})
	}
}

func TestSubmitRefused(t *testing.T) {
	in := pistatest.New(t, server.Config{MaxUpload: 1 << 20})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	b := in.Browser()
	other := pistatest.New(t, server.Config{}).Browser()

	tests := []struct {
		name    string
		parts   func(tok string) []pistatest.Part
		status  int
		message string // message key of the page
	}{
		{"no csrf", func(string) []pistatest.Part {
			return []pistatest.Part{{Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}}
		}, http.StatusForbidden, "error.csrf"},
		{"wrong csrf", func(string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}}
		}, http.StatusForbidden, "error.csrf"},
		{"csrf of another instance", func(string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: other.Get("/").CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}}
		}, http.StatusForbidden, "error.csrf"},
		{"file before the csrf field", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "desk", Value: "americas"}, {Name: "files", Filename: "a.pdf", Value: "%PDF"}, {Name: "csrf", Value: tok}}
		}, http.StatusForbidden, "error.csrf"},
		{"file before the desk field", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "files", Filename: "a.pdf", Value: "%PDF"}, {Name: "desk", Value: "americas"}}
		}, http.StatusBadRequest, "error.desk"},
		{"message of 100,001 characters", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: strings.Repeat("a", 100_001)}}
		}, http.StatusRequestEntityTooLarge, "error.message.toolong"},
		{"message of 100,001 two-byte characters", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: strings.Repeat("é", 100_001)}}
		}, http.StatusRequestEntityTooLarge, "error.message.toolong"},
		{"two message fields of 60,000 characters each", func(tok string) []pistatest.Part {
			m := strings.Repeat("a", 60_000)
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: m}, {Name: "message", Value: m}}
		}, http.StatusRequestEntityTooLarge, "error.message.toolong"},
		{"contact of 2,001 characters", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}, {Name: "contact", Value: strings.Repeat("c", 2001)}}
		}, http.StatusRequestEntityTooLarge, "error.contact.toolong"},
		{"file bigger than the upload limit", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}, {Name: "files", Filename: "big.pdf", Value: strings.Repeat("x", 2<<20)}}
		}, http.StatusRequestEntityTooLarge, "error.toolarge"},
		{"files together bigger than the upload limit", func(tok string) []pistatest.Part {
			half := strings.Repeat("x", 600<<10)
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "files", Filename: "a.pdf", Value: half}, {Name: "files", Filename: "b.pdf", Value: half}}
		}, http.StatusRequestEntityTooLarge, "error.toolarge"},
		{"unknown desk", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "atlantis"}, {Name: "message", Value: "a tip"}}
		}, http.StatusBadRequest, "error.desk"},
		{"no desk", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "message", Value: "a tip"}}
		}, http.StatusBadRequest, "error.desk"},
		{"empty submission", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: ""}}
		}, http.StatusBadRequest, "error.empty"},
		{"only spaces", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: " \r\n\t "}}
		}, http.StatusBadRequest, "error.empty"},
		{"only a contact", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "contact", Value: "+1 555 0100"}}
		}, http.StatusBadRequest, "error.empty"},
		{"unknown field", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}, {Name: "admin", Value: "1"}}
		}, http.StatusBadRequest, "error.form"},
		{"message not UTF-8", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "caf\xe9"}}
		}, http.StatusBadRequest, "error.form"},
		{"two desks", func(tok string) []pistatest.Part {
			return []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}}
		}, http.StatusBadRequest, "error.form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(j)
			r := b.PostMultipart("/submit", tt.parts(b.Get("/").CSRF(t)))
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d\n%s", r.Status, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want an HTML page", ct)
			}
			if !strings.Contains(r.Text(), pistatest.En(tt.message)) {
				t.Errorf("the page does not say %q:\n%s", pistatest.En(tt.message), r.Body)
			}
			if strings.Contains(r.Body, `id="codename"`) {
				t.Error("a refused submission shows a codename")
			}
			in.CheckUnchanged(t, before, j)
		})
	}

	t.Run("one file more than the limit", func(t *testing.T) {
		for lang, want := range map[string]string{"en": "at most %d can", "es": "como máximo %d a la vez", "fr": "%d au plus", "ar": "هو %d."} {
			want = fmt.Sprintf(want, httpx.MaxFiles)
			before := in.Snapshot(j)
			tok := b.Get("/").CSRF(t)
			parts := []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip"}}
			for i := 0; i <= httpx.MaxFiles; i++ {
				parts = append(parts, pistatest.Part{Name: "files", Filename: fmt.Sprintf("f%d.txt", i), Value: "x"})
			}
			r := b.PostMultipart("/submit?lang="+lang, parts)
			if r.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s: status %d, want 413\n%.2000s", lang, r.Status, r.Body)
			}
			if !strings.Contains(r.Text(), want) {
				t.Errorf("%s: the page does not say %q (at most %d files):\n%s", lang, want, httpx.MaxFiles, r.Body)
			}
			if lang == "en" && !strings.Contains(r.Text(), pistatest.En("error.toomanyfiles", "max", httpx.MaxFiles)) {
				t.Errorf("the page does not say %q", pistatest.En("error.toomanyfiles", "max", httpx.MaxFiles))
			}
			in.CheckUnchanged(t, before, j)
		}
	})

	t.Run("not a multipart form", func(t *testing.T) {
		before := in.Snapshot(j)
		tok := b.Get("/").CSRF(t)
		r := b.Post("/submit", url.Values{"csrf": {tok}, "desk": {"americas"}, "message": {"a tip"}})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", r.Status)
		}
		in.CheckUnchanged(t, before, j)
	})
}

func TestSubmitAccepted(t *testing.T) {
	in := pistatest.New(t, server.Config{MaxUpload: 1 << 20})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)
	b := in.Browser()
	const secretName = "minutes-of-the-board-7f3a.pdf"
	tests := []struct {
		name  string
		parts []pistatest.Part
		kinds []pista.ItemKind
	}{
		{"message of 100,000 four-byte characters", []pistatest.Part{{Name: "message", Value: strings.Repeat("😀", 100_000)}},
			[]pista.ItemKind{pista.KindMessage}},
		{"message, file and contact", []pistatest.Part{
			{Name: "contact", Value: "signal: +1 555 0100"},
			{Name: "files", Filename: secretName, Value: "%PDF-1.7 the board knew"},
			{Name: "message", Value: "the board knew in March"},
			{Name: "keep_metadata", Value: "1"},
		}, []pista.ItemKind{pista.KindMessage, pista.KindFile, pista.KindContact}},
		// The limit counts the whole submission: the file's name and type too.
		{"file only, just under the limit", []pistatest.Part{{Name: "files", Filename: "a.bin", Value: strings.Repeat("x", 1<<20-4096)}},
			[]pista.ItemKind{pista.KindFile}},
		{"an empty file input is ignored", []pistatest.Part{{Name: "message", Value: "hello"}, {Name: "files", File: true}},
			[]pista.ItemKind{pista.KindMessage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(j)
			tok := b.Get("/").CSRF(t)
			parts := append([]pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}}, tt.parts...)
			r := b.PostMultipart("/submit", parts)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d, want 200\n%.2000s", r.Status, r.Body)
			}
			codename := r.Codename(t)
			if !strings.Contains(r.Text(), pistatest.En("receipt.sent", "desk", desk.Title)) {
				t.Errorf("the receipt does not name the desk")
			}
			ctx := context.Background()
			convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, j.ID, pista.Page{Limit: 1})
			if err != nil || len(convs) == 0 {
				t.Fatalf("no conversation: %v", err)
			}
			if convs[0].LastItem <= before.LastItem || convs[0].DeskID != desk.ID {
				t.Fatalf("the newest conversation %+v is not the new one", convs[0])
			}
			items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, convs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []pista.ItemKind
			for _, it := range items {
				kinds = append(kinds, it.Kind)
				for _, k := range []string{it.Object, it.Meta} {
					if k == "" {
						continue
					}
					obj, err := in.Srv.Stores.Blobs.Open(ctx, k)
					if err != nil {
						t.Fatalf("item %d's object: %v", it.ID, err)
					}
					head := make([]byte, 21)
					obj.Read(head)
					obj.Close()
					if string(head) != "age-encryption.org/v1" {
						t.Errorf("item %d's object is not an age file: %q", it.ID, head)
					}
				}
			}
			if !slices.Equal(kinds, tt.kinds) {
				t.Errorf("items %v, want %v", kinds, tt.kinds)
			}
			if tmp := in.TempFiles(); len(tmp) > 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
			log := in.Log.String()
			for _, secret := range []string{codename, secretName, "board knew", "555 0100"} {
				if strings.Contains(log, secret) {
					t.Errorf("the log holds %q:\n%s", secret, log)
				}
			}
		})
	}
}

func TestSourceLogin(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	b := in.Browser()
	real := b.Submit("americas", "a tip").Codename(t)
	// A wrong codename: well-formed, 28 digits, but not this one.
	wrong := []byte(real)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10

	tests := []struct {
		name     string
		codename string
		status   int
	}{
		{"right codename", real, http.StatusSeeOther},
		{"right codename typed with spaces", strings.Join([]string{real[:4], real[4:14], real[14:]}, " "), http.StatusSeeOther},
		{"wrong codename", string(wrong), http.StatusUnauthorized},
		{"malformed codename", "hello there", http.StatusUnauthorized},
		{"too few digits", real[:27], http.StatusUnauthorized},
		{"empty codename", "", http.StatusUnauthorized},
	}
	bodies := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := in.Browser()
			tok := sb.Get("/").CSRF(t)
			r := sb.Post("/login", url.Values{"csrf": {tok}, "codename": {tt.codename}})
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d\n%s", r.Status, tt.status, r.Body)
			}
			if tt.status == http.StatusSeeOther {
				if loc := r.Header.Get("Location"); loc != "/source" {
					t.Errorf("redirect to %q, want /source", loc)
				}
				if p := sb.Get("/source"); p.Status != http.StatusOK {
					t.Errorf("the source page after login: %d", p.Status)
				}
				return
			}
			if !strings.Contains(r.Text(), pistatest.En("error.codename")) {
				t.Errorf("the page does not say %q", pistatest.En("error.codename"))
			}
			bodies[tt.name] = r.Body
			if p := sb.Get("/source"); p.Status != http.StatusUnauthorized {
				t.Errorf("the source page after a failed login: %d, want 401", p.Status)
			}
		})
	}
	t.Run("wrong and malformed codenames look the same", func(t *testing.T) {
		w, m := bodies["wrong codename"], bodies["malformed codename"]
		if w == "" || m == "" {
			t.Skip("an earlier case failed")
		}
		if w != m {
			t.Errorf("a wrong and a malformed codename give different pages:\n%s\n---\n%s", w, m)
		}
	})
}

func TestSweepOrphans(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	in := pistatest.New(t, server.Config{Data: data})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	if r := in.Browser().Submit("americas", "a tip", pistatest.Part{Name: "files", Filename: "a.pdf", Value: "%PDF"}); r.Status != http.StatusOK {
		t.Fatalf("submission: %d", r.Status)
	}
	kept := in.Snapshot(j).Objects
	if len(kept) != 3 {
		t.Fatalf("a tip with a message and a file has %d objects, want 3", len(kept))
	}
	orphan, _, err := in.Srv.Stores.Blobs.Put(ctx, strings.NewReader("age-encryption.org/v1 left by a crash"))
	if err != nil {
		t.Fatal(err)
	}
	exists := func(st *server.Stores, key string) bool {
		obj, err := st.Blobs.Open(ctx, key)
		if err == nil {
			obj.Close()
		}
		return err == nil
	}

	t.Run("SweepOrphans", func(t *testing.T) {
		n, err := server.SweepOrphans(ctx, in.Srv.Stores.Tips, in.Srv.Stores.Blobs)
		if err != nil || n != 1 {
			t.Fatalf("SweepOrphans = %d, %v; want 1, nil", n, err)
		}
		if exists(in.Srv.Stores, orphan) {
			t.Error("the orphan object is still there")
		}
		for _, k := range kept {
			if !exists(in.Srv.Stores, k) {
				t.Errorf("object %s of a tip was removed", k)
			}
		}
		if n, err := server.SweepOrphans(ctx, in.Srv.Stores.Tips, in.Srv.Stores.Blobs); err != nil || n != 0 {
			t.Errorf("a second sweep = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("at start-up", func(t *testing.T) {
		orphan, _, err := in.Srv.Stores.Blobs.Put(ctx, strings.NewReader("another orphan"))
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(data, "tmp", "put-123456")
		if err := os.WriteFile(tmp, []byte("half an object"), 0o600); err != nil {
			t.Fatal(err)
		}
		in.TS.Close()
		in.Srv.Close()
		again := pistatest.New(t, server.Config{Data: data})
		if exists(again.Srv.Stores, orphan) {
			t.Error("the orphan object survived a restart")
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("the temporary file survived a restart: %v", err)
		}
		for _, k := range kept {
			if !exists(again.Srv.Stores, k) {
				t.Errorf("object %s of a tip was removed at start-up", k)
			}
		}
		if !strings.Contains(again.Log.String(), "count=1") {
			t.Errorf("the start-up log does not count the removed object:\n%s", again.Log.String())
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDoomedObjectsGoAfterACrash: a process killed after the commit that
// deleted a conversation, or swapped a sorted item's object, and before
// it deleted the old objects, leaves a record of them with the rows'
// change; the next start deletes them, however old their hour (the
// start-up sweep of orphans looks only at recent hours), and keeps what
// rows still name.
func TestDoomedObjectsGoAfterACrash(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	in := pistatest.New(t, server.Config{Data: data})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)

	// Objects written a month ago (their key's hour says so), as the
	// object store writes them.
	month := time.Now().Add(-30 * 24 * time.Hour)
	oldObject := func(content string) string {
		t.Helper()
		key := fmt.Sprintf("%08x%024x", month.Unix()/3600, rand.Uint64())
		p := filepath.Join(data, "objects", key[:6], key[6:8], key)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return key
	}
	tipWith := func(id string, objects ...string) {
		t.Helper()
		tip := &pista.NewTip{
			Conversation: pista.Conversation{ID: id, DeskID: desk.ID},
			Source:       pista.Source{Lookup: []byte("lookup-" + id), Recipient: "age1pq1source"},
			Items:        []pista.Item{{Kind: pista.KindMessage, Object: objects[0], Size: 1}},
		}
		if len(objects) > 1 {
			tip.Items = append(tip.Items, pista.Item{Kind: pista.KindFile, Object: objects[1], Size: 1, Meta: objects[2], MetaSize: 1})
		}
		if err := in.Srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
			t.Fatal(err)
		}
	}

	// A deleted conversation whose objects were not deleted.
	deleted := []string{oldObject("message"), oldObject("file"), oldObject("name and type")}
	tipWith("deleted", deleted...)
	if _, err := in.Srv.Stores.Tips.DeleteConversation(ctx, j.ID, "deleted"); err != nil {
		t.Fatal(err)
	}
	// A sorted item whose old object was not deleted.
	before := oldObject("under the desk key")
	tipWith("sorted", before)
	errs, err := in.Srv.Stores.Tips.SetConversationKeys(ctx, j.ID, []pista.ConversationKey{{Conversation: "sorted", DeskID: desk.ID,
		Recipient: "age1pq1conversation", Sealed: []byte("sealed"), Signature: make([]byte, pista.KeySignatureSize)}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	items, _ := in.Srv.Stores.Tips.ItemsOfConversation(ctx, "sorted")
	after, size, err := in.Srv.Stores.Blobs.Put(ctx, strings.NewReader("under the conversation key"))
	if err != nil {
		t.Fatal(err)
	}
	if done, err := in.Srv.Stores.Tips.Sort(ctx, j.ID, []pista.Sorted{{Item: items[0].ID, OldObject: before, NewObject: after, NewSize: size}}); err != nil || len(done) != 1 {
		t.Fatalf("Sort = %v, %v", done, err)
	}
	// And a live conversation, whose old object stays.
	live := oldObject("a live tip")
	tipWith("live", live)

	in.TS.Close()
	in.Srv.Close()
	again := pistatest.New(t, server.Config{Data: data})
	exists := func(key string) bool {
		obj, err := again.Srv.Stores.Blobs.Open(ctx, key)
		if err == nil {
			obj.Close()
		}
		return err == nil
	}
	for _, k := range append(deleted, before) {
		if exists(k) {
			t.Errorf("object %s, whose row was deleted or swapped before a crash, survived the restart", k)
		}
	}
	for _, k := range []string{after, live} {
		if !exists(k) {
			t.Errorf("object %s, which a row names, was deleted", k)
		}
	}
	if left, err := again.Srv.Stores.Tips.DoomedObjects(ctx, 100); err != nil || len(left) != 0 {
		t.Errorf("doomed objects left after the sweep: %v, %v", left, err)
	}
}
