// Package pistatest holds what the tests of server/, newsroom/, api/, web/
// and i18n/ share: a real instance started by [New] on 127.0.0.1:0 with a
// temporary data folder; journalists and desks made straight through the
// stores ([Instance.Journalist], [Instance.Desk]); and a [Browser] that
// keeps cookies, shows redirects instead of following them and reads CSRF
// tokens from pages, as a browser submits them.
//
// It is a non-test package only so that tests can import it (the smtp,
// browser and command tests take its LogBuffer too); no product code
// should.
package pistatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
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
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
)

// LogBuffer collects the server's log; handlers write to it from their
// own goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Instance is a running server.
type Instance struct {
	T    testing.TB
	Cfg  server.Config
	Srv  *server.Server
	TS   *httptest.Server
	Log  *LogBuffer
	Data string
}

// New starts a server on a fresh data folder (or cfg.Data), logging at
// debug level to [Instance.Log]; both stop when t ends.
func New(t testing.TB, cfg server.Config) *Instance {
	t.Helper()
	if cfg.Data == "" {
		cfg.Data = t.TempDir()
	}
	if cfg.PoWBits == 0 {
		// The easiest puzzle: 256 hashes, cheap even under the race
		// detector. Tests of the difficulty set their own.
		cfg.PoWBits = pow.MinBits
	}
	log := &LogBuffer{}
	cfg.Log = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	// What the last run left is swept in the background: tests see the
	// folder after it, as a server's does a moment after start.
	<-srv.Swept()
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	return &Instance{T: t, Cfg: cfg, Srv: srv, TS: ts, Log: log, Data: cfg.Data}
}

// TestPassword is the passphrase of every journalist made by
// [Instance.Journalist].
const TestPassword = "correct horse battery staple"

// TestSalt is the salt of every journalist made by [Instance.Journalist]:
// one salt for all, so that the passphrase is stretched once per test
// binary (Argon2id at 64 MiB takes a while).
var TestSalt = []byte("pista-test-salt!")

// TestKeys are the keys TestPassword yields under TestSalt.
var TestKeys = sync.OnceValues(func() (keys.JournalistKeys, error) {
	return keys.DeriveJournalist(context.Background(), TestPassword, TestSalt, keys.JournalistKDF)
})

// Journalist is a newsroom account with what its owner knows.
type Journalist struct {
	pista.Journalist
	Password string
	Identity *age.HybridIdentity
	// Keys are what Password yields: Keys.Auth logs in, Keys.Wrap opens
	// Auth.WrappedIdentity.
	Keys keys.JournalistKeys

	mu       sync.Mutex
	lastStep int64
}

// Journalist makes an account through the store.
func (in *Instance) Journalist(name string) *Journalist {
	t := in.T
	t.Helper()
	j := NewJournalist(t, name)
	if err := in.Srv.Stores.Journalists.CreateJournalist(context.Background(), &j.Journalist); err != nil {
		t.Fatalf("CreateJournalist: %v", err)
	}
	return j
}

// NewJournalist makes an account's keys and second factor, with
// TestPassword, as the invitation page makes them, without storing it.
func NewJournalist(t testing.TB, name string) *Journalist {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := TestKeys()
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := keys.WrapIdentity(k.Wrap, id.String())
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := keys.NewTOTP("pista test", name)
	if err != nil {
		t.Fatal(err)
	}
	return &Journalist{
		Journalist: pista.Journalist{Name: name, Recipient: id.Recipient().String(), TOTPSecret: secret,
			Auth: pista.JournalistAuth{Salt: TestSalt, KDF: keys.JournalistKDF, Hash: keys.AuthHash(k.Auth), WrappedIdentity: wrapped}},
		Password: TestPassword, Identity: id, Keys: k,
	}
}

// Code returns a TOTP code of j for a time step not used before: each step
// works once, so a test that logs in twice gets the next step, waiting for
// the clock if that step is not valid yet.
func (j *Journalist) Code(t testing.TB) string {
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

// Desk makes a desk whose key is wrapped to its members.
func (in *Instance) Desk(slug string, members ...*Journalist) pista.Desk {
	in.T.Helper()
	d, _ := in.DeskWithIdentity(slug, members...)
	return d
}

// DeskWithIdentity is Desk, and also returns the desk's identity, for
// tests that decrypt what the server stored.
func (in *Instance) DeskWithIdentity(slug string, members ...*Journalist) (pista.Desk, *age.HybridIdentity) {
	t := in.T
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
	if err := in.Srv.Stores.Desks.CreateDesk(context.Background(), &d, wraps); err != nil {
		t.Fatalf("CreateDesk: %v", err)
	}
	return d, id
}

// StoreTip stores a tip with a message straight through the stores, for
// tests that need many conversations quickly.
func (in *Instance) StoreTip(desk pista.Desk) *pista.NewTip {
	t := in.T
	t.Helper()
	src, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	lookup := make([]byte, 32)
	rand.Read(lookup)
	return in.StoreSourceTip(desk, pista.Source{Lookup: lookup, Recipient: src.Recipient().String()}, "", "a tip")
}

// StoreSourceTip stores a tip with message from the source src (its
// lookup hash and public key) through channel ch, straight through the
// stores.
func (in *Instance) StoreSourceTip(desk pista.Desk, src pista.Source, ch pista.Channel, message string) *pista.NewTip {
	t := in.T
	t.Helper()
	ctx := context.Background()
	rs, err := keys.ParseRecipients(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(in.Srv.Stores.Blobs, rs, -1)
	if err := b.AddText(ctx, pista.KindMessage, message); err != nil {
		t.Fatal(err)
	}
	tip := &pista.NewTip{
		Source:       src,
		Conversation: pista.Conversation{ID: pista.NewConversationID(), Channel: ch, DeskID: desk.ID},
		Items:        b.Items(),
	}
	if err := in.Srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatalf("CreateTip: %v", err)
	}
	return tip
}

// State is what a refused request must leave unchanged.
type State struct {
	// LastItem is how far the items visible to the journalists go: their
	// number, which grows with each item stored. (Item IDs carry no order,
	// so the newest one's ID would not tell.)
	LastItem int64
	Objects  []string
}

// Snapshot reads the newest item visible to js (who must be members of
// every desk between them) and the object keys.
func (in *Instance) Snapshot(js ...*Journalist) State {
	t := in.T
	t.Helper()
	ctx := context.Background()
	var s State
	seen := map[int64]bool{}
	for _, j := range js {
		after := int64(0)
		for {
			items, err := in.Srv.Stores.Tips.ItemsFor(ctx, j.ID, after, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				seen[it.ID] = true
			}
			after = items[len(items)-1].ID
		}
	}
	s.LastItem = int64(len(seen))
	keys, err := in.Srv.Stores.Blobs.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	s.Objects = keys
	return s
}

// TempFiles lists what is left in the data folder's tmp/.
func (in *Instance) TempFiles() []string {
	in.T.Helper()
	es, err := os.ReadDir(filepath.Join(in.Data, "tmp"))
	if err != nil {
		in.T.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// CheckUnchanged fails unless nothing was stored since before (as seen
// by js) and no temporary file is left.
func (in *Instance) CheckUnchanged(t testing.TB, before State, js ...*Journalist) {
	t.Helper()
	after := in.Snapshot(js...)
	if after.LastItem != before.LastItem {
		t.Errorf("new items were stored (last item %d → %d)", before.LastItem, after.LastItem)
	}
	if !slices.Equal(after.Objects, before.Objects) {
		t.Errorf("objects changed: %d before, %d after", len(before.Objects), len(after.Objects))
	}
	if tmp := in.TempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// Response is what a browser got.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Text is the body with HTML entities decoded, to look for messages in.
func (r *Response) Text() string { return html.UnescapeString(r.Body) }

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// CSRF reads the form token from a page, as a browser submits it.
func (r *Response) CSRF(t testing.TB) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no csrf field in the page (status %d):\n%s", r.Status, r.Body)
	}
	return html.UnescapeString(m[1])
}

var (
	codenameRe = regexp.MustCompile(`(?s)id="codename"[^>]*>(.*?)</p>`)
	tagRe      = regexp.MustCompile(`<[^>]*>`)
)

// Codename reads the codename from a receipt page.
func (r *Response) Codename(t testing.TB) string {
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
	}, tagRe.ReplaceAllString(m[1], ""))
	if len(digits) != keys.CodenameDigits {
		t.Fatalf("codename %q has %d digits", digits, len(digits))
	}
	return digits
}

// Browser is a client with cookies that shows redirects instead of
// following them.
type Browser struct {
	T      testing.TB
	Base   string // the instance's URL, which paths are relative to
	Client *http.Client
}

// Browser returns a new browser, with no cookies yet, for the instance.
func (in *Instance) Browser() *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{T: in.T, Base: in.TS.URL, Client: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       time.Minute,
	}}
}

// Do sends req and reads the whole response.
func (b *Browser) Do(req *http.Request) *Response {
	b.T.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.T.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
}

// Request makes a request for path on the instance, with a Content-Type
// header unless contentType is empty.
func (b *Browser) Request(method, path string, body io.Reader, contentType string) *http.Request {
	b.T.Helper()
	req, err := http.NewRequest(method, b.Base+path, body)
	if err != nil {
		b.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// Prove solves a proof-of-work challenge of the instance, for the
// Pista-PoW header of the API or the pow field of the pages' forms.
func (b *Browser) Prove() string {
	b.T.Helper()
	return Prove(b.T, b.Base)
}

// Prove solves a proof-of-work challenge of the server at base (GET
// /pow), for a client without a Browser.
func Prove(t testing.TB, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/pow")
	if err != nil {
		t.Fatalf("GET /pow: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /pow: %d %s", resp.StatusCode, body)
	}
	sol, err := pow.Solve(context.Background(), string(body))
	if err != nil {
		t.Fatalf("solving %q: %v", body, err)
	}
	return sol
}

// Get fetches path.
func (b *Browser) Get(path string) *Response {
	b.T.Helper()
	return b.Do(b.Request(http.MethodGet, path, nil, ""))
}

// Post sends form to path, URL-encoded.
func (b *Browser) Post(path string, form url.Values) *Response {
	b.T.Helper()
	return b.Do(b.Request(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"))
}

// Part is one field of a multipart form; a file when Filename or File is
// set (an empty file input sends a file part with an empty filename).
type Part struct {
	Name, Value, Filename string
	File                  bool
}

// MultipartBody encodes parts in order, as a browser sends a form, and
// returns the body with its Content-Type.
func MultipartBody(t testing.TB, parts []Part) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.Filename != "" || p.File {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+p.Name+`"; filename="`+p.Filename+`"`)
			h.Set("Content-Type", "application/pdf")
			w, err = mw.CreatePart(h)
		} else {
			w, err = mw.CreateFormField(p.Name)
		}
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.Value)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// PostMultipart sends parts to path as a multipart form.
func (b *Browser) PostMultipart(path string, parts []Part) *Response {
	b.T.Helper()
	body, ct := MultipartBody(b.T, parts)
	return b.Do(b.Request(http.MethodPost, path, body, ct))
}

// Submit sends a tip from the landing page's form and returns the
// receipt page.
func (b *Browser) Submit(desk, message string, more ...Part) *Response {
	b.T.Helper()
	tok := b.Get("/").CSRF(b.T)
	parts := append([]Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: desk}, {Name: "message", Value: message}}, more...)
	return b.PostMultipart("/submit", parts)
}

// LoginJournalist signs j in to the web inbox as the login page's script
// does (see [Browser.PostLogin]) and fails the test unless it worked.
func (b *Browser) LoginJournalist(j *Journalist) {
	b.T.Helper()
	r := b.PostLogin(j.Name, j.Password, j.Code(b.T))
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"next":"/newsroom/"`) {
		b.T.Fatalf("journalist login: %d\n%s", r.Status, r.Body)
	}
}

// PostLogin logs in as the login page's script does: it asks for the
// name's salt and parameters, stretches the passphrase here and sends the
// authentication key and the code, never the passphrase. It returns the
// login's answer (JSON).
func (b *Browser) PostLogin(name, passphrase, code string) *Response {
	b.T.Helper()
	tok := b.Get("/newsroom/login").CSRF(b.T)
	auth := b.AuthKey(tok, name, passphrase)
	return b.Post("/newsroom/login", url.Values{"csrf": {tok}, "name": {name},
		"auth": {base64.StdEncoding.EncodeToString(auth)}, "totp": {code}})
}

// AuthKey fetches name's login parameters with the login page's token tok
// and derives the authentication key of passphrase.
func (b *Browser) AuthKey(tok, name, passphrase string) []byte {
	b.T.Helper()
	p := b.Post("/newsroom/login/params", url.Values{"csrf": {tok}, "name": {name}})
	var params struct {
		Salt []byte `json:"salt"`
		KDF  string `json:"kdf"`
	}
	if p.Status != http.StatusOK || json.Unmarshal([]byte(p.Body), &params) != nil {
		b.T.Fatalf("login params: %d %s", p.Status, p.Body)
	}
	if passphrase == TestPassword && bytes.Equal(params.Salt, TestSalt) && params.KDF == keys.JournalistKDF {
		k, err := TestKeys()
		if err != nil {
			b.T.Fatal(err)
		}
		return k.Auth
	}
	k, err := keys.DeriveJournalist(context.Background(), passphrase, params.Salt, params.KDF)
	if err != nil {
		b.T.Fatalf("deriving the login keys: %v", err)
	}
	return k.Auth
}

// En returns the English text of a message key.
func En(key string, args ...any) string {
	l, _ := i18n.Get("en")
	return l.T(key, args...)
}

var recipientsRE = regexp.MustCompile(`data-recipients="([^"]+)"`)

// SealTo encrypts data as the landing page's script does: with age, to
// the recipients page offers its script.
func SealTo(t testing.TB, page string, data []byte) string {
	t.Helper()
	m := recipientsRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page offers no recipients to its script")
	}
	var rs []age.Recipient
	for _, s := range strings.Fields(html.UnescapeString(m[1])) {
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			t.Fatalf("recipient %q: %v", s, err)
		}
		rs = append(rs, r)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.String()
}

// IntakeKey stores desk's intake key of day as a member's client makes it
// (forward.MakeIntakeKey, posted by member), and answers the stored key
// and its identity.
func (in *Instance) IntakeKey(member *Journalist, desk pista.Desk, deskID *age.HybridIdentity, day int64) (pista.IntakeKey, *age.HybridIdentity) {
	in.T.Helper()
	return AddIntakeKey(in.T, in.Srv.Stores.Tips, member.ID, desk, deskID, day)
}

// AddIntakeKey is Instance.IntakeKey on any store, for the journalist
// memberID.
func AddIntakeKey(t testing.TB, tips pista.TipStore, memberID int64, desk pista.Desk, deskID *age.HybridIdentity, day int64) (pista.IntakeKey, *age.HybridIdentity) {
	t.Helper()
	ctx := context.Background()
	k, err := forward.MakeIntakeKey(deskID, day)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tips.AddIntakeKeys(ctx, memberID, desk.KeyID, forward.SignPublic(deskID.String()),
		[]pista.IntakeKey{{DeskID: desk.ID, DeskKeyID: desk.KeyID, Day: day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed}}); err != nil || n != 1 {
		t.Fatalf("AddIntakeKeys = %d, %v", n, err)
	}
	all, err := tips.IntakeKeysFor(ctx, memberID)
	if err != nil {
		t.Fatal(err)
	}
	id, err := forward.Open(k.Sealed, deskID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Recipient == k.Recipient {
			return s, id
		}
	}
	t.Fatalf("the intake key of day %d is not listed", day)
	return pista.IntakeKey{}, nil
}
