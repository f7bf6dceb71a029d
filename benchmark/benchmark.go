// Package benchmark measures the upload path of issue 5: a large file sent
// without JavaScript (one multipart POST, streamed) through the real
// server, against a baseline measured in the same run, and the peak
// resident memory of a server process taking one or four such uploads.
//
// The baseline is the least a server can do with such a request: a
// handler that streams it (MultipartReader → the file part → age to one
// hybrid post-quantum recipient → a new file on the same disk → fsync) and
// answers 200. pista does more on the way (CSRF and desk checks, the
// scrubber's format sniffing, a rename and a directory fsync, the rows,
// the codename's Argon2id); the ratio says what that costs.
//
// The memory goals of issue 11 (goals.go) are measured the same way, each
// on a new `pista serve` process: one 1 GiB upload peaks within 4 MiB of
// one 1 MiB upload, one upload stays under 64 MiB, 16 new sources and 4
// uploads at once under 128 MiB, four hostile files (hostile.go) scrubbed
// at once under 128 MiB; with the throughput of new sources' tips, which
// comes first within them.
//
// The flood goals of issue 12 (flood.go) are measured on a `pista serve`
// process too: real sources, without JavaScript and with the proof of
// work, unflooded and then beside a flood (flood_attack.go) of
// wrong-codename logins, API sources paying the proof of work and slow
// submissions, run from a process of its own at a lower priority. A
// source without JavaScript hears back (a receipt or "try again") within
// 5 s, sources with the proof of work keep half their throughput, the
// server stays under 128 MiB, and no one is told "too many sessions".
//
// `pista bench` (cmd/pista/bench.go) runs everything and prints a table
// (`pista bench --goals` for the memory goals, `pista bench --flood` for
// the flood goals); BenchmarkUpload and
// BenchmarkNewSourceTip in this package measure the throughput parts for
// benchstat.
package benchmark

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// MiB and GiB are binary units: throughput is reported in MiB/s.
const (
	MiB = 1 << 20
	GiB = 1 << 30
)

// ---------------------------------------------------------------------
// The file: deterministic bytes made on the fly.

// blockSize is the period of the generated file: a block of ChaCha8
// output, repeated. It looks random to age and to the scrubber's format
// sniffing, costs a memcpy per byte, and is the only buffer the client
// holds.
const blockSize = 1 << 20

var block = sync.OnceValue(func() []byte {
	b := make([]byte, blockSize)
	rand.NewChaCha8([32]byte{'p', 'i', 's', 't', 'a', ' ', 'b', 'e', 'n', 'c', 'h'}).Read(b)
	return b
})

// source reads n deterministic bytes.
type source struct{ off, n int64 }

func newSource(n int64) *source { return &source{n: n} }

func (s *source) Read(p []byte) (int, error) {
	if s.off >= s.n {
		return 0, io.EOF
	}
	i := s.off % blockSize
	m := copy(p[:min(int64(len(p)), s.n-s.off)], block()[i:])
	s.off += int64(m)
	return m, nil
}

// WriteTo writes in chunks of up to 256 KiB, so that io.Copy needs no
// buffer of its own.
func (s *source) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for s.off < s.n {
		i := s.off % blockSize
		end := min(blockSize, i+s.n-s.off, i+256<<10)
		m, err := w.Write(block()[i:end])
		s.off += int64(m)
		total += int64(m)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ---------------------------------------------------------------------
// The request: a browser's form, sent without JavaScript.

type field struct{ name, value string }

const boundary = "----pistaBenchBoundary7d1f0c9a2b"

// FileName and FileType are what the file part says it is: a format the
// scrubber does not know, so the file is stored as sent, as the baseline
// stores it.
const (
	FileName = "bench.bin"
	FileType = "application/octet-stream"
)

// filePart is a form's file: its name, its type and its bytes.
type filePart struct {
	name, ctype string
	r           io.Reader
}

// writeForm writes a multipart form: the fields in order, then the file
// if there is one.
func writeForm(w io.Writer, fields []field, file *filePart) error {
	mw := multipart.NewWriter(w)
	if err := mw.SetBoundary(boundary); err != nil {
		return err
	}
	for _, f := range fields {
		if err := mw.WriteField(f.name, f.value); err != nil {
			return err
		}
	}
	if file != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="files"; filename="`+file.name+`"`)
		h.Set("Content-Type", file.ctype)
		pw, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if _, err := io.Copy(pw, file.r); err != nil {
			return err
		}
	}
	return mw.Close()
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// uploadRequest makes a POST whose body is the form with a file of size
// bytes, written through a pipe as the transport sends it: nothing of the
// file is held in memory. The body's length is known beforehand, as a
// browser's is. sent, if not nil, is called once the whole body was
// handed to the transport (or the transport gave up on it); done is
// closed after that, when the goroutine writing the body has ended.
func uploadRequest(ctx context.Context, url string, fields []field, size int64, sent func()) (req *http.Request, done <-chan struct{}, err error) {
	var cw countWriter
	if err := writeForm(&cw, fields, &filePart{FileName, FileType, strings.NewReader("")}); err != nil {
		return nil, nil, err
	}
	pr, pw := io.Pipe()
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, url, pr)
	if err != nil {
		return nil, nil, err
	}
	req.ContentLength = cw.n + size
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		pw.CloseWithError(writeForm(pw, fields, &filePart{FileName, FileType, newSource(size)}))
		if sent != nil {
			sent()
		}
	}()
	return req, ended, nil
}

// ---------------------------------------------------------------------
// Targets: pista or the baseline, in this process or in another.

// Target is a server to upload to.
type Target struct {
	Name string // "pista" or "baseline"
	URL  string // http://127.0.0.1:PORT
	// Desk is the slug of the desk to send to; "" for the baseline.
	Desk string
	// Files is the folder uploads land in, emptied by Clean.
	Files string

	transport *http.Transport
}

func newTarget(name, url, desk, files string) *Target {
	return &Target{Name: name, URL: url, Desk: desk, Files: files, transport: &http.Transport{
		Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute,
	}}
}

var (
	csrfRe     = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	receiptTag = `id="codename"`
)

// Upload sends one file of size bytes as a browser without JavaScript
// does, and returns how long the POST took, from its first byte to the
// whole answer. For pista that is GET / for the CSRF token (and the
// session cookie it is bound to), then POST /submit with the desk, a short
// message and the file; the answer must be the receipt page. The baseline
// gets the same form.
func (t *Target) Upload(ctx context.Context, size int64, sent func()) (time.Duration, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: t.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	token := "none"
	if t.Desk != "" {
		var err error
		if token, err = csrfToken(ctx, c, t.URL+"/"); err != nil {
			return 0, err
		}
	}
	fields := []field{{"csrf", token}, {"desk", t.Desk}, {"message", "A benchmark's file."}, {"contact", ""}}
	start := time.Now()
	req, written, err := uploadRequest(ctx, t.URL+"/submit", fields, size, sent)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		<-written // the transport closed the body: the writer ends
		return 0, fmt.Errorf("%s: POST /submit: %w", t.Name, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	d := time.Since(start)
	// The writer reports the body sent before it ends; wait for it, so
	// that what sent() did is seen by the caller (a server may answer
	// before the writer's last step).
	<-written
	if err != nil {
		return 0, fmt.Errorf("%s: POST /submit: reading the answer: %w", t.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: POST /submit: %s\n%s", t.Name, resp.Status, snippet(body))
	}
	if t.Desk != "" && !strings.Contains(string(body), receiptTag) {
		return 0, fmt.Errorf("%s: POST /submit: the answer is not the receipt page\n%s", t.Name, snippet(body))
	}
	return d, nil
}

func csrfToken(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET /: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", fmt.Errorf("GET /: %w", err)
	}
	m := csrfRe.FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET /: %s, no CSRF token in the page\n%s", resp.Status, snippet(body))
	}
	return html.UnescapeString(string(m[1])), nil
}

func snippet(b []byte) string {
	if len(b) > 2000 {
		b = b[:2000]
	}
	return string(b)
}

// Clean deletes every file uploads left in t.Files (but not the folders),
// so that runs do not fill the disk.
func (t *Target) Clean() error {
	return filepath.WalkDir(t.Files, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			return os.Remove(p)
		}
		return nil
	})
}

// Server is a target served by this process.
type Server struct {
	*Target
	close func() error
}

// Close stops the server.
func (s *Server) Close() error {
	s.transport.CloseIdleConnections()
	return s.close()
}

// listen serves h on 127.0.0.1:0 with the settings `pista serve` uses.
func listen(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go hs.Serve(ln)
	return hs, "http://" + ln.Addr().String(), nil
}

// StartPista starts the real server (server.New) on a new data folder,
// with a journalist and a desk made through the stores, and serves it on
// 127.0.0.1:0 with net/http.
func StartPista(ctx context.Context, data string, maxUpload int64, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := server.New(ctx, server.Config{Data: data, MaxUpload: maxUpload, Log: logger})
	if err != nil {
		return nil, err
	}
	slug, err := makeDesk(ctx, srv.Stores)
	if err != nil {
		srv.Close()
		return nil, err
	}
	hs, url, err := listen(srv.Handler)
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &Server{
		Target: newTarget("pista", url, slug, filepath.Join(data, "objects")),
		close:  func() error { return errors.Join(hs.Close(), srv.Close()) },
	}, nil
}

// StartBaseline serves BaselineHandler on 127.0.0.1:0, writing into dir.
func StartBaseline(dir string) (*Server, error) {
	h, err := BaselineHandler(dir)
	if err != nil {
		return nil, err
	}
	hs, url, err := listen(h)
	if err != nil {
		return nil, err
	}
	return &Server{Target: newTarget("baseline", url, "", dir), close: hs.Close}, nil
}

// BaselineHandler is the yardstick: it streams a multipart request, each
// file part through age to one hybrid (ML-KEM-768 + X25519) recipient, as
// pista's desk keys are, into a new file in dir, which it fsyncs. Other
// parts are read and dropped. It answers 200 with an empty body.
func BaselineHandler(dir string) (http.Handler, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, err
	}
	rcpt := id.Recipient()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if p.FileName() == "" {
				io.Copy(io.Discard, p)
				continue
			}
			if err := baselineStore(dir, rcpt, p); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}), nil
}

func baselineStore(dir string, rcpt age.Recipient, r io.Reader) error {
	f, err := os.CreateTemp(dir, "baseline-*")
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := age.Encrypt(f, rcpt)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// makeDesk makes a journalist and a desk wrapped to them, as
// `pista journalist add` and `pista desk add` do, and returns its slug.
func makeDesk(ctx context.Context, st *server.Stores) (string, error) {
	jid, err := age.GenerateHybridIdentity()
	if err != nil {
		return "", err
	}
	secret, _, err := keys.NewTOTP("pista bench", "bench")
	if err != nil {
		return "", err
	}
	// The benchmark's journalist never logs in: no passphrase.
	j := pista.Journalist{Name: "bench", Recipient: jid.Recipient().String(), TOTPSecret: secret}
	if err := st.Journalists.CreateJournalist(ctx, &j); err != nil {
		return "", err
	}
	did, err := age.GenerateHybridIdentity()
	if err != nil {
		return "", err
	}
	wrapped, err := keys.Wrap(did, j.Recipient)
	if err != nil {
		return "", err
	}
	d := pista.Desk{Slug: "bench", Title: "Benchmark", Recipient: did.Recipient().String()}
	if err := st.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: wrapped}}); err != nil {
		return "", err
	}
	// A week of intake keys, as a member's sorter makes them: uploads
	// are encrypted to the day's, the path every tip takes (issue 16).
	if err := makeIntakeKeys(ctx, st, j.ID, d, did); err != nil {
		return "", err
	}
	return d.Slug, nil
}

// makeIntakeKeys makes the desk's intake keys from today (at the default
// intake day) for forward.Ahead days.
func makeIntakeKeys(ctx context.Context, st *server.Stores, journalist int64, d pista.Desk, desk *age.HybridIdentity) error {
	today := forward.Clock{}.Day(time.Now())
	var ks []pista.IntakeKey
	for day := today; day < today+forward.Ahead; day++ {
		k, err := forward.MakeIntakeKey(desk, day)
		if err != nil {
			return err
		}
		ks = append(ks, pista.IntakeKey{Day: k.Day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed})
	}
	_, err := st.Tips.AddIntakeKeys(ctx, journalist, d.KeyID, forward.SignPublic(desk.String()), ks)
	return err
}

// PrepareData makes a data folder with a journalist and a desk, for a
// `pista serve` process, and returns the desk's slug.
func PrepareData(ctx context.Context, data string) (string, error) {
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		return "", err
	}
	slug, err := makeDesk(ctx, st)
	return slug, errors.Join(err, st.Close())
}

// ---------------------------------------------------------------------
// Servers in their own process, for their memory to be measured alone.

// Process is a target served by another process.
type Process struct {
	*Target
	PID  int
	cmd  *exec.Cmd
	done chan struct{}
	err  error // of Wait, once done is closed
	out  *tail
}

// StartPistaProcess runs `EXE serve` on a new data folder, prepared with
// PrepareData, listening on 127.0.0.1:0.
func StartPistaProcess(ctx context.Context, exe, data string, maxUpload int64) (*Process, error) {
	slug, err := PrepareData(ctx, data)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "serve", "--data", data, "--listen", "127.0.0.1:0", "--max-upload", strconv.FormatInt(maxUpload, 10))
	return startProcess(cmd, newTarget("pista", "", slug, filepath.Join(data, "objects")))
}

// StartBaselineProcess runs `EXE bench --baseline-server DIR`, which
// serves only BaselineHandler (see ServeBaseline).
func StartBaselineProcess(exe, dir string) (*Process, error) {
	cmd := exec.Command(exe, "bench", BaselineServerFlag, dir)
	return startProcess(cmd, newTarget("baseline", "", "", dir))
}

// BaselineServerFlag is the hidden `pista bench` flag that runs only the
// baseline handler, in a process of its own.
const BaselineServerFlag = "--baseline-server"

// ServeBaseline serves BaselineHandler on 127.0.0.1:0 until ctx ends,
// writing into dir. It prints the address on ready, as `pista serve`
// does ("  Sources:     http://…/").
func ServeBaseline(ctx context.Context, dir string, ready io.Writer) error {
	s, err := StartBaseline(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(ready, "baseline handler:  %s/\n", s.URL)
	<-ctx.Done()
	return s.Close()
}

var addrRe = regexp.MustCompile(`http://127\.0\.0\.1:[0-9]+`)

// startProcess starts cmd and waits for the address it prints on stderr.
func startProcess(cmd *exec.Cmd, t *Target) (*Process, error) {
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{Target: t, cmd: cmd, done: make(chan struct{}), out: &tail{}}
	cmd.Stdout = p.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.PID = cmd.Process.Pid
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.out.Write([]byte(line + "\n"))
			if m := addrRe.FindString(line); m != "" {
				select {
				case addr <- m:
				default:
				}
			}
		}
		io.Copy(p.out, stderr)
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.URL = <-addr:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s ended before it listened: %v\n%s", cmd, p.err, p.out)
	case <-time.After(30 * time.Second):
		p.Stop()
		return nil, fmt.Errorf("%s did not listen within 30 s\n%s", cmd, p.out)
	}
}

// Stop ends the process: SIGTERM (a graceful shutdown), then SIGKILL if
// it has not ended within 15 s.
func (p *Process) Stop() error {
	p.transport.CloseIdleConnections()
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop on SIGTERM\n%s", p.cmd, p.out)
	}
}

// tail keeps the last 8 KiB written to it: a child's output, for errors.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8<<10 {
		t.b = append([]byte(nil), t.b[len(t.b)-8<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// ---------------------------------------------------------------------
// Memory.

// MemStatus reads a process's resident memory now (VmRSS) and its peak
// so far (VmHWM, the "high water mark") from /proc/PID/status, in bytes.
func MemStatus(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rss, hwm = -1, -1
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		if k == "VmRSS" {
			rss = n << 10
		} else {
			hwm = n << 10
		}
	}
	if rss < 0 || hwm < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return rss, hwm, nil
}

// CPUTime is the CPU time a process has used so far, all its threads, in
// user and system mode (utime and stime in /proc/PID/stat, in ticks of
// 1/100 s, the USER_HZ of Linux everywhere). On a loaded machine it says
// more about the cost of a code path than the time on the clock does.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// Memory is what a server process's memory was while it took Uploads
// uploads at once.
type Memory struct {
	Uploads int
	// Idle is VmRSS once the server listened, before any request.
	Idle int64
	// Streaming is the highest VmRSS sampled (every few milliseconds)
	// while every request body was still being sent: the cost of
	// streaming Uploads files at once, without what comes after a body's
	// last byte (for pista, the codename's Argon2id).
	Streaming int64
	// Peak is VmHWM at the end: the peak over the process's whole life.
	Peak int64
	// Rate is the bytes of all files over the time from the first POST
	// to the last answer.
	Rate float64
	// CPU is the server process's CPU time for all the uploads (0 if
	// unknown).
	CPU time.Duration
}

// MeasureMemory sends n uploads of size bytes at once to p and samples
// its memory.
func MeasureMemory(ctx context.Context, p *Process, n int, size int64) (Memory, error) {
	m := Memory{Uploads: n}
	var err error
	if m.Idle, _, err = MemStatus(p.PID); err != nil {
		return m, err
	}
	var streaming atomic.Int32
	var maxStreaming atomic.Int64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			s := streaming.Load() == int32(n)
			rss, _, err := MemStatus(p.PID)
			if err == nil && s && rss > maxStreaming.Load() {
				maxStreaming.Store(rss)
			}
		}
	}()
	cpu0, cpuErr := CPUTime(p.PID)
	streaming.Store(int32(n))
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			sent := func() { once.Do(func() { streaming.Add(-1) }) }
			_, errs[i] = p.Upload(ctx, size, sent)
			sent()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-stopped
	if err := errors.Join(errs...); err != nil {
		return m, err
	}
	if cpu1, err := CPUTime(p.PID); err == nil && cpuErr == nil {
		m.CPU = cpu1 - cpu0
	}
	m.Streaming = maxStreaming.Load()
	m.Rate = float64(n) * float64(size) / elapsed.Seconds()
	_, m.Peak, err = MemStatus(p.PID)
	return m, err
}
