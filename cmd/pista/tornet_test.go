package main

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/onion"
)

// torNet is a private Tor network on loopback, as chutney sets up: one
// directory authority, four relays, a tor that publishes onion services
// (hs) and a client tor with a SOCKS port. TestingTorNetwork makes it vote
// every 10 s, so it is ready in about half a minute.
type torNet struct {
	hsControl     string // the service side's control port (cookie)
	clientControl string // the client's control port (cookie)
	socks         string // the client's SOCKS port
}

func startTorNet(t *testing.T) *torNet {
	t.Helper()
	needTor(t)
	_, err := exec.LookPath("tor-gencert")
	pistatest.Need(t, "tor", err, torHint+" (tor-gencert comes with it)")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	base := freePorts(t, 60)
	port := func(i int) string { return fmt.Sprint(base + i) }

	// The authority's keys and fingerprints.
	auth := filepath.Join(dir, "auth")
	os.MkdirAll(filepath.Join(auth, "keys"), 0o700)
	gencert := exec.Command("tor-gencert", "--create-identity-key", "-m", "12", "-a", "127.0.0.1:"+port(1),
		"-i", "authority_identity_key", "-s", "authority_signing_key", "-c", "authority_certificate", "--passphrase-fd", "0")
	gencert.Dir, gencert.Stdin = filepath.Join(auth, "keys"), strings.NewReader("\n")
	if out, err := gencert.CombinedOutput(); err != nil {
		t.Fatalf("tor-gencert: %v\n%s", err, out)
	}
	if out, err := exec.Command("tor", "--list-fingerprint", "--DataDirectory", auth, "--ORPort", port(0), "--defaults-torrc", empty, "-f", empty).CombinedOutput(); err != nil {
		t.Fatalf("tor --list-fingerprint: %v\n%s", err, out)
	}
	cert, _ := os.ReadFile(filepath.Join(auth, "keys", "authority_certificate"))
	fp, _ := os.ReadFile(filepath.Join(auth, "fingerprint"))
	var v3ident string
	for _, l := range strings.Split(string(cert), "\n") {
		if f, ok := strings.CutPrefix(l, "fingerprint "); ok {
			v3ident = f
		}
	}
	fpFields := strings.Fields(string(fp))
	if v3ident == "" || len(fpFields) != 2 {
		t.Fatalf("no fingerprints: %q %q", cert, fp)
	}
	common := []string{
		"TestingTorNetwork 1", "PathsNeededToBuildCircuits 0.67",
		"TestingDirAuthVoteExit *", "TestingDirAuthVoteHSDir *", "TestingDirAuthVoteGuard *", "V3AuthNIntervalsValid 2",
		"DirAuthority auth orport=" + port(0) + " no-v2 v3ident=" + v3ident + " 127.0.0.1:" + port(1) + " " + fpFields[1],
		"AssumeReachable 1", "ShutdownWaitLength 0", "Address 127.0.0.1", "ContactInfo test@example.org",
	}
	start := func(name string, conf ...string) {
		d := filepath.Join(dir, name)
		os.MkdirAll(d, 0o700)
		os.Chmod(d, 0o700)
		lines := append(append([]string{}, common...), conf...)
		lines = append(lines, "DataDirectory "+d, "Nickname "+name, "Log notice file "+filepath.Join(d, "notice.log"))
		torrc := filepath.Join(d, "torrc")
		os.WriteFile(torrc, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
		cmd := exec.Command("tor", "--defaults-torrc", empty, "-f", torrc)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	}
	start("auth", "ORPort "+port(0), "DirPort "+port(1), "AuthoritativeDirectory 1", "V3AuthoritativeDirectory 1",
		"ExitPolicy accept *:*", "SocksPort 0",
		"TestingV3AuthInitialVotingInterval 10", "TestingV3AuthInitialVoteDelay 2", "TestingV3AuthInitialDistDelay 2",
		"V3AuthVotingInterval 10", "V3AuthVoteDelay 2", "V3AuthDistDelay 2")
	for i := 1; i <= 4; i++ {
		start(fmt.Sprintf("relay%d", i), "ORPort "+port(10+i), "DirPort "+port(20+i), "ExitRelay 1", "ExitPolicy accept *:*", "SocksPort 0")
	}
	start("client", "SocksPort "+port(40)+" ExtendedErrors", "ControlPort "+port(41), "CookieAuthentication 1")
	start("hs", "SocksPort 0", "ControlPort "+port(50), "CookieAuthentication 1")

	// Ready when the two ends have bootstrapped.
	deadline := time.Now().Add(3 * time.Minute)
	for _, n := range []string{"client", "hs"} {
		for {
			b, _ := os.ReadFile(filepath.Join(dir, n, "notice.log"))
			if strings.Contains(string(b), "Bootstrapped 100%") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the private Tor network did not bootstrap; %s's log:\n%s", n, b)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	return &torNet{hsControl: "127.0.0.1:" + port(50), clientControl: "127.0.0.1:" + port(41), socks: "127.0.0.1:" + port(40)}
}

// freePorts finds n consecutive free ports below Linux's ephemeral range
// (where an outgoing connection could take one between check and use).
func freePorts(t *testing.T, n int) int {
	t.Helper()
try:
	for range 50 {
		base := 20000 + rand.IntN(10000)
		for i := range n {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				continue try
			}
			ln.Close()
		}
		return base
	}
	t.Fatal("no free ports")
	return 0
}

// TestOnionThroughTor reaches pista's onion services the way sources and
// journalists do, through a (private) Tor network: a source submits a tip
// at the onion address; the newsroom's service cannot be reached without
// the client key, and can with it.
func TestOnionThroughTor(t *testing.T) {
	if testing.Short() {
		t.Skip("a private Tor network takes half a minute")
	}
	tn := startTorNet(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--coordinator", "alice")
	startServer(t, data, withTor, func(f *serveFlags) { f.tor.control, f.tor.newsroomOnion = tn.hsControl, true })
	source, _, err := onion.LoadOrCreateKey(filepath.Join(data, sourceOnionKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	newsroom, _, err := onion.LoadOrCreateKey(filepath.Join(data, newsroomOnionKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	proxy, _ := url.Parse("socks5://" + tn.socks)
	torBrowser := func(base string) *browser {
		jar, _ := cookiejar.New(nil)
		return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 60 * time.Second,
			Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}}
	}

	// A source, through Tor. The service's descriptor takes a few seconds
	// to reach the directories: try until it answers.
	src := torBrowser("http://" + source.Address())
	reach(t, src.c, src.base+"/")
	token := src.csrf("/")
	status, page := src.postMultipart("/submit", [][2]string{{"csrf", token}, {"desk", "americas"}, {"message", "Sent through Tor."}}, nil)
	if status != http.StatusOK || codenameRE.FindStringSubmatch(page) == nil {
		t.Fatalf("submitting through Tor: %d\n%s", status, page)
	}

	// A journalist without the client key: Tor finds the service's
	// descriptor but cannot read it, and says so with its SOCKS error
	// F4, "onion service missing client authorization" (ExtendedErrors;
	// F0, "descriptor not found", until it is published).
	jr := torBrowser("http://" + newsroom.Address())
	for deadline := time.Now().Add(torWait); ; time.Sleep(2 * time.Second) {
		resp, err := jr.c.Get(jr.base + "/newsroom/login")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("the newsroom's service answered %d without a client key", resp.StatusCode)
		}
		if strings.Contains(err.Error(), "unknown code: 244") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("without a client key: %v, not Tor's \"missing client authorization\"", err)
		}
	}
	// With it (as Tor Browser stores it when asked), the login page opens.
	line, err := os.ReadFile(filepath.Join(data, newsroomClientKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(strings.TrimSpace(string(line)), ":")
	c, err := onion.Dial(context.Background(), tn.clientControl)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(nil); err != nil {
		t.Fatal(err)
	}
	// The file has the key in base32, as Tor Browser asks for it; the
	// control port takes base64.
	priv, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(f[3]))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := c.Command("ONION_CLIENT_AUTH_ADD " + f[0] + " x25519:" + base64.StdEncoding.EncodeToString(priv)); err != nil || !rep.OK() {
		t.Fatalf("ONION_CLIENT_AUTH_ADD: %v %v", err, rep)
	}
	reach(t, jr.c, jr.base+"/newsroom/login")
}

// torWait is how long the private network may take to carry a
// descriptor: about ten seconds on an idle machine, but a fresh clone's
// whole test suite on two cores once took more than two minutes (SOCKS
// error F0, "descriptor not found", to the end).
const torWait = 5 * time.Minute

// reach GETs u until it answers 200 (the descriptor may not be published
// yet), for up to torWait.
func reach(t *testing.T, c *http.Client, u string) {
	t.Helper()
	deadline := time.Now().Add(torWait)
	for {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s through Tor: %v", u, err)
		}
		time.Sleep(2 * time.Second)
	}
}
