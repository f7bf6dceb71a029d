package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pista-tips/pista/keys"
)

// runPistaIn runs a command line in-process with stdin as its standard
// input, and returns its standard output and error.
func runPistaIn(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), env{strings.NewReader(stdin), &out, &errb}, args); code != 0 {
		t.Fatalf("pista %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String(), errb.String()
}

// runPistaFails runs a command line that must fail, and returns its
// standard error.
func runPistaFails(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), env{strings.NewReader(stdin), &out, &errb}, args); code == 0 {
		t.Fatalf("pista %s succeeded; want a failure\n%s", strings.Join(args, " "), out.String())
	}
	return errb.String()
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestSubmitAndFollow runs the source's command-line client against the
// real server: a tip encrypted on the "source's computer", pulled and
// opened by a journalist, who replies on the web; the source reads the
// reply with pista follow and sends more, which the next pull brings.
func TestSubmitAndFollow(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, logs := startServer(t, data)

	marker := "APP-" + rand.Text()
	message := marker + "\nThe mayor's office is hiding the audit.\n"
	msgFile := writeFile(t, filepath.Join(dir, "tip.txt"), []byte(message))
	scan := make([]byte, 300<<10) // several age chunks
	rand.Read(scan)
	scanFile := writeFile(t, filepath.Join(dir, "ledger-scan.pdf"), scan)
	out, advice := runPistaIn(t, "", "submit", "--server", base, "--desk", "americas", "--message-file", msgFile, "--file", scanFile)
	codename, err := keys.ParseCodename(strings.TrimSpace(out))
	if err != nil || strings.TrimSpace(out) != codename.String() {
		t.Fatalf("submit printed %q, not a grouped codename", out)
	}
	if !strings.Contains(advice, "Write it down") || !strings.Contains(advice, "pista follow --server "+base) {
		t.Fatalf("submit's advice on standard error: %q", advice)
	}

	// The journalist pulls and opens it: byte for byte what was sent.
	pulledDir, openedDir := filepath.Join(dir, "pulled"), filepath.Join(dir, "opened")
	if out := runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir); !strings.Contains(out, "pulled 2 items") {
		t.Fatalf("first pull: %q, want the message and the file", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	conv := onlyConversation(t, openedDir)
	for name, want := range map[string][]byte{"message-1.txt": []byte(message), "ledger-scan.pdf": scan} {
		got, err := os.ReadFile(filepath.Join(conv, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: %d bytes, want %d byte for byte (%v; folder has %v)", name, len(got), len(want), err, listDir(conv))
		}
	}

	// She replies through the web inbox.
	replyText := "REPLY-" + rand.Text() + "\nThank you. Can you tell us more?"
	nr := newBrowser(t, base)
	status, page := nr.login("alice", "a long password for alice", alice.code(t))
	if status != http.StatusOK {
		t.Fatalf("alice's login: %d\n%s", status, page)
	}
	convID := filepath.Base(conv)
	status, page = nr.postForm("/newsroom/c/"+convID+"/reply", url.Values{"csrf": {nr.csrf("/newsroom/c/" + convID)}, "reply": {replyText}})
	if status != http.StatusOK || !strings.Contains(page, "Your reply was encrypted") {
		t.Fatalf("reply: %d\n%s", status, page)
	}

	// The source follows: reads the reply, sends more.
	followText := "MORE-" + rand.Text()
	followFile := writeFile(t, filepath.Join(dir, "more.txt"), []byte(followText))
	out, _ = runPistaIn(t, codename.String()+"\n", "follow", "--server", base, "--message-file", followFile)
	if !strings.Contains(out, replyText) || !strings.Contains(out, "--- reply 1, ") {
		t.Fatalf("follow printed %q, want the reply", out)
	}
	// Typed however: digits without spaces, no newline.
	if out, _ := runPistaIn(t, string(codename), "follow", "--server", base); !strings.Contains(out, replyText) {
		t.Fatalf("follow printed %q, want the reply", out)
	}

	if out := runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir); !strings.Contains(out, "pulled 2 items") {
		t.Fatalf("second pull: %q, want the reply and the follow-up", out)
	}
	runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
	if got, _ := os.ReadFile(filepath.Join(conv, "message-2.txt")); string(got) != followText {
		t.Fatalf("message-2.txt = %q, want the follow-up %q", got, followText)
	}

	// Neither the codename nor anything the source sent is on the
	// server's disk or in its log in plain text.
	secrets := map[string]string{"codename": string(codename), "grouped codename": codename.String(),
		"message": marker, "follow-up": followText, "file name": "ledger-scan"}
	filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for what, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s found in %s", what, p)
			}
		}
		if bytes.Contains(b, scan[5000:5064]) {
			t.Errorf("the file's bytes are in %s", p)
		}
		return nil
	})
	for what, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("%s found in the log", what)
		}
	}
}

func TestSubmitErrors(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, _ := startServer(t, data)
	msg := writeFile(t, filepath.Join(dir, "tip.txt"), []byte("a tip"))
	long := writeFile(t, filepath.Join(dir, "long.txt"), bytes.Repeat([]byte("x"), 100_001))
	tests := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"unknown desk", "", []string{"submit", "--server", base, "--desk", "europe", "--message-file", msg}, "the desks are americas"},
		{"nothing to send", "", []string{"submit", "--server", base, "--desk", "americas"}, "give --message-file, --file, --answer or several"},
		{"missing file", "", []string{"submit", "--server", base, "--desk", "americas", "--file", filepath.Join(dir, "nope")}, "no such file"},
		{"message too long", "", []string{"submit", "--server", base, "--desk", "americas", "--message-file", long}, "at most 100000 characters"},
		{"not a server", "", []string{"submit", "--server", "tips.example.org", "--desk", "americas", "--message-file", msg}, "not a server address"},
		{"no codename", "hello\n", []string{"follow", "--server", base}, "standard input holds no codename"},
		{"wrong codename", "1111 2222 3333 4444 5555 6666 7777\n", []string{"follow", "--server", base}, "that codename was not recognised"},
		{"bad proxy", "", []string{"submit", "--server", base, "--desk", "americas", "--message-file", msg, "--proxy", "ftp://127.0.0.1:1"}, "the scheme must be socks5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runPistaFails(t, tt.stdin, tt.args...); !strings.Contains(got, tt.want) {
				t.Fatalf("stderr %q, want %q", got, tt.want)
			}
		})
	}
	for _, cmd := range []string{"submit", "follow"} {
		_, help := runPistaIn(t, "", cmd, "--help")
		if !strings.Contains(help, "Examples:") || !strings.Contains(help, "--proxy") {
			t.Errorf("pista %s --help: %q", cmd, help)
		}
	}
}

// socks5 is a minimal SOCKS5 proxy (RFC 1928: no authentication, CONNECT
// only) that connects to loopback addresses only and records what went
// through it.
type socks5 struct {
	ln net.Listener

	mu      sync.Mutex
	targets []string
	sent    bytes.Buffer // client to server
}

func startSOCKS5(t *testing.T) *socks5 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &socks5{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *socks5) URL() string { return "socks5://" + s.ln.Addr().String() }

func (s *socks5) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent.Write(p)
}

func (s *socks5) seen() ([]string, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.targets...), bytes.Clone(s.sent.Bytes())
}

func (s *socks5) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var greeting [2]byte
	if _, err := io.ReadFull(r, greeting[:]); err != nil || greeting[0] != 5 {
		return
	}
	if _, err := io.ReadFull(r, make([]byte, greeting[1])); err != nil {
		return
	}
	c.Write([]byte{5, 0}) // no authentication
	var req [4]byte
	if _, err := io.ReadFull(r, req[:]); err != nil {
		return
	}
	fail := func(code byte) { c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}) }
	var host string
	switch req[3] {
	case 1, 4: // IPv4, IPv6
		ip := make([]byte, map[byte]int{1: 4, 4: 16}[req[3]])
		if _, err := io.ReadFull(r, ip); err != nil {
			return
		}
		host = net.IP(ip).String()
	case 3: // a name
		n, err := r.ReadByte()
		if err != nil {
			return
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(r, name); err != nil {
			return
		}
		host = string(name)
	default:
		fail(8)
		return
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return
	}
	if req[1] != 1 {
		fail(7) // only CONNECT
		return
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail(2) // loopback only
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	up, err := net.Dial("tcp", target)
	if err != nil {
		fail(5)
		return
	}
	defer up.Close()
	s.mu.Lock()
	s.targets = append(s.targets, target)
	s.mu.Unlock()
	c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	go func() {
		io.Copy(c, up)
		c.Close()
	}()
	io.Copy(io.MultiWriter(up, s), r)
}

// TestSubmitThroughSOCKS checks that submit and follow go through a SOCKS5
// proxy, given by --proxy or ALL_PROXY, and never around it.
func TestSubmitThroughSOCKS(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, _ := startServer(t, data)
	srvAddr := strings.TrimPrefix(base, "http://")
	proxy := startSOCKS5(t)

	marker := "THROUGH-TOR-" + rand.Text()
	msg := writeFile(t, filepath.Join(dir, "tip.txt"), []byte(marker))
	out, _ := runPistaIn(t, "", "submit", "--server", base, "--desk", "americas", "--message-file", msg, "--proxy", proxy.URL())
	codename, err := keys.ParseCodename(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("submit printed %q", out)
	}
	targets, sent := proxy.seen()
	if len(targets) == 0 {
		t.Fatal("submit did not go through the proxy")
	}
	for _, tg := range targets {
		if tg != srvAddr {
			t.Fatalf("the proxy was asked for %s, not the server %s", tg, srvAddr)
		}
	}
	if !bytes.Contains(sent, []byte("POST /api/v1/source/tips")) {
		t.Fatal("the tip did not go through the proxy")
	}
	// What travelled is encrypted, and the codename did not travel.
	for what, s := range map[string]string{"message": marker, "codename": string(codename), "grouped codename": codename.String()} {
		if bytes.Contains(sent, []byte(s)) {
			t.Errorf("the %s went over the wire", what)
		}
	}

	// follow takes the proxy from ALL_PROXY.
	t.Setenv("ALL_PROXY", proxy.URL())
	_, stderr := runPistaIn(t, codename.String(), "follow", "--server", base)
	if !strings.Contains(stderr, "no reply yet") {
		t.Fatalf("follow: %q", stderr)
	}
	if _, sent := proxy.seen(); !bytes.Contains(sent, []byte("POST /api/v1/source/login")) {
		t.Fatal("follow did not go through the proxy from ALL_PROXY")
	}

	// With a proxy that is down, nothing goes around it.
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "socks5://" + dead.Addr().String()
	dead.Close()
	runPistaFails(t, "", "submit", "--server", base, "--desk", "americas", "--message-file", msg, "--proxy", deadURL)
	t.Setenv("ALL_PROXY", deadURL)
	runPistaFails(t, codename.String(), "follow", "--server", base)
}
