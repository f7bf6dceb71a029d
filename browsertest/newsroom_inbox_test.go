package browsertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
)

// smallPNG writes a 4×4 PNG to a temporary file and returns its path.
func smallPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for i := range 4 {
		img.Set(i, i, color.RGBA{200, 30, 30, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "photo.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sent records what the tab sends: each request's URL and body.
type sent struct {
	mu   sync.Mutex
	reqs []string
}

func (s *sent) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			var body strings.Builder
			for _, p := range e.Request.PostDataEntries {
				body.Write(p.Bytes)
			}
			s.mu.Lock()
			s.reqs = append(s.reqs, e.Request.Method+" "+e.Request.URL+"\n"+body.String())
			s.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// count is how many requests were recorded so far.
func (s *sent) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// containing lists the requests that carry s, in their URL or body.
func (s *sent) containing(needle string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.reqs {
		if strings.Contains(r, needle) {
			out = append(out, strings.SplitN(r, "\n", 2)[0])
		}
	}
	return out
}

// loginJournalist signs alice in to the inbox in the tab.
func loginJournalist(t *testing.T, ctx context.Context, in *instance) {
	t.Helper()
	code, err := totp.GenerateCode(in.alice.TOTPSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "logging in to the inbox",
		chromedp.Navigate(in.url+"/newsroom/login"),
		chromedp.WaitVisible(chromedp.CSS("input#name")),
		chromedp.SendKeys(chromedp.CSS("input#name"), in.alice.Name),
		chromedp.SendKeys(chromedp.CSS("input#passphrase"), pistatest.TestPassword),
		chromedp.SendKeys(chromedp.CSS("input#totp"), code),
		loaded(), // the login page's script sends the form
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("table.inbox")),
		loaded())
}

// TestReadAndReplyInBrowser is the journalist's side of a tip: a source
// sends a message and a PNG through the form; the journalist opens the
// conversation, replies with a reply the browser encrypts, and searches
// the inbox; the source reads the reply with their codename. What the
// browser sent holds neither the reply nor what was searched for.
//
// The journalist's device here has no desk key (the login that unwraps
// it is the auth module's): the page must say so, and keep the encrypted
// downloads. Replies need no private key: they are encrypted to public
// keys.
func TestReadAndReplyInBrowser(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	l := locale(t, "en")
	marker := "lantern-" + strings.ToLower(rand8())
	message := "The port authority's invoices are forged. " + marker

	src := b.tab(t, true)
	do(t, src, "sending a tip with a picture",
		chromedp.Navigate(in.url+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded(),
		chromedp.Click(chromedp.CSS("input[name=desk][value="+journeyDesk+"]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), message),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{smallPNG(t)}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	codename := nonDigit.ReplaceAllString(text(t, src, "p#codename"), "")
	items := in.conversationOf(t, codename)
	conv := items[0].ConversationID

	nr := b.tab(t, true)
	var rec sent
	rec.listen(t, nr)
	loginJournalist(t, nr, in)

	// The conversation: without the desk key on this device, the page
	// says so and offers the encrypted files.
	do(t, nr, "opening the conversation",
		chromedp.Navigate(in.url+"/newsroom/c/"+conv+"?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("#conversation")),
		loaded())
	run(t, nr, "waiting for the page to say the key is not here",
		chromedp.Poll[bool](`document.querySelector("[data-read-status]").textContent === `+jsString(l.T("newsroom.read.nokey"))))
	if n := count(t, nr, `li[data-item] .item-files a`); n < 3 {
		t.Errorf("the page offers %d encrypted downloads, want one per item and the file's name and type", n)
	}

	// A reply, encrypted by the browser.
	reply := "Thank you. Can you send the 2023 invoices too? " + marker + "-reply"
	do(t, nr, "replying",
		chromedp.WaitVisible(chromedp.CSS("form[data-seal-reply] textarea#reply")),
		chromedp.SendKeys(chromedp.CSS("textarea#reply"), reply),
		chromedp.Click(chromedp.CSS("form[data-seal-reply] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	wantText(t, nr, "p.notice", l.T("newsroom.reply.sent"))
	items = in.conversationOf(t, codename)
	last := items[len(items)-1]
	if last.Kind != pista.KindReply || last.EncryptedBy != "browser" {
		t.Errorf("the last item is a %s encrypted by %q, want a reply encrypted by the browser", last.Kind, last.EncryptedBy)
	}
	if got := string(in.open(t, journeyDesk, last.Object)); got != reply {
		t.Errorf("the desk's key opens the reply as %q, want %q", got, reply)
	}

	// The search: what is typed stays in the page.
	needle := "needle-" + rand8()
	do(t, nr, "searching the inbox",
		chromedp.Navigate(in.url+"/newsroom/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("form#search input#search-q")),
		loaded(),
		chromedp.SendKeys(chromedp.CSS("input#search-q"), needle),
		chromedp.Click(chromedp.CSS("form#search button[type=submit]")))
	run(t, nr, "waiting for the search to end",
		chromedp.Poll[bool](`document.querySelector("[data-search-status]").textContent === `+jsString(l.T("newsroom.read.nokey"))))

	for _, secret := range []string{needle, reply, marker} {
		if rs := rec.containing(secret); len(rs) > 0 {
			t.Errorf("the journalist's browser sent %q in %v", secret, rs)
		}
	}

	// The source reads the reply.
	do(t, src, "the source logging in",
		chromedp.Navigate(in.url+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("input#codename")),
		loaded(),
		chromedp.SendKeys(chromedp.CSS("input#codename"), codename),
		chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#replies-h")),
		loaded())
	if got := text(t, src, "section[aria-labelledby=replies-h]"); !strings.Contains(got, reply) {
		t.Errorf("the source's page shows %q, without the reply %q", got, reply)
	}
}

func rand8() string { return strings.ToLower(rand.Text()[:8]) }
