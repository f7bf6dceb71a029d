package pulled

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista"
)

// ParseAnswers reads a decrypted answers item (the JSON of
// pista.Answers): bounded, and refused whole if it is not one.
func ParseAnswers(b []byte) (pista.Answers, error) {
	var a pista.Answers
	if len(b) > pista.MaxAnswersBytes {
		return a, errors.New("answers too large")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&a); err != nil {
		return pista.Answers{}, fmt.Errorf("answers: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return pista.Answers{}, errors.New("answers: data after the object")
	}
	if len(a.Answers) > pista.MaxQuestions {
		return pista.Answers{}, fmt.Errorf("answers: %d answers; a desk asks at most %d questions", len(a.Answers), pista.MaxQuestions)
	}
	return a, nil
}

// FormatAnswers writes answers as a journalist reads them: each question
// (and, if the source read it in another language, as they read it),
// then the answer, indented.
func FormatAnswers(a pista.Answers) string {
	var b strings.Builder
	b.WriteString("Answers to the desk's questions")
	if a.Lang != "" {
		fmt.Fprintf(&b, " (the source answered in %q)", a.Lang)
	}
	b.WriteString("\n")
	for _, x := range a.Answers {
		q := x.Question
		if q == "" {
			q = x.ID
		}
		fmt.Fprintf(&b, "\n%s\n", oneLine(q))
		if x.Asked != "" {
			fmt.Fprintf(&b, "(as the source read it: %s)\n", oneLine(x.Asked))
		}
		v := x.Value
		if x.Kind == pista.QuestionFile {
			v = "the file " + v + " (in this folder)"
		}
		for _, line := range strings.Split(v, "\n") {
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	return b.String()
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// readAnswers decrypts an answers item and formats it.
func readAnswers(ids []age.Identity, d *dir, name string) (string, error) {
	f, err := d.open(name, -1)
	if err != nil {
		return "", err
	}
	defer f.Close()
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return "", errCannotDecrypt
		}
		return "", fmt.Errorf("%s: %w", d.join(name), err)
	}
	b, err := io.ReadAll(io.LimitReader(r, pista.MaxAnswersBytes+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", d.join(name), err)
	}
	a, err := ParseAnswers(b)
	if err != nil {
		return "", errCannotDecrypt
	}
	return FormatAnswers(a), nil
}
