package web

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/intake"
)

// # Questions on the landing form
//
// Each desk's questions are in the landing form, in a fieldset of their
// own, whichever desk is chosen: without JavaScript the page cannot show
// only the chosen desk's. Their fields are named q.DESK.QUESTION (a file
// question's file input too), and the server reads those of the chosen
// desk and drops the others. Required questions are not marked required
// for the browser (another desk's would block the form): the server
// checks them and shows the form again, filled as it was sent, with what
// is missing said beside each question. The page's script, which knows
// the chosen desk, checks them before it encrypts.
//
// The answers are encrypted on arrival into one item of kind answers,
// like the message; a file question's file is a file item whose name and
// type object names the question. The page's script sends the answers as
// one sealed part, "answers", and a plain q.… field beside a sealed form
// is refused: it would be plaintext on the wire.

// questionPrefix starts the name of a question's field.
const questionPrefix = "q."

// questionField names a desk's question's field.
func questionField(slug, id string) string { return questionPrefix + slug + "." + id }

// deskQuestions is one desk's questions, as the landing form shows them.
type deskQuestions struct {
	Slug      string
	Title     string
	Questions []questionView
}

type questionView struct {
	Field  string // the form field's name
	ID     string // the question's
	HTMLID string
	Kind   pista.QuestionKind
	Label  string
	// Default is the label in the default language, which the page's
	// script puts in the answers as the server does (pista.Answer).
	Default  string
	Required bool
	Choices  []choiceView
	Value    string // as the source sent it, when the form is shown again
	Error    string // message key of what is wrong, if anything
	Max      int    // characters
}

type choiceView struct {
	Value, Label string
	Default      string // the label in the default language
	Checked      bool
}

// questionnaires loads every desk's questionnaire, by desk ID.
func (h *Handler) questionnaires(ctx context.Context, desks []pista.Desk) (map[int64]pista.Questionnaire, error) {
	m := make(map[int64]pista.Questionnaire, len(desks))
	for _, d := range desks {
		q, err := h.Desks.Questions(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		m[d.ID] = q
	}
	return m, nil
}

// questionViews turns the desks' questionnaires into what the landing
// page shows in lang, filled with a refused form's values and errors (of
// the chosen desk) if any.
func questionViews(desks []pista.Desk, qs map[int64]pista.Questionnaire, lang string, chosen string, values map[string][]string, errs []*pista.AnswerError) []deskQuestions {
	var out []deskQuestions
	for _, d := range desks {
		q := qs[d.ID]
		if len(q.Questions) == 0 {
			continue
		}
		dq := deskQuestions{Slug: d.Slug, Title: d.Title}
		for _, qu := range q.Questions {
			v := questionView{
				Field:    questionField(d.Slug, qu.ID),
				ID:       qu.ID,
				Default:  pista.In(qu.Label, i18n.Default, i18n.Default),
				HTMLID:   "q-" + d.Slug + "-" + qu.ID,
				Kind:     qu.Kind,
				Label:    pista.In(qu.Label, lang, i18n.Default),
				Required: qu.Required,
				Max:      pista.MaxAnswerChars,
			}
			if qu.Kind == pista.QuestionLongText {
				v.Max = pista.MaxLongAnswerChars
			}
			var sent []string
			if d.Slug == chosen {
				sent = values[qu.ID]
				for _, e := range errs {
					if e.ID == qu.ID {
						v.Error = answerErrorKey(e.Err)
					}
				}
			}
			if len(sent) > 0 && qu.Kind != pista.QuestionFile {
				v.Value = sent[0]
			}
			switch qu.Kind {
			case pista.QuestionYesNo:
				v.Choices = []choiceView{{Value: "yes", Label: "questions.yes", Default: "yes"}, {Value: "no", Label: "questions.no", Default: "no"}}
			case pista.QuestionChoice, pista.QuestionChoices:
				for _, c := range qu.Choices {
					v.Choices = append(v.Choices, choiceView{Value: c.ID, Label: pista.In(c.Label, lang, i18n.Default), Default: pista.In(c.Label, i18n.Default, i18n.Default)})
				}
			}
			for i := range v.Choices {
				for _, s := range sent {
					if s == v.Choices[i].Value {
						v.Choices[i].Checked = true
					}
				}
			}
			dq.Questions = append(dq.Questions, v)
		}
		out = append(out, dq)
	}
	return out
}

// answerErrorKey is the message that tells a source what is wrong.
func answerErrorKey(err error) string {
	switch {
	case errors.Is(err, pista.ErrAnswerRequired):
		return "questions.error.required"
	case errors.Is(err, pista.ErrAnswerTooLong):
		return "questions.error.toolong"
	case errors.Is(err, pista.ErrAnswerDate):
		return "questions.error.date"
	}
	return "questions.error.choice"
}

// splitQuestionField reads a q.DESK.QUESTION field name.
func splitQuestionField(name string) (slug, id string, ok bool) {
	rest, ok := strings.CutPrefix(name, questionPrefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, ".")
}

// maxAnswerBytes bounds one answer field as it is read: a long answer's
// characters, at UTF-8's four bytes each.
const maxAnswerBytes = 4 * pista.MaxLongAnswerChars

// showLandingAgain shows the landing form again after its answers were
// refused: 400, what the source typed kept, what is wrong said beside
// each question. Files must be attached again (they were encrypted as
// they arrived, and are deleted).
func (h *Handler) showLandingAgain(w http.ResponseWriter, r *http.Request, s *submission) {
	p, d, err := h.landing(r)
	if err != nil {
		h.Log.Error("listing desks", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d.Chosen = s.desk.Slug
	d.Message, d.Contact = s.message, s.contact
	d.QuestionsRefused = true
	d.Questions = questionViews(d.Desks, d.questionnaires, p.L.Tag, s.desk.Slug, s.answerValues, s.answerErrs)
	p.Data = d
	h.Render.Render(w, http.StatusBadRequest, "source/landing", p)
}

// readAnswer reads one q.DESK.QUESTION field of a plain form: an answer
// kept, in memory, until the whole form is read; a file question's file
// encrypted as it arrives, as the form's files are. Another desk's
// fields, and fields of questions the desk no longer asks, are dropped.
func (h *Handler) readAnswer(ctx context.Context, s *submission, part *multipart.Part, spec formSpec, csrfOK, deskOK bool, files *int, startBatch func() *formError) *formError {
	slug, id, ok := splitQuestionField(part.FormName())
	if !ok || !spec.questions {
		return refuse(http.StatusBadRequest, "error.form", nil)
	}
	if !deskOK {
		// The desk comes first in the form: its questions after it.
		return refuse(http.StatusBadRequest, "error.desk", nil)
	}
	qu, known := s.questionnaire.Question(id)
	if slug != s.desk.Slug || !known {
		if part.FileName() != "" {
			// Another desk's file: never stored, read to its end (the
			// body's own limit bounds it).
			_, err := io.Copy(io.Discard, part)
			return readErrorOrNil(err)
		}
		if _, ferr := readField(part, maxAnswerBytes, "error.toolarge"); ferr != nil {
			return ferr
		}
		return nil
	}
	if qu.Kind != pista.QuestionFile {
		if part.FileName() != "" {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		v, ferr := readField(part, maxAnswerBytes, "error.toolarge")
		if ferr != nil {
			return ferr
		}
		if len(s.answerValues[id]) >= pista.MaxChoices {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		s.answerValues[id] = append(s.answerValues[id], v)
		return nil
	}
	name := part.FileName()
	if name == "" {
		if n, _ := io.Copy(io.Discard, io.LimitReader(part, 1)); n != 0 {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		return nil
	}
	if !csrfOK {
		return refuse(http.StatusForbidden, "error.csrf", nil)
	}
	if len(s.answerValues[id]) > 0 {
		return refuse(http.StatusBadRequest, "error.form", nil)
	}
	if *files++; *files > httpx.MaxFiles {
		return tooManyFiles()
	}
	if ferr := startBatch(); ferr != nil {
		return ferr
	}
	meta := pista.FileMeta{Name: truncate(name, httpx.MaxFilenameBytes), Type: truncate(part.Header.Get("Content-Type"), httpx.MaxSmallField), Question: id}
	add := func() error { return s.batch.AddScrubbedFile(ctx, part, meta, h.SpoolDir, h.scrubBudget()) }
	if s.keepMetadata {
		meta.Scrub = intake.KeptReport(pista.ScrubByServer)
		add = func() error { return s.batch.AddFile(ctx, part, meta) }
	}
	if err := add(); err != nil {
		return readError(err)
	}
	s.answerValues[id] = []string{meta.Name}
	return nil
}

func readErrorOrNil(err error) *formError {
	if err != nil {
		return readError(err)
	}
	return nil
}
