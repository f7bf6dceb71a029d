package browsertest

// The source page scrubs files in the browser, before it encrypts them
// (issue 15): a phone's photo sent with JavaScript on reaches the desk
// without its GPS position, and nothing of the photo crosses the wire in
// the clear. The scrubber (4.5 MB of WebAssembly) is fetched only when
// files are sent to be scrubbed; if it does not load, the source is asked.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
)

// wire is a reverse proxy in front of the server that keeps every request
// the browser sends, bodies whole, as they cross the network, and counts
// the bytes of each response's body as sent (gzipped where it is); it
// answers 503 for the scrubber while failing is set.
type wire struct {
	mu      sync.Mutex
	reqs    [][]byte
	paths   []string
	bodies  []*atomic.Int64 // bytes of each response's body
	failing atomic.Bool
	url     string
}

func newWire(t *testing.T, target string) *wire {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	w := &wire{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var b bytes.Buffer
		fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL)
		r.Header.Write(&b)
		b.Write(body)
		count := &atomic.Int64{}
		w.mu.Lock()
		w.reqs = append(w.reqs, b.Bytes())
		w.paths = append(w.paths, r.URL.Path)
		w.bodies = append(w.bodies, count)
		w.mu.Unlock()
		cw := &countingWriter{ResponseWriter: rw, n: count}
		if r.URL.Path == "/static/scrub.wasm" && w.failing.Load() {
			http.Error(cw, "unavailable", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(cw, r)
	}))
	t.Cleanup(ts.Close)
	w.url = ts.URL
	return w
}

// countingWriter counts the bytes of a response's body.
type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// sent is the bytes of the response bodies from the nth request on.
func (w *wire) sent(n int) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var total int64
	for _, c := range w.bodies[n:] {
		total += c.Load()
	}
	return total
}

// since returns the requests from the nth on, and their paths.
func (w *wire) since(n int) ([][]byte, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([][]byte(nil), w.reqs[n:]...), append([]string(nil), w.paths[n:]...)
}

// containing lists the requests (method and URL) whose URL, headers or
// body hold needle.
func (w *wire) containing(needle string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, r := range w.reqs {
		if bytes.Contains(r, []byte(needle)) {
			first, _, _ := bytes.Cut(r, []byte("\n"))
			out = append(out, string(first))
		}
	}
	return out
}

func (w *wire) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.reqs)
}

// storedFile is a file of a conversation as the desk decrypts it.
type storedFile struct {
	meta pista.FileMeta
	data []byte
	by   string // where it was encrypted
}

// filesOf decrypts the files of the source with codename.
func (in *instance) filesOf(t *testing.T, codename, desk string) []storedFile {
	t.Helper()
	var out []storedFile
	for _, it := range in.conversationOf(t, codename) {
		if it.Kind != pista.KindFile {
			continue
		}
		var f storedFile
		if err := json.Unmarshal(in.open(t, desk, it.Meta), &f.meta); err != nil {
			t.Fatalf("file meta: %v", err)
		}
		f.data = in.open(t, desk, it.Object)
		if f.meta.Size == nil || *f.meta.Size > int64(len(f.data)) {
			t.Fatalf("file %q: size %v, %d bytes stored", f.meta.Name, f.meta.Size, len(f.data))
		}
		f.data, f.by = f.data[:*f.meta.Size], it.EncryptedBy
		out = append(out, f)
	}
	return out
}

func TestScrubInBrowser(t *testing.T) {
	photo := pistatest.GPSJPEG(t)
	if len(pistatest.ExifGPS(t, photo, ".jpg")) == 0 {
		t.Fatal("the test photo has no GPS position (the test is broken)")
	}
	// The photo's bytes that scrubbing keeps (the compressed picture at
	// its end) and those it removes (the EXIF block): neither may cross
	// the wire in the clear.
	exif := photo[bytes.Index(photo, []byte("Exif\x00\x00")):][:64]
	picture := photo[len(photo)-120 : len(photo)-40]
	path := filepath.Join(t.TempDir(), "berth-7.jpg")
	if err := os.WriteFile(path, photo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A JPEG cut short: the scrubber cannot read it.
	broken := append(bytes.Clone(photo[:len(photo)/2]), "not a JPEG any more"...)
	brokenPath := filepath.Join(t.TempDir(), "berth-7-cut.jpg")
	if err := os.WriteFile(brokenPath, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	in := newInstance(t)
	w := newWire(t, in.url)

	// send fills in the landing form in a new tab and sends it, with the
	// photo if o.file, ticking "keep" if o.keep; it returns the codename,
	// the bytes of the response bodies the browser received from the
	// landing page to the receipt, and the paths and requests it sent.
	type sendOpts struct {
		file, keep, wasmFails bool
		path                  string // the file, if not the photo
		choose                string // when the scrubber fails: "send" or "remove"
	}
	send := func(t *testing.T, o sendOpts) (string, int64, []string, [][]byte) {
		t.Helper()
		w.failing.Store(o.wasmFails)
		ctx := b.tab(t, true)
		n := newNetLog(t, ctx)
		from := w.count()
		do(t, ctx, "opening the landing page",
			chromedp.Navigate(w.url+"/?lang=en"),
			chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
			loaded(),
			chromedp.Click(chromedp.CSS("input[name=desk][value=americas]")),
			chromedp.SendKeys(chromedp.CSS("textarea#message"), "The photo of berth 7 "+rand8()))
		if o.keep {
			do(t, ctx, "keeping the metadata", chromedp.Click(chromedp.CSS("input[name=keep_metadata]")))
		}
		if o.file {
			p := path
			if o.path != "" {
				p = o.path
			}
			do(t, ctx, "attaching the photo", chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{p}))
		}
		do(t, ctx, "sending", chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")))
		if o.wasmFails {
			do(t, ctx, "the question", chromedp.WaitVisible(chromedp.CSS("[data-scrub-failed]")))
			if got := text(t, ctx, "[data-scrub-failed] p"); !strings.Contains(got, "metadata remover could not be loaded") {
				t.Errorf("the source is told %q", got)
			}
			if o.choose == "remove" {
				do(t, ctx, "removing the files", chromedp.Click(chromedp.CSS("[data-scrub-remove]")))
				do(t, ctx, "the page saying so", chromedp.WaitNotVisible(chromedp.CSS("[data-scrub-failed]")))
				wantText(t, ctx, "[data-status]", locale(t, "en").T("scrubpaths.form.removed"))
				if got := run(t, ctx, "counting the files", chromedp.Evaluate[int](`document.getElementById("files").files.length`)); got != 0 {
					t.Errorf("%d files are still attached", got)
				}
				if got := run(t, ctx, "the send button", chromedp.Evaluate[bool](`document.querySelector("form[data-encrypt] button[type=submit]").disabled`)); got {
					t.Error("the send button stays disabled")
				}
				do(t, ctx, "sending without the photo", chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")))
			} else {
				do(t, ctx, "sending the photo as it is", chromedp.Click(chromedp.CSS("[data-scrub-send]")))
			}
		}
		do(t, ctx, "the receipt", chromedp.WaitVisible(chromedp.CSS("p#codename")), loaded())
		codename := nonDigit.ReplaceAllString(text(t, ctx, "p#codename"), "")
		n.take(t) // everything loaded
		total := w.sent(from)
		reqs, paths := w.since(from)
		return codename, total, paths, reqs
	}
	// wasmFetched: the scrubber or its loader was fetched.
	wasmFetched := func(paths []string) bool {
		for _, p := range paths {
			if p == "/static/scrub.wasm" || p == "/static/wasm_exec.js" {
				return true
			}
		}
		return false
	}
	noPlaintext := func(t *testing.T, reqs [][]byte) {
		t.Helper()
		for _, r := range reqs {
			for what, s := range map[string][]byte{"the photo's EXIF": exif, "the photo's picture": picture, "the file name": []byte("berth-7")} {
				if bytes.Contains(r, s) {
					t.Errorf("%s crossed the wire in the clear in %s", what, bytes.SplitN(r, []byte("\n"), 2)[0])
				}
			}
		}
	}
	var bytesNoFile, bytesFile int64

	t.Run("no file: the scrubber is not fetched", func(t *testing.T) {
		_, total, paths, _ := send(t, sendOpts{})
		if wasmFetched(paths) {
			t.Errorf("the scrubber was fetched for a tip without files: %v", paths)
		}
		bytesNoFile = total
		if total > 200_000 {
			t.Errorf("a tip without files cost the source's browser %d bytes, more than the pages and their script", total)
		}
	})

	t.Run("scrubbed in the browser", func(t *testing.T) {
		codename, total, paths, reqs := send(t, sendOpts{file: true})
		bytesFile = total
		if !wasmFetched(paths) {
			t.Errorf("the scrubber was not fetched: %v", paths)
		}
		noPlaintext(t, reqs)
		files := in.filesOf(t, codename, "americas")
		if len(files) != 1 {
			t.Fatalf("%d files stored, want 1", len(files))
		}
		f := files[0]
		if gps := pistatest.ExifGPS(t, f.data, ".jpg"); len(gps) > 0 {
			t.Errorf("exiftool finds GPS tags in the photo the desk decrypts: %v", gps)
		}
		if f.by != "browser" || f.meta.Name != "berth-7.jpg" {
			t.Errorf("the file %q was encrypted by %q, want berth-7.jpg by the browser", f.meta.Name, f.by)
		}
		r := f.meta.Scrub
		if r == nil || r.By != pista.ScrubByBrowser || r.Choice != pista.ScrubChoiceScrub || !r.Scrubbed || r.Format != "JPEG" ||
			!strings.Contains(strings.Join(r.Found, ","), "GPS") {
			t.Errorf("the report %+v, want scrubbed by the browser as the source chose, GPS found", r)
		}
	})

	t.Run("the source keeps the metadata: the scrubber is not fetched", func(t *testing.T) {
		codename, _, paths, reqs := send(t, sendOpts{file: true, keep: true})
		if wasmFetched(paths) {
			t.Errorf("the scrubber was fetched though the source keeps the metadata: %v", paths)
		}
		noPlaintext(t, reqs)
		files := in.filesOf(t, codename, "americas")
		if len(files) != 1 || !bytes.Equal(files[0].data, photo) {
			t.Fatalf("the photo was not stored as sent")
		}
		if gps := pistatest.ExifGPS(t, files[0].data, ".jpg"); len(gps) == 0 {
			t.Error("the kept photo lost its GPS position")
		}
		if r := files[0].meta.Scrub; r == nil || r.By != pista.ScrubByBrowser || r.Choice != pista.ScrubChoiceKeep || r.Scrubbed {
			t.Errorf("the report %+v, want kept by the source's choice", r)
		}
	})

	t.Run("a file the scrubber cannot read goes as it is, reported so", func(t *testing.T) {
		codename, _, _, _ := send(t, sendOpts{file: true, path: brokenPath})
		files := in.filesOf(t, codename, "americas")
		if len(files) != 1 || !bytes.Equal(files[0].data, broken) {
			t.Fatalf("the file was not stored as sent")
		}
		r := files[0].meta.Scrub
		if r == nil || r.By != pista.ScrubByBrowser || r.Choice != pista.ScrubChoiceScrub || r.Scrubbed || !strings.Contains(r.Note, "could not read") {
			t.Errorf("the report %+v, want not scrubbed by the browser: the scrubber could not read it", r)
		}
	})

	t.Run("the scrubber does not load: the source removes the file", func(t *testing.T) {
		codename, _, _, reqs := send(t, sendOpts{file: true, wasmFails: true, choose: "remove"})
		noPlaintext(t, reqs)
		if files := in.filesOf(t, codename, "americas"); len(files) != 0 {
			t.Errorf("%d files stored, want none", len(files))
		}
	})

	t.Run("the scrubber does not load: the source sends the file as it is", func(t *testing.T) {
		codename, _, _, reqs := send(t, sendOpts{file: true, wasmFails: true, choose: "send"})
		noPlaintext(t, reqs)
		files := in.filesOf(t, codename, "americas")
		if len(files) != 1 || !bytes.Equal(files[0].data, photo) {
			t.Fatalf("the photo was not stored as sent")
		}
		r := files[0].meta.Scrub
		if r == nil || r.By != pista.ScrubByBrowser || r.Choice != pista.ScrubChoiceScrub || r.Scrubbed || !strings.Contains(r.Note, "did not load") {
			t.Errorf("the report %+v, want not scrubbed: the scrubber did not load, the source chose to send it", r)
		}
	})
	w.failing.Store(false)

	if bytesNoFile > 0 && bytesFile > 0 {
		t.Logf("bytes of the responses a source's browser received from the landing page to the receipt (bodies as sent, gzipped where they are): %d (%.1f kB) without a file, %d (%.1f kB) with a photo to scrub; the scrubber costs %.1f kB",
			bytesNoFile, float64(bytesNoFile)/1000, bytesFile, float64(bytesFile)/1000, float64(bytesFile-bytesNoFile)/1000)
	}
}
