package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/onion"
)

const torHint = "apt-get install -y tor"

func needTor(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("tor")
	pistatest.Need(t, "tor", err, torHint)
}

func withTor(f *serveFlags) {
	f.tor = torFlags{enabled: true, pow: true, powRate: defaultPoWQueueRate, powBurst: defaultPoWQueueBurst}
}

// serveErr runs `pista serve` with f's changes and returns its error at
// start-up, or nil once it listens (and then stops it).
func serveErr(t *testing.T, data string, opts ...func(*serveFlags)) (error, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	f := serveFlags{data: data, listen: "127.0.0.1:0", newsroom: "The Test Gazette", maxUpload: "64MiB", notifyInterval: time.Hour, smtpMaxSize: "32MiB"}
	for _, o := range opts {
		o(&f)
	}
	done := make(chan error, 1)
	ready := make(chan struct{})
	go func() { done <- serve(ctx, env{nil, io.Discard, logs}, f, func(string) { close(ready) }) }()
	select {
	case err := <-done:
		return err, logs.String()
	case <-ready:
		cancel()
		return <-done, logs.String()
	case <-time.After(60 * time.Second):
		t.Fatal("serve neither failed nor started")
		return nil, ""
	}
}

// torControl connects to the tor that pista started in data, as a
// second controller.
func torControl(t *testing.T, data string) *onion.Conn {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, torDir, "control-port"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := onion.Dial(context.Background(), strings.TrimSpace(strings.TrimPrefix(string(b), "PORT=")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Authenticate(nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// published tells whether the Tor at c publishes the service of key:
// Tor refuses to add a service it already has ("550 Onion address
// collision"); if it had not, the test's own copy is removed again.
func published(t *testing.T, c *onion.Conn, key *onion.ServiceKey) bool {
	t.Helper()
	_, err := c.AddOnion(onion.Service{Key: key, Ports: []string{"80,127.0.0.1:9"}})
	if err == nil {
		c.Command("DEL_ONION " + strings.TrimSuffix(key.Address(), ".onion"))
		return false
	}
	if !strings.Contains(err.Error(), "collision") {
		t.Fatalf("ADD_ONION: %v", err)
	}
	return true
}

func fileMode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestServeTor: pista serve --tor starts a real tor (offline it cannot
// reach the network, but publishes to itself), with a key made once in
// the data folder; the address is that key's, the same after a restart,
// and announced in Onion-Location and on the landing page.
func TestServeTor(t *testing.T) {
	needTor(t)
	data := t.TempDir()
	var first string
	for i, name := range []string{"first start", "restart"} {
		t.Run(name, func(t *testing.T) {
			base, _ := startServer(t, data, withTor)
			keyFile := filepath.Join(data, sourceOnionKeyFile)
			if m := fileMode(t, keyFile); m != 0o600 {
				t.Errorf("key file mode %o, want 600", m)
			}
			if m := fileMode(t, filepath.Join(data, torDir)); m != 0o700 {
				t.Errorf("tor's folder mode %o, want 700", m)
			}
			key, created, err := onion.LoadOrCreateKey(keyFile)
			if err != nil || created {
				t.Fatalf("key file: created=%v %v", created, err)
			}
			addr := key.Address()
			if i == 0 {
				first = addr
			} else if addr != first {
				t.Fatalf("address changed across restarts: %s, then %s", first, addr)
			}
			if !published(t, torControl(t, data), key) {
				t.Fatalf("tor does not publish %s", addr)
			}

			resp, err := http.Get(base + "/?lang=fr")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got, want := resp.Header.Get("Onion-Location"), "http://"+addr+"/?lang=fr"; got != want {
				t.Errorf("Onion-Location = %q, want %q", got, want)
			}
			if !strings.Contains(string(body), "http://"+addr+"/") {
				t.Errorf("landing page does not show the address %s", addr)
			}
			if !regexp.MustCompile(`<svg class="qr"[^>]*aria-labelledby="onion-qr-label"`).Match(body) || !strings.Contains(string(body), `id="onion-qr-label"`) {
				t.Errorf("landing page has no labelled QR code of the address")
			}
		})
		// The tor pista started ends with it: its control port closes.
		deadline := time.Now().Add(15 * time.Second)
		for {
			b, _ := os.ReadFile(filepath.Join(data, torDir, "control-port"))
			c, err := onion.Dial(context.Background(), strings.TrimSpace(strings.TrimPrefix(string(b), "PORT=")))
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatal("tor still runs after pista stopped")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestServeTorPoW: the proof-of-work parameters reach Tor, which checks
// them: Tor 0.4.9 reports an ephemeral service's PoW settings nowhere
// (not in GETINFO, GETCONF or its metrics) before it publishes a
// descriptor, so the test shows Tor parses them by giving one it refuses.
func TestServeTorPoW(t *testing.T) {
	needTor(t)
	err, logs := serveErr(t, t.TempDir(), withTor, func(f *serveFlags) { f.tor.powBurst = 1 << 40 })
	if err == nil || !strings.Contains(err.Error(), "Invalid PoWQueueBurst") {
		t.Fatalf("a burst Tor cannot take was not refused by Tor: %v", err)
	}
	err, logs = serveErr(t, t.TempDir(), withTor, func(f *serveFlags) { f.tor.powRate, f.tor.powBurst = 20, 200 })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "proof-of-work defence on: queue rate 20/s, burst 200") {
		t.Fatalf("start-up does not say the defence is on:\n%s", logs)
	}
}

// TestServeNewsroomOnion: with --newsroom-onion the journalists' inbox and
// API are on a second onion service, with client authorization, and the
// clearnet listener answers "not found" for them.
func TestServeNewsroomOnion(t *testing.T) {
	needTor(t)
	data := t.TempDir()
	refused := []struct{ method, path string }{
		{"GET", "/newsroom/login"},
		{"GET", "/newsroom/"},
		{"GET", "/newsroom"},
		{"GET", "//newsroom/login"},
		{"GET", "/newsroom/../newsroom/login"},
		{"POST", "/newsroom/login"},
		{"POST", "/api/v1/journalist/login/params"},
		{"GET", "/api/v1/journalist/items"},
	}
	do := func(base, method, path string) int {
		req, err := http.NewRequest(method, base+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path // as sent, not cleaned by the client
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Without it, the routes exist (the test would pass for no reason
	// otherwise).
	t.Run("without", func(t *testing.T) {
		base, _ := startServer(t, data, withTor)
		if s := do(base, "GET", "/newsroom/login"); s != http.StatusOK {
			t.Fatalf("GET /newsroom/login: %d", s)
		}
	})
	t.Run("with", func(t *testing.T) {
		base, _ := startServer(t, data, withTor, func(f *serveFlags) { f.tor.newsroomOnion = true })
		for _, r := range refused {
			if s := do(base, r.method, r.path); s != http.StatusNotFound {
				t.Errorf("%s %s on the clearnet listener: %d, want 404", r.method, r.path, s)
			}
		}
		for _, p := range []string{"/", "/api/v1/desks"} {
			if s := do(base, "GET", p); s != http.StatusOK {
				t.Errorf("GET %s: %d, want 200", p, s)
			}
		}
		key, _, err := onion.LoadOrCreateKey(filepath.Join(data, newsroomOnionKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if !published(t, torControl(t, data), key) {
			t.Fatal("tor does not publish the newsroom's service")
		}
		authFile := filepath.Join(data, newsroomClientKeyFile)
		if m := fileMode(t, authFile); m != 0o600 {
			t.Errorf("client key mode %o, want 600", m)
		}
		b, _ := os.ReadFile(authFile)
		want := regexp.MustCompile(`^` + strings.TrimSuffix(key.Address(), ".onion") + `:descriptor:x25519:[a-z2-7]{52}\n$`)
		if !want.Match(b) {
			t.Errorf("client key file is not a Tor .auth_private line: %q", b)
		}
		k, _, err := onion.LoadOrCreateClientKey(authFile, key.Address())
		if err != nil {
			t.Fatal(err)
		}
		clients, err := os.ReadFile(filepath.Join(data, newsroomClientsFile))
		if err != nil || !strings.Contains(string(clients), "\n"+k.Public()+"\n") {
			t.Fatalf("the clients file does not list the client key: %q %v", clients, err)
		}
	})
	// The private part may be deleted once handed out: the service keeps
	// the public part and the same address.
	t.Run("client key handed out", func(t *testing.T) {
		os.Remove(filepath.Join(data, newsroomClientKeyFile))
		startServer(t, data, withTor, func(f *serveFlags) { f.tor.newsroomOnion = true })
		if _, err := os.Stat(filepath.Join(data, newsroomClientKeyFile)); err == nil {
			t.Error("a new client key was made")
		}
	})
	t.Run("bad clients file", func(t *testing.T) {
		os.WriteFile(filepath.Join(data, newsroomClientsFile), []byte("not a key\n"), 0o600)
		err, _ := serveErr(t, data, withTor, func(f *serveFlags) { f.tor.newsroomOnion = true })
		if !errors.Is(err, onion.ErrBadClients) {
			t.Fatalf("error = %v", err)
		}
	})
}

// TestServeTorErrors: what goes wrong says so, and nothing starts.
func TestServeTorErrors(t *testing.T) {
	t.Run("tor missing", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		err, _ := serveErr(t, t.TempDir(), withTor)
		if err == nil || !strings.Contains(err.Error(), "tor is not installed") || !strings.Contains(err.Error(), "apt-get install tor") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("control port unreachable", func(t *testing.T) {
		err, _ := serveErr(t, t.TempDir(), withTor, func(f *serveFlags) { f.tor.control = "127.0.0.1:1" })
		if !errors.Is(err, onion.ErrUnreachable) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("bad key file", func(t *testing.T) {
		data := t.TempDir()
		os.WriteFile(filepath.Join(data, sourceOnionKeyFile), []byte("not a key"), 0o600)
		err, _ := serveErr(t, data, withTor)
		if !errors.Is(err, onion.ErrBadKeyFile) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("password", func(t *testing.T) {
		needTor(t)
		control := startPasswordTor(t, "right horse battery")
		pwFile := filepath.Join(t.TempDir(), "pw")
		for _, tc := range []struct {
			name, pw string
			err      error
		}{
			{"wrong", "wrong horse", onion.ErrAuth},
			{"right", "right horse battery", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				os.WriteFile(pwFile, []byte(tc.pw+"\n"), 0o600)
				err, _ := serveErr(t, t.TempDir(), withTor, func(f *serveFlags) { f.tor.control, f.tor.passwordFile = control, pwFile })
				if !errors.Is(err, tc.err) {
					t.Fatalf("error = %v, want %v", err, tc.err)
				}
			})
		}
		t.Run("from the environment", func(t *testing.T) {
			t.Setenv(torPasswordEnv, "right horse battery")
			if err, _ := serveErr(t, t.TempDir(), withTor, func(f *serveFlags) { f.tor.control = control }); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// startPasswordTor starts a tor whose control port takes password, and
// returns its address.
func startPasswordTor(t *testing.T, password string) string {
	t.Helper()
	out, err := exec.Command("tor", "--quiet", "--hash-password", password).Output()
	if err != nil {
		t.Fatal(err)
	}
	return startTestTor(t, "HashedControlPassword "+strings.TrimSpace(string(out)))
}

// startTestTor starts a tor that stands for one an administrator runs,
// with conf added to its torrc, and returns its control port's address.
func startTestTor(t *testing.T, conf string) string {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	torrc := filepath.Join(dir, "torrc")
	os.WriteFile(torrc, []byte("DataDirectory "+dir+"\nControlPort 127.0.0.1:auto\nControlPortWriteToFile "+dir+"/port\n"+conf+"\nSocksPort 0\nLog err stderr\n"), 0o600)
	cmd := exec.Command("tor", "--defaults-torrc", os.DevNull, "-f", torrc)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 300 {
		if b, err := os.ReadFile(dir + "/port"); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(strings.TrimPrefix(string(b), "PORT="))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("tor did not open its control port")
	return ""
}

// TestServeExistingTor: --tor-control uses a running Tor with its cookie;
// the service lives as long as pista's control connection (no
// Flags=Detach), so a stopped pista leaves nothing published in a Tor it
// shares with others, and its next start can publish the same address.
func TestServeExistingTor(t *testing.T) {
	needTor(t)
	control := startTestTor(t, "CookieAuthentication 1")
	data := t.TempDir()
	c, err := onion.Dial(context.Background(), control)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Authenticate(nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first start", "restart"} {
		t.Run(name, func(t *testing.T) {
			startServer(t, data, withTor, func(f *serveFlags) { f.tor.control = control })
			key, _, err := onion.LoadOrCreateKey(filepath.Join(data, sourceOnionKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			if !published(t, c, key) {
				t.Fatal("the running Tor does not publish pista's service")
			}
			if _, err := os.Stat(filepath.Join(data, torDir)); err == nil {
				t.Error("pista started a tor of its own")
			}
		})
		// Tor drops the service once it sees the connection closed.
		key, _, _ := onion.LoadOrCreateKey(filepath.Join(data, sourceOnionKeyFile))
		for deadline := time.Now().Add(10 * time.Second); published(t, c, key); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the service outlived pista")
			}
		}
	}
}

// TestOnionFlag: --onion (an address set up elsewhere) is checked.
func TestOnionFlag(t *testing.T) {
	const good = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"
	for _, tc := range []struct {
		name, in string
		err      error
	}{
		{"good", good, nil},
		{"url", "http://" + strings.ToUpper(good) + "/", nil},
		{"typo", strings.Replace(good, "2gzy", "2gzz", 1), onion.ErrAddressChecksum},
		{"v2", "expyuzz4wqqyqhjn.onion", onion.ErrAddressLength},
		{"no suffix", strings.TrimSuffix(good, ".onion"), onion.ErrAddressSuffix},
		{"bad character", "0" + good[1:], onion.ErrAddressChars},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := t.TempDir()
			err, _ := serveErr(t, data, func(f *serveFlags) { f.onion = tc.in })
			if !errors.Is(err, tc.err) {
				t.Fatalf("--onion %q: error = %v, want %v", tc.in, err, tc.err)
			}
			if err != nil {
				if _, statErr := os.Stat(filepath.Join(data, "pista.db")); statErr == nil {
					t.Errorf("a refused --onion still made a data folder")
				}
				return
			}
			base, _ := startServer(t, data, func(f *serveFlags) { f.onion = tc.in })
			resp, err := http.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Onion-Location"); got != "http://"+good+"/" {
				t.Errorf("Onion-Location = %q", got)
			}
		})
	}
	if err, _ := serveErr(t, t.TempDir(), withTor, func(f *serveFlags) { f.onion = good }); err == nil {
		t.Error("--tor with --onion was taken")
	}
}

// TestServeTorRepublishes: when the tor pista started dies, pista starts
// it again and publishes the same address, and says so in its log.
func TestServeTorRepublishes(t *testing.T) {
	needTor(t)
	old := republishWait
	republishWait = 100 * time.Millisecond
	t.Cleanup(func() { republishWait = old })
	data := t.TempDir()
	_, logs := startServer(t, data, withTor)
	key, _, err := onion.LoadOrCreateKey(filepath.Join(data, sourceOnionKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(data, torDir, "tor.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	if out, err := exec.Command("kill", "-KILL", pid).CombinedOutput(); err != nil {
		t.Fatalf("kill %s: %v %s", pid, err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "published again") {
		if time.Now().After(deadline) {
			t.Fatalf("not published again after tor died:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b, _ := os.ReadFile(pidFile); strings.TrimSpace(string(b)) == pid {
		t.Fatal("the same tor still runs")
	}
	if !published(t, torControl(t, data), key) {
		t.Fatal("the new tor does not publish the service")
	}
	if !strings.Contains(logs.String(), "the connection to Tor ended") {
		t.Errorf("the loss was not logged:\n%s", logs)
	}
}
