package browsertest

// The harness: a real instance in a temporary data folder served on
// 127.0.0.1:0, its desks and journalist made through the stores (keeping
// the desk identities to check what was stored), and a headless Chromium
// with one tab per subtest.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// newsroomName is the newsroom the test instance is set up for.
const newsroomName = "The Daily Lantern"

// journeyDesk is the desk the journeys send to; it is not the first one
// listed, so the test has to choose it as a source would.
const journeyDesk = "middle-east"

// logBuffer collects a server's log, written from its goroutines.
type logBuffer = pistatest.LogBuffer

// instance is a running server with one journalist, member of every desk.
type instance struct {
	srv   *server.Server
	url   string // http://127.0.0.1:PORT
	alice pista.Journalist
	desks map[string]*age.HybridIdentity // slug → desk identity
	log   *logBuffer                     // what the server logged
}

// newInstance starts a server on a fresh data folder, with a journalist
// and two desks.
func newInstance(t *testing.T) *instance {
	t.Helper()
	in := startInstance(t, server.Config{})
	// alice's passphrase is pistatest's. Her identity is not stored with
	// her account: her browser has no desk key (the tests of the auth
	// module log in with one).
	in.alice = pistatest.NewJournalist(t, "alice").Journalist
	in.alice.Auth.WrappedIdentity = nil
	if err := in.srv.Stores.Journalists.CreateJournalist(context.Background(), &in.alice); err != nil {
		t.Fatalf("CreateJournalist: %v", err)
	}
	in.addDesk(t, pista.Desk{Slug: "middle-east", Title: "Middle East & North Africa", Description: "From Morocco to Iran"})
	in.addDesk(t, pista.Desk{Slug: "americas", Title: "Americas", Description: "North, Central and South America, the Caribbean"})
	return in
}

// byHostName returns the address u (http://127.0.0.1:PORT/…) by host name,
// localhost: WebAuthn and the browser's secure context want one, not an IP
// address.
func byHostName(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

// allowDownloads has the tab's browser save what the page downloads in a
// new temporary folder, and returns it.
func allowDownloads(t *testing.T, tab context.Context) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.Call(tab, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		BrowserContextID: chromedp.FromContext(tab).BrowserContextID,
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// downloaded waits up to 20 s for the file name to be saved whole in dir,
// and returns it; nil if it was not.
func downloaded(dir, name string) []byte {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}

// startInstance starts a server with cfg on a fresh data folder
// (pistatest.New), its log shown if the test fails; it has no journalist
// yet.
func startInstance(t *testing.T, cfg server.Config) *instance {
	t.Helper()
	cfg.Newsroom = newsroomName
	p := pistatest.New(t, cfg)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", p.Log.String())
		}
	})
	return &instance{srv: p.Srv, url: p.TS.URL, desks: map[string]*age.HybridIdentity{}, log: p.Log}
}

// addDesk creates desk d with a new key, wrapped to alice, and keeps the
// key's identity.
func (in *instance) addDesk(t *testing.T, d pista.Desk) {
	t.Helper()
	deskID, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	w, err := keys.Wrap(deskID, in.alice.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	d.Recipient = deskID.Recipient().String()
	if err := in.srv.Stores.Desks.CreateDesk(context.Background(), &d, []pista.KeyWrap{{JournalistID: in.alice.ID, Wrapped: w}}); err != nil {
		t.Fatalf("CreateDesk: %v", err)
	}
	in.desks[d.Slug] = deskID
}

// conversationOf finds the conversation of the source with codename, as
// the server does when they log in, and returns its items, oldest first.
func (in *instance) conversationOf(t *testing.T, codename string) []pista.Item {
	t.Helper()
	ctx := context.Background()
	c, err := keys.ParseCodename(codename)
	if err != nil {
		t.Fatalf("codename %q: %v", codename, err)
	}
	salt, err := in.srv.Stores.CodenameSalt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := keys.Derive(ctx, c, salt)
	if err != nil {
		t.Fatal(err)
	}
	src, err := in.srv.Stores.Tips.SourceByLookup(ctx, d.Lookup)
	if err != nil {
		t.Fatalf("no source has the codename the receipt showed: %v", err)
	}
	convs, err := in.srv.Stores.Tips.ConversationsOfSource(ctx, src.ID)
	if err != nil || len(convs) != 1 {
		t.Fatalf("the source has %d conversations (%v), want 1", len(convs), err)
	}
	items, err := in.srv.Stores.Tips.ItemsOfConversation(ctx, convs[0].ID)
	if err != nil {
		t.Fatalf("ItemsOfConversation: %v", err)
	}
	// The journalist's view (ItemsFor, what pull and the inbox read) has
	// the same items.
	seen := map[int64]bool{}
	for after := int64(0); ; {
		page, err := in.srv.Stores.Tips.ItemsFor(ctx, in.alice.ID, after, 1000)
		if err != nil {
			t.Fatalf("ItemsFor: %v", err)
		}
		if len(page) == 0 {
			break
		}
		for _, it := range page {
			if it.ConversationID == convs[0].ID {
				seen[it.ID] = true
			}
		}
		after = page[len(page)-1].ID
	}
	for _, it := range items {
		if !seen[it.ID] {
			t.Errorf("item %d (%s) of the conversation is not in the desk journalist's items", it.ID, it.Kind)
		}
	}
	return items
}

// open decrypts a stored object with a desk's identity.
func (in *instance) open(t *testing.T, desk, key string) []byte {
	t.Helper()
	obj, err := in.srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("opening object %s: %v", key, err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, in.desks[desk])
	if err != nil {
		t.Fatalf("the %s desk's identity does not open object %s: %v", desk, key, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decrypting object %s: %v", key, err)
	}
	return b
}

// submission is what a source sent in one form.
type submission struct {
	message string
	contact string // "" for none
	files   []upload
}

// upload is a file a source attached.
type upload struct {
	path string // on disk, for the file input
	name string
	data []byte
}

// newUpload writes n random bytes to a temporary file called name.
func newUpload(t *testing.T, name string, n int) upload {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return upload{path: path, name: name, data: data}
}

// checkStored checks that items, a conversation's items, are exactly
// subs, in one conversation of desk: each message, contact,
// file and file name decrypts with the desk's identity to what the source
// sent, and each was encrypted by wantBy ("browser" or "server"). The
// items of a submission come before those of the next; within one, only
// the order of items of the same kind is kept (the server stores the
// contact last).
func (in *instance) checkStored(t *testing.T, items []pista.Item, desk, wantBy string, subs ...submission) {
	t.Helper()
	type want struct {
		kind pista.ItemKind
		data []byte
		name string // a file's name
	}
	var batches [][]want
	n := 0
	for _, s := range subs {
		ws := []want{{kind: pista.KindMessage, data: []byte(s.message)}}
		if s.contact != "" {
			ws = append(ws, want{kind: pista.KindContact, data: []byte(s.contact)})
		}
		for _, f := range s.files {
			ws = append(ws, want{kind: pista.KindFile, data: f.data, name: f.name})
		}
		batches = append(batches, ws)
		n += len(ws)
	}
	if len(items) != n {
		var kinds []string
		for _, it := range items {
			kinds = append(kinds, string(it.Kind))
		}
		t.Fatalf("the server stored %d items %v, want %d", len(items), kinds, n)
	}
	conv := items[0].ConversationID
	rest := items
	for b, ws := range batches {
		batch := rest[:len(ws)]
		rest = rest[len(ws):]
		for _, w := range ws {
			i := slices.IndexFunc(batch, func(it pista.Item) bool { return it.Kind == w.kind })
			if i < 0 {
				t.Errorf("submission %d: no %s stored", b+1, w.kind)
				continue
			}
			it := batch[i]
			batch = slices.Delete(batch, i, i+1)
			if it.ConversationID != conv {
				t.Errorf("submission %d: the %s is in conversation %s, the first item in %s", b+1, it.Kind, it.ConversationID, conv)
			}
			if it.EncryptedBy != wantBy {
				t.Errorf("submission %d: the %s was encrypted by %q, want %q", b+1, it.Kind, it.EncryptedBy, wantBy)
			}
			got := in.open(t, desk, it.Object)
			if w.kind == pista.KindFile {
				if it.Meta == "" {
					t.Errorf("submission %d: file %s has no name and type stored", b+1, w.name)
					continue
				}
				var meta pista.FileMeta
				if err := json.Unmarshal(in.open(t, desk, it.Meta), &meta); err != nil {
					t.Errorf("submission %d: file meta: %v", b+1, err)
					continue
				}
				if meta.Name != w.name {
					t.Errorf("submission %d: file name %q, want %q", b+1, meta.Name, w.name)
				}
				// Files are padded inside their encryption; the exact size
				// is in their name-and-type object.
				if meta.Size == nil || int64(len(got)) != pista.Padme(*meta.Size) || *meta.Size > int64(len(got)) ||
					bytes.Count(got[*meta.Size:], []byte{0}) != len(got)-int(*meta.Size) {
					t.Errorf("submission %d: file %s is not padded as pista.Padme says (%d bytes stored, size %v)", b+1, w.name, len(got), meta.Size)
					continue
				}
				got = got[:*meta.Size]
			}
			if !bytes.Equal(got, w.data) {
				t.Errorf("submission %d: the %s decrypts to %d bytes %.60q, want %d bytes %.60q", b+1, it.Kind, len(got), got, len(w.data), w.data)
			}
		}
	}
}

// browser is a headless Chromium shared by the subtests of a test.
type browser struct {
	ctx context.Context // the browser's context; each tab is a child
}

// tabTimeout bounds everything one tab does.
const tabTimeout = 60 * time.Second

// newBrowser starts Chromium (or skips t, see needChromium) and stops it
// when t ends.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := needChromium(t)
	dir, err := os.MkdirTemp("", "pista-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(dir),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel()
		os.RemoveAll(dir) // Chromium may still be writing its profile: best effort
	})
	// Start the browser with a context that has no deadline (its life is
	// bound to that context), but do not wait for ever.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", path, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start in 30 s", path)
	}
	return &browser{ctx: bctx}
}

// tab opens a new tab, with JavaScript disabled unless js, in a browser
// context of its own (its own cookies, as a separate visitor: tabs that
// shared the source's session cookie would invalidate each other's forms).
// The tab closes when t ends; what runs in it must be done within
// tabTimeout.
func (b *browser) tab(t *testing.T, js bool) context.Context {
	t.Helper()
	tctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(func() { cancel() })
	// The tab lives as long as the context of its first action: open it
	// with one that has no deadline, so that a failure can still be shown.
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tctx, tabTimeout)
	t.Cleanup(cancelTimeout)
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("disabling JavaScript: %v", err)
		}
	}
	return ctx
}

// do runs steps in the tab, failing t with what the tab shows if they fail.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v%s", what, err, describe(ctx))
	}
}

// loaded waits until the tab's document has loaded, its deferred scripts
// run: an element may be visible before then, and a form sent before
// pista.js has run is sent without it. It polls from Go, since page
// timers do not run in a tab whose scripts are disabled.
func loaded() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			state, err := chromedp.Evaluate[string](`document.readyState`)(ctx, t)
			if err == nil && state == "complete" {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the page to load (readyState %q, %v): %w", state, err, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
}

// run runs one action that returns a value, failing t if it fails.
func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v%s", what, err, describe(ctx))
	}
	return v
}

// describe says where the tab is and what it shows, for a failure message.
func describe(ctx context.Context) string {
	note := ""
	if ctx.Err() != nil {
		note = " (the tab's time is up)"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	return fmt.Sprintf("%s\nthe tab is at %s and shows:\n%s", note, loc, text)
}

// text returns the visible text of the element sel, whitespace collapsed.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.Join(strings.Fields(run(t, ctx, "reading "+sel, chromedp.Text(chromedp.CSS(sel)))), " ")
}

// wantText fails t unless the element sel shows want.
func wantText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	want = strings.Join(strings.Fields(want), " ")
	if got := text(t, ctx, sel); got != want {
		t.Errorf("%s shows %q, want %q", sel, got, want)
	}
}

// htmlLangDir returns the lang and dir of the page's <html>.
func htmlLangDir(t *testing.T, ctx context.Context) (string, string) {
	t.Helper()
	v := run(t, ctx, "reading <html lang dir>", chromedp.Evaluate[[]string](`[document.documentElement.getAttribute("lang"), document.documentElement.getAttribute("dir")]`))
	return v[0], v[1]
}

// checkLangDir fails t unless the page is marked as being in lang, with
// lang's direction.
func checkLangDir(t *testing.T, ctx context.Context, page string, l *i18n.Locale) {
	t.Helper()
	wantDir := "ltr"
	if l.Tag == "ar" {
		wantDir = "rtl"
	}
	if l.Dir != wantDir {
		t.Errorf("i18n says %s is %s, want %s", l.Tag, l.Dir, wantDir)
	}
	if lang, dir := htmlLangDir(t, ctx); lang != l.Tag || dir != wantDir {
		t.Errorf("%s: <html lang=%q dir=%q>, want lang=%q dir=%q", page, lang, dir, l.Tag, wantDir)
	}
}

var nonDigit = regexp.MustCompile(`[^0-9]`)

// arabicIndic writes the ASCII digits of s in Arabic-Indic digits (٠-٩).
func arabicIndic(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '٠' + (r - '0')
		}
		return r
	}, s)
}

// groups writes a codename in groups of four, as the receipt shows it.
func groups(c string) string {
	var b strings.Builder
	for i, r := range c {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func locale(t *testing.T, tag string) *i18n.Locale {
	t.Helper()
	l, ok := i18n.Get(tag)
	if !ok {
		t.Fatalf("no locale %q", tag)
	}
	return l
}
