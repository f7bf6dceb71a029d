package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// bigPath is a large answer anyone may ask for: the scrubber's
// WebAssembly, unpacked for a client that does not take gzip (megabytes,
// more than the kernel's socket buffers hold).
const bigPath = "/static/scrub.wasm"

// bigSize is the length of bigPath's answer, read by a normal client.
func bigSize(t *testing.T, addr string) int64 {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	resp, err := c.Get("http://" + addr + bigPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", bigPath, resp.StatusCode, err)
	}
	if n < 8<<20 {
		t.Fatalf("%s is %d bytes: too small to fill the socket buffers", bigPath, n)
	}
	return n
}

// stalledReader asks for bigPath on a connection with a receive buffer
// of rbuf bytes, and reads nothing of the answer.
func stalledReader(t *testing.T, addr string, rbuf int) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tc := c.(*net.TCPConn)
	if err := tc.SetReadBuffer(rbuf); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(tc, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", bigPath, addr); err != nil {
		t.Fatal(err)
	}
	return tc
}

// readAll reads c to its end, or until d passes; it reports the bytes
// read and whether the server ended the connection (rather than d). It
// first widens the receive buffer: what the server's kernel still holds
// of a closed connection then arrives at once.
func readAll(c *net.TCPConn, d time.Duration) (int64, bool) {
	c.SetReadBuffer(4 << 20)
	c.SetReadDeadline(time.Now().Add(d))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	return n, !(errors.As(err, &ne) && ne.Timeout())
}

// Clients that ask for a large answer and then read nothing hold neither
// their connections nor their handlers past the response-rate window:
// with every place of the connection bound taken by them, the server
// answers a new client once the window is spent; each stalled answer is
// cut short, and nothing is logged as an error.
func TestStalledReadersAreCut(t *testing.T) {
	const bound, window = 8, 2 * time.Second
	s := startSlowServer(t, func(f *serveFlags) {
		f.maxConns = bound
		f.minRespRate, f.respWindow = "1KiB", window
	})
	full := bigSize(t, s.addr)
	time.Sleep(500 * time.Millisecond) // its place is given back

	var readers []*net.TCPConn
	for range bound {
		readers = append(readers, stalledReader(t, s.addr, 1024))
	}
	// Every place is taken by a reader that reads nothing.
	time.Sleep(window + 3*time.Second)

	// On a loaded machine (CI runs every package at once, with -race)
	// the cut can come a few seconds late: a new client is answered
	// within 10 more seconds, never refused for good.
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err = c.Get("http://" + s.addr + "/")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("a new client past the stalled readers: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a new client past the stalled readers: %s", resp.Status)
	}

	for i, r := range readers {
		// Not to its end: a closed connection's data still in the server's
		// kernel is sent on, for as long as the kernel sees fit, but no
		// longer by the server's handler.
		n, _ := readAll(r, 2*time.Second)
		if n >= full {
			t.Errorf("reader %d: read %d bytes, the whole answer is %d: it was not cut", i, n, full)
		}
	}
	if errs := s.errorLines(); len(errs) > 0 {
		t.Errorf("a stalled reader was logged as an error:\n%s", strings.Join(errs, "\n"))
	}
}

// A client that reads steadily above the minimum rate, and pauses for
// less than the window, gets the whole answer, though it takes longer
// than the window.
func TestSteadyReaderCompletes(t *testing.T) {
	// Over loopback, a reader's small fixed buffer makes the sender's
	// kernel wait for its window probes after a pause (up to a second or
	// two): a window longer than the pause by that.
	const window = 5 * time.Second
	s := startSlowServer(t, func(f *serveFlags) {
		// A high minimum so that the test is short; the client keeps
		// about three times it, like a Tor download keeping 3 KiB/s
		// under the 1 KiB/s default.
		f.minRespRate, f.respWindow = "512KiB", window
	})
	full := bigSize(t, s.addr)
	// A fixed buffer: the kernel takes no more ahead of the reader.
	c := stalledReader(t, s.addr, 64<<10)
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	start := time.Now()
	var got int64
	buf := make([]byte, 16<<10)
	paused := false
	for {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.ReadFull(resp.Body, buf)
		got += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes in %v: %v", got, full, time.Since(start), err)
		}
		// 16 KiB every 10 ms: 1.6 MiB/s at most.
		time.Sleep(10 * time.Millisecond)
		if !paused && got > full/2 {
			// A circuit rebuilt: a pause shorter than the window.
			paused = true
			time.Sleep(window * 2 / 5)
		}
	}
	if got != full {
		t.Fatalf("read %d of %d bytes in %v: the answer was cut", got, full, time.Since(start))
	}
	if time.Since(start) < window {
		t.Logf("the download took %v, less than the window (%v): the test proves less", time.Since(start), window)
	}
	if errs := s.errorLines(); len(errs) > 0 {
		t.Errorf("errors logged:\n%s", strings.Join(errs, "\n"))
	}
}
