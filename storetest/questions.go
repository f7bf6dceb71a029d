package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
)

func sampleQuestionnaire() pista.Questionnaire {
	return pista.Questionnaire{Questions: []pista.Question{
		{ID: "where", Kind: pista.QuestionText, Required: true, Label: map[string]string{"en": "Where did it happen?", "ar": "أين حدث ذلك؟"}},
		{ID: "role", Kind: pista.QuestionChoice, Label: map[string]string{"en": "Your role"}, Choices: []pista.Choice{
			{ID: "staff", Label: map[string]string{"en": "Staff", "es": "Personal"}},
			{ID: "other", Label: map[string]string{"en": "Other"}},
		}},
		{ID: "doc", Kind: pista.QuestionFile, Label: map[string]string{"en": "A document"}},
	}}
}

func testQuestions(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	q, err := s.Desks.Questions(ctx, n.americas.ID)
	if err != nil || len(q.Questions) != 0 {
		t.Fatalf("a new desk's questions = %+v, %v; want none", q, err)
	}
	want := sampleQuestionnaire()
	if err := s.Desks.SetQuestions(ctx, n.americas.ID, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Desks.Questions(ctx, n.americas.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Questions after SetQuestions = %+v, %v\nwant %+v", got, err, want)
	}
	if got, _ := s.Desks.Questions(ctx, n.maghreb.ID); len(got.Questions) != 0 {
		t.Errorf("the other desk's questions = %+v; want none", got)
	}
	// Replaced whole, in the new order.
	two := pista.Questionnaire{Questions: []pista.Question{want.Questions[2], want.Questions[0]}}
	if err := s.Desks.SetQuestions(ctx, n.americas.ID, two); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Desks.Questions(ctx, n.americas.ID); !reflect.DeepEqual(got, two) {
		t.Errorf("Questions after a replacement = %+v; want %+v", got, two)
	}
	// Too large for a store: refused, nothing changed.
	huge := pista.Questionnaire{Questions: []pista.Question{{ID: "x", Kind: pista.QuestionText,
		Label: map[string]string{"en": strings.Repeat("x", pista.MaxQuestionnaireBytes)}}}}
	if err := s.Desks.SetQuestions(ctx, n.americas.ID, huge); err == nil {
		t.Error("SetQuestions of a questionnaire over MaxQuestionnaireBytes succeeded")
	}
	if got, _ := s.Desks.Questions(ctx, n.americas.ID); !reflect.DeepEqual(got, two) {
		t.Errorf("Questions after a refused replacement = %+v; want it unchanged", got)
	}
	// Emptied.
	if err := s.Desks.SetQuestions(ctx, n.americas.ID, pista.Questionnaire{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Desks.Questions(ctx, n.americas.ID); len(got.Questions) != 0 {
		t.Errorf("Questions after emptying = %+v", got)
	}
	isNotFound(t, "SetQuestions(unknown desk)", s.Desks.SetQuestions(ctx, 1<<40, want))
	_, err = s.Desks.Questions(ctx, 1<<40)
	isNotFound(t, "Questions(unknown desk)", err)
}

// testAnswersItems: the answers to a questionnaire are an item kind like
// any other, stored and listed in order.
func testAnswersItems(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas, pista.KindMessage, pista.KindAnswers, pista.KindFile)
	items, err := s.Tips.ItemsOfConversation(ctx, tip.Conversation.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []pista.ItemKind
	for _, it := range items {
		kinds = append(kinds, it.Kind)
	}
	if want := []pista.ItemKind{pista.KindMessage, pista.KindAnswers, pista.KindFile}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("kinds = %v; want %v", kinds, want)
	}
	n.add(t, tip.Conversation.ID, n.items(pista.KindAnswers)...)
}
