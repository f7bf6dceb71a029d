package newsroom

// A desk's questions (pista's questions.go), edited by its coordinators
// on the desk's page, with forms:
//
//	POST /newsroom/desks/{slug}/questions   action=save: questions (the JSON
//	                                        of pista desk questions --file)
//	                                        action=add: id, kind, required,
//	                                        label_LANG…, choices (one a line,
//	                                        "id = label")
//	                                        action=remove, action=up: id
//
// Every change is checked whole (pista.Questionnaire.Validate) and either
// stored whole or refused with the desk's page shown again, what was typed
// kept, and the reason; it is in the audit log.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/ui"
)

func (h *Handler) registerQuestions(mux *http.ServeMux) {
	mux.HandleFunc("POST /newsroom/desks/{slug}/questions", h.auth(h.setDeskQuestions))
}

// questionsData is the questions' section of the desk's page.
type questionsData struct {
	Can   bool // the journalist may edit them
	List  []questionRow
	JSON  string // the questionnaire, for the editor's text area
	Error string // why a change was refused, in the page's language
	// Add is what the add form was sent with, when it was refused.
	Add   map[string]string
	Kinds []pista.QuestionKind
	Langs []string
}

type questionRow struct {
	ID, Label string
	Kind      pista.QuestionKind
	Required  bool
	Choices   []string
}

// questionsView makes the section for the desk page in lang.
func (h *Handler) questionsView(ctx context.Context, j pista.Journalist, d pista.Desk, lang string) (questionsData, error) {
	qd := questionsData{Can: h.may(ctx, j, ActQuestions, d.ID) == nil, Langs: i18n.Tags(),
		Kinds: []pista.QuestionKind{pista.QuestionText, pista.QuestionLongText, pista.QuestionChoice, pista.QuestionChoices, pista.QuestionYesNo, pista.QuestionDate, pista.QuestionFile}}
	q, err := h.Desks.Questions(ctx, d.ID)
	if err != nil {
		return qd, err
	}
	for _, qu := range q.Questions {
		row := questionRow{ID: qu.ID, Label: pista.In(qu.Label, lang, i18n.Default), Kind: qu.Kind, Required: qu.Required}
		for _, c := range qu.Choices {
			row.Choices = append(row.Choices, pista.In(c.Label, lang, i18n.Default))
		}
		qd.List = append(qd.List, row)
	}
	qd.JSON = indentQuestions(q)
	return qd, nil
}

func indentQuestions(q pista.Questionnaire) string {
	if q.Questions == nil {
		q.Questions = []pista.Question{}
	}
	b, _ := json.MarshalIndent(q, "", "  ")
	return string(b)
}

// setDeskQuestions changes a desk's questions.
func (h *Handler) setDeskQuestions(w http.ResponseWriter, r *http.Request, q request) {
	ctx := context.WithoutCancel(r.Context())
	d, ok := h.desk(w, r, q)
	if !ok || !h.allowed(w, r, q, ActQuestions, d.ID) {
		return
	}
	cur, err := h.Desks.Questions(ctx, d.ID)
	if err != nil {
		h.internal(w, r, q, "reading a desk's questions", err)
		return
	}
	f := r.PostForm
	next := pista.Questionnaire{Questions: slices.Clone(cur.Questions)}
	refused := func(err error, typed string, add map[string]string) {
		h.renderDeskWith(w, r, q, "", &questionsEdit{err: err, json: typed, add: add})
	}
	switch f.Get("action") {
	case "save":
		typed := f.Get("questions")
		next, err = pista.ParseQuestionnaire([]byte(typed), i18n.Tags(), i18n.Default)
		if err != nil {
			refused(err, typed, nil)
			return
		}
	case "add":
		qu, add := questionFromForm(r)
		next.Questions = append(next.Questions, qu)
		if err := next.Validate(i18n.Tags(), i18n.Default); err != nil {
			refused(err, "", add)
			return
		}
	case "remove", "up":
		i := slices.IndexFunc(next.Questions, func(x pista.Question) bool { return x.ID == f.Get("id") })
		if i < 0 {
			h.fail(w, r, q.sid, http.StatusNotFound, "error.notfound")
			return
		}
		if f.Get("action") == "remove" {
			next.Questions = slices.Delete(next.Questions, i, i+1)
		} else if i > 0 {
			next.Questions[i-1], next.Questions[i] = next.Questions[i], next.Questions[i-1]
		}
	default:
		h.fail(w, r, q.sid, http.StatusBadRequest, "error.form")
		return
	}
	if err := h.Desks.SetQuestions(ctx, d.ID, next); err != nil {
		var qe *pista.QuestionnaireError
		if errors.As(err, &qe) {
			refused(qe, indentQuestions(next), nil)
			return
		}
		h.internal(w, r, q, "setting a desk's questions", err)
		return
	}
	h.auditTeam(ctx, q.j, pista.AuditQuestions, d, strconv.Itoa(len(next.Questions)))
	http.Redirect(w, r, ui.WithLang(r, "/newsroom/desks/"+d.Slug+"?done=questions#questions-h"), http.StatusSeeOther)
}

// questionEdit is a refused change, to show on the page again.
type questionsEdit struct {
	err  error
	json string
	add  map[string]string
}

// questionsError says why a change was refused, in the page's language:
// which question (and choice), and what is wrong.
func questionsError(l *i18n.Locale, err error) string {
	var qe *pista.QuestionnaireError
	if !errors.As(err, &qe) || qe.Code == "" {
		return l.T("error.form")
	}
	msg := l.T("questions.bad."+qe.Code, qe.Args...)
	switch {
	case qe.Choice > 0:
		return l.T("questions.bad.choice", "n", qe.Question, "c", qe.Choice) + " " + msg
	case qe.Question > 0:
		return l.T("questions.bad.question", "n", qe.Question) + " " + msg
	}
	return msg
}

// questionFromForm reads the add form: a question, and what was typed
// (to show again if it is refused). Choices are one a line, "id = label"
// in the default language ("label" alone makes its id from its position).
func questionFromForm(r *http.Request) (pista.Question, map[string]string) {
	f := r.PostForm
	add := map[string]string{"id": f.Get("id"), "kind": f.Get("kind"), "required": f.Get("required"), "choices": f.Get("choices")}
	qu := pista.Question{ID: strings.TrimSpace(f.Get("id")), Kind: pista.QuestionKind(f.Get("kind")), Required: f.Get("required") == "1", Label: map[string]string{}}
	for _, l := range i18n.Tags() {
		v := strings.TrimSpace(f.Get("label_" + l))
		add["label_"+l] = f.Get("label_" + l)
		if v != "" {
			qu.Label[l] = v
		}
	}
	lines := strings.Split(strings.ReplaceAll(f.Get("choices"), "\r\n", "\n"), "\n")
	if len(lines) > pista.MaxChoices+1 {
		lines = lines[:pista.MaxChoices+1] // the validator says there are too many
	}
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		id, label, ok := strings.Cut(line, "=")
		if !ok {
			id, label = "c"+strconv.Itoa(len(qu.Choices)+1), line
		}
		qu.Choices = append(qu.Choices, pista.Choice{ID: strings.TrimSpace(id), Label: map[string]string{i18n.Default: strings.TrimSpace(label)}})
	}
	return qu, add
}
