package httpx

import (
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on the connections of the HTTP listener. Each open connection
// costs a file descriptor, a goroutine and net/http's buffers; one reading
// an upload costs about 420 KiB in all (BenchmarkSlowUploadMemory in
// cmd/pista: the object's 256 KiB write buffer, the form's 64 KiB read
// buffer, age's and io.Copy's), and holds a temporary file or an object
// open.
const (
	// ReservedFiles are the file descriptors kept out of the connection
	// bound: the database and its journal, objects being written, the
	// e-mail intake, Tor's control port, the log.
	ReservedFiles = 256
	// DefaultMaxConns caps the derived bound however high the descriptor
	// limit: 512 uploads in progress cost about 210 MiB, the most a small
	// server should give to clients that may all be slow on purpose; a
	// tip line rarely has a hundred visitors at once, and idle keep-alive
	// connections make room for new ones past the bound.
	DefaultMaxConns = 512
	// minConns is the smallest bound, whatever the descriptor limit.
	minConns = 16
)

// MaxConnsFor is the connection bound derived from a file-descriptor
// limit: half of what is left after ReservedFiles (each connection may
// hold a file open as well as its socket), at most DefaultMaxConns.
func MaxConnsFor(nofile uint64) int {
	n := uint64(minConns)
	if nofile > ReservedFiles+2*minConns {
		n = (nofile - ReservedFiles) / 2
	}
	return int(min(n, DefaultMaxConns))
}

// ConnLimit bounds the open connections of an http.Server: its Listener
// counts the connections it hands out, and its ConnState (set as the
// server's ConnState) tells it which are idle between requests.
//
// Past the bound, a new connection is accepted at once (so that it does
// not wait in the kernel's queue, holding the client for nothing) and
// makes room by closing the connection idle the longest, a keep-alive
// connection waiting for a next request, which a client opens again when
// it needs one; or else the oldest connection that has not sent a whole
// request's headers StaleNew after it opened (a client's headers come in
// a round trip or two, even over Tor: one trickling them a byte at a time
// is holding a place). If there is neither, the new connection is closed
// unanswered: every connection then is reading a request body, and those
// under MinBodyRate are cut, which frees their place within a minute.
type ConnLimit struct {
	max int
	log *slog.Logger

	mu    sync.Mutex
	open  int
	conns map[net.Conn]connState // by the conn net/http sees: *limitedConn or *tls.Conn

	refused atomic.Int64 // closed unanswered, since the last warning
	evicted atomic.Int64
	warned  time.Time
}

// NewConnLimit bounds the connections to max. Refusals are logged at most
// once a minute, as counts.
func NewConnLimit(max int, log *slog.Logger) *ConnLimit {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ConnLimit{max: max, log: log, conns: map[net.Conn]connState{}}
}

// StaleNew is how long a connection may take to send its first request's
// headers (and its TLS handshake) before it may make room for another
// past the bound.
const StaleNew = 10 * time.Second

// connState is a connection's state and since when.
type connState struct {
	state http.ConnState
	since time.Time
}

// Max is the bound.
func (l *ConnLimit) Max() int { return l.max }

// Open is the number of connections open now.
func (l *ConnLimit) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Listener wraps ln so that it hands out at most Max connections at once.
func (l *ConnLimit) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, l: l}
}

// ConnState is the http.Server's ConnState hook.
func (l *ConnLimit) ConnState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case http.StateNew, http.StateIdle:
		l.conns[c] = connState{s, time.Now()}
	case http.StateActive:
		l.conns[c] = connState{s, time.Time{}}
	default:
		delete(l.conns, c)
	}
}

// admit counts a new connection, making room if it must; it reports
// false if there is none.
func (l *ConnLimit) admit() bool {
	l.mu.Lock()
	if l.open < l.max {
		l.open++
		l.mu.Unlock()
		return true
	}
	// The idle connection idle the longest, else the oldest stale new one.
	var oldest net.Conn
	var best connState
	now := time.Now()
	for c, st := range l.conns {
		switch {
		case st.state == http.StateIdle:
			if oldest == nil || best.state != http.StateIdle || st.since.Before(best.since) {
				oldest, best = c, st
			}
		case st.state == http.StateNew && now.Sub(st.since) >= StaleNew:
			if oldest == nil || (best.state == http.StateNew && st.since.Before(best.since)) {
				oldest, best = c, st
			}
		}
	}
	if oldest != nil {
		delete(l.conns, oldest)
		// The evicted connection's count goes when it closes; until then
		// the bound is passed by one, briefly.
		l.open++
	}
	l.mu.Unlock()
	if oldest != nil {
		l.evicted.Add(1)
		oldest.Close()
		l.warn()
		return true
	}
	l.refused.Add(1)
	l.warn()
	return false
}

// warn says, at most once a minute, that the bound was reached.
func (l *ConnLimit) warn() {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.warned) < time.Minute {
		l.mu.Unlock()
		return
	}
	l.warned = now
	l.mu.Unlock()
	l.log.Warn("http: the connection limit was reached; idle or stalled connections were closed and new ones refused",
		"max", l.max, "closed", l.evicted.Swap(0), "refused", l.refused.Swap(0))
}

func (l *ConnLimit) release() {
	l.mu.Lock()
	l.open--
	l.mu.Unlock()
}

type limitedListener struct {
	net.Listener
	l *ConnLimit
}

func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !ln.l.admit() {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // a reset: no TIME_WAIT kept for it
			}
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, l: ln.l}, nil
	}
}

// limitedConn gives its place back when it closes.
type limitedConn struct {
	net.Conn
	l    *ConnLimit
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.ConnState(c, http.StateClosed) // an evicted conn may still be listed
		c.l.release()
	})
	return err
}

// CloseWrite lets net/http half-close the connection after refusing a
// body, as it does with a bare TCP connection.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
