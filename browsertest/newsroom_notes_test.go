package browsertest

// The inbox that tells tips apart, internal notes and bulk actions, in a
// real Chromium: a journalist sees each row's preview of its first
// message (decrypted in their browser: made by the source's browser, by
// the server for a form sent without JavaScript, or, for a conversation
// from before previews, from its first message), its channel, its items
// and what is new since they last looked; writes a note the source never
// sees; and changes and deletes conversations in bulk. No request either
// browser sends holds a preview's or a note's plain text.

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// sendTip sends message to desk from the landing page of a tab (with or
// without JavaScript) and returns the codename.
func sendTip(t *testing.T, tab context.Context, base, desk, message string) string {
	t.Helper()
	do(t, tab, "sending a tip",
		chromedp.Navigate(base+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("textarea#message")),
		loaded(),
		chromedp.Click(chromedp.CSS("input[name=desk][value="+desk+"]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), message),
		chromedp.Click(chromedp.CSS("form[action^='/submit'] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	return nonDigit.ReplaceAllString(text(t, tab, "p#codename"), "")
}

func TestInboxPreviewsNotesAndBulk(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	l := locale(t, "en")
	carla := in.Journalist("carla")
	dan := in.Journalist("dan")
	deskKey, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	var wraps []pista.KeyWrap
	for _, j := range []*pistatest.Journalist{carla, dan} {
		w, err := keys.Wrap(deskKey, j.Recipient)
		if err != nil {
			t.Fatal(err)
		}
		role := pista.RoleJournalist
		if j == carla {
			role = pista.RoleCoordinator // she may delete in bulk
		}
		wraps = append(wraps, pista.KeyWrap{JournalistID: j.ID, Wrapped: w, Role: role})
	}
	desk := pista.Desk{Slug: "americas", Title: "Americas", Recipient: deskKey.Recipient().String()}
	if err := in.Srv.Stores.Desks.CreateDesk(ctx, &desk, wraps); err != nil {
		t.Fatal(err)
	}
	base := byHostName(in.TS.URL)
	marker := "ember" + rand8()

	// Four tips: from the browser that encrypts, from one without
	// JavaScript (the server encrypts), by e-mail from before previews
	// (stored without one), and one to delete later.
	jsMessage := "The harbour master takes bribes from the shipping line, " + marker + "-js. " + strings.Repeat("Details follow. ", 20)
	plainMessage := "Ballots were burnt behind the town hall " + marker + "-plain"
	oldMessage := "An old tip, sent before previews " + marker + "-old"
	src, plain := b.tab(t, true), b.tab(t, false)
	var srcRec, nrRec sent
	srcRec.listen(t, src)
	codename := sendTip(t, src, base, "americas", jsMessage)
	sendTip(t, plain, base, "americas", plainMessage)
	srcID, _ := age.GenerateHybridIdentity()
	lookup := make([]byte, 32)
	rand.Read(lookup)
	old := in.StoreSourceTip(desk, pista.Source{Lookup: lookup, Recipient: srcID.Recipient().String()}, pista.ChannelEmail, oldMessage).Conversation.ID
	doomed := in.StoreTip(desk).Conversation.ID

	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, carla.ID, pista.Page{})
	if err != nil || len(convs) != 4 {
		t.Fatalf("the inbox: %d conversations, %v", len(convs), err)
	}
	byPreview := map[string]string{} // conversation ID → decrypted preview
	for _, c := range convs {
		if c.Preview == nil {
			continue
		}
		r, err := age.Decrypt(bytes.NewReader(c.Preview), deskKey)
		if err != nil {
			t.Fatalf("the desk key does not open a preview: %v", err)
		}
		p, _ := io.ReadAll(r)
		text, _, _ := bytes.Cut(p, []byte{0})
		byPreview[c.ID] = string(text)
	}
	var jsConv, plainConv string
	for id, p := range byPreview {
		switch {
		case strings.Contains(p, marker+"-js"):
			jsConv = id
		case strings.Contains(p, marker+"-plain"):
			plainConv = id
		}
	}
	if jsConv == "" || plainConv == "" || len(byPreview) != 2 {
		t.Fatalf("previews stored: %v", byPreview)
	}
	if items, _ := in.Srv.Stores.Tips.ItemsOfConversation(ctx, jsConv); len(items) == 0 || items[0].EncryptedBy != "browser" {
		t.Errorf("the tip from the page with JavaScript was not encrypted by the browser: %+v", items)
	}

	// The inbox: previews decrypted in the page, channel, items, new.
	nr := b.tab(t, true)
	nrRec.listen(t, nr)
	teamLogin(t, nr, base, carla)
	do(t, nr, "opening the inbox", chromedp.Navigate(base+"/newsroom/?lang=en"), chromedp.WaitVisible(chromedp.CSS("table.inbox")), loaded())
	teamWait(t, nr, "the previews", `Array.from(document.querySelectorAll("p.preview")).filter((p) => !p.hidden && p.textContent !== "").length === 4`)
	rowText := func(id, sel string) string {
		return teamEval[string](t, nr, "reading a row", `(document.querySelector('tr[data-conversation-row="`+id+`"] `+sel+`') || {textContent: ""}).textContent.trim()`)
	}
	wantPreview := func(message string) string {
		p := pista.PreviewText(message)
		text, _, _ := bytes.Cut(p, []byte{0})
		return string(text)
	}
	for id, want := range map[string]string{jsConv: wantPreview(jsMessage), plainConv: wantPreview(plainMessage), old: wantPreview(oldMessage)} {
		if got := rowText(id, "p.preview"); got != want {
			t.Errorf("row %s shows the preview %q, want %q", id[:8], got, want)
		}
	}
	for id, want := range map[string]string{jsConv: l.T("notes.channel.web"), old: l.T("notes.channel.email")} {
		if got := rowText(id, "td[data-channel]"); got != want {
			t.Errorf("row %s shows the channel %q, want %q", id[:8], got, want)
		}
	}
	if got := rowText(jsConv, "[data-items]"); got != "1" {
		t.Errorf("row shows %q items, want 1", got)
	}
	if got := rowText(jsConv, "[data-new]"); got != l.T("notes.new", "n", 1) {
		t.Errorf("row shows %q new, want %q", got, l.T("notes.new", "n", 1))
	}

	// A note, encrypted in the browser to the desk alone.
	note := "Call the harbour master's deputy first " + marker + "-note"
	do(t, nr, "opening the conversation", chromedp.Navigate(base+"/newsroom/c/"+jsConv+"?lang=en"), chromedp.WaitVisible(chromedp.CSS("#conversation")), loaded())
	// Once the items are decrypted: they move the form as they appear.
	teamWait(t, nr, "the items decrypted", `document.querySelector("[data-read-status]").textContent === `+jsString(l.T("newsroom.read.decrypted")))
	do(t, nr, "writing a note",
		chromedp.WaitVisible(chromedp.CSS("form[data-seal-note] textarea#note")),
		chromedp.SendKeys(chromedp.CSS("textarea#note"), note),
		chromedp.Click(chromedp.CSS("form[data-seal-note] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	wantText(t, nr, "p.notice", l.T("notes.note.saved"))
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, jsConv)
	if err != nil {
		t.Fatal(err)
	}
	last := items[len(items)-1]
	if last.Kind != pista.KindNote || last.EncryptedBy != "browser" || last.AuthorID != carla.ID {
		t.Fatalf("the last item is %+v, want carla's note encrypted by the browser", last)
	}
	obj, err := in.Srv.Stores.Blobs.Open(ctx, last.Object)
	if err != nil {
		t.Fatal(err)
	}
	sealedNote, _ := io.ReadAll(obj)
	obj.Close()
	if _, _, err := intake.CheckHeader(bytes.NewReader(sealedNote), 1); err != nil {
		t.Errorf("the note is not encrypted to one key, the desk's: %v", err)
	}
	if r, err := age.Decrypt(bytes.NewReader(sealedNote), deskKey); err != nil {
		t.Errorf("the desk key does not open the note: %v", err)
	} else if got, _ := io.ReadAll(r); string(got) != note {
		t.Errorf("the note decrypts to %q", got)
	}
	teamWait(t, nr, "the note decrypted on the page", `Array.from(document.querySelectorAll('li[data-kind="note"] [data-plain]')).some((p) => p.textContent.includes(`+jsString(note)+`))`)

	// Back in the inbox: the conversation just read is no longer new.
	do(t, nr, "back to the inbox", chromedp.Navigate(base+"/newsroom/?lang=en"), chromedp.WaitVisible(chromedp.CSS("table.inbox")), loaded())
	if got := rowText(jsConv, "[data-new]"); got != "" {
		t.Errorf("the conversation just read shows %q new", got)
	}
	if got := rowText(plainConv, "[data-new]"); got != l.T("notes.new", "n", 1) {
		t.Errorf("the unread conversation shows %q new", got)
	}

	// Bulk: two conversations closed, assigned to dan and tagged. (Once
	// the previews are in: they move the rows as they appear.)
	previewsShown := func(n int) {
		t.Helper()
		teamWait(t, nr, "the previews", `Array.from(document.querySelectorAll("p.preview")).filter((p) => !p.hidden && p.textContent !== "").length === `+strconv.Itoa(n))
	}
	previewsShown(4)
	do(t, nr, "changing two conversations at once",
		chromedp.Click(chromedp.CSS("#sel-"+plainConv)),
		chromedp.Click(chromedp.CSS("#sel-"+old)),
		chromedp.SetValue(chromedp.CSS("select#b-status"), "closed"),
		chromedp.SetValue(chromedp.CSS("select#b-assignee"), strconv.FormatInt(dan.ID, 10)),
		chromedp.SendKeys(chromedp.CSS("input#b-add"), "budget"),
		chromedp.Click(chromedp.CSS("form#bulk fieldset button[type=submit]:not([formaction])")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	wantText(t, nr, "p.notice", l.T("notes.bulk.done", "n", 2))
	for _, id := range []string{plainConv, old} {
		c, err := in.Srv.Stores.Tips.ConversationFor(ctx, carla.ID, id)
		if err != nil || c.Status != pista.StatusClosed || c.Assignee != dan.ID || !slices.Equal(c.Tags, []string{"budget"}) {
			t.Errorf("%s after the bulk change: status %q, assignee %d, tags %v, %v", id[:8], c.Status, c.Assignee, c.Tags, err)
		}
	}
	if c, _ := in.Srv.Stores.Tips.ConversationFor(ctx, carla.ID, jsConv); c.Status != pista.StatusNew {
		t.Errorf("a conversation not selected changed: status %q", c.Status)
	}

	// Bulk deletion asks first.
	previewsShown(4)
	do(t, nr, "deleting one in bulk",
		chromedp.Click(chromedp.CSS("#sel-"+doomed)),
		chromedp.Click(chromedp.CSS("form#bulk button[formaction^='/newsroom/bulk-delete']")),
		chromedp.WaitVisible(chromedp.CSS("form[action^='/newsroom/bulk-delete'] button.danger")),
		loaded(),
		chromedp.Click(chromedp.CSS("form[action^='/newsroom/bulk-delete'] button.danger")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	wantText(t, nr, "p.notice", l.T("retention.bulk.done", "n", 1))
	if _, err := in.Srv.Stores.Tips.ConversationFor(ctx, carla.ID, doomed); err == nil {
		t.Error("the conversation deleted in bulk is still there")
	}

	// The source's page: no note, nor a sign of one. (A new tab: each
	// must be done within tabTimeout.)
	src = b.tab(t, true)
	srcRec.listen(t, src)
	do(t, src, "the source logging in",
		chromedp.Navigate(base+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("input#codename")),
		loaded(),
		chromedp.SendKeys(chromedp.CSS("input#codename"), codename),
		chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#replies-h")),
		loaded())
	page := text(t, src, "main")
	for _, s := range []string{note, marker + "-note", l.T("kind.note"), l.T("notes.note.internal")} {
		if strings.Contains(page, s) {
			t.Errorf("the source's page shows %q", s)
		}
	}

	// Nothing in plain text on the wire: not the note, not a preview.
	for _, secret := range []string{note, marker + "-note", wantPreview(jsMessage), marker + "-js", marker + "-old"} {
		for _, rec := range []*sent{&srcRec, &nrRec} {
			if rs := rec.containing(secret); len(rs) > 0 {
				t.Errorf("a browser sent %q in %v", secret, rs)
			}
		}
	}
}
