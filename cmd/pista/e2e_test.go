package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"io/fs"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// syncBuffer is a log sink that the server writes to while the test reads.
type syncBuffer = pistatest.LogBuffer

// pista runs a command line in-process and returns its standard output.
func runPista(t testing.TB, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), env{strings.NewReader(""), &out, &errb}, args); code != 0 {
		t.Fatalf("pista %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// journalist is an account the test made with the real commands.
type journalist struct {
	name, keyFile, pwFile, secret string
	lastStep                      *int64 // the last TOTP step used
}

func addJournalist(t testing.TB, dir, data, name string) journalist {
	t.Helper()
	j := journalist{name: name, keyFile: filepath.Join(dir, name+".key"), pwFile: filepath.Join(dir, name+".pass"), lastStep: new(int64)}
	pub := strings.TrimSpace(runPista(t, "keygen", "-o", j.keyFile))
	if err := os.WriteFile(j.pwFile, []byte("a long password for "+name+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := strings.TrimSpace(runPista(t, "journalist", "add", "--data", data, "--name", name, "--recipient", pub, "--password-file", j.pwFile))
	u, err := url.Parse(uri)
	if err != nil || u.Query().Get("secret") == "" {
		t.Fatalf("journalist add printed %q, not an otpauth URI", uri)
	}
	j.secret = u.Query().Get("secret")
	return j
}

// code returns a TOTP code of a time step the journalist has not used:
// each code works once, so successive logins take successive steps, the
// current one or, if it is used, the next (which the server accepts as
// clock drift), waiting for the clock only when both are used.
func (j journalist) code(t testing.TB) string {
	t.Helper()
	for {
		now := time.Now().Unix() / keys.TOTPPeriod
		step := max(*j.lastStep+1, now)
		if step <= now+1 {
			*j.lastStep = step
			c, err := totp.GenerateCode(j.secret, time.Unix(step*keys.TOTPPeriod, 0))
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		time.Sleep(time.Until(time.Unix((now+1)*keys.TOTPPeriod, 0)) + 10*time.Millisecond)
	}
}

// startServer runs `pista serve` in-process on 127.0.0.1:0 and returns its
// base URL and its log, from after the start-up banner (which names the
// server's own address).
func startServer(t testing.TB, data string, opts ...func(*serveFlags)) (string, *logsAfter) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		f := serveFlags{data: data, listen: "127.0.0.1:0", newsroom: "The Test Gazette", maxUpload: "64MiB", scrubMemory: "32MiB", notifyInterval: time.Hour, smtpMaxSize: "32MiB"}
		for _, o := range opts {
			o(&f)
		}
		done <- serve(ctx, env{nil, io.Discard, logs}, f, func(addr string) { ready <- addr })
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	case <-time.After(2 * time.Minute): // with --tor, a tor starts too; CI's -race on 2 cores is slow
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + addr, &logsAfter{logs, len(logs.String())}
}

// logsAfter is the part of a log written after an offset.
type logsAfter struct {
	*syncBuffer
	from int
}

func (l *logsAfter) String() string { return l.syncBuffer.String()[l.from:] }

// browser is a net/http client acting as a browser without JavaScript:
// cookies, no redirects followed automatically so the test sees them.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) (int, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *browser) get(path string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) postForm(path string, v url.Values) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

type file struct {
	name string
	data []byte
}

func (b *browser) postMultipart(path string, fields [][2]string, files []file) (int, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile("files", f.name)
		w.Write(f.data)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token of the page at path, as a browser would.
// login signs in to the web inbox as the login page's script does: the
// passphrase is stretched here and only the authentication key is sent.
// It answers the inbox page that the script then opens.
func (b *browser) login(name, passphrase, code string) (int, string) {
	b.t.Helper()
	tok := b.csrf("/newsroom/login")
	status, body := b.postForm("/newsroom/login/params", url.Values{"csrf": {tok}, "name": {name}})
	var p struct {
		Salt []byte `json:"salt"`
		KDF  string `json:"kdf"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil {
		b.t.Fatalf("login params: %d %s", status, body)
	}
	k, err := keys.DeriveJournalist(context.Background(), passphrase, p.Salt, p.KDF)
	if err != nil {
		b.t.Fatal(err)
	}
	status, body = b.postForm("/newsroom/login", url.Values{"csrf": {tok}, "name": {name},
		"auth": {base64.StdEncoding.EncodeToString(k.Auth)}, "totp": {code}})
	if status != http.StatusOK {
		return status, body
	}
	return b.get("/newsroom/")
}

func (b *browser) csrf(path string) string {
	b.t.Helper()
	status, page := b.get(path)
	m := csrfRE.FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		b.t.Fatalf("GET %s: %d, no csrf field:\n%s", path, status, page)
	}
	return m[1]
}

var codenameRE = regexp.MustCompile(`(?s)id="codename"[^>]*>(.*?)</p>`)
var tagRE = regexp.MustCompile(`<[^>]+>`)

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")

	// A newsroom: the Americas desk with Alice and Bob, the Maghreb desk
	// with Carol.
	alice := addJournalist(t, dir, data, "alice")
	bob := addJournalist(t, dir, data, "bob")
	carol := addJournalist(t, dir, data, "carol")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--coordinator", "alice", "--member", "bob")
	runPista(t, "desk", "add", "--data", data, "--name", "maghreb", "--title", "Maghreb", "--member", "carol")
	checkRoles(t, data, "americas", map[string]pista.Role{"alice": pista.RoleCoordinator, "bob": pista.RoleJournalist})
	base, logs := startServer(t, data)

	// A source submits a message, a contact and two files.
	marker := "MARKER-" + rand.Text()
	followMarker := "FOLLOWUP-" + rand.Text()
	contact := "CONTACT-" + rand.Text() + " signal +1 555 0100"
	replyText := "REPLY-" + rand.Text() + "\nThank you. Can you tell us more?"
	scan := make([]byte, 3<<20)
	rand.Read(scan)
	notes := []byte("NOTES-" + rand.Text() + " plain text notes\n")
	files := []file{{"scan-of-ledger.bin", scan}, {`C:\Users\me\..\notes "q3".txt`, notes}}
	follow := file{"second-batch.txt", []byte("SECOND-" + rand.Text())}

	src := newBrowser(t, base)
	token := src.csrf("/")
	status, page := src.postMultipart("/submit", [][2]string{
		{"csrf", token}, {"desk", "americas"}, {"message", marker + "\nThe mayor's office is hiding the audit."}, {"contact", contact},
	}, files)
	if status != http.StatusOK {
		t.Fatalf("POST /submit: %d\n%s", status, page)
	}
	m := codenameRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("receipt shows no codename:\n%s", page)
	}
	codename := strings.Join(strings.Fields(tagRE.ReplaceAllString(m[1], " ")), " ")
	if digits := strings.ReplaceAll(codename, " ", ""); len(digits) != 28 {
		t.Fatalf("codename %q is not 28 digits", codename)
	}
	if jar := src.c.Jar.Cookies(mustURL(base)); len(jar) != 0 {
		t.Fatalf("submitting set cookies %v; the codename must never be in a cookie", jar)
	}

	// The source comes back later, in a fresh browser, and follows up.
	src = newBrowser(t, base)
	status, page = src.postForm("/login", url.Values{"csrf": {src.csrf("/")}, "codename": {codename}})
	if status != http.StatusOK || !strings.Contains(page, "No reply yet") {
		t.Fatalf("login with the codename: %d\n%s", status, page)
	}
	for _, c := range src.c.Jar.Cookies(mustURL(base)) {
		if strings.Contains(strings.ReplaceAll(codename, " ", ""), c.Value) || strings.Contains(c.Value, strings.ReplaceAll(codename, " ", "")) {
			t.Fatal("the session cookie carries the codename")
		}
	}
	status, page = src.postMultipart("/source/submit", [][2]string{{"csrf", src.csrf("/source")}, {"message", followMarker}}, []file{follow})
	if status != http.StatusOK || !strings.Contains(page, "Sent and encrypted") {
		t.Fatalf("follow-up: %d\n%s", status, page)
	}

	// A wrong codename gets the page any wrong codename gets.
	other := newBrowser(t, base)
	status, wrong := other.postForm("/login", url.Values{"csrf": {other.csrf("/")}, "codename": {"1111 2222 3333 4444 5555 6666 7777"}})
	if status != http.StatusUnauthorized || !strings.Contains(wrong, "That codename was not recognised") {
		t.Fatalf("wrong codename: %d\n%s", status, wrong)
	}

	// Alice pulls on an "online" machine and opens on an "offline" one.
	pulledDir, openedDir := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	out := runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	if !strings.Contains(out, "pulled 6 items") {
		t.Fatalf("first pull: %q, want 6 items (message, 2 files, contact; follow-up message and file)", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	conv := onlyConversation(t, openedDir)
	wantFiles := map[string][]byte{
		"message-1.txt":      []byte(marker + "\nThe mayor's office is hiding the audit."),
		"message-2.txt":      []byte(followMarker),
		"contact.txt":        []byte(contact),
		"scan-of-ledger.bin": scan,
		`notes _q3_.txt`:     notes,
		"second-batch.txt":   follow.data,
	}
	for name, want := range wantFiles {
		got, err := os.ReadFile(filepath.Join(conv, name))
		if err != nil {
			t.Fatalf("opened conversation lacks %s: %v (has %v)", name, err, listDir(conv))
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: got %d bytes, want %d, byte for byte", name, len(got), len(want))
		}
	}

	// A second pull fetches only what is new: nothing.
	out = runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	if !strings.Contains(out, "pulled 0 items") {
		t.Fatalf("second pull: %q, want 0 items", out)
	}

	// Bob, on the same desk, signs in to the web inbox and replies.
	nr := newBrowser(t, base)
	status, page = nr.login("bob", "a long password for bob", bob.code(t))
	if status != http.StatusOK || !strings.Contains(page, "Inbox") {
		t.Fatalf("bob's login: %d\n%s", status, page)
	}
	convID := filepath.Base(conv)
	if !strings.Contains(page, "/newsroom/c/"+convID) || !strings.Contains(page, "unread") {
		t.Fatalf("bob's inbox does not list the conversation as unread:\n%s", page)
	}
	status, page = nr.get("/newsroom/c/" + convID)
	if status != http.StatusOK || strings.Count(page, "-file.meta.age</a>") != 3 {
		t.Fatalf("conversation page: %d, want 3 files with their name objects\n%s", status, page)
	}
	status, page = nr.postForm("/newsroom/c/"+convID+"/reply", url.Values{"csrf": {nr.csrf("/newsroom/c/" + convID)}, "reply": {replyText}})
	if status != http.StatusOK || !strings.Contains(page, "Your reply was encrypted") {
		t.Fatalf("reply: %d\n%s", status, page)
	}

	// The source reads the reply.
	status, page = src.get("/source")
	if status != http.StatusOK || !strings.Contains(page, strings.SplitN(replyText, "\n", 2)[0]) {
		t.Fatalf("the source does not see the reply: %d\n%s", status, page)
	}

	// Alice's next pull brings only the reply, which she can read.
	out = runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
	if !strings.Contains(out, "pulled 1 items") {
		t.Fatalf("third pull: %q, want only the reply", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	if got, _ := os.ReadFile(filepath.Join(conv, "reply-1.txt")); string(got) != replyText {
		t.Fatalf("reply-1.txt = %q, want %q", got, replyText)
	}

	// Carol, on another desk, sees nothing: not in a pull, not on the web.
	carolDir := filepath.Join(dir, "carol-pulled")
	out = runPista(t, "pull", "--server", base, "--user", "carol", "--password-file", carol.pwFile, "--totp", carol.code(t), "--out", carolDir)
	if !strings.Contains(out, "pulled 0 items") {
		t.Fatalf("carol's pull: %q, want 0 items", out)
	}
	cb := newBrowser(t, base)
	status, page = cb.login("carol", "a long password for carol", carol.code(t))
	if status != http.StatusOK || strings.Contains(page, convID) {
		t.Fatalf("carol's inbox: %d, must not list the Americas conversation\n%s", status, page)
	}
	if status, _ = cb.get("/newsroom/c/" + convID); status != http.StatusNotFound {
		t.Fatalf("carol opening the Americas conversation: %d, want 404", status)
	}
	// Nor can Carol's identity open what Alice pulled.
	var errb bytes.Buffer
	if code := run(context.Background(), env{nil, io.Discard, &errb}, []string{"open", "--identity", carol.keyFile, "--in", pulledDir, "--out", filepath.Join(dir, "carol-opened")}); code == 0 {
		t.Fatal("carol's identity opened the Americas desk's pull")
	}

	// Nothing of the source, in plain text, anywhere on the server's disk
	// or in its log: not the message, the contact, a file, a file name,
	// the codename, nor the source's address.
	secrets := map[string]string{
		"message": marker, "follow-up": followMarker, "contact": contact, "reply": strings.SplitN(replyText, "\n", 2)[0],
		"codename": codename, "codename digits": strings.ReplaceAll(codename, " ", ""),
		"notes file": string(notes[:20]), "second file": string(follow.data),
		"file name": "scan-of-ledger", "other file name": "second-batch", "source address": "127.0.0.1",
	}
	var scanned int
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s found in %s", what, p)
			}
		}
		if bytes.Contains(b, scan[1000:1064]) {
			t.Errorf("the scanned file's bytes are in %s", p)
		}
		return nil
	})
	if scanned < 10 {
		t.Fatalf("scanned only %d files in the data folder", scanned)
	}
	log := logs.String()
	for what, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("%s found in the log:\n%s", what, log)
		}
	}
	if !strings.Contains(log, "journalist replied") {
		t.Errorf("the log does not record the journalist's reply, so the scan may have read the wrong log:\n%s", log)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func onlyConversation(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || !entries[0].IsDir() {
		t.Fatalf("%s should hold one conversation folder: %v %v", dir, listDir(dir), err)
	}
	return filepath.Join(dir, entries[0].Name())
}

func listDir(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkRoles fails t unless the desk's members have the roles want.
func checkRoles(t *testing.T, data, slug string, want map[string]pista.Role) {
	t.Helper()
	ctx := context.Background()
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Desks.DeskBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := st.Team.Members(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]pista.Role{}
	for _, m := range ms {
		got[m.Name] = m.Role
	}
	if !maps.Equal(got, want) {
		t.Errorf("desk %s has members %v, want %v", slug, got, want)
	}
}
