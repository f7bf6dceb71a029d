package pista_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
)

var langs = []string{"en", "es", "fr", "ar"}

const goodQuestionnaire = `{"questions": [
  {"id": "where", "kind": "text", "required": true,
   "label": {"en": "Where did it happen?", "ar": "أين حدث ذلك؟"}},
  {"id": "role", "kind": "choice", "label": {"en": "Your role"},
   "choices": [{"id": "staff", "label": {"en": "Staff", "ar": "موظف"}}, {"id": "other", "label": {"en": "Other"}}]},
  {"id": "topics", "kind": "choices", "label": {"en": "Topics"},
   "choices": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}, {"id": "c", "label": {"en": "C"}}]},
  {"id": "seen", "kind": "yes_no", "label": {"en": "Did you see it?"}},
  {"id": "when", "kind": "date", "label": {"en": "When?"}},
  {"id": "story", "kind": "long_text", "label": {"en": "Tell us more"}},
  {"id": "doc", "kind": "file", "label": {"en": "A document"}}
]}`

func TestParseQuestionnaire(t *testing.T) {
	q, err := pista.ParseQuestionnaire([]byte(goodQuestionnaire), langs, "en")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Questions) != 7 || q.Questions[0].ID != "where" || !q.Questions[0].Required || len(q.Questions[1].Choices) != 2 {
		t.Errorf("parsed %+v", q)
	}
	if _, err := pista.ParseQuestionnaire([]byte(`{"questions": []}`), langs, "en"); err != nil {
		t.Errorf("no questions: %v", err)
	}
}

func TestParseQuestionnaireRefuses(t *testing.T) {
	var qs []string
	for i := range pista.MaxQuestions + 1 {
		qs = append(qs, fmt.Sprintf(`{"id": "q%d", "kind": "text", "label": {"en": "Q"}}`, i))
	}
	many := `{"questions": [` + strings.Join(qs, ",") + `]}`
	manyChoices := `{"questions": [{"id": "c", "kind": "choice", "label": {"en": "Q"}, "choices": [` +
		strings.TrimSuffix(strings.Repeat(`{"id": "x", "label": {"en": "X"}},`, 21), ",") + `]}]}`
	cases := []struct{ name, json, want string }{
		{"not JSON", `{"questions": [`, "not valid JSON"},
		{"unknown field", `{"questions": [], "extra": 1}`, "unknown field"},
		{"trailing data", `{"questions": []} {}`, "more after"},
		{"too many questions", many, "at most 20"},
		{"unknown kind", `{"questions": [{"id": "a", "kind": "colour", "label": {"en": "Q"}}]}`, `kind "colour"`},
		{"missing id", `{"questions": [{"kind": "text", "label": {"en": "Q"}}]}`, "id is missing"},
		{"bad id", `{"questions": [{"id": "A B", "kind": "text", "label": {"en": "Q"}}]}`, "lowercase letters"},
		{"duplicate id", `{"questions": [{"id": "a", "kind": "text", "label": {"en": "Q"}}, {"id": "a", "kind": "date", "label": {"en": "Q"}}]}`, "used twice"},
		{"no default label", `{"questions": [{"id": "a", "kind": "text", "label": {"ar": "س"}}]}`, `missing in "en"`},
		{"unknown language", `{"questions": [{"id": "a", "kind": "text", "label": {"en": "Q", "de": "F"}}]}`, `language "de"`},
		{"label too long", `{"questions": [{"id": "a", "kind": "text", "label": {"en": "` + strings.Repeat("é", 301) + `"}}]}`, "at most 300"},
		{"line break in label", `{"questions": [{"id": "a", "kind": "text", "label": {"en": "a\nb"}}]}`, "line break"},
		{"choices on text", `{"questions": [{"id": "a", "kind": "text", "label": {"en": "Q"}, "choices": [{"id": "x", "label": {"en": "X"}}]}]}`, "has no choices"},
		{"one choice", `{"questions": [{"id": "a", "kind": "choice", "label": {"en": "Q"}, "choices": [{"id": "x", "label": {"en": "X"}}]}]}`, "2 to 20 choices"},
		{"too many choices", manyChoices, "2 to 20 choices"},
		{"choice without label", `{"questions": [{"id": "a", "kind": "choices", "label": {"en": "Q"}, "choices": [{"id": "x", "label": {}}, {"id": "y", "label": {"en": "Y"}}]}]}`, "choice 1: label"},
		{"choice label too long", `{"questions": [{"id": "a", "kind": "choices", "label": {"en": "Q"}, "choices": [{"id": "x", "label": {"en": "` + strings.Repeat("x", 101) + `"}}, {"id": "y", "label": {"en": "Y"}}]}]}`, "at most 100"},
		{"too large", `{"questions": [], "x": "` + strings.Repeat("x", pista.MaxQuestionnaireBytes) + `"}`, "larger than"},
		{"not UTF-8", "{\"questions\": [{\"id\": \"a\", \"kind\": \"text\", \"label\": {\"en\": \"\xff\"}}]}", "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := pista.ParseQuestionnaire([]byte(c.json), langs, "en")
			var qe *pista.QuestionnaireError
			if !errors.As(err, &qe) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v; want one saying %q", err, c.want)
			}
			if len(q.Questions) != 0 {
				t.Errorf("a refused file still gave questions: %+v", q)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	q, err := pista.ParseQuestionnaire([]byte(goodQuestionnaire), langs, "en")
	if err != nil {
		t.Fatal(err)
	}
	a, errs := q.Answer(map[string][]string{
		"where": {"في الميناء"}, "role": {"staff"}, "topics": {"a", "c"}, "seen": {"yes"},
		"when": {"2026-03-01"}, "story": {"line 1\nline 2"}, "doc": {"scan.pdf"}, "unknown": {"ignored"},
	}, "ar", "en")
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := map[string]pista.Answer{}
	for _, x := range a.Answers {
		got[x.ID] = x
	}
	if len(a.Answers) != 7 || a.Lang != "ar" {
		t.Fatalf("answers = %+v", a)
	}
	if w := got["where"]; w.Question != "Where did it happen?" || w.Asked != "أين حدث ذلك؟" || w.Value != "في الميناء" {
		t.Errorf("where = %+v", w)
	}
	if r := got["role"]; r.Value != "Staff" || r.Asked != "" {
		t.Errorf("role = %+v (no Arabic label: asked in the default language)", r)
	}
	if tp := got["topics"]; tp.Value != "A, C" || len(tp.Values) != 2 {
		t.Errorf("topics = %+v", tp)
	}

	cases := []struct {
		name   string
		values map[string][]string
		id     string
		want   error
	}{
		{"required missing", map[string][]string{}, "where", pista.ErrAnswerRequired},
		{"required blank", map[string][]string{"where": {"  "}}, "where", pista.ErrAnswerRequired},
		{"unknown choice", map[string][]string{"where": {"x"}, "role": {"boss"}}, "role", pista.ErrAnswerChoice},
		{"two choices for one", map[string][]string{"where": {"x"}, "role": {"staff", "other"}}, "role", pista.ErrAnswerChoice},
		{"bad yes/no", map[string][]string{"where": {"x"}, "seen": {"maybe"}}, "seen", pista.ErrAnswerChoice},
		{"bad date", map[string][]string{"where": {"x"}, "when": {"yesterday"}}, "when", pista.ErrAnswerDate},
		{"too long", map[string][]string{"where": {strings.Repeat("x", pista.MaxAnswerChars+1)}}, "where", pista.ErrAnswerTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := q.Answer(c.values, "en", "en")
			if len(errs) != 1 || errs[0].ID != c.id || !errors.Is(errs[0], c.want) {
				t.Errorf("errors = %v; want %s: %v", errs, c.id, c.want)
			}
		})
	}
}

func FuzzParseQuestionnaire(f *testing.F) {
	f.Add([]byte(goodQuestionnaire))
	f.Add([]byte(`{"questions": []}`))
	f.Add([]byte(`{"questions": [{"id": "a", "kind": "choice", "label": {"en": "Q"}, "choices": [{"id": "x", "label": {"en": "X"}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := pista.ParseQuestionnaire(b, langs, "en")
		if err != nil {
			if len(q.Questions) != 0 {
				t.Fatalf("refused, yet questions: %+v", q)
			}
			return
		}
		// What parses is valid, fits a store, and reads back the same.
		if err := q.Validate(langs, "en"); err != nil {
			t.Fatalf("parsed but not valid: %v", err)
		}
		body, err := pista.EncodeQuestionnaire(q)
		if err != nil {
			t.Fatalf("parsed but cannot be stored: %v", err)
		}
		back, err := pista.DecodeQuestionnaire(body)
		if err != nil || len(back.Questions) != len(q.Questions) {
			t.Fatalf("round trip: %v, %d questions; want %d", err, len(back.Questions), len(q.Questions))
		}
		if len(q.Questions) > pista.MaxQuestions {
			t.Fatalf("%d questions", len(q.Questions))
		}
	})
}
