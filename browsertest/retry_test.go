package browsertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
	tus "github.com/pista-tips/pista/upload"
)

// newInstanceWith starts a server as newInstance does, with cfg, and one
// desk (journeyDesk) whose identity it keeps.
func newInstanceWith(t *testing.T, cfg server.Config) *instance {
	t.Helper()
	in := startInstance(t, cfg)
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	in.alice = pista.Journalist{Name: "alice", Recipient: id.Recipient().String(), TOTPSecret: "unused"}
	if err := in.srv.Stores.Journalists.CreateJournalist(context.Background(), &in.alice); err != nil {
		t.Fatalf("CreateJournalist: %v", err)
	}
	in.addDesk(t, pista.Desk{Slug: journeyDesk, Title: "Middle East & North Africa"})
	return in
}

// waitFor polls the tab until js is true.
func waitFor(what, js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](js)(ctx, t)
			if err == nil && ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// TestUploadFailsAndRetries: when the server refuses an upload (here, too
// many uploads are pending), the form says so in the source's language,
// shows the progress bar and a Retry button, on a phone, right to left in
// Arabic, without scrolling sideways and without accessibility faults;
// nothing is stored. Once the server has room again, Retry sends the file
// and the tip is stored whole.
func TestUploadFailsAndRetries(t *testing.T) {
	b := newBrowser(t)
	in := newInstanceWith(t, server.Config{MaxPendingUploads: 1})
	l := locale(t, "ar")

	// Someone else's upload fills the only place.
	req, _ := http.NewRequest(http.MethodPost, in.url+tus.BasePath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "100")
	req.Header.Set(pow.Header, pistatest.Prove(t, in.url))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating the upload that fills the cap: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	other := resp.Header.Get("Location")

	sub := submission{
		message: phrases["ar"],
		files:   []upload{newUpload(t, fileNames["ar"], 300_000)},
	}
	ctx := b.tab(t, true)
	setViewport(t, ctx, phone)
	do(t, ctx, "opening the landing page",
		chromedp.Navigate(in.url+"/?lang=ar"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded())
	do(t, ctx, "sending a tip with a file",
		chromedp.Click(chromedp.CSS("input[name=desk][value="+journeyDesk+"]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), sub.message),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{sub.files[0].path}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("[data-upload-retry]")))

	checkLangDir(t, ctx, "landing page, upload refused", l)
	wantText(t, ctx, "form[data-encrypt] [data-status]", l.T("upload.busy"))
	wantText(t, ctx, "[data-upload-retry]", l.T("upload.retry"))
	if n := count(t, ctx, "form[data-encrypt] [data-upload]:not([hidden]) progress"); n != 1 {
		t.Errorf("%d progress bars are shown, want 1", n)
	}
	if live := run(t, ctx, "reading the status's aria-live", chromedp.Evaluate[string](`document.querySelector("form[data-encrypt] [data-status]").getAttribute("aria-live") || ""`)); live != "polite" {
		t.Errorf("the status line has aria-live=%q, want polite", live)
	}
	if focused := run(t, ctx, "reading the focus", chromedp.Evaluate[bool](`document.activeElement === document.querySelector("[data-upload-retry]")`)); !focused {
		t.Error("the Retry button does not have the focus")
	}
	checkNoHorizontalScroll(t, ctx, phone)
	t.Run("axe", func(t *testing.T) { checkAxe(t, ctx) })
	screenshot(t, ctx, "upload-failed-ar-phone")
	if items, err := in.srv.Stores.Tips.ItemsFor(context.Background(), in.alice.ID, 0, 10); err != nil || len(items) != 0 {
		t.Fatalf("items stored before the upload finished: %d, %v", len(items), err)
	}

	// The other upload goes; Retry sends the file.
	req, _ = http.NewRequest(http.MethodDelete, other, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("deleting the other upload: %v %v", resp, err)
	}
	do(t, ctx, "pressing Retry",
		chromedp.Click(chromedp.CSS("[data-upload-retry]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	codename := nonDigit.ReplaceAllString(text(t, ctx, "p#codename"), "")
	in.checkStored(t, in.conversationOf(t, codename), journeyDesk, "browser", sub)
}

// TestUploadProgressLine checks the line under the bar while an upload
// runs slowly: a percentage, a speed and a time left, in the page's
// language and digits.
func TestUploadProgressLine(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	// Slow the uploads' PATCHes so that the line can be read mid-way.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			r.Body = http.MaxBytesReader(w, slowReader{r.Body}, 1<<30)
		}
		in.srv.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	for _, tag := range []string{"en", "fr"} {
		t.Run(tag, func(t *testing.T) {
			l := locale(t, tag)
			ctx := b.tab(t, true)
			do(t, ctx, "opening the landing page",
				chromedp.Navigate(slow.URL+"/?lang="+tag),
				chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
				loaded())
			f := newUpload(t, "notes.bin", 6<<20)
			// The page's template, whose words must show around the
			// numbers.
			tmpl := l.T("upload.progress")
			var words []string
			for _, piece := range strings.FieldsFunc(tmpl, func(r rune) bool { return r == '{' || r == '}' }) {
				if piece = strings.TrimSpace(piece); piece != "percent" && piece != "speed" && piece != "left" && piece != "" {
					words = append(words, piece)
				}
			}
			do(t, ctx, "sending a tip with a file",
				chromedp.SendKeys(chromedp.CSS("textarea#message"), "notes"),
				chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{f.path}),
				chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
				waitFor("the speed and time left", `(() => { const p = document.querySelector("[data-upload-text]"); return !!p && p.textContent.includes(`+jsString(words[len(words)-1])+`) })()`))
			line := text(t, ctx, "[data-upload-text]")
			for _, w := range words {
				if !strings.Contains(line, strings.Join(strings.Fields(w), " ")) {
					t.Errorf("the progress line %q lacks %q of %q", line, w, tmpl)
				}
			}
			t.Logf("the progress line reads %q", line)
			if !strings.Contains(line, "%") {
				t.Errorf("the progress line %q shows no percentage", line)
			}
			bar := run(t, ctx, "reading the bar", chromedp.Evaluate[string](`document.querySelector("[data-upload-bar]").value + "/" + document.querySelector("[data-upload-bar]").max`))
			if v, _, _ := strings.Cut(bar, "/"); v == "100" || bar[len(bar)-4:] != "/100" {
				t.Errorf("the bar shows %s while the upload runs", bar)
			} else if n, _ := strconv.Atoi(v); n <= 0 {
				t.Errorf("the bar shows %s", bar)
			}
			do(t, ctx, "waiting for the receipt", chromedp.WaitVisible(chromedp.CSS("p#codename")))
		})
	}
}

// slowReader reads at most 64 KiB every 50 ms: about 1.3 MB/s.
type slowReader struct{ r io.ReadCloser }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(50 * time.Millisecond)
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	return s.r.Read(p)
}

func (s slowReader) Close() error { return s.r.Close() }
