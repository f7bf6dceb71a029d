package smtp_test

import (
	"errors"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista/smtp"
)

// rawPeer is a raw SMTP session from a loopback address of its own
// (127.0.0.2…: Linux routes all of 127/8 to the loopback interface), as a
// distinct peer.
type rawPeer struct {
	t  *testing.T
	c  net.Conn
	tp *textproto.Conn
}

func dialFrom(t *testing.T, ip, addr string) *rawPeer {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Skipf("cannot connect from %s (a loopback address other than 127.0.0.1): %v", ip, err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rawPeer{t: t, c: c, tp: textproto.NewConn(c)}
	return p
}

// cmd sends line (if not "") and reads the reply, waiting at most d.
func (p *rawPeer) cmd(d time.Duration, line string) (int, string, error) {
	p.c.SetDeadline(time.Now().Add(d))
	if line != "" {
		if err := p.tp.PrintfLine("%s", line); err != nil {
			return 0, "", err
		}
	}
	return p.tp.ReadResponse(0)
}

// must sends line and checks the reply's code.
func (p *rawPeer) must(line string, want int) string {
	p.t.Helper()
	code, msg, err := p.cmd(10*time.Second, line)
	if code != want {
		p.t.Fatalf("%q: %d %s (%v), want %d", line, code, msg, err, want)
	}
	return msg
}

// startData opens a transaction to americas and starts its DATA, and
// answers the DATA reply's code.
func (p *rawPeer) startData() int {
	p.t.Helper()
	p.must("", 220)
	p.must("EHLO client.example.net", 250)
	p.must("MAIL FROM:<slow@example.net>", 250)
	p.must("RCPT TO:<americas@"+domain+">", 250)
	code, msg, err := p.cmd(10*time.Second, "DATA")
	if code != 354 && code != 451 {
		p.t.Fatalf("DATA: %d %s (%v)", code, msg, err)
	}
	return code
}

// Eight slow transfers from two peers (four each) do not make the intake
// refuse, or keep waiting, a third peer: each peer holds at most its share
// of the delivery slots (smtp.PeerDeliveries), and its transfers past it
// are refused at their end without holding one.
func TestSlowPeersDoNotBlockOthers(t *testing.T) {
	e := newEnv(t)
	s := smtp.NewServer(e.config())
	addr := serve(t, s)

	for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
		for range 4 {
			p := dialFrom(t, ip, addr)
			if code := p.startData(); code != 354 {
				t.Fatalf("DATA from %s: %d", ip, code)
			}
			p.c.Write([]byte("From: slow@example.net\r\nSubject: slow\r\n\r\nthe first line, and then nothing for a while\r\n"))
		}
	}
	time.Sleep(200 * time.Millisecond) // all eight have reached Data

	// Another peer's mail goes through, at once.
	start := time.Now()
	p := dialFrom(t, "127.0.0.4", addr)
	if code := p.startData(); code != 354 {
		t.Fatalf("a third peer's DATA: %d, want 354", code)
	}
	code, msg, err := p.cmd(10*time.Second, "From: someone@example.org\r\nSubject: a tip\r\n\r\nA real tip.\r\n.")
	if code != 250 {
		t.Fatalf("a third peer's mail, while two peers send slowly: %d %s (%v) after %v", code, msg, err, time.Since(start))
	}
}

// A transfer that stalls is cut once its credit (the rate window) is
// spent: the peer is told and hung up on, its delivery slot is free again,
// nothing is left behind and nothing is logged as an error.
func TestStalledDataIsCut(t *testing.T) {
	const window = 2 * time.Second
	e := newEnv(t)
	s := smtp.NewServer(e.config())
	s.SetDataRate(1<<10, window)
	addr := serve(t, s)
	before := e.snapshot()

	var wg sync.WaitGroup
	for _, ip := range []string{"127.0.0.2", "127.0.0.2"} {
		p := dialFrom(t, ip, addr)
		if code := p.startData(); code != 354 {
			t.Fatalf("DATA: %d", code)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			p.c.Write([]byte("From: slow@example.net\r\nSubject: slow\r\n\r\n" + strings.Repeat("x", 1000) + "\r\n"))
			code, _, err := p.cmd(window+10*time.Second, "")
			took := time.Since(start)
			if code != 451 {
				t.Errorf("a stalled transfer: %d (%v), want 451", code, err)
			}
			if took < window-100*time.Millisecond || took > window+3*time.Second {
				t.Errorf("a stalled transfer was cut after %v, want about %v", took, window)
			}
			// Hung up: what it sends next is not read as commands.
			p.c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := p.c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
				t.Errorf("the connection of a cut transfer stays open (%v)", err)
			}
		}()
	}
	wg.Wait()
	e.checkUnchanged(t, before)
	// The same peer's slots are free again.
	p := dialFrom(t, "127.0.0.2", addr)
	if code := p.startData(); code != 354 {
		t.Fatalf("after the cut transfers, DATA: %d, want 354", code)
	}
	if strings.Contains(e.log.String(), "level=ERROR") {
		t.Errorf("a cut transfer was logged as an error:\n%s", e.log.String())
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// No reply repeats what the peer sent: not its greeting's name, its
// sender, a recipient (a desk's address, accepted or not), nor a command
// it made up.
func TestRepliesDoNotEcho(t *testing.T) {
	e := newEnv(t)
	s := smtp.NewServer(e.config())
	addr := serve(t, s)
	p := dialFrom(t, "127.0.0.1", addr)
	p.must("", 220)
	tok := token()
	for _, c := range []struct {
		line string
		code int
	}{
		{"HELO helo-" + tok + ".example.net", 250},
		{"EHLO ehlo-" + tok + ".example.net", 250},
		{"MAIL FROM:<from-" + tok + "@example.net>", 250},
		{"RCPT TO:<americas@" + domain + ">", 250},
		{"RCPT TO:<Tips@" + domain + ">", 250},
		{"RCPT TO:<nobody-" + tok + "@" + domain + ">", 550},
		{"XYZZ " + tok, 500},
		{"EXPN " + tok, 502},
	} {
		msg := p.must(c.line, c.code)
		for _, echo := range []string{tok, strings.ToUpper(tok), "americas", "Tips@", "XYZZ", "EXPN"} {
			if strings.Contains(msg, echo) {
				t.Errorf("%q was answered %q: it repeats %q", c.line, msg, echo)
			}
		}
	}
}
