package newsroom_test

// Helpers shared by this package's tests: a real instance in a temporary
// data folder, served on 127.0.0.1:0; journalists and desks made through
// the stores; and a "browser" that keeps cookies, does not follow
// redirects and reads CSRF tokens from pages. The same file, but for its
// package clause, is in server/, newsroom/, api/, web/ and i18n/: test
// helpers cannot be shared between packages without a non-test package.

import (
	"bytes"
	"context"
	"crypto/rand"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/web"
)

// logBuffer collects the server's log; handlers write to it from their
// own goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// instance is a running server.
type instance struct {
	t    testing.TB
	cfg  server.Config
	srv  *server.Server
	ts   *httptest.Server
	log  *logBuffer
	data string
}

// newInstance starts a server on a fresh data folder (or cfg.Data).
func newInstance(t testing.TB, cfg server.Config) *instance {
	t.Helper()
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	log := &logBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	return &instance{t: t, cfg: cfg, srv: srv, ts: ts, log: log, data: cfg.Data}
}

const testPassword = "correct horse battery staple"

// passwordHash is computed once: Argon2id takes a while, and every test
// journalist may share a password.
var passwordHash = sync.OnceValues(func() (string, error) {
	return keys.HashPassword(context.Background(), testPassword)
})

// journalist is a newsroom account with what its owner knows.
type journalist struct {
	pista.Journalist
	Password string
	Identity *age.HybridIdentity

	mu       sync.Mutex
	lastStep int64
}

// journalist makes an account through the store.
func (in *instance) journalist(name string) *journalist {
	t := in.t
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := passwordHash()
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := keys.NewTOTP("pista test", name)
	if err != nil {
		t.Fatal(err)
	}
	j := &journalist{
		Journalist: pista.Journalist{Name: name, Recipient: id.Recipient().String(), PasswordHash: hash, TOTPSecret: secret},
		Password:   testPassword, Identity: id,
	}
	if err := in.srv.Stores.Journalists.CreateJournalist(context.Background(), &j.Journalist); err != nil {
		t.Fatalf("CreateJournalist: %v", err)
	}
	return j
}

// code returns a TOTP code of j for a time step not used before: each step
// works once, so a test that logs in twice gets the next step, waiting for
// the clock if that step is not valid yet.
func (j *journalist) code(t testing.TB) string {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		now := time.Now().Unix() / keys.TOTPPeriod
		step := max(j.lastStep+1, now)
		if step <= now+1 {
			j.lastStep = step
			code, err := totp.GenerateCode(j.TOTPSecret, time.Unix(step*keys.TOTPPeriod, 0))
			if err != nil {
				t.Fatal(err)
			}
			return code
		}
		time.Sleep(time.Until(time.Unix((now+1)*keys.TOTPPeriod, 0)) + 10*time.Millisecond)
	}
}

// desk makes a desk whose key is wrapped to its members.
func (in *instance) desk(slug string, members ...*journalist) pista.Desk {
	t := in.t
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	var wraps []pista.KeyWrap
	for _, m := range members {
		w, err := keys.Wrap(id, m.Recipient)
		if err != nil {
			t.Fatal(err)
		}
		wraps = append(wraps, pista.KeyWrap{JournalistID: m.ID, Wrapped: w})
	}
	d := pista.Desk{Slug: slug, Title: "Desk " + slug, Recipient: id.Recipient().String()}
	if err := in.srv.Stores.Desks.CreateDesk(context.Background(), &d, wraps); err != nil {
		t.Fatalf("CreateDesk: %v", err)
	}
	return d
}

// storeTip stores a tip with a message straight through the stores, for
// tests that need many conversations quickly.
func (in *instance) storeTip(desk pista.Desk) *pista.NewTip {
	t := in.t
	t.Helper()
	ctx := context.Background()
	rs, err := keys.ParseRecipients(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(in.srv.Stores.Blobs, rs, -1)
	if err := b.AddText(ctx, pista.KindMessage, "a tip"); err != nil {
		t.Fatal(err)
	}
	src, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	lookup := make([]byte, 32)
	rand.Read(lookup)
	tip := &pista.NewTip{
		Source:       pista.Source{Lookup: lookup, Recipient: src.Recipient().String()},
		Conversation: pista.Conversation{ID: web.NewConversationID(), DeskID: desk.ID},
		Items:        b.Items(),
	}
	if err := in.srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatalf("CreateTip: %v", err)
	}
	return tip
}

// state is what a refused request must leave unchanged.
type state struct {
	lastItem int64
	objects  []string
}

// snapshot reads the newest item visible to js (who must be members of
// every desk between them) and the object keys.
func (in *instance) snapshot(js ...*journalist) state {
	t := in.t
	t.Helper()
	ctx := context.Background()
	var s state
	for _, j := range js {
		after := int64(0)
		for {
			items, err := in.srv.Stores.Tips.ItemsFor(ctx, j.ID, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				break
			}
			after = items[len(items)-1].ID
		}
		s.lastItem = max(s.lastItem, after)
	}
	keys, err := in.srv.Stores.Blobs.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	s.objects = keys
	return s
}

// tempFiles lists what is left in the data folder's tmp/.
func (in *instance) tempFiles() []string {
	in.t.Helper()
	es, err := os.ReadDir(filepath.Join(in.data, "tmp"))
	if err != nil {
		in.t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// checkUnchanged fails unless nothing was stored since before (as seen
// by js) and no temporary file is left.
func (in *instance) checkUnchanged(t testing.TB, before state, js ...*journalist) {
	t.Helper()
	after := in.snapshot(js...)
	if after.lastItem != before.lastItem {
		t.Errorf("new items were stored (last item %d → %d)", before.lastItem, after.lastItem)
	}
	if !slices.Equal(after.objects, before.objects) {
		t.Errorf("objects changed: %d before, %d after", len(before.objects), len(after.objects))
	}
	if tmp := in.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// response is what a browser got.
type response struct {
	Status int
	Header http.Header
	Body   string
}

// Text is the body with HTML entities decoded, to look for messages in.
func (r *response) Text() string { return html.UnescapeString(r.Body) }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// csrf reads the form token from a page, as a browser submits it.
func (r *response) csrf(t testing.TB) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no csrf field in the page (status %d):\n%s", r.Status, r.Body)
	}
	return html.UnescapeString(m[1])
}

var codenameRe = regexp.MustCompile(`(?s)id="codename"[^>]*>(.*?)</p>`)

// codename reads the codename from a receipt page.
func (r *response) codename(t testing.TB) string {
	t.Helper()
	m := codenameRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no codename in the page (status %d):\n%s", r.Status, r.Body)
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[1], ""))
	if len(digits) != keys.CodenameDigits {
		t.Fatalf("codename %q has %d digits", digits, len(digits))
	}
	return digits
}

// browser is a client with cookies that shows redirects instead of
// following them.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (in *instance) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: in.t, base: in.ts.URL, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       time.Minute,
	}}
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

func (b *browser) request(method, path string, body io.Reader, contentType string) *http.Request {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func (b *browser) get(path string) *response {
	b.t.Helper()
	return b.do(b.request(http.MethodGet, path, nil, ""))
}

func (b *browser) post(path string, form url.Values) *response {
	b.t.Helper()
	return b.do(b.request(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"))
}

// part is one field of a multipart form; a file when filename or file is
// set (an empty file input sends a file part with an empty filename).
type part struct {
	name, value, filename string
	file                  bool
}

// multipartBody encodes parts in order, as a browser sends a form.
func multipartBody(t testing.TB, parts []part) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" || p.file {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="`+p.filename+`"`)
			h.Set("Content-Type", "application/pdf")
			w, err = mw.CreatePart(h)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.value)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (b *browser) postMultipart(path string, parts []part) *response {
	b.t.Helper()
	body, ct := multipartBody(b.t, parts)
	return b.do(b.request(http.MethodPost, path, body, ct))
}

// submit sends a tip from the landing page's form and returns the
// receipt page.
func (b *browser) submit(desk, message string, more ...part) *response {
	b.t.Helper()
	tok := b.get("/").csrf(b.t)
	parts := append([]part{{name: "csrf", value: tok}, {name: "desk", value: desk}, {name: "message", value: message}}, more...)
	return b.postMultipart("/submit", parts)
}

// loginJournalist signs j in to the web inbox.
func (b *browser) loginJournalist(j *journalist) {
	b.t.Helper()
	tok := b.get("/newsroom/login").csrf(b.t)
	r := b.post("/newsroom/login", url.Values{"csrf": {tok}, "name": {j.Name}, "password": {j.Password}, "totp": {j.code(b.t)}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/newsroom/" {
		b.t.Fatalf("journalist login: %d %s\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
}

// en returns the English text of a message key.
func en(key string, args ...any) string {
	l, _ := i18n.Get("en")
	return l.T(key, args...)
}
