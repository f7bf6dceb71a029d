package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/server"
)

const questionsHelp = `
pista desk questions sets the questions a desk asks its sources on the
landing form and through the API, from a JSON file (--file FILE, or
--file - for standard input); it replaces them whole. --show prints the
current ones in the same format. An empty list removes them.

Each question has an id (lowercase letters, digits, - and _), a kind,
a label in the default language ("en") and optionally in the others
(es, fr, ar), and may be required. Kinds: text, long_text, choice (one
of its choices), choices (any of them), yes_no, date and file (a file,
encrypted like the form's files). choice and choices questions have 2
to 20 choices, each with an id and a label. At most 20 questions;
labels up to 300 characters, choices' up to 100. A file with any
mistake is refused whole and changes nothing.

Answers are encrypted to the desk's key like the message: the server
cannot read them. Coordinators can also edit the questions on the
desk's page of the inbox.

Usage:
    pista desk questions --data DIR --name SLUG --file FILE
    pista desk questions --data DIR --name SLUG --show

Example file:
    {"questions": [
      {"id": "where", "kind": "text", "required": true,
       "label": {"en": "Where did it happen?", "ar": "أين حدث ذلك؟"}},
      {"id": "role", "kind": "choice",
       "label": {"en": "How do you know?", "es": "¿Cómo lo sabe?"},
       "choices": [{"id": "witness", "label": {"en": "I saw it"}},
                   {"id": "staff", "label": {"en": "I work there"}}]},
      {"id": "evidence", "kind": "file", "label": {"en": "A document, if you have one"}}
    ]}

Examples:
    $ pista desk questions --data ./pista-data --name americas --file questions.json
    $ pista desk questions --data ./pista-data --name americas --show > questions.json
`

// runDeskQuestions sets or shows a desk's questionnaire.
func runDeskQuestions(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "desk questions", questionsHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	slug := fs.String("name", "", "the desk's `SLUG`")
	file := fs.String("file", "", "the questions' JSON `FILE` (- for standard input)")
	show := fs.Bool("show", false, "print the desk's questions instead")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name"); err != nil {
		return err
	}
	if (*file == "") == !*show {
		fmt.Fprintln(e.stderr, "pista desk questions: give --file FILE or --show")
		fs.Usage()
		return errUsage
	}
	var q pista.Questionnaire
	if *file != "" {
		b, err := readQuestionsFile(e, *file)
		if err != nil {
			return err
		}
		q, err = pista.ParseQuestionnaire(b, i18n.Tags(), i18n.Default)
		if err != nil {
			return hint(fmt.Errorf("%s: %w", *file, err), "see pista desk questions --help for the format; nothing was changed")
		}
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Desks.DeskBySlug(ctx, *slug)
	if errors.Is(err, pista.ErrNotFound) {
		return hint(fmt.Errorf("no desk named %q", *slug), "add it first with pista desk add")
	} else if err != nil {
		return err
	}
	if *show {
		cur, err := st.Desks.Questions(ctx, d.ID)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(cur)
	}
	if err := st.Desks.SetQuestions(ctx, d.ID, q); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Desk %s now asks %d question(s).\n", d.Slug, len(q.Questions))
	return nil
}

// readQuestionsFile reads --file, bounded: one byte more than a
// questionnaire may have is enough to refuse it.
func readQuestionsFile(e env, name string) ([]byte, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return io.ReadAll(io.LimitReader(r, pista.MaxQuestionnaireBytes+1))
}
