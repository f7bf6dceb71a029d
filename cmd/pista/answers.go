package main

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/i18n"
)

// answerFlag is --answer ID=VALUE, repeatable; a value may hold commas.
type answerFlag []string

func (a *answerFlag) String() string     { return strings.Join(*a, " ") }
func (a *answerFlag) Set(s string) error { *a = append(*a, s); return nil }

// answerQuestions checks the --answer flags against the desk's questions
// and puts the answers (and a file question's file) in s: every required
// question answered, every answer one the desk takes, or an error that
// says which question and how to answer it. Nothing is sent before.
func answerQuestions(d api.Desk, flags []string, s *apiclient.Sealed) error {
	q := pista.Questionnaire{Questions: d.Questions}
	if len(q.Questions) > pista.MaxQuestions {
		return fmt.Errorf("the server lists %d questions for the desk; a desk asks at most %d", len(q.Questions), pista.MaxQuestions)
	}
	values := map[string][]string{}
	for _, f := range flags {
		id, v, ok := strings.Cut(f, "=")
		if !ok || id == "" {
			return hint(fmt.Errorf("--answer %q is not ID=VALUE", apiclient.Printable(f, 80)), "the desk's questions are:\n"+describeQuestions(q))
		}
		qu, known := q.Question(id)
		if !known {
			return hint(fmt.Errorf("the %s desk asks no question %q", apiclient.Printable(d.Slug, 64), apiclient.Printable(id, 64)), "its questions are:\n"+describeQuestions(q))
		}
		switch qu.Kind {
		case pista.QuestionChoice, pista.QuestionChoices:
			v = choiceID(qu, v)
		case pista.QuestionFile:
			fi, err := os.Stat(v)
			if err != nil {
				return fmt.Errorf("--answer %s: %w", id, err)
			}
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("--answer %s: %s is not a file", id, v)
			}
			if len(values[id]) > 0 {
				return fmt.Errorf("--answer %s: one file per question", id)
			}
			name := v
			typ := mime.TypeByExtension(filepath.Ext(name))
			if typ == "" {
				typ = "application/octet-stream"
			}
			s.Files = append(s.Files, apiclient.File{Name: filepath.Base(name), Type: typ, Question: id,
				Open: func() (io.ReadCloser, error) { return os.Open(name) }})
			v = filepath.Base(name)
		}
		values[id] = append(values[id], v)
	}
	a, errs := q.Answer(values, i18n.Default, i18n.Default)
	if len(errs) > 0 {
		var lines []string
		for _, e := range errs {
			qu, _ := q.Question(e.ID)
			lines = append(lines, fmt.Sprintf("question %q (%s): %v", e.ID, apiclient.Printable(pista.In(qu.Label, i18n.Default, i18n.Default), 200), answerProblem(e.Err, qu)))
		}
		return hint(errors.New(strings.Join(lines, "\n")), "answer with --answer ID=VALUE; the desk's questions are:\n"+describeQuestions(q))
	}
	if len(a.Answers) > 0 {
		b, err := pista.EncodeAnswers(a)
		if err != nil {
			return err
		}
		s.Answers = b
	}
	return nil
}

// choiceID is the id of the choice v names, by id or by a label in any
// language (case aside); v itself if none does.
func choiceID(qu pista.Question, v string) string {
	for _, c := range qu.Choices {
		if c.ID == v {
			return v
		}
	}
	for _, c := range qu.Choices {
		for _, l := range c.Label {
			if strings.EqualFold(strings.TrimSpace(l), strings.TrimSpace(v)) {
				return c.ID
			}
		}
	}
	return v
}

func answerProblem(err error, qu pista.Question) string {
	switch {
	case errors.Is(err, pista.ErrAnswerRequired):
		return "it is required"
	case errors.Is(err, pista.ErrAnswerDate):
		return "give a date as YYYY-MM-DD"
	case errors.Is(err, pista.ErrAnswerTooLong):
		return err.Error()
	case qu.Kind == pista.QuestionYesNo:
		return "answer yes or no"
	case qu.Kind == pista.QuestionChoice:
		return "give one of the choices"
	}
	return "give choices from those listed"
}

// describeQuestions lists a desk's questions for a terminal.
func describeQuestions(q pista.Questionnaire) string {
	if len(q.Questions) == 0 {
		return "    (none)"
	}
	var b strings.Builder
	for _, qu := range q.Questions {
		req := ""
		if qu.Required {
			req = ", required"
		}
		fmt.Fprintf(&b, "    %s (%s%s): %s\n", apiclient.Printable(qu.ID, 32), qu.Kind, req, apiclient.Printable(pista.In(qu.Label, i18n.Default, i18n.Default), 200))
		var ids []string
		for _, c := range qu.Choices {
			ids = append(ids, apiclient.Printable(c.ID, 32)+" ("+apiclient.Printable(pista.In(c.Label, i18n.Default, i18n.Default), 80)+")")
		}
		if len(ids) > 0 {
			fmt.Fprintf(&b, "        choices: %s\n", strings.Join(ids, ", "))
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}
