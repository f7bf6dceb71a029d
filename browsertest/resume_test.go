package browsertest

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	tus "github.com/pista-tips/pista/upload"
)

// cuttingProxy is a TCP proxy on 127.0.0.1:0 in front of a server that
// cuts the connection it is carrying, once, when the browser has sent
// cutAt bytes in all: a connection that drops in the middle of an upload.
type cuttingProxy struct {
	ln     net.Listener
	target string
	cutAt  int64
	sent   atomic.Int64
	cut    *atomic.Bool // shared with the tusLog behind it

	mu    sync.Mutex
	conns []net.Conn
}

func newCuttingProxy(t *testing.T, target string, cutAt int64, cut *atomic.Bool) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, target: target, cutAt: cutAt, cut: cut}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *cuttingProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cuttingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.carry(c)
	}
}

func (p *cuttingProxy) track(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, cs...)
}

func (p *cuttingProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// carry copies one connection both ways, counting what the browser sends.
func (p *cuttingProxy) carry(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, server)
	go func() {
		io.Copy(client, server)
		client.Close()
	}()
	defer server.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if p.sent.Add(int64(n)) >= p.cutAt && p.cut.CompareAndSwap(false, true) {
				// Drop both sides at once, mid-request: a reset for the
				// browser, a body cut short for the server.
				client.(*net.TCPConn).SetLinger(0)
				client.Close()
				return
			}
			if _, err := server.Write(buf[:n]); err != nil {
				client.Close()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// tusRequest is a request to the uploads, as the server saw it.
type tusRequest struct {
	Method, ID string
	Offset     int64 // Upload-Offset of a PATCH
	AfterCut   bool  // it arrived after the proxy cut the connection
}

// tusLog records the requests to the uploads.
type tusLog struct {
	mu   sync.Mutex
	reqs []tusRequest
	cut  *atomic.Bool // whether the proxy has cut the connection
}

func (l *tusLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := strings.CutPrefix(r.URL.Path, tus.BasePath); ok {
			off, _ := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
			l.mu.Lock()
			l.reqs = append(l.reqs, tusRequest{Method: r.Method, ID: id, Offset: off, AfterCut: l.cut.Load()})
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (l *tusLog) requests() []tusRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]tusRequest(nil), l.reqs...)
}

// watchProgress records, in the tab's sessionStorage (which outlives the
// page, within its origin), the highest value the upload's progress bar
// reached, the line shown with it, and every status the form showed.
const watchProgress = `(() => {
  const form = document.querySelector("form[data-encrypt]")
  const bar = form.querySelector("[data-upload-bar]")
  const line = form.querySelector("[data-upload-text]")
  const status = form.querySelector("[data-status]")
  sessionStorage.setItem("progress", JSON.stringify({max: -1, line: "", statuses: []}))
  new MutationObserver(() => {
    const p = JSON.parse(sessionStorage.getItem("progress"))
    const v = Number(bar.getAttribute("value"))
    if (!form.querySelector("[data-upload]").hidden && v >= p.max) {
      p.max = v
      p.line = line.textContent
    }
    if (status.textContent && p.statuses[p.statuses.length - 1] !== status.textContent) p.statuses.push(status.textContent)
    sessionStorage.setItem("progress", JSON.stringify(p))
  }).observe(form, {attributes: true, childList: true, subtree: true, characterData: true})
  return true
})()`

type progressSeen struct {
	Max      int      `json:"max"`
	Line     string   `json:"line"`
	Statuses []string `json:"statuses"`
}

// TestUploadResumes sends a multi-megabyte file with JavaScript on through
// a proxy that cuts the connection once in the middle of the upload. The
// browser must resume where the server's copy stopped (a HEAD for the
// offset, then PATCH from it), show the progress bar up to 100 % and say
// that it resumed; and the stored file, decrypted with the desk's identity
// and cut to the size its sealed name-and-type object gives, must be the
// original, byte for byte.
func TestUploadResumes(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	// The same server, behind a recorder of the uploads' requests, behind
	// the cutting proxy.
	cut := &atomic.Bool{}
	tl := &tusLog{cut: cut}
	ts := httptest.NewServer(tl.wrap(in.srv.Handler))
	t.Cleanup(ts.Close)
	// 12 MiB in 4 MiB pieces: cut in the middle of the second.
	const size = 12 << 20
	proxy := newCuttingProxy(t, ts.Listener.Addr().String(), 6<<20, cut)
	l := locale(t, "en")

	sub := submission{
		message: "The files of the harbour contracts, as promised.",
		files:   []upload{newUpload(t, "harbour-contracts.bin", size)},
	}
	ctx := b.tab(t, true)
	do(t, ctx, "opening the landing page through the proxy",
		chromedp.Navigate(proxy.url()+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded())
	run(t, ctx, "watching the progress bar", chromedp.Evaluate[bool](watchProgress))
	do(t, ctx, "sending a tip with a large file",
		chromedp.Click(chromedp.CSS("input[name=desk][value="+journeyDesk+"]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), sub.message),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{sub.files[0].path}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	codename := nonDigit.ReplaceAllString(text(t, ctx, "p#codename"), "")

	if !proxy.cut.Load() {
		t.Fatalf("the proxy never cut the connection (the browser sent %d bytes)", proxy.sent.Load())
	}
	// The browser resumed: after the cut it asked the server for its
	// offset, and sent the rest from there.
	reqs := tl.requests()
	t.Logf("requests to the uploads: %+v", reqs)
	var id string
	var creates int
	var resumedHead, resumedPatch bool
	for _, r := range reqs {
		switch {
		case r.Method == http.MethodPost:
			creates++
		case id == "":
			id = r.ID
		case r.ID != id:
			t.Errorf("requests went to upload %s and to upload %s", id, r.ID)
		}
		if r.AfterCut && r.Method == http.MethodHead {
			resumedHead = true
		}
		// From the server's offset: mid-piece, where the cut stopped the
		// server's copy, not where a piece began.
		if r.AfterCut && r.Method == http.MethodPatch && r.Offset > 0 && r.Offset%(4<<20) != 0 {
			resumedPatch = true
		}
	}
	if creates != 1 {
		t.Errorf("the browser created %d uploads, want 1 resumed", creates)
	}
	if !resumedHead || !resumedPatch {
		t.Errorf("after the cut the browser did not resume from the server's offset (HEAD: %v, PATCH from mid-piece: %v)", resumedHead, resumedPatch)
	}

	// What the source saw: the bar at 100 %, and that the upload resumed.
	raw := run(t, ctx, "reading what the progress bar showed", chromedp.Evaluate[string](`sessionStorage.getItem("progress") || ""`))
	var seen progressSeen
	if err := json.Unmarshal([]byte(raw), &seen); err != nil {
		t.Fatalf("progress record %q: %v", raw, err)
	}
	if seen.Max != 100 {
		t.Errorf("the progress bar reached %d, want 100", seen.Max)
	}
	if want := strings.ReplaceAll(l.T("upload.progress.start"), "{percent}", "100%"); seen.Line != want {
		t.Errorf("at its highest the progress line read %q, want %q", seen.Line, want)
	}
	for _, key := range []string{"upload.resuming", "upload.done"} {
		if !containsString(seen.Statuses, l.T(key)) {
			t.Errorf("the form never said %q (it said %q)", l.T(key), seen.Statuses)
		}
	}

	// What was stored: the file, byte for byte, encrypted by the browser.
	in.checkStored(t, in.conversationOf(t, codename), journeyDesk, "browser", sub)
	// And the upload is gone, claimed by the form.
	left, err := os.ReadDir(filepath.Join(in.srv.Stores.Local.TempDir(), "..", tus.Dir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("%d files left in uploads/ after the tip was stored", len(left))
	}
	log := in.log.String()
	for _, secret := range []string{sub.files[0].name, codename, id, "127.0.0.1"} {
		if secret != "" && strings.Contains(log, secret) {
			t.Errorf("the server log contains %q", secret)
		}
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
