package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/upload"
)

// startInstance runs `pista serve` as a child process with more flags
// and environment, stopped when the test ends if it still runs.
func startInstance(t *testing.T, data string, env []string, args ...string) *child {
	t.Helper()
	c := startChildWith(t, data, env, append([]string{"--newsroom", "The Cluster Gazette"}, args...)...)
	t.Cleanup(func() {
		select {
		case <-c.exited:
			return
		default:
		}
		c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
		}
	})
	return c
}

// part is one field of a multipart form, a file if filename is set.
type part struct{ name, value, filename string }

func (b *browser) postParts(path string, parts []part) (int, string) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		if p.filename == "" {
			mw.WriteField(p.name, p.value)
			continue
		}
		w, _ := mw.CreateFormFile(p.name, p.filename)
		io.WriteString(w, p.value)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// sealFor encrypts data as the landing page's script does.
func sealFor(t *testing.T, page string, data []byte) string {
	t.Helper()
	return pistatest.SealTo(t, page, data)
}

// tus is a resumable-upload client that can send each request to any
// instance.
type tus struct{ t *testing.T }

func (c tus) do(method, u string, body []byte, header ...string) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Tus-Resumable", "1.0.0")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (c tus) create(base string, n int, proofFrom string) string {
	c.t.Helper()
	resp := c.do(http.MethodPost, base+upload.BasePath, nil, "Upload-Length", strconv.Itoa(n), pow.Header, pistatest.Prove(c.t, proofFrom))
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("creating an upload: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

func (c tus) patch(base, id string, off int, data []byte) {
	c.t.Helper()
	resp := c.do(http.MethodPatch, base+upload.BasePath+id, data, "Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off))
	if resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("PATCH at %d on %s: %d", off, base, resp.StatusCode)
	}
}

func (c tus) offset(base, id string) int {
	c.t.Helper()
	resp := c.do(http.MethodHead, base+upload.BasePath+id, nil)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("HEAD on %s: %d", base, resp.StatusCode)
	}
	n, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	return n
}

// TestThreeInstancesShareOneTipLine runs three `pista serve` processes on
// one PostgreSQL database and one MinIO bucket, each with its own data
// folder, and sends every step of the journeys to another instance than
// the step before: nothing a request needs may be held by one instance
// only. Then it kills one instance with SIGKILL while sources upload:
// every tip acknowledged is complete, the upload it was taking resumes on
// another instance, and after the sweep no object is left without a row.
func TestThreeInstancesShareOneTipLine(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three pista serve processes, PostgreSQL and MinIO")
	}
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	m := blobtest.MinIO(t)
	objects := m.URL(m.Bucket(t))
	env := []string{"AWS_ACCESS_KEY_ID=" + m.User, "AWS_SECRET_ACCESS_KEY=" + m.Pass}
	dir := t.TempDir()
	var in [3]*child
	for i := range in {
		in[i] = startInstance(t, filepath.Join(dir, "data"+strconv.Itoa(i)), env,
			"--database", dbURL, "--objects", objects, "--pow-bits", strconv.Itoa(pow.MinBits))
	}
	a, b, c := in[0].base, in[1].base, in[2].base
	data0 := filepath.Join(dir, "data0")
	alice := addJournalist(t, dir, data0, "alice")
	runPista(t, "desk", "add", "--data", data0, "--name", "americas", "--title", "Americas", "--member", "alice")

	// A source lands on A, submits on B, comes back on C.
	marker := "CLUSTER-" + rand.Text()
	first := make([]byte, 2<<20+77)
	rand.Read(first)
	src := newBrowser(t, a)
	tok := src.csrf("/")
	src.base = b
	status, page := src.postMultipart("/submit", [][2]string{{"csrf", tok}, {"desk", "americas"}, {"message", marker + "\nfirst"}}, []file{{"ledger.bin", first}})
	m1 := codenameRE.FindStringSubmatch(page)
	if status != http.StatusOK || m1 == nil {
		t.Fatalf("submitting on B with A's form: %d\n%s", status, page)
	}
	codename := strings.Join(strings.Fields(tagRE.ReplaceAllString(m1[1], " ")), " ")
	src = newBrowser(t, a)
	tok = src.csrf("/")
	src.base = c
	status, page = src.postForm("/login", url.Values{"csrf": {tok}, "codename": {codename}})
	if status != http.StatusOK || !strings.Contains(page, "No reply yet") {
		t.Fatalf("logging back in on C: %d\n%s", status, page)
	}
	src.base = b
	tok = src.csrf("/source")
	src.base = a
	status, page = src.postMultipart("/source/submit", [][2]string{{"csrf", tok}, {"message", marker + "\nsecond"}}, nil)
	if status != http.StatusOK || !strings.Contains(page, "Sent and encrypted") {
		t.Fatalf("following up on A in a session begun on C: %d\n%s", status, page)
	}

	// Alice signs in: the form from A, the parameters from B, the login
	// on C, the inbox on A.
	nr := newBrowser(t, a)
	tok = nr.csrf("/newsroom/login")
	nr.base = b
	status, body := nr.postForm("/newsroom/login/params", url.Values{"csrf": {tok}, "name": {"alice"}})
	var params struct {
		Salt []byte `json:"salt"`
		KDF  string `json:"kdf"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(body), &params) != nil {
		t.Fatalf("login parameters on B: %d %s", status, body)
	}
	k, err := keys.DeriveJournalist(ctx, "a long password for alice", params.Salt, params.KDF)
	if err != nil {
		t.Fatal(err)
	}
	nr.base = c
	code := alice.code(t)
	status, body = nr.postForm("/newsroom/login", url.Values{"csrf": {tok}, "name": {"alice"},
		"auth": {base64.StdEncoding.EncodeToString(k.Auth)}, "totp": {code}})
	if status != http.StatusOK {
		t.Fatalf("login on C: %d\n%s", status, body)
	}
	// The same code again, on another instance: refused, as on one.
	replay := newBrowser(t, b)
	rtok := replay.csrf("/newsroom/login")
	if status, _ := replay.postForm("/newsroom/login", url.Values{"csrf": {rtok}, "name": {"alice"},
		"auth": {base64.StdEncoding.EncodeToString(k.Auth)}, "totp": {code}}); status == http.StatusOK {
		t.Fatal("a TOTP code used on C was taken again on B")
	}
	nr.base = a
	status, page = nr.get("/newsroom/")
	convRE := regexp.MustCompile(`/newsroom/c/([A-Za-z0-9_-]+)`)
	mc := convRE.FindStringSubmatch(page)
	if status != http.StatusOK || mc == nil {
		t.Fatalf("the inbox on A, signed in on C: %d\n%s", status, page)
	}
	conv := mc[1]
	nr.base = b
	tok = nr.csrf("/newsroom/c/" + conv)
	reply := "REPLY-" + rand.Text()
	nr.base = c
	status, page = nr.postForm("/newsroom/c/"+conv+"/reply", url.Values{"csrf": {tok}, "reply": {reply}})
	if status != http.StatusOK || !strings.Contains(page, "Your reply was encrypted") {
		t.Fatalf("replying on C with B's form: %d\n%s", status, page)
	}
	src.base = c
	if status, page = src.get("/source"); status != http.StatusOK || !strings.Contains(page, reply) {
		t.Fatalf("the source does not see the reply on C: %d\n%s", status, page)
	}

	// A resumable upload: created on A with a proof of work from B, half
	// sent to A, the rest to C after C read the offset, claimed by a form
	// submitted on B.
	up := tus{t}
	sb := newBrowser(t, a)
	_, landing := sb.get("/")
	tok = sb.csrf("/")
	upFile := make([]byte, 5<<20+321)
	rand.Read(upFile)
	upMarker := "UPLOAD-" + rand.Text()
	sealed := []byte(sealFor(t, landing, padded(upFile)))
	id := up.create(a, len(sealed), b)
	up.patch(a, id, 0, sealed[:len(sealed)/2])
	if off := up.offset(c, id); off != len(sealed)/2 {
		t.Fatalf("C reads offset %d of an upload A took %d bytes of", off, len(sealed)/2)
	}
	up.patch(c, id, len(sealed)/2, sealed[len(sealed)/2:])
	sb.base = b
	meta := fmt.Sprintf(`{"name":"big.bin","type":"application/octet-stream","size":%d}`, len(upFile))
	status, page = sb.postParts("/submit", []part{
		{"csrf", tok, ""}, {"desk", "americas", ""}, {"encrypted", "1", ""},
		{"message", sealFor(t, landing, []byte(upMarker+"\nresumable")), "message.age"},
		{"upload", id, ""},
		{"file_meta", sealFor(t, landing, []byte(meta)), "meta.age"},
	})
	if status != http.StatusOK || !codenameRE.MatchString(page) {
		t.Fatalf("claiming on B an upload made on A and C: %d\n%s", status, page)
	}

	// The kill: sources upload to all three while B is killed; one more
	// upload is half sent to B, and resumed on C after B is gone.
	late := make([]byte, 3<<20)
	rand.Read(late)
	lateMarker := "LATE-" + rand.Text()
	lb := newBrowser(t, c)
	_, lateLanding := lb.get("/")
	lateTok := lb.csrf("/")
	lateSealed := []byte(sealFor(t, lateLanding, padded(late)))
	lateID := up.create(b, len(lateSealed), c)
	up.patch(b, lateID, 0, lateSealed[:1<<20])
	// A second PATCH to B, under way when B is killed: B holds the
	// upload's lease, and never gives it back.
	held, err := net.Dial("tcp", strings.TrimPrefix(b, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fmt.Fprintf(held, "PATCH %s%s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"+
		"Upload-Offset: %d\r\nContent-Length: %d\r\n\r\n", upload.BasePath, lateID, strings.TrimPrefix(b, "http://"), 1<<20, len(lateSealed)-1<<20)
	held.Write(lateSealed[1<<20 : 1<<20+512<<10])

	var (
		mu    sync.Mutex
		acked = []sent{{marker, sha256.Sum256(first), int64(len(first))}}
		cut   int
		wg    sync.WaitGroup
	)
	killAt := make(chan struct{})
	for w := range 6 {
		wg.Go(func() {
			for i := range 4 {
				if w == 0 && i == 2 {
					close(killAt)
				}
				base := in[(w+i)%3].base
				f := make([]byte, 1+mrand.IntN(2<<20))
				rand.Read(f)
				mk := "KILL-" + rand.Text()
				jar, _ := cookiejar.New(nil)
				ok, _ := submit(&http.Client{Jar: jar, Timeout: 2 * time.Minute}, base, mk, f)
				mu.Lock()
				if ok {
					acked = append(acked, sent{mk, sha256.Sum256(f), int64(len(f))})
				} else {
					cut++
				}
				mu.Unlock()
			}
		})
	}
	<-killAt
	time.Sleep(time.Duration(mrand.IntN(300)) * time.Millisecond)
	in[1].kill()
	wg.Wait()
	t.Logf("acknowledged %d tips, %d cut by the kill", len(acked), cut)

	// The upload B held: C takes it over once B's lease runs out. The
	// piece B was receiving is lost with B; the client sends it again.
	start := time.Now()
	if off := up.offset(c, lateID); off != 1<<20 {
		t.Fatalf("C reads offset %d of the upload B had taken %d bytes of", off, 1<<20)
	}
	t.Logf("C took over the upload B held %v after asking", time.Since(start).Round(time.Millisecond))
	up.patch(c, lateID, 1<<20, lateSealed[1<<20:])
	lb.base = a
	lateMeta := fmt.Sprintf(`{"name":"late.bin","type":"application/octet-stream","size":%d}`, len(late))
	status, page = lb.postParts("/submit", []part{
		{"csrf", lateTok, ""}, {"desk", "americas", ""}, {"encrypted", "1", ""},
		{"message", sealFor(t, lateLanding, []byte(lateMarker+"\nafter the kill")), "message.age"},
		{"upload", lateID, ""},
		{"file_meta", sealFor(t, lateLanding, []byte(lateMeta)), "meta.age"},
	})
	if status != http.StatusOK || !codenameRE.MatchString(page) {
		t.Fatalf("claiming on A the upload resumed on C after B was killed: %d\n%s", status, page)
	}
	acked = append(acked, sent{upMarker, sha256.Sum256(upFile), int64(len(upFile))}, sent{lateMarker, sha256.Sum256(late), int64(len(late))})

	// The sweep, over the hours the kill can have left orphans in (the
	// instances' own sweep waits for server.OrphanGrace; no request is in
	// flight now), then what is stored.
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	st, err := server.OpenStoresOn(ctx, filepath.Join(dir, "check"), server.Database{URL: dbURL})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.UseObjects(ctx, objects, ""); err != nil {
		t.Fatal(err)
	}
	recent := st.Blobs.(server.RecentKeyer)
	n, err := server.SweepRecentOrphans(ctx, st.Tips, recent, time.Now().Add(-2*time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the sweep removed %d orphan objects", n)
	if n, err := st.Shared.Count(ctx, "upload"); err != nil || n != 0 {
		t.Errorf("%d uploads left in progress (%v); both were claimed", n, err)
	}
	used, err := st.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.Blobs.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, k := range all {
		have[k] = true
		if !used[k] {
			t.Errorf("object %s is left without a row", k)
		}
	}
	for k := range used {
		if !have[k] {
			t.Errorf("a row names object %s, which is missing", k)
		}
	}
	for _, i := range []int{0, 2} {
		filepath.WalkDir(filepath.Join(dir, "data"+strconv.Itoa(i), "tmp"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("a temporary file is left on a live instance: %s", p)
			}
			return nil
		})
	}

	// Every acknowledged tip, opened with the desk's key as Alice's tools
	// open it, is all there.
	got := storedTips(t, st, alice)
	for _, w := range acked {
		g, ok := got[w.marker]
		if !ok {
			t.Errorf("acknowledged tip %s is missing", w.marker)
			continue
		}
		if len(g) != 1 || g[0] != w.fileSum {
			t.Errorf("tip %s: its file is not the one sent (%d files)", w.marker, len(g))
		}
	}
	for _, i := range []int{0, 2} {
		if log := in[i].log.String(); strings.Contains(log, "level=ERROR") {
			t.Errorf("instance %d logged an error:\n%s", i, log)
		}
	}
}

// padded is data padded as the page's script pads a file.
func padded(data []byte) []byte {
	return append(bytes.Clone(data), make([]byte, pista.Padme(int64(len(data)))-int64(len(data)))...)
}

// storedTips opens every conversation of j's desk with the desk's key and
// returns, by the first line of its first message, the SHA-256 of each
// file.
func storedTips(t *testing.T, st *server.Stores, j journalist) map[string][][32]byte {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(j.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.Journalists.JournalistByName(ctx, j.name)
	if err != nil {
		t.Fatal(err)
	}
	wraps, err := st.Desks.WrapsFor(ctx, acct.ID)
	if err != nil || len(wraps) != 1 {
		t.Fatalf("desk keys: %v, %d", err, len(wraps))
	}
	desk, err := keys.Unwrap(wraps[0].Wrapped, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	open := func(key string) []byte {
		rc, err := st.Blobs.Open(ctx, key)
		if err != nil {
			t.Fatalf("object %s: %v", key, err)
		}
		defer rc.Close()
		r, err := age.Decrypt(rc, desk)
		if err != nil {
			t.Fatalf("object %s: %v", key, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("object %s is cut: %v", key, err)
		}
		return b
	}
	byConv := map[string][]pista.Item{}
	for after := int64(0); ; {
		items, err := st.Tips.ItemsFor(ctx, acct.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			byConv[it.ConversationID] = append(byConv[it.ConversationID], it)
		}
		after = items[len(items)-1].ID
	}
	out := map[string][][32]byte{}
	for _, items := range byConv {
		var marker string
		var sums [][32]byte
		for _, it := range items {
			switch it.Kind {
			case pista.KindMessage:
				if marker == "" {
					marker, _, _ = strings.Cut(string(open(it.Object)), "\n")
				}
			case pista.KindFile:
				var meta pista.FileMeta
				if err := json.Unmarshal(open(it.Meta), &meta); err != nil || meta.Size == nil {
					t.Fatalf("a file's meta: %v", err)
				}
				b := open(it.Object)
				if *meta.Size > int64(len(b)) {
					t.Fatalf("a file of %d bytes says it has %d", len(b), *meta.Size)
				}
				sums = append(sums, sha256.Sum256(b[:*meta.Size]))
			}
		}
		out[marker] = sums
	}
	return out
}
