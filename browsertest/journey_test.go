package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/keys"
)

// rtl lists the right-to-left languages among those pista may have.
var rtl = map[string]bool{"ar": true, "fa": true, "he": true, "ur": true}

// phrases are what the test source writes, in their language.
var phrases = map[string]string{
	"en": "The council's road contracts all went to the mayor's cousin.",
	"es": "Los contratos de carreteras del ayuntamiento fueron al primo del alcalde, año 2024.",
	"fr": "Les marchés de voirie de la mairie sont allés au cousin du maire, été 2024.",
	"ar": "ذهبت كل عقود الطرق في البلدية إلى ابن عم رئيس البلدية.",
}

// fileNames are the names of the files they attach.
var fileNames = map[string]string{
	"en": "ledger.bin",
	"es": "contratos-año.bin",
	"fr": "relevé.bin",
	"ar": "وثيقة.bin",
}

// languages are the languages the journeys run in: every language pista
// has, which must include these four.
func languages(t *testing.T) []string {
	t.Helper()
	tags := i18n.Tags()
	for _, want := range []string{"en", "es", "fr", "ar"} {
		if !slices.Contains(tags, want) {
			t.Fatalf("i18n has no %q (has %v)", want, tags)
		}
	}
	return tags
}

func jsMode(js bool) string {
	if js {
		return "js"
	}
	return "nojs"
}

// runJourney is a source's whole visit, in language tag, in the tab ctx
// (with or without JavaScript): the landing page, a tip with a message,
// a contact and a file, the receipt with its codename, coming back with
// the codename typed in (in Arabic-Indic digits for Arabic), the source
// page with no reply yet, and a follow-up with a message and a file. It
// checks what the source sees at each step, then what the server stored.
// onPage, if not nil, is called on each page once it has loaded:
// "landing", "receipt", "login", "source", "source-sent".
func runJourney(t *testing.T, in *instance, ctx context.Context, tag string, js bool, onPage func(page string)) {
	t.Helper()
	if onPage == nil {
		onPage = func(string) {}
	}
	l := locale(t, tag)
	var mark [8]byte
	rand.Read(mark[:])
	marker := "pista-" + tag + "-" + jsMode(js) + "-" + hex.EncodeToString(mark[:])
	phrase, name := phrases[tag], fileNames[tag]
	if phrase == "" {
		phrase, name = phrases["en"], fileNames["en"]
	}
	first := submission{
		message: marker + " " + phrase,
		contact: "Signal +1 555 0100, " + marker,
		files:   []upload{newUpload(t, name, 40_000)},
	}
	followUp := submission{
		message: marker + " (more) " + phrase,
		files:   []upload{newUpload(t, "more-"+name, 3_000)},
	}

	// The landing page, in the language asked for.
	do(t, ctx, "opening the landing page",
		chromedp.Navigate(in.url+"/?lang="+tag),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded())
	checkLangDir(t, ctx, "landing page", l)
	wantText(t, ctx, "h1", l.T("landing.heading", "newsroom", newsroomName))
	wantText(t, ctx, "#submit-h", l.T("landing.form.heading"))
	wantText(t, ctx, "label[for=message]", l.T("landing.form.message"))
	wantText(t, ctx, "form[data-encrypt] button[type=submit]", l.T("landing.form.send"))
	wantText(t, ctx, "#login-h", l.T("landing.login.heading"))
	onPage("landing")

	// Write the tip and send it.
	lanes := in.srv.Gate.Stats().Served
	do(t, ctx, "filling in and sending the form",
		chromedp.Click(chromedp.CSS("input[name=desk][value="+journeyDesk+"]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), first.message),
		chromedp.SendKeys(chromedp.CSS("input#contact"), first.contact),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{first.files[0].path}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	checkLangDir(t, ctx, "receipt", l)
	// With JavaScript, the page proved work and its tip was served in the
	// priority lane; without, in the ordinary one.
	checkLane(t, in, lanes, admit.New, js)
	wantText(t, ctx, "#receipt-h", l.T("receipt.heading"))
	codename := nonDigit.ReplaceAllString(text(t, ctx, "p#codename"), "")
	if len(codename) != keys.CodenameDigits {
		t.Fatalf("the receipt shows a codename of %d digits (%q), want %d", len(codename), codename, keys.CodenameDigits)
	}
	if tag == "ar" {
		alt := strings.Join(strings.Fields(text(t, ctx, "p.codename.alt")), "")
		if alt != arabicIndic(codename) {
			t.Errorf("the receipt's codename in Arabic-Indic digits is %q, want %q", alt, arabicIndic(codename))
		}
	}
	onPage("receipt")

	// Come back later with the codename, typed back as the source wrote
	// it down: in groups, and in Arabic in Arabic-Indic digits.
	typed := groups(codename)
	if tag == "ar" {
		typed = arabicIndic(typed)
	}
	do(t, ctx, "going back to the landing page",
		chromedp.Click(chromedp.CSS("main a.button")),
		chromedp.WaitVisible(chromedp.CSS("input#codename")),
		loaded())
	checkLangDir(t, ctx, "landing page, back from the receipt", l)
	onPage("login")
	lanes = in.srv.Gate.Stats().Served
	do(t, ctx, "logging in with the codename "+typed,
		chromedp.SendKeys(chromedp.CSS("input#codename"), typed),
		chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#more-h")),
		loaded())
	checkLangDir(t, ctx, "source page", l)
	checkLane(t, in, lanes, admit.Login, js)
	wantText(t, ctx, "main h1", l.T("source.heading"))
	wantText(t, ctx, "#replies-h", l.T("source.replies"))
	wantText(t, ctx, "section[aria-labelledby=replies-h] > p", l.T("source.noreplies"))
	if n := count(t, ctx, "ul.items li"); n != 3 {
		t.Errorf("the source page lists %d sent items, want 3 (message, contact, file)", n)
	}
	onPage("source")

	// Send more.
	do(t, ctx, "sending a follow-up",
		chromedp.SendKeys(chromedp.CSS("textarea#message"), followUp.message),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{followUp.files[0].path}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	checkLangDir(t, ctx, "source page after the follow-up", l)
	wantText(t, ctx, "p.notice", l.T("source.notice.sent"))
	if n := count(t, ctx, "ul.items li"); n != 5 {
		t.Errorf("after the follow-up the source page lists %d sent items, want 5", n)
	}
	onPage("source-sent")

	// What the server stored: encrypted in the browser when the script
	// ran, on arrival when it did not, and the desk's key opens it all.
	wantBy := "server"
	if js {
		wantBy = "browser"
	}
	in.checkStored(t, in.conversationOf(t, codename), journeyDesk, wantBy, first, followUp)

	// And nothing of it was logged.
	log := in.log.String()
	for _, secret := range []string{marker, codename, first.files[0].name} {
		if strings.Contains(log, secret) {
			t.Errorf("the server log contains %q", secret)
		}
	}
}

// wrongCodename tries to log in with a codename that was never given and
// checks the error page says so, in language tag. onPage, if not nil, is
// called on the landing page ("login") and on the error page ("error").
func wrongCodename(t *testing.T, in *instance, ctx context.Context, tag string, onPage func(page string)) {
	t.Helper()
	if onPage == nil {
		onPage = func(string) {}
	}
	l := locale(t, tag)
	do(t, ctx, "opening the landing page",
		chromedp.Navigate(in.url+"/?lang="+tag),
		chromedp.WaitVisible(chromedp.CSS("input#codename")),
		loaded())
	onPage("login")
	do(t, ctx, "logging in with a wrong codename",
		chromedp.SendKeys(chromedp.CSS("input#codename"), "1234 5678 9012 3456 7890 1234 5678"),
		chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".error")),
		loaded())
	checkLangDir(t, ctx, "error page", l)
	wantText(t, ctx, ".error p", l.T("error.codename"))
	onPage("error")
}

// count returns how many elements match sel.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return run(t, ctx, "counting "+sel, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// TestSourceJourney runs a source's whole visit in every language, with
// JavaScript and without, and checks on the server that every item was
// stored encrypted to the desk, by the browser when its script ran and by
// the server when it did not.
func TestSourceJourney(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	for _, tag := range languages(t) {
		for _, js := range []bool{true, false} {
			t.Run(tag+"/"+jsMode(js), func(t *testing.T) {
				runJourney(t, in, b.tab(t, js), tag, js, nil)
			})
		}
	}
}

// checkLane checks that one request was served in lane l since before,
// or in its priority lane when the page ran its script (js).
func checkLane(t *testing.T, in *instance, before [admit.Lanes]uint64, l admit.Lane, js bool) {
	t.Helper()
	want := l
	if js {
		want = map[admit.Lane]admit.Lane{admit.New: admit.NewProven, admit.Login: admit.LoginProven}[l]
	}
	after := in.srv.Gate.Stats().Served
	for _, lane := range []admit.Lane{admit.NewProven, admit.LoginProven, admit.New, admit.Login} {
		n := after[lane] - before[lane]
		if lane == want && n != 1 || lane != want && n != 0 {
			t.Errorf("lane %v served %d request(s), want the request in lane %v", lane, n, want)
		}
	}
}
