package pista

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// # Questionnaires
//
// A desk may ask its sources questions besides the message: a
// Questionnaire, which is the desk's configuration, not a tip. It is what
// the newsroom publishes on its landing page, so stores keep it as it is
// (JSON, in plaintext). Each question has a label in the instance's
// default language and, optionally, in its other languages (a source sees
// the label in the page's language, else in the default one).
//
// The answers are a tip's content: an item of kind KindAnswers, whose
// plaintext is the JSON of Answers, encrypted to the desk's key like a
// message (on arrival, or in the source's browser). A "file" question's
// file is an ordinary file item whose FileMeta.Question names the
// question.

// QuestionKind is what a question asks for.
type QuestionKind string

const (
	QuestionText     QuestionKind = "text"      // one line
	QuestionLongText QuestionKind = "long_text" // a paragraph or more
	QuestionChoice   QuestionKind = "choice"    // one of the choices
	QuestionChoices  QuestionKind = "choices"   // any of the choices
	QuestionYesNo    QuestionKind = "yes_no"    // yes or no
	QuestionDate     QuestionKind = "date"      // a day, YYYY-MM-DD
	QuestionFile     QuestionKind = "file"      // a file, as the form's files are
)

// Valid reports whether k is one of the known kinds.
func (k QuestionKind) Valid() bool {
	switch k {
	case QuestionText, QuestionLongText, QuestionChoice, QuestionChoices, QuestionYesNo, QuestionDate, QuestionFile:
		return true
	}
	return false
}

// Bounds of a questionnaire: enough for a thorough intake form, small
// enough that the landing page stays light and a source is not put off.
const (
	MaxQuestions     = 20
	MaxChoices       = 20
	MaxLabelChars    = 300 // a question's label, in one language
	MaxChoiceChars   = 100 // a choice's label, in one language
	MaxQuestionIDLen = 32
	// MaxQuestionnaireBytes bounds the JSON file (and what a store keeps):
	// 20 questions × 4 languages × (300 + 20 × 100) characters fit.
	MaxQuestionnaireBytes = 256 << 10
	// Answers' bounds, in characters.
	MaxAnswerChars     = 1_000  // a text, date or choice answer
	MaxLongAnswerChars = 20_000 // a long text answer
)

// Question is one question of a desk's questionnaire.
type Question struct {
	// ID names the question in forms and answers: lowercase letters,
	// digits, "-" and "_", unique in the questionnaire.
	ID       string       `json:"id"`
	Kind     QuestionKind `json:"kind"`
	Required bool         `json:"required,omitempty"`
	// Label is the question, by language tag ("en", "ar"…).
	Label   map[string]string `json:"label"`
	Choices []Choice          `json:"choices,omitempty"`
}

// Choice is one choice of a choice question.
type Choice struct {
	ID    string            `json:"id"`
	Label map[string]string `json:"label"`
}

// Questionnaire is a desk's questions, in the order they are asked.
type Questionnaire struct {
	Questions []Question `json:"questions"`
}

// QuestionnaireError is a questionnaire refused: which question and
// choice (1-based; 0 for the whole file, or the question itself) and why,
// in English (Error) and as a message key with its values, for pages in
// other languages ("questions.bad."+Code, Args as i18n.Locale.T takes
// them).
type QuestionnaireError struct {
	Question int
	Choice   int
	Code     string
	Args     []any
	Reason   string
}

func (e *QuestionnaireError) Error() string {
	s := "questionnaire: "
	if e.Question > 0 {
		s += fmt.Sprintf("question %d: ", e.Question)
	}
	if e.Choice > 0 {
		s += fmt.Sprintf("choice %d: ", e.Choice)
	}
	return s + e.Reason
}

// refusal makes a QuestionnaireError: code and args name the message,
// format and its values say it in English.
func refusal(question, choice int, code string, args []any, format string, values ...any) *QuestionnaireError {
	return &QuestionnaireError{Question: question, Choice: choice, Code: code, Args: args, Reason: fmt.Sprintf(format, values...)}
}

var questionID = regexp.MustCompile(`^[a-z0-9_-]+$`)

// ParseQuestionnaire reads a questionnaire's JSON, strictly (unknown
// fields, trailing data and duplicate questions are refused), and checks
// it with Validate. Either the whole file is good or an error says what
// is wrong with it.
func ParseQuestionnaire(b []byte, langs []string, def string) (Questionnaire, error) {
	var q Questionnaire
	if len(b) > MaxQuestionnaireBytes {
		return q, refusal(0, 0, "toolarge", []any{"max", MaxQuestionnaireBytes}, "the file is larger than %d bytes", MaxQuestionnaireBytes)
	}
	if !utf8.Valid(b) {
		return q, refusal(0, 0, "notutf8", nil, "the file is not UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return Questionnaire{}, refusal(0, 0, "json", []any{"detail", err.Error()}, "not valid JSON of a questionnaire: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Questionnaire{}, refusal(0, 0, "trailing", nil, "there is more after the questionnaire's JSON object")
	}
	if err := q.Validate(langs, def); err != nil {
		return Questionnaire{}, err
	}
	return q, nil
}

// Validate checks a questionnaire against its bounds: at most
// MaxQuestions questions of known kinds with unique IDs, each labelled in
// def (and only in langs), choices for choice questions only, 2 to
// MaxChoices of them, labelled likewise.
func (q Questionnaire) Validate(langs []string, def string) error {
	if len(q.Questions) > MaxQuestions {
		return refusal(0, 0, "toomany", []any{"n", len(q.Questions), "max", MaxQuestions}, "%d questions; at most %d", len(q.Questions), MaxQuestions)
	}
	seen := map[string]bool{}
	for i, qu := range q.Questions {
		n := i + 1
		if err := checkID(n, 0, qu.ID); err != nil {
			return err
		}
		if seen[qu.ID] {
			return refusal(n, 0, "id.twice", []any{"id", qu.ID}, "id %q is used twice", qu.ID)
		}
		seen[qu.ID] = true
		if !qu.Kind.Valid() {
			k := truncateRunes(string(qu.Kind), 40)
			return refusal(n, 0, "kind", []any{"kind", k}, "kind %q is not one of text, long_text, choice, choices, yes_no, date, file", k)
		}
		if err := checkLabel(n, 0, qu.Label, langs, def, MaxLabelChars); err != nil {
			return err
		}
		hasChoices := qu.Kind == QuestionChoice || qu.Kind == QuestionChoices
		switch {
		case !hasChoices && len(qu.Choices) > 0:
			return refusal(n, 0, "nochoices", []any{"kind", string(qu.Kind)}, "a %s question has no choices", qu.Kind)
		case hasChoices && (len(qu.Choices) < 2 || len(qu.Choices) > MaxChoices):
			return refusal(n, 0, "choices", []any{"kind", string(qu.Kind), "n", len(qu.Choices), "max", MaxChoices},
				"a %s question needs 2 to %d choices, not %d", qu.Kind, MaxChoices, len(qu.Choices))
		}
		chosen := map[string]bool{}
		for j, c := range qu.Choices {
			if err := checkID(n, j+1, c.ID); err != nil {
				return err
			}
			if chosen[c.ID] {
				return refusal(n, j+1, "id.twice", []any{"id", c.ID}, "id %q is used twice", c.ID)
			}
			chosen[c.ID] = true
			if err := checkLabel(n, j+1, c.Label, langs, def, MaxChoiceChars); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkID(question, choice int, id string) error {
	switch {
	case id == "":
		return refusal(question, choice, "id.missing", nil, "id is missing")
	case len(id) > MaxQuestionIDLen:
		return refusal(question, choice, "id.toolong", []any{"max", MaxQuestionIDLen}, "id is longer than %d characters", MaxQuestionIDLen)
	case !questionID.MatchString(id):
		id = truncateRunes(id, 40)
		return refusal(question, choice, "id.chars", []any{"id", id}, "id %q may have only lowercase letters, digits, - and _", id)
	}
	return nil
}

func checkLabel(question, choice int, label map[string]string, langs []string, def string, max int) error {
	if strings.TrimSpace(label[def]) == "" {
		return refusal(question, choice, "label.missing", []any{"lang", def}, "label is missing in %q, the instance's default language", def)
	}
	keys := make([]string, 0, len(label))
	for k := range label {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, lang := range keys {
		text := label[lang]
		if !slices.Contains(langs, lang) {
			l := truncateRunes(lang, 20)
			return refusal(question, choice, "label.lang", []any{"lang", l, "langs", strings.Join(langs, ", ")},
				"label has language %q, which is not one of %s", l, strings.Join(langs, ", "))
		}
		if n := utf8.RuneCountInString(text); n > max {
			return refusal(question, choice, "label.toolong", []any{"lang", lang, "n", n, "max", max}, "label in %q has %d characters; at most %d", lang, n, max)
		}
		if strings.ContainsFunc(text, func(r rune) bool { return r < ' ' }) {
			return refusal(question, choice, "label.control", []any{"lang", lang}, "label in %q has a control character or line break", lang)
		}
	}
	return nil
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// In returns a label in lang, else in def.
func In(label map[string]string, lang, def string) string {
	if s := strings.TrimSpace(label[lang]); s != "" {
		return label[lang]
	}
	return label[def]
}

// Question returns the question with that ID.
func (q Questionnaire) Question(id string) (Question, bool) {
	for _, qu := range q.Questions {
		if qu.ID == id {
			return qu, true
		}
	}
	return Question{}, false
}

// Answers is the plaintext of a KindAnswers item: a source's answers to
// their desk's questionnaire, in its order. Only answered questions are
// listed.
type Answers struct {
	// Lang is the language the source answered in.
	Lang    string   `json:"lang"`
	Answers []Answer `json:"answers"`
}

// Answer is one question answered. Question is its label in the
// instance's default language, which the newsroom reads; Asked is the
// label the source read, when that was another language. Value is the
// answer: the text, the day, "yes" or "no", the chosen choice's label
// (the default language's), the chosen labels joined by ", " (Values
// lists them), or a file's name.
type Answer struct {
	ID       string       `json:"id"`
	Kind     QuestionKind `json:"kind"`
	Question string       `json:"question"`
	Asked    string       `json:"asked,omitempty"`
	Value    string       `json:"value"`
	Values   []string     `json:"values,omitempty"`
}

// Answer errors, by what the source must be told (the web pages have a
// message for each).
var (
	ErrAnswerRequired = errors.New("this question needs an answer")
	ErrAnswerTooLong  = errors.New("this answer is too long")
	ErrAnswerChoice   = errors.New("this answer is not one of the choices")
	ErrAnswerDate     = errors.New("this answer is not a date (YYYY-MM-DD)")
)

// AnswerError says which question an answer failed, and why.
type AnswerError struct {
	ID  string
	Err error
}

func (e *AnswerError) Error() string { return fmt.Sprintf("question %q: %v", e.ID, e.Err) }
func (e *AnswerError) Unwrap() error { return e.Err }

// Answer checks a source's answers: values by question ID (a choice's ID
// for choice questions, several for "choices", "yes"/"no", YYYY-MM-DD,
// text; for a file question, the file's name), in lang, and turns them
// into Answers. Answers to unknown questions are ignored. It returns
// every failed question's error, in the questionnaire's order.
func (q Questionnaire) Answer(values map[string][]string, lang, def string) (Answers, []*AnswerError) {
	out := Answers{Lang: lang, Answers: []Answer{}}
	var errs []*AnswerError
	for _, qu := range q.Questions {
		vs := values[qu.ID]
		var kept []string
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				kept = append(kept, v)
			}
		}
		if len(kept) == 0 {
			if qu.Required {
				errs = append(errs, &AnswerError{ID: qu.ID, Err: ErrAnswerRequired})
			}
			continue
		}
		a := Answer{ID: qu.ID, Kind: qu.Kind, Question: In(qu.Label, def, def)}
		if asked := In(qu.Label, lang, def); asked != a.Question {
			a.Asked = asked
		}
		v := kept[0]
		max := MaxAnswerChars
		if qu.Kind == QuestionLongText {
			max = MaxLongAnswerChars
		}
		var err error
		switch qu.Kind {
		case QuestionText, QuestionLongText, QuestionFile:
			if len(kept) > 1 {
				v = strings.Join(kept, "\n")
			}
			if utf8.RuneCountInString(v) > max || !utf8.ValidString(v) {
				err = ErrAnswerTooLong
			}
			if qu.Kind == QuestionText {
				v = strings.ReplaceAll(v, "\n", " ")
			}
			a.Value = v
		case QuestionYesNo:
			if len(kept) > 1 || (v != "yes" && v != "no") {
				err = ErrAnswerChoice
			}
			a.Value = v
		case QuestionDate:
			if _, perr := time.Parse(time.DateOnly, v); perr != nil || len(kept) > 1 {
				err = ErrAnswerDate
			}
			a.Value = v
		case QuestionChoice, QuestionChoices:
			if qu.Kind == QuestionChoice && len(kept) > 1 {
				err = ErrAnswerChoice
				break
			}
			if len(kept) > len(qu.Choices) {
				err = ErrAnswerChoice
				break
			}
			for _, c := range qu.Choices {
				if slices.Contains(kept, c.ID) {
					a.Values = append(a.Values, In(c.Label, def, def))
				}
			}
			if len(a.Values) != len(kept) {
				err = ErrAnswerChoice
				break
			}
			a.Value = strings.Join(a.Values, ", ")
			if qu.Kind == QuestionChoice {
				a.Values = nil
			}
		}
		if err != nil {
			errs = append(errs, &AnswerError{ID: qu.ID, Err: err})
			continue
		}
		out.Answers = append(out.Answers, a)
	}
	return out, errs
}

// MaxAnswersBytes bounds the plaintext of a KindAnswers item, as a
// browser or an app may send it: every question's longest answer, with
// room for labels and JSON.
const MaxAnswersBytes = MaxQuestions*(4*MaxLongAnswerChars+4*2*MaxLabelChars+4*MaxChoices*MaxChoiceChars) + 4096

// EncodeQuestionnaire is the JSON a store keeps of q; an error if it is
// larger than MaxQuestionnaireBytes.
func EncodeQuestionnaire(q Questionnaire) (string, error) {
	if q.Questions == nil {
		q.Questions = []Question{}
	}
	b, err := json.Marshal(q)
	if err != nil {
		return "", err
	}
	if len(b) > MaxQuestionnaireBytes {
		return "", refusal(0, 0, "toolarge", []any{"max", MaxQuestionnaireBytes}, "larger than %d bytes", MaxQuestionnaireBytes)
	}
	return string(b), nil
}

// DecodeQuestionnaire reads what EncodeQuestionnaire wrote ("" is no
// questions).
func DecodeQuestionnaire(body string) (Questionnaire, error) {
	q := Questionnaire{Questions: []Question{}}
	if body == "" {
		return q, nil
	}
	if err := json.Unmarshal([]byte(body), &q); err != nil {
		return Questionnaire{}, fmt.Errorf("a stored questionnaire: %w", err)
	}
	return q, nil
}

// HasRequired reports whether a question must be answered.
func (q Questionnaire) HasRequired() bool {
	for _, qu := range q.Questions {
		if qu.Required {
			return true
		}
	}
	return false
}

// EncodeAnswers is the plaintext of an answers item, encoded as the
// source page's script encodes it (JSON.stringify: no HTML escaping).
func EncodeAnswers(a Answers) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
