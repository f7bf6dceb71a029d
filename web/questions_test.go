package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// TestLandingAnswers posts the landing form as a browser without
// JavaScript would, with answers to the desks' questions: the chosen
// desk's are stored, encrypted, as one answers item; another desk's are
// dropped; a plain answer beside a sealed form and an answer before the
// desk are refused, and a refused form stores nothing.
func TestLandingAnswers(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	maghreb, id := in.DeskWithIdentity("maghreb", j)
	americas := in.Desk("americas", j)
	for _, d := range []pista.Desk{maghreb, americas} {
		q, err := pista.ParseQuestionnaire([]byte(`{"questions": [
		  {"id": "where", "kind": "text", "required": true, "label": {"en": "Where?", "fr": "Où ?"}},
		  {"id": "pick", "kind": "choices", "label": {"en": "Pick"}, "choices": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}]}]}`), i18n.Tags(), i18n.Default)
		if err != nil {
			t.Fatal(err)
		}
		if err := in.Srv.Stores.Desks.SetQuestions(context.Background(), d.ID, q); err != nil {
			t.Fatal(err)
		}
	}
	rec := httptest.NewRecorder()
	in.Srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?lang=fr", nil))
	landing := (&pistatest.Response{Status: rec.Code, Body: rec.Body.String()})
	token := landing.CSRF(t)
	for _, want := range []string{`name="q.maghreb.where"`, `name="q.americas.where"`, "Où ?", `data-questions="maghreb"`} {
		if !strings.Contains(landing.Body, want) {
			t.Errorf("the landing page lacks %s", want)
		}
	}

	const boundary = "B0UNDARY"
	form := func(pairs ...string) []byte {
		var b strings.Builder
		for i := 0; i+1 < len(pairs); i += 2 {
			b.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + pairs[i] + "\"\r\n\r\n" + pairs[i+1] + "\r\n")
		}
		b.WriteString("--" + boundary + "--\r\n")
		return []byte(b.String())
	}
	post := func(body []byte) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/submit?lang=fr", bytes.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		rec := httptest.NewRecorder()
		in.Srv.Handler.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	before := in.Snapshot(j)
	for _, c := range []struct {
		name   string
		body   []byte
		status int
		want   string
	}{
		{"required answer missing", form("csrf", token, "desk", "maghreb", "message", "kept text", "q.americas.where", "another desk's"), 400, "kept text"},
		{"not a choice", form("csrf", token, "desk", "maghreb", "q.maghreb.where", "x", "q.maghreb.pick", "z"), 400, `id="q-maghreb-pick-error"`},
		{"answer before the desk", form("csrf", token, "q.maghreb.where", "x", "desk", "maghreb"), 400, ""},
		{"plain answer beside a sealed form", form("csrf", token, "desk", "maghreb", "encrypted", "1", "q.maghreb.where", "x"), 400, ""},
		{"sealed form without the required answers", form("csrf", token, "desk", "maghreb", "encrypted", "1"), 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, page := post(c.body)
			if status != c.status || !strings.Contains(page, c.want) {
				t.Errorf("status %d, want %d with %q:\n%.600s", status, c.status, c.want, page)
			}
		})
	}
	if after := in.Snapshot(j); after.LastItem != before.LastItem || len(after.Objects) != len(before.Objects) {
		t.Fatalf("refused forms stored something")
	}

	status, page := post(form("csrf", token, "desk", "maghreb", "q.americas.where", "DROPPED", "q.maghreb.where", "Tanger, quai 4",
		"q.maghreb.pick", "b", "q.maghreb.pick", "a"))
	if status != http.StatusOK {
		t.Fatalf("answers only: %d\n%.600s", status, page)
	}
	cs, _ := in.Srv.Stores.Tips.ConversationsFor(context.Background(), j.ID, pista.Page{})
	items, _ := in.Srv.Stores.Tips.ItemsOfConversation(context.Background(), cs[0].ID)
	if len(items) != 1 || items[0].Kind != pista.KindAnswers {
		t.Fatalf("items = %+v, want one answers item", items)
	}
	obj, err := in.Srv.Stores.Blobs.Open(context.Background(), items[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	var a pista.Answers
	if err := json.Unmarshal(plain, &a); err != nil || a.Lang != "fr" || len(a.Answers) != 2 ||
		a.Answers[0].Value != "Tanger, quai 4" || a.Answers[0].Asked != "Où ?" || a.Answers[1].Value != "A, B" {
		t.Errorf("answers = %s (%v)", plain, err)
	}
	if bytes.Contains(plain, []byte("DROPPED")) {
		t.Error("another desk's answer was stored")
	}
}
