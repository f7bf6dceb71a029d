package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// arabicQuestions is the desk's questionnaire: Arabic labels for the
// source, English ones for the newsroom.
const arabicQuestions = `{"questions": [
  {"id": "where", "kind": "text", "required": true,
   "label": {"en": "Where did it happen?", "ar": "أين حدث ذلك؟"}},
  {"id": "seen", "kind": "yes_no", "label": {"en": "Did you see it yourself?", "ar": "هل رأيت ذلك بنفسك؟"}},
  {"id": "role", "kind": "choice", "label": {"en": "How do you know?", "ar": "كيف عرفت؟"},
   "choices": [{"id": "staff", "label": {"en": "I work there", "ar": "أعمل هناك"}},
               {"id": "other", "label": {"en": "Other", "ar": "غير ذلك"}}]},
  {"id": "doc", "kind": "file", "label": {"en": "A document, if you have one", "ar": "وثيقة إن كانت لديك"}}
]}`

// questionnaireJourney: a source answers the desk's Arabic questionnaire
// on the landing page (with JavaScript or without), first forgetting the
// required question, and the journalist sees question → answer in the
// inbox. What the server stored of the answers is ciphertext only.
func questionnaireJourney(t *testing.T, js bool) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	desk, deskID := in.DeskWithIdentity("americas", carla)
	q, err := pista.ParseQuestionnaire([]byte(arabicQuestions), i18n.Tags(), i18n.Default)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Desks.SetQuestions(ctx, desk.ID, q); err != nil {
		t.Fatal(err)
	}
	base := byHostName(in.TS.URL)
	ar := locale(t, "ar")
	marker := rand8()
	message := "البلدية تزور الفواتير " + marker
	place := "ميناء طنجة " + marker
	doc := filepath.Join(t.TempDir(), "وثيقة.txt")
	os.WriteFile(doc, []byte("the harbour ledger "+marker), 0o600)

	// The source's browser talks to the server through a recorder of
	// every request's bytes, as they travel.
	rec := newWire(t, in.TS.URL)
	src := b.tab(t, js)
	do(t, src, "opening the landing page in Arabic",
		chromedp.Navigate(byHostName(rec.url)+"/?lang=ar"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded())
	checkLangDir(t, src, "landing page", ar)
	wantText(t, src, "fieldset.questions > legend", ar.T("questions.legend", "desk", desk.Title))
	wantText(t, src, `label[for="q-americas-where"]`, "أين حدث ذلك؟ "+ar.T("questions.required"))
	wantText(t, src, `[data-question="q.americas.seen"] legend`, "هل رأيت ذلك بنفسك؟")
	if got := text(t, src, `[data-question="q.americas.role"]`); !strings.Contains(got, "أعمل هناك") {
		t.Errorf("the choice question shows %q, without its Arabic choice", got)
	}
	if js { // axe is a script: it runs where scripts do
		t.Run("axe/landing", func(t *testing.T) { checkAxe(t, src) })
	}

	// Sent without the required answer: the form again, in Arabic, with
	// what is missing said beside the question and the message kept.
	do(t, src, "sending without the required answer",
		chromedp.SendKeys(chromedp.CSS("textarea#message"), message),
		chromedp.Click(chromedp.CSS(`input[name="q.americas.seen"][value=yes]`)),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")))
	if js {
		// The script stops it before anything is encrypted or sent.
		run(t, src, "waiting for the script's message",
			chromedp.Poll[bool](`document.querySelector("[data-status]").textContent === `+jsString(ar.T("questions.js.required", "questions", "أين حدث ذلك؟"))))
		wantText(t, src, `[data-question="q.americas.where"] [data-js-error]`, ar.T("questions.error.required"))
		if rs := rec.containing("POST /submit"); len(rs) > 0 {
			t.Errorf("the page sent the form without the required answer: %v", rs)
		}
	} else {
		do(t, src, "waiting for the form again", chromedp.WaitVisible(chromedp.CSS("#questions-refused")), loaded())
		checkLangDir(t, src, "the form shown again", ar)
		wantText(t, src, "#questions-refused", ar.T("questions.error.summary"))
		wantText(t, src, "#q-americas-where-error", ar.T("questions.error.required"))
		if got := run(t, src, "reading the message", chromedp.Evaluate[string](`document.querySelector("textarea#message").value`)); got != message {
			t.Errorf("the form shown again has the message %q, want %q", got, message)
		}
		if !run(t, src, "reading the yes/no answer", chromedp.Evaluate[bool](`document.querySelector('input[name="q.americas.seen"][value=yes]').checked`)) {
			t.Error("the form shown again lost the yes/no answer")
		}
		if n := len(conversations(t, in, carla.ID)); n != 0 {
			t.Fatalf("%d conversation(s) stored from a refused form", n)
		}
	}

	do(t, src, "answering and sending",
		chromedp.SendKeys(chromedp.CSS("input#q-americas-where"), place),
		chromedp.Click(chromedp.CSS(`input[name="q.americas.role"][value=staff]`)),
		chromedp.SetUploadFiles(chromedp.CSS("input#q-americas-doc"), []string{doc}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	checkLangDir(t, src, "receipt", ar)

	// Stored: one answers item, encrypted (by the browser when the script
	// ran), that the desk's key opens; the file linked to its question.
	convs := conversations(t, in, carla.ID)
	if len(convs) != 1 {
		t.Fatalf("%d conversations stored, want 1", len(convs))
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, convs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	wantBy := "server"
	if js {
		wantBy = "browser"
	}
	var answers *pista.Answers
	var fileQuestion string
	for _, it := range items {
		raw := readObject(t, in, it.Object)
		if bytes.Contains(raw, []byte(marker)) {
			t.Errorf("the %s item is stored with the plaintext in it", it.Kind)
		}
		if it.EncryptedBy != wantBy {
			t.Errorf("the %s item was encrypted by %q, want %q", it.Kind, it.EncryptedBy, wantBy)
		}
		switch it.Kind {
		case pista.KindAnswers:
			var a pista.Answers
			if err := json.Unmarshal(decryptObject(t, raw, deskID), &a); err != nil {
				t.Fatalf("the answers item: %v", err)
			}
			answers = &a
		case pista.KindFile:
			var m pista.FileMeta
			json.Unmarshal(decryptObject(t, readObject(t, in, it.Meta), deskID), &m)
			fileQuestion = m.Question
		}
	}
	if answers == nil {
		t.Fatalf("no answers item among %d items", len(items))
	}
	got := map[string]pista.Answer{}
	for _, a := range answers.Answers {
		got[a.ID] = a
	}
	if a := got["where"]; a.Value != place || a.Question != "Where did it happen?" || a.Asked != "أين حدث ذلك؟" {
		t.Errorf("the answer to where = %+v", a)
	}
	if got["seen"].Value != "yes" || got["role"].Value != "I work there" || got["doc"].Value != "وثيقة.txt" {
		t.Errorf("answers = %+v", answers.Answers)
	}
	if answers.Lang != "ar" {
		t.Errorf("answers' language = %q, want ar", answers.Lang)
	}
	if fileQuestion != "doc" {
		t.Errorf("the file answers question %q, want doc", fileQuestion)
	}
	if js {
		// The recorder sees the bodies: the age files are there.
		if len(rec.containing("age-encryption.org/")) == 0 {
			t.Error("no request the source's browser sent holds an age file: the recorder misses the form's body")
		}
	} else if len(rec.containing(place)) == 0 {
		t.Error("the recorder did not see the plain form's answer: it misses the form's body")
	}
	if js {
		for _, secret := range []string{place, message, "I work there", "q.americas", "أعمل هناك"} {
			if rs := rec.containing(secret); len(rs) > 0 {
				t.Errorf("the source's browser sent %q in the clear: %v", secret, rs)
			}
		}
	}

	if js {
		// The form shown again (what a browser without JavaScript gets),
		// checked by axe in a tab that runs scripts: sent plainly, past
		// the page's script.
		tab := b.tab(t, true)
		do(t, tab, "sending the plain form without the required answer",
			chromedp.Navigate(base+"/?lang=ar"),
			chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
			loaded(),
			chromedp.Evaluate[chromedp.Void](`HTMLFormElement.prototype.submit.call(document.querySelector("form[data-encrypt]"))`),
			chromedp.WaitVisible(chromedp.CSS("#questions-refused")),
			loaded())
		wantText(t, tab, "#q-americas-where-error", ar.T("questions.error.required"))
		t.Run("axe/refused", func(t *testing.T) { checkAxe(t, tab) })
	}

	// The journalist reads question → answer in the inbox.
	nt := b.tab(t, true)
	teamLogin(t, nt, base, carla)
	do(t, nt, "opening the conversation", chromedp.Navigate(base+"/newsroom/c/"+convs[0].ID+"?lang=en"), loaded())
	teamWait(t, nt, "the decrypted answers", `!!document.querySelector("dl.answers dd")`)
	pairs := teamEval[[]string](t, nt, "reading the answers", `[...document.querySelectorAll("dl.answers dt, dl.answers dd")].map(e => e.textContent)`)
	want := []string{"Where did it happen? (أين حدث ذلك؟)", place, "Did you see it yourself? (هل رأيت ذلك بنفسك؟)", "yes",
		"How do you know? (كيف عرفت؟)", "I work there", "A document, if you have one (وثيقة إن كانت لديك)", "وثيقة.txt"}
	if strings.Join(pairs, "\n") != strings.Join(want, "\n") {
		t.Errorf("the inbox shows\n%s\nwant\n%s", strings.Join(pairs, "\n"), strings.Join(want, "\n"))
	}
	wantText(t, nt, "li[data-kind=answers] .item-head strong", "Answers")
	t.Run("axe/conversation", func(t *testing.T) { checkAxe(t, nt) })

	// The coordinator's editor, on the desk's page.
	do(t, nt, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang=ar"), loaded())
	wantText(t, nt, "#questions-h", ar.T("questions.edit.heading"))
	if got := text(t, nt, "ol.questions-list"); !strings.Contains(got, "أين حدث ذلك؟") {
		t.Errorf("the desk page lists %q, not the Arabic labels", got)
	}
	t.Run("axe/desk", func(t *testing.T) { checkAxe(t, nt) })
}

func TestQuestionnaireNoJS(t *testing.T) { questionnaireJourney(t, false) }
func TestQuestionnaireJS(t *testing.T)   { questionnaireJourney(t, true) }

func conversations(t *testing.T, in *pistatest.Instance, member int64) []pista.Conversation {
	t.Helper()
	cs, err := in.Srv.Stores.Tips.ConversationsFor(context.Background(), member, pista.Page{})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func readObject(t *testing.T, in *pistatest.Instance, key string) []byte {
	t.Helper()
	r, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decryptObject(t *testing.T, b []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(b), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return plain
}
