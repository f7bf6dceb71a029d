package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
)

// slowServer is a `pista serve` run in-process for the slow-client tests,
// with one desk, "americas", that sources can send to.
type slowServer struct {
	addr, data string
	logs       *syncBuffer
	stop       context.CancelFunc
	done       chan error
	csrf       string
}

func startSlowServer(t testing.TB, opts ...func(*serveFlags)) *slowServer {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	key, pw := filepath.Join(dir, "alice.key"), filepath.Join(dir, "alice.pass")
	pub := strings.TrimSpace(runTB(t, "keygen", "-o", key))
	if err := os.WriteFile(pw, []byte("a long password for alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runTB(t, "journalist", "add", "--data", data, "--name", "alice", "--recipient", pub, "--password-file", pw)
	runTB(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--coordinator", "alice")
	ctx, cancel := context.WithCancel(context.Background())
	s := &slowServer{data: data, logs: &syncBuffer{}, stop: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() {
		f := serveFlags{data: data, listen: "127.0.0.1:0", newsroom: "The Test Gazette", maxUpload: "64MiB",
			notifyInterval: time.Hour, smtpMaxSize: "32MiB", minBodyRate: "1KiB", bodyWindow: time.Minute, minRespRate: "1KiB", respWindow: time.Minute,
			shutdownGrace: defaultShutdownGrace}
		for _, o := range opts {
			o(&f)
		}
		s.done <- serve(ctx, env{nil, io.Discard, s.logs}, f, func(addr string) { ready <- addr })
	}()
	select {
	case s.addr = <-ready:
	case err := <-s.done:
		t.Fatalf("serve: %v\n%s", err, s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() { s.stop(); <-s.done })
	// A connection of its own, closed after: the tests count them.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("the landing page has no csrf field:\n%s", page)
	}
	s.csrf = m[1]
	// Let the server close its end, which gives back its place.
	time.Sleep(500 * time.Millisecond)
	return s
}

// runTB is runPista for a test or a benchmark.
func runTB(t testing.TB, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), env{strings.NewReader(""), &out, &errb}, args); code != 0 {
		t.Fatalf("pista %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// errorLines are the log's lines at level ERROR.
func (s *slowServer) errorLines() []string {
	var out []string
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// tempFiles lists what is left in the data folder's temporary folder.
func (s *slowServer) tempFiles(t testing.TB) []string {
	es, err := os.ReadDir(filepath.Join(s.data, "tmp"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// slowUpload is a raw connection sending a submission of size bytes of
// file, of which it has sent the headers and the form's first fields.
type slowUpload struct {
	net.Conn
	rest []byte // the body still to send
}

func (s *slowServer) startUpload(t testing.TB, size int) *slowUpload {
	t.Helper()
	u, err := s.dialUpload(t, size)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dialUpload is startUpload, answering the error of a refused dial.
func (s *slowServer) dialUpload(t testing.TB, size int) (*slowUpload, error) {
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	const boundary = "SLOWSLOWSLOW"
	head := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + s.csrf + "\r\n" +
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"desk\"\r\n\r\namericas\r\n" +
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nslow but honest\r\n" +
		"--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
	tail := "\r\n--" + boundary + "--\r\n"
	body := head + strings.Repeat("x", size) + tail
	req := fmt.Sprintf("POST /submit HTTP/1.1\r\nHost: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n",
		s.addr, boundary, len(body))
	// A connection refused past the bound may fail this write.
	io.WriteString(c, req+head)
	return &slowUpload{Conn: c, rest: []byte(body[len(head):])}, nil
}

// send sends n more bytes of the body.
func (u *slowUpload) send(n int) error {
	n = min(n, len(u.rest))
	_, err := u.Write(u.rest[:n])
	u.rest = u.rest[n:]
	return err
}

// answer reads the server's answer, waiting at most d.
func (u *slowUpload) answer(d time.Duration) (*http.Response, string, error) {
	u.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(u), nil)
	if err != nil {
		return nil, "", err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), nil
}

// A body that stops arriving is cut once its credit (the window) is spent,
// answered, and leaves nothing behind and nothing in the log; a body that
// arrives slowly but above the rate, for longer than the window, is taken.
func TestSlowBodyIsCut(t *testing.T) {
	const window = 2 * time.Second
	s := startSlowServer(t, func(f *serveFlags) { f.bodyWindow = window })

	// Steady at 4 KiB/s for 3 windows: well above 1 KiB/s.
	honest := s.startUpload(t, 24<<10)
	// Sends 2 KiB, then nothing.
	stalled := s.startUpload(t, 1<<20)
	if err := stalled.send(2 << 10); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for len(honest.rest) > 0 {
			honest.send(1 << 10)
			time.Sleep(250 * time.Millisecond)
		}
	}()

	resp, _, err := stalled.answer(window + 10*time.Second)
	cutAfter := time.Since(start)
	if err != nil {
		t.Fatalf("the stalled upload got no answer: %v", err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the stalled upload was answered %s, want 400", resp.Status)
	}
	// 2 KiB bought 2 s more than the window.
	if cutAfter < window || cutAfter > window+2*time.Second+3*time.Second {
		t.Errorf("the stalled upload was cut after %v, want about %v", cutAfter, window+2*time.Second)
	}
	wg.Wait()
	resp, page, err := honest.answer(30 * time.Second)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="codename"`) {
		t.Fatalf("the slow but steady upload (%v): %v %v\n%s", time.Since(start), resp, err, page)
	}
	time.Sleep(200 * time.Millisecond)
	if e := s.errorLines(); len(e) > 0 {
		t.Errorf("a cut upload was logged as an error:\n%s", strings.Join(e, "\n"))
	}
	if left := s.tempFiles(t); len(left) > 0 {
		t.Errorf("the cut upload left temporary files: %v", left)
	}
}

// A client that aborts its upload midway writes nothing to the log, on
// every route that takes a body.
func TestAbortIsNotLogged(t *testing.T) {
	s := startSlowServer(t)
	abort := func(c net.Conn) {
		time.Sleep(300 * time.Millisecond) // the handler is reading
		c.(*net.TCPConn).SetLinger(0)      // a reset, as a killed client
		c.Close()
	}
	// The web form.
	u := s.startUpload(t, 1<<20)
	u.send(64 << 10)
	abort(u.Conn)

	// The API and the resumable uploads.
	for _, req := range []string{
		"POST /api/v1/source/tips HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"desk\"\r\n\r\namericas\r\n--B\r\nContent-Disposition: form-data; name=\"message\"; filename=\"m\"\r\n\r\n" + strings.Repeat("y", 5000),
		"POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=B\r\nContent-Length: 100000\r\n\r\n--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n" + s.csrf,
	} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, req)
		abort(c)
	}
	// A tus upload: made, then its PATCH aborted.
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /uploads/ HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 100000\r\n%s: %s\r\nContent-Length: 0\r\n\r\n", s.addr, pow.Header, pistatest.Prove(t, "http://"+s.addr))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusCreated && loc != "" {
		lu, _ := url.Parse(loc)
		fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 100000\r\n\r\n%s",
			lu.Path, s.addr, strings.Repeat("z", 10000))
	} else {
		t.Logf("tus: %s (Location %q): the PATCH is not tried", resp.Status, loc)
	}
	abort(c)

	time.Sleep(time.Second)
	if e := s.errorLines(); len(e) > 0 {
		t.Errorf("aborted requests were logged as errors:\n%s", strings.Join(e, "\n"))
	}
	if logs := s.logs.String(); strings.Contains(logs[strings.Index(logs, "Data folder"):], "127.0.0.1") {
		t.Errorf("the log names a client's address:\n%s", logs)
	}
}

var fdRE = regexp.MustCompile(`^[0-9]+$`)

// openFiles counts this process's open file descriptors.
func openFiles(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd to count open files")
	}
	n := 0
	for _, e := range es {
		if fdRE.MatchString(e.Name()) {
			n++
		}
	}
	return n
}

// Many slow bodies from one address take at most the connection bound:
// the connections past it are closed at once, the server's descriptors
// stay bounded, and once the slow ones are cut (the rate window) a real
// submission goes through.
func TestManySlowBodiesAreBounded(t *testing.T) {
	const bound, extra = 40, 40
	// The slow uploads are cut a window after they opened, and then the
	// extra ones are rightly taken: the window leaves room for a loaded
	// machine (CI runs packages side by side on two cores) to open them
	// all and try every extra one.
	const window = 15 * time.Second
	s := startSlowServer(t, func(f *serveFlags) { f.maxConns = bound; f.bodyWindow = window })
	before := openFiles(t)

	var slow []*slowUpload
	opened := time.Now()
	for range bound {
		u := s.startUpload(t, 1<<20)
		slow = append(slow, u)
	}
	// Let the server take them all before the extra ones come.
	time.Sleep(300 * time.Millisecond)
	refused, tried := 0, 0
	for range extra {
		if time.Since(opened) > window-3*time.Second {
			t.Logf("only %d of the %d extra connections were tried within the window", tried, extra)
			break
		}
		tried++
		u, err := s.dialUpload(t, 1<<20)
		if err != nil {
			refused++
			continue
		}
		u.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = u.Read(make([]byte, 1))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			continue // still open: taken
		}
		refused++
	}
	if tried == 0 || refused != tried {
		t.Errorf("%d of the %d connections past the bound of %d were refused, want all", refused, tried, bound)
	}
	// Ours: 2×bound+extra client ends closed or open, the server's at
	// most bound (and the listener, the database…). Without the bound the
	// server would hold bound+extra more.
	if grew := openFiles(t) - before; grew > 2*bound+extra+10 {
		t.Errorf("open files grew by %d with %d slow clients and a bound of %d", grew, bound+extra, bound)
	}
	// The first ones are still taken if they are within their window
	// (a slow machine, or -race, may have taken longer than that).
	if time.Since(opened) < window-time.Second {
		for _, u := range slow[:3] {
			u.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := u.Read(make([]byte, 1)); !isTimeout(err) {
				t.Errorf("a slow upload within its window was closed: %v", err)
			}
		}
	}
	// A window later they are cut, and a real source gets through.
	time.Sleep(time.Until(opened.Add(window + time.Second)))
	b := newBrowser(t, "http://"+s.addr)
	status, page := b.postMultipart("/submit", [][2]string{{"csrf", b.csrf("/")}, {"desk", "americas"}, {"message", "a real tip"}}, nil)
	if status != http.StatusOK || !strings.Contains(page, `id="codename"`) {
		t.Fatalf("a real submission after the slow ones were cut: %d\n%s", status, page)
	}
	if !strings.Contains(s.logs.String(), "connection limit was reached") {
		t.Errorf("the log does not say the connection limit was reached:\n%s", s.logs.String())
	}
	if e := s.errorLines(); len(e) > 0 {
		t.Errorf("errors logged:\n%s", strings.Join(e, "\n"))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// On stop, an upload that ends within the grace is taken; one still going
// when the grace ends is cut, answered 503, leaves no temporary file, and
// the log counts it; the process stops cleanly (serve returns nil).
func TestShutdownCutsAfterGrace(t *testing.T) {
	const grace = 2 * time.Second
	s := startSlowServer(t, func(f *serveFlags) { f.shutdownGrace = grace })

	quick := s.startUpload(t, 8<<10)
	slow := s.startUpload(t, 1<<20)
	slow.send(32 << 10)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	s.stop()
	time.Sleep(200 * time.Millisecond)
	// The quick one ends within the grace.
	if err := quick.send(len(quick.rest)); err != nil {
		t.Fatal(err)
	}
	resp, page, err := quick.answer(10 * time.Second)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="codename"`) {
		t.Fatalf("an upload that ended within the grace: %v %v\n%s", resp, err, page)
	}
	// The slow one keeps sending, slowly, past the grace.
	go func() {
		for len(slow.rest) > 0 && slow.send(4<<10) == nil {
			time.Sleep(200 * time.Millisecond)
		}
	}()
	resp, page, err = slow.answer(grace + 10*time.Second)
	if err != nil {
		t.Fatalf("the upload cut on stop got no answer: %v", err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, pistatest.En("error.stopping")) {
		t.Errorf("the upload cut on stop: %s\n%s", resp.Status, page)
	}
	if took := time.Since(start); took < grace-200*time.Millisecond {
		t.Errorf("the upload was cut after %v, before the grace of %v", took, grace)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
		s.done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return")
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "cut=1") {
		t.Errorf("the log does not count the cut request:\n%s", logs)
	}
	if e := s.errorLines(); len(e) > 0 {
		t.Errorf("errors logged:\n%s", strings.Join(e, "\n"))
	}
	if left := s.tempFiles(t); len(left) > 0 {
		t.Errorf("the cut upload left temporary files: %v", left)
	}
	// The stores hold the quick upload's tip, and nothing of the cut one.
	ctx := context.Background()
	st, err := server.OpenStores(ctx, s.data)
	if err != nil {
		t.Fatalf("the stores after the stop: %v", err)
	}
	defer st.Close()
	alice, err := st.Journalists.JournalistByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	convs, err := st.Tips.ConversationsFor(ctx, alice.ID, pista.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 1 {
		t.Errorf("%d conversations stored, want 1 (the upload that ended within the grace)", len(convs))
	}
}

// A resumable upload's PATCH that stalls is cut after the window too,
// though tusd extends the connection's deadline as data arrives.
func TestSlowResumableUploadIsCut(t *testing.T) {
	const window = 2 * time.Second
	s := startSlowServer(t, func(f *serveFlags) { f.bodyWindow = window })
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "POST /uploads/ HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 100000\r\n%s: %s\r\nContent-Length: 0\r\n\r\n", s.addr, pow.Header, pistatest.Prove(t, "http://"+s.addr))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusCreated || loc == nil || loc.Path == "" {
		t.Fatalf("creating an upload: %s", resp.Status)
	}
	start := time.Now()
	fmt.Fprintf(c, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 100000\r\n\r\n%s",
		loc.Path, s.addr, strings.Repeat("z", 1000))
	// A byte every half second: 2 B/s, far under the rate, but never
	// silent long enough for tusd's own timeout.
	go func() {
		for time.Since(start) < window+20*time.Second {
			if _, err := c.Write([]byte("z")); err != nil {
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
	}()
	c.SetReadDeadline(time.Now().Add(window + 15*time.Second))
	resp, err = http.ReadResponse(br, nil)
	took := time.Since(start)
	if err != nil {
		// Cut without an answer: tusd may close at once.
		if isTimeout(err) {
			t.Fatalf("a trickling PATCH was not cut after %v", took)
		}
	} else {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("a trickling PATCH was answered %s", resp.Status)
		}
	}
	if took > window+4*time.Second {
		t.Errorf("a trickling PATCH was cut after %v, want about %v", took, window)
	}
	if e := s.errorLines(); len(e) > 0 {
		t.Errorf("errors logged:\n%s", strings.Join(e, "\n"))
	}
}

// Connections idle between requests give way to new ones past the bound:
// a browser's kept-alive connections do not lock out the next visitor.
func TestIdleConnectionsMakeRoom(t *testing.T) {
	const bound = 10
	s := startSlowServer(t, func(f *serveFlags) { f.maxConns = bound })
	var idle []net.Conn
	for range bound {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", s.addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		idle = append(idle, c)
	}
	time.Sleep(100 * time.Millisecond)
	for i := range 3 {
		b := newBrowser(t, "http://"+s.addr)
		b.c.Transport = &http.Transport{DisableKeepAlives: true}
		if status, _ := b.get("/"); status != http.StatusOK {
			t.Fatalf("visitor %d, with the bound taken by idle connections: %d", i, status)
		}
	}
	closed := 0
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			closed++
		}
	}
	// The first visitor's room was an idle connection's; the others took
	// the place the first one left.
	if closed < 1 || closed > 3 {
		t.Errorf("%d idle connections were closed to make room for 3 visitors one after the other, want 1 to 3", closed)
	}
}

// Connections that trickle their headers (slowloris) hold their places
// only until they are httpx.StaleNew old: past the bound, the oldest of
// them makes room for a visitor, long before the 30 s header timeout.
func TestStalledHeadersMakeRoom(t *testing.T) {
	const bound = 10
	s := startSlowServer(t, func(f *serveFlags) { f.maxConns = bound })
	for range bound {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nX-Slow: ", s.addr)
	}
	time.Sleep(time.Second)
	// Not yet stale: the visitor is refused.
	if _, err := http.Get("http://" + s.addr + "/"); err == nil {
		t.Errorf("a visitor got in past the bound while every connection was fresh")
	}
	time.Sleep(httpx.StaleNew)
	resp, err := http.Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatalf("a visitor, with the bound taken by stalled headers for %v: %v", httpx.StaleNew+time.Second, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a visitor: %s", resp.Status)
	}
}
