package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// crashChild, set in a child's environment, makes the test binary run as
// the pista command: the crash test starts real `pista serve` processes
// this way without building the binary separately.
const crashChild = "PISTA_CRASH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashChild) == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// envInt reads a positive count from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// child is a `pista serve` process.
type child struct {
	cmd    *exec.Cmd
	base   string
	log    *syncBuffer
	done   chan error    // its exit, once
	exited chan struct{} // closed when it has exited
}

func startChild(t *testing.T, data string) *child {
	t.Helper()
	return startChildWith(t, data, nil, "--newsroom", "The Crash Gazette")
}

// startChildWith starts `pista serve` on data with more flags and
// environment variables, and waits until it answers.
func startChildWith(t *testing.T, data string, env []string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0",
		"--min-free-disk", "0", "--max-upload", "64MiB"}, args...)...)
	cmd.Env = append(append(os.Environ(), crashChild+"=1"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1), exited: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			c.log.Write([]byte(line + "\n"))
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Sources:"); ok {
				select {
				case addr <- strings.TrimSuffix(strings.TrimSpace(rest), "/"):
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		err := cmd.Wait()
		close(c.exited)
		c.done <- err
	}()
	select {
	case c.base = <-addr:
	case err := <-c.done:
		t.Fatalf("pista serve exited before it listened: %v\n%s", err, c.log.String())
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("pista serve did not start\n%s", c.log.String())
	}
	// Wait until it answers: the address is printed just before it serves.
	for i := 0; ; i++ {
		resp, err := http.Get(c.base + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("pista serve does not answer: %v\n%s", err, c.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// kill sends SIGKILL and waits for the process to end.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.done:
		if err != nil {
			t.Fatalf("pista serve on SIGTERM: %v\n%s", err, c.log.String())
		}
	case <-time.After(60 * time.Second):
		c.cmd.Process.Kill()
		t.Fatalf("pista serve did not stop on SIGTERM\n%s", c.log.String())
	}
}

// sent is what one acknowledged submission carried.
type sent struct {
	marker   string
	fileSum  [32]byte
	fileSize int64
}

// submit sends a tip as a browser without JavaScript: GET / for the CSRF
// token, then POST /submit with a message and a file. It answers whether
// the server acknowledged it (a 200 receipt with a codename).
func submit(client *http.Client, base, marker string, file []byte) (bool, error) {
	resp, err := client.Get(base + "/")
	if err != nil {
		return false, err
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	m := csrfRE.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		return false, errors.New("GET /: no form")
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("csrf", string(m[1]))
		mw.WriteField("desk", "americas")
		mw.WriteField("message", marker+"\nThe ledger is attached.")
		w, err := mw.CreateFormFile("files", "ledger.bin")
		if err != nil { // the request failed before the file began: the pipe is closed
			pw.CloseWithError(err)
			return
		}
		// In pieces, so that the server is killed mid-body too.
		for rest := file; len(rest) > 0; {
			n := min(len(rest), 64<<10)
			if _, err := w.Write(rest[:n]); err != nil {
				pw.CloseWithError(err)
				return
			}
			rest = rest[n:]
		}
		pw.CloseWithError(mw.Close())
	}()
	req, _ := http.NewRequest(http.MethodPost, base+"/submit", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err = client.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		return false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, errors.New("POST /submit: " + resp.Status)
	}
	return codenameRE.Match(body), nil
}

// leftovers counts the temporary files and the objects that no row names
// in a data folder no server holds, without changing anything (the stores
// are opened as an admin command opens them: no sweep).
func leftovers(t *testing.T, data string) (tmps, orphans int) {
	t.Helper()
	filepath.WalkDir(filepath.Join(data, "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			tmps++
		}
		return nil
	})
	ctx := context.Background()
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	used, err1 := st.Tips.ObjectKeys(ctx)
	all, err2 := st.Blobs.Keys(ctx)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if !used[k] {
			orphans++
		}
	}
	return tmps, orphans
}

// The review's crash test (issue 11, point 9): `kill -9` a real pista
// serve while sources upload, restart it, again and again. No tip the
// server acknowledged may be lost, every acknowledged item must decrypt
// with the desk's key to what was sent, and after the last restart's
// sweep no temporary file, orphan object or row without its object is
// left. PISTA_CRASH_KILLS and PISTA_CRASH_UPLOADS set the numbers (the
// review's: 30 and 300).
func TestKillDuringUploadsLosesNoAcknowledgedTip(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many pista serve processes")
	}
	kills := envInt(t, "PISTA_CRASH_KILLS", 10)
	uploads := envInt(t, "PISTA_CRASH_UPLOADS", 100)
	const workers = 4
	const maxFile = 3 << 20

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")

	var (
		mu       sync.Mutex
		acked    []sent
		started  atomic.Int64
		failures int
	)
	leftTmp, leftOrphans := 0, 0 // what the kills left for the sweeps
	perRound := max(uploads/kills, 1)
	for round := 0; round < kills; round++ {
		c := startChild(t, data)
		// Kill after a random number of uploads have started, and a
		// random moment more, so that some are in flight: connecting,
		// sending their body, being encrypted or committed.
		killAt := int64(perRound/2 + mrand.IntN(perRound+1))
		var startedHere atomic.Int64
		killed := make(chan struct{})
		var once sync.Once
		killNow := func() {
			once.Do(func() {
				time.Sleep(time.Duration(mrand.IntN(400)) * time.Millisecond)
				c.kill()
				close(killed)
			})
		}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-killed:
						return
					default:
					}
					n := startedHere.Add(1)
					if n > killAt {
						return
					}
					started.Add(1)
					if n == killAt {
						go killNow()
					}
					file := make([]byte, 1+mrand.IntN(maxFile))
					rand.Read(file)
					marker := "CRASH-" + rand.Text()
					jar, _ := cookiejar.New(nil)
					ok, err := submit(&http.Client{Jar: jar, Timeout: 2 * time.Minute}, c.base, marker, file)
					if ok {
						mu.Lock()
						acked = append(acked, sent{marker, sha256.Sum256(file), int64(len(file))})
						mu.Unlock()
					} else {
						if err == nil {
							t.Errorf("tip %s: a 200 answer without a codename", marker)
						}
						mu.Lock()
						failures++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		killNow() // if every upload ended before the kill
		if !c.cmd.ProcessState.Exited() && c.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: pista serve ended with %v, not by SIGKILL\n%s", round, c.cmd.ProcessState, c.log.String())
		}
		tmps, orphans := leftovers(t, data)
		leftTmp += tmps
		leftOrphans += orphans
	}

	// The last restart sweeps what the kills left; the server then stops
	// cleanly and nothing is held.
	c := startChild(t, data)
	// The sweep runs in the background: stop once it has.
	for i := 0; !strings.Contains(c.log.String(), "swept the objects written before start"); i++ {
		if i == 600 {
			t.Fatalf("the restart did not sweep within a minute\n%s", c.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.stop(t)
	if strings.Contains(c.log.String(), "level=ERROR") {
		t.Errorf("the restart logged an error:\n%s", c.log.String())
	}

	t.Logf("kills %d, uploads started %d, acknowledged %d, cut by a kill %d; left by the kills for the restart sweeps: %d temporary files, %d orphan objects",
		kills, started.Load(), len(acked), failures, leftTmp, leftOrphans)
	if len(acked) == 0 {
		t.Fatal("no upload was acknowledged: the test proves nothing")
	}

	// No temporary file is left.
	filepath.WalkDir(filepath.Join(data, "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("a temporary file is left after the restart: %s", p)
		}
		return nil
	})

	ctx := context.Background()
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Every row has its object and every object has its row.
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
			t.Errorf("object %s is an orphan: no row names it", k)
		}
	}
	for k := range used {
		if !have[k] {
			t.Errorf("a row names object %s, which is missing", k)
		}
	}

	// The desk's key, as alice's tools get it.
	f, err := os.Open(alice.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	j, err := st.Journalists.JournalistByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	wraps, err := st.Desks.WrapsFor(ctx, j.ID)
	if err != nil || len(wraps) != 1 {
		t.Fatalf("alice's desk keys: %v, %d", err, len(wraps))
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
			t.Fatalf("object %s is no age file for the desk: %v", key, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("object %s is cut or damaged: %v", key, err)
		}
		return b
	}

	// Every stored tip, by the marker of its message.
	type stored struct {
		messages, files int
		fileOK          bool
	}
	byConv := map[string][]pista.Item{}
	for after := int64(0); ; {
		items, err := st.Tips.ItemsFor(ctx, j.ID, after, 1000)
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
	want := map[string]sent{}
	for _, s := range acked {
		want[s.marker] = s
	}
	found := map[string]stored{}
	for conv, items := range byConv {
		var marker string
		var fileItems []pista.Item
		for _, it := range items {
			switch it.Kind {
			case pista.KindMessage:
				msg := string(open(it.Object))
				marker, _, _ = strings.Cut(msg, "\n")
			case pista.KindFile:
				fileItems = append(fileItems, it)
			default:
				t.Errorf("conversation %s has an item of kind %q", conv, it.Kind)
			}
		}
		s := found[marker]
		s.messages++
		w, isAcked := want[marker]
		for _, it := range fileItems {
			s.files++
			var meta pista.FileMeta
			if err := json.Unmarshal(open(it.Meta), &meta); err != nil || meta.Size == nil {
				t.Errorf("tip %s: the file's meta: %v", marker, err)
				continue
			}
			b := open(it.Object)
			if *meta.Size > int64(len(b)) || len(bytes.Trim(b[*meta.Size:], "\x00")) != 0 {
				t.Errorf("tip %s: size %d, padding of %d bytes not zeros", marker, *meta.Size, len(b))
				continue
			}
			if isAcked {
				s.fileOK = *meta.Size == w.fileSize && sha256.Sum256(b[:*meta.Size]) == w.fileSum
			}
		}
		found[marker] = s
	}
	lost := 0
	for _, w := range acked {
		s := found[w.marker]
		switch {
		case s.messages == 0:
			lost++
			t.Errorf("acknowledged tip %s is lost", w.marker)
		case s.messages != 1 || s.files != 1:
			t.Errorf("acknowledged tip %s is stored %d times with %d files", w.marker, s.messages, s.files)
		case !s.fileOK:
			t.Errorf("acknowledged tip %s: its file does not decrypt to what was sent", w.marker)
		}
	}
	t.Logf("stored tips %d (acknowledged %d, the rest committed before the kill cut the answer), lost %d", len(found), len(acked), lost)
}
