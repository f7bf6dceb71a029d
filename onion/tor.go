package onion

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrTorMissing is returned when no tor program is found.
var ErrTorMissing = errors.New("tor is not installed (no tor program in PATH)")

// startTimeout bounds how long Tor may take to open its control port.
const startTimeout = 60 * time.Second

// Tor is a tor process pista started, with its own data folder.
type Tor struct {
	// ControlAddr is its control port, for Dial.
	ControlAddr string
	cmd         *exec.Cmd
	log         *tailBuffer
	exited      chan struct{}
}

// StartTor starts tor with dir as its data folder (made with mode 0700 if
// missing; tor refuses a folder others can read). Tor listens for control
// connections on a loopback port it chooses, authenticated by a cookie in
// dir, opens no SOCKS port, and exits with pista (__OwningControllerProcess);
// the caller should also take ownership on the control connection
// (TAKEOWNERSHIP) so it exits when that closes.
func StartTor(ctx context.Context, dir string) (*Tor, error) {
	bin, err := exec.LookPath("tor")
	if err != nil {
		return nil, ErrTorMissing
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	portFile := filepath.Join(dir, "control-port")
	os.Remove(portFile)
	torrc := filepath.Join(dir, "torrc")
	conf := strings.Join([]string{
		"# Written by pista serve --tor at each start; changes are lost.",
		"DataDirectory " + dir,
		"ControlPort 127.0.0.1:auto",
		"ControlPortWriteToFile " + portFile,
		"CookieAuthentication 1",
		"CookieAuthFile " + filepath.Join(dir, "control_auth_cookie"),
		"SocksPort 0",
		"Log notice stdout",
		"PidFile " + filepath.Join(dir, "tor.pid"),
		"__OwningControllerProcess " + strconv.Itoa(os.Getpid()),
		"",
	}, "\n")
	if err := os.WriteFile(torrc, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	// --defaults-torrc keeps the system's /etc/tor/torrc-defaults out.
	cmd := exec.Command(bin, "--defaults-torrc", os.DevNull, "-f", torrc)
	t := &Tor{cmd: cmd, log: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = t.log, t.log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { cmd.Wait(); close(t.exited) }()
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.exited:
			return nil, fmt.Errorf("tor stopped at start (%s): %s", cmd.ProcessState, t.log.lastLines(5))
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-deadline.C:
			t.Stop()
			return nil, fmt.Errorf("tor did not open its control port within %s: %s", startTimeout, t.log.lastLines(5))
		case <-tick.C:
			b, err := os.ReadFile(portFile)
			if err != nil {
				continue
			}
			// "PORT=127.0.0.1:NNNN\n", complete once it ends in a newline.
			s, ok := strings.CutSuffix(string(b), "\n")
			if a, ok2 := strings.CutPrefix(s, "PORT="); ok && ok2 {
				t.ControlAddr = a
				return t, nil
			}
		}
	}
}

// Exited is closed when the tor process has ended.
func (t *Tor) Exited() <-chan struct{} { return t.exited }

// Log is the end of what tor printed, for error messages.
func (t *Tor) Log() string { return t.log.lastLines(5) }

// Stop ends tor: it asks politely (SIGTERM: tor then waits a little for
// its circuits unless it is a client only, which it is), and kills it
// after 10 s.
func (t *Tor) Stop() {
	select {
	case <-t.exited:
		return
	default:
	}
	t.cmd.Process.Signal(os.Interrupt)
	select {
	case <-t.exited:
	case <-time.After(10 * time.Second):
		t.cmd.Process.Kill()
		<-t.exited
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := bytes.Split(bytes.TrimSpace(t.b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte(" / ")))
}
