package newsroom_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
)

// TestDeskQuestionsEditor: coordinators add, reorder, remove and rewrite
// a desk's questions on its page; journalists see them and may not; a
// bad change is refused whole, shown again with its reason.
func TestDeskQuestionsEditor(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	st := tm.in.Srv.Stores
	coord, journ := tm.in.Journalist("coord"), tm.in.Journalist("journ")
	desk := tm.desk("desk-a", []*pistatest.Journalist{coord}, journ)
	questions := func() []pista.Question {
		t.Helper()
		q, err := st.Desks.Questions(ctx, desk.ID)
		if err != nil {
			t.Fatal(err)
		}
		return q.Questions
	}
	const path = "/newsroom/desks/desk-a/questions"

	cb := tm.session(coord.ID)
	ctok := csrfOf(cb)
	add := url.Values{"action": {"add"}, "id": {"where"}, "kind": {"text"}, "required": {"1"},
		"label_en": {"Where did it happen?"}, "label_ar": {"أين حدث ذلك؟"}}
	if r := post(cb, path, ctok, add); r.Status != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", r.Status, r.Text())
	}
	role := url.Values{"action": {"add"}, "id": {"role"}, "kind": {"choice"},
		"label_en": {"How do you know?"}, "choices": {"staff = I work there\nother = Other"}}
	if r := post(cb, path, ctok, role); r.Status != http.StatusSeeOther {
		t.Fatalf("add a choice question: %d\n%s", r.Status, r.Text())
	}
	qs := questions()
	if len(qs) != 2 || qs[0].ID != "where" || !qs[0].Required || qs[0].Label["ar"] != "أين حدث ذلك؟" ||
		len(qs[1].Choices) != 2 || qs[1].Choices[0].ID != "staff" || qs[1].Choices[0].Label["en"] != "I work there" {
		t.Fatalf("questions = %+v", qs)
	}
	page := cb.Get("/newsroom/desks/desk-a").Text()
	for _, want := range []string{pistatest.En("questions.edit.heading"), "Where did it happen?", "I work there", pistatest.En("questions.kind.choice")} {
		if !strings.Contains(page, want) {
			t.Errorf("the desk page lacks %q", want)
		}
	}

	// Refused whole: an add without the English label, a file with one bad
	// question; the page again, 400, with the reason and what was typed.
	bad := url.Values{"action": {"add"}, "id": {"when"}, "kind": {"date"}, "label_ar": {"متى؟"}}
	r := post(cb, path, ctok, bad)
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Text(), pistatest.En("questions.edit.refused")) || !strings.Contains(r.Text(), pistatest.En("questions.bad.label.missing", "lang", "en")) || !strings.Contains(r.Body, "متى؟") {
		t.Errorf("an add without the English label: %d\n%s", r.Status, r.Text())
	}
	typed := `{"questions": [{"id": "x", "kind": "text", "label": {"en": "X"}}, {"id": "y", "kind": "colour", "label": {"en": "Y"}}]}`
	r = post(cb, path, ctok, url.Values{"action": {"save"}, "questions": {typed}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Text(), pistatest.En("questions.bad.question", "n", 2)+" "+pistatest.En("questions.bad.kind", "kind", "colour")) || !strings.Contains(r.Body, `&#34;colour&#34;`) {
		t.Errorf("a bad file: %d\n%s", r.Status, r.Text())
	}
	if len(questions()) != 2 {
		t.Fatalf("a refused change changed the questions: %+v", questions())
	}

	// Reordered, removed, rewritten.
	if r := post(cb, path, ctok, url.Values{"action": {"up"}, "id": {"role"}}); r.Status != http.StatusSeeOther || questions()[0].ID != "role" {
		t.Errorf("up: %d, %+v", r.Status, questions())
	}
	if r := post(cb, path, ctok, url.Values{"action": {"remove"}, "id": {"role"}}); r.Status != http.StatusSeeOther || len(questions()) != 1 {
		t.Errorf("remove: %d, %+v", r.Status, questions())
	}
	good := `{"questions": [{"id": "seen", "kind": "yes_no", "label": {"en": "Did you see it?", "fr": "L'avez-vous vu ?"}}]}`
	if r := post(cb, path, ctok, url.Values{"action": {"save"}, "questions": {good}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.Status)
	}
	if qs := questions(); len(qs) != 1 || qs[0].ID != "seen" || qs[0].Label["fr"] != "L'avez-vous vu ?" {
		t.Errorf("after save: %+v", qs)
	}

	// A journalist of the desk sees them, cannot change them.
	jb := tm.session(journ.ID)
	jtok := csrfOf(jb)
	if page := jb.Get("/newsroom/desks/desk-a").Text(); !strings.Contains(page, "Did you see it?") || strings.Contains(page, pistatest.En("questions.edit.save")) {
		t.Error("a journalist's desk page: the questions missing, or the editor shown")
	}
	if r := post(jb, path, jtok, add); r.Status != http.StatusForbidden {
		t.Errorf("a journalist changed the questions: %d", r.Status)
	}
	if r := post(cb, path, "not-the-token", add); r.Status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", r.Status)
	}
	es, _ := st.Team.Audit(ctx, pista.AuditQuery{DeskIDs: []int64{desk.ID}})
	n := 0
	for _, e := range es {
		if e.Action == pista.AuditQuestions {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d audit entries of question changes, want 5", n)
	}
}
