package smtp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

// peerKey names a peer in memory: an HMAC of its address under a random
// key made at start-up and never stored, so that not even the process's
// memory holds a sender's address in clear, and nothing links the keys of
// two runs.
type peerKey [16]byte

// Refusals of the limiter, as the peer reads them.
var (
	errPeerConns = &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 7, 0},
		Message: "Too many connections from your address, try again later"}
	errBusy = &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2},
		Message: "Too busy, try again later"}
	errPeerRate = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1},
		Message: "Too many messages from your address, try again later"}
	errPeerDeliveries = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1},
		Message: "Too many messages from your address at once, try again later"}
)

// limiter counts connections and messages per peer, in memory only.
type limiter struct {
	key []byte
	lim limits
	now func() time.Time

	mu    sync.Mutex
	peers map[peerKey]*peerState
	conns int
	swept time.Time // the last sweep
}

// peerState is a peer's open connections, the delivery slots it holds
// and its token bucket.
type peerState struct {
	conns      int
	deliveries int
	tokens     float64
	last       time.Time // when tokens was last brought up to date
}

func newLimiter(lim limits) *limiter {
	key := make([]byte, 32)
	rand.Read(key)
	return &limiter{key: key, lim: lim, now: time.Now, peers: map[peerKey]*peerState{}}
}

// keyOf names the peer at addr. An IPv6 peer is its /64: one host commonly
// holds a whole /64, and would otherwise have 2^64 buckets.
func (l *limiter) keyOf(addr net.Addr) peerKey {
	mac := hmac.New(sha256.New, l.key)
	var ip netip.Addr
	if ta, ok := addr.(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
		ip = ip.Unmap()
	}
	switch {
	case ip.Is4():
		mac.Write(ip.AsSlice())
	case ip.Is6():
		p, _ := ip.Prefix(64)
		mac.Write(p.Addr().AsSlice())
	default: // not TCP: a Unix socket, a test's pipe
		mac.Write([]byte(addr.Network() + " " + addr.String()))
	}
	var k peerKey
	copy(k[:], mac.Sum(nil))
	return k
}

// refill brings p's bucket up to now.
func (l *limiter) refill(p *peerState, now time.Time) {
	rate := float64(l.lim.peerMessages) / l.lim.peerWindow.Seconds()
	p.tokens = min(float64(l.lim.peerMessages), p.tokens+now.Sub(p.last).Seconds()*rate)
	p.last = now
}

// peer returns k's state, making it (with a full bucket) if needed. It
// answers nil if too many peers are remembered and none can be forgotten.
// l.mu must be held.
func (l *limiter) peer(k peerKey, now time.Time) *peerState {
	if p := l.peers[k]; p != nil {
		return p
	}
	if len(l.peers) >= l.lim.peers {
		if now.Sub(l.swept) >= time.Second {
			l.sweep(now)
		}
		if len(l.peers) >= l.lim.peers {
			return nil
		}
	}
	p := &peerState{tokens: float64(l.lim.peerMessages), last: now}
	l.peers[k] = p
	return p
}

// sweep forgets the peers that have no connection and a full bucket: they
// would be made again just as they are. It walks every peer, so it runs
// at most once a second when the map is full, once a minute otherwise.
// l.mu must be held.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for k, p := range l.peers {
		if p.conns > 0 {
			continue
		}
		l.refill(p, now)
		if p.tokens >= float64(l.lim.peerMessages) {
			delete(l.peers, k)
		}
	}
}

// open counts a new connection from k, or refuses it.
func (l *limiter) open(k peerKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns >= l.lim.conns {
		return errBusy
	}
	p := l.peer(k, l.now())
	if p == nil {
		return errBusy
	}
	if p.conns >= l.lim.peerConns {
		return errPeerConns
	}
	p.conns++
	l.conns++
	return nil
}

// close counts a connection from k as closed.
func (l *limiter) close(k peerKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns--
	if p := l.peers[k]; p != nil {
		p.conns--
		// Once a minute whatever the number of peers, so that a peer's
		// key is forgotten within a minute of its bucket filling again.
		if now := l.now(); now.Sub(l.swept) >= time.Minute {
			l.sweep(now)
		}
	}
}

// startDelivery counts a delivery slot taken by k, or refuses it if k
// holds its share already.
func (l *limiter) startDelivery(k peerKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.peers[k]
	if p == nil {
		return errBusy // only a peer with a connection delivers
	}
	if p.deliveries >= l.lim.peerDeliveries {
		return errPeerDeliveries
	}
	p.deliveries++
	return nil
}

// endDelivery gives k's delivery slot back.
func (l *limiter) endDelivery(k peerKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.peers[k]; p != nil {
		p.deliveries--
	}
}

// message takes a token from k's bucket, or refuses the message.
func (l *limiter) message(k peerKey) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	p := l.peer(k, now)
	if p == nil {
		return errBusy
	}
	l.refill(p, now)
	if p.tokens < 1 {
		return errPeerRate
	}
	p.tokens--
	return nil
}

// listener counts connections per peer and refuses, with a 421 reply,
// those over the limits before go-smtp sees them.
type listener struct {
	net.Listener
	lim *limiter
}

func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		k := ln.lim.keyOf(c.RemoteAddr())
		if err := ln.lim.open(k); err != nil {
			go refuseConn(c, err)
			continue
		}
		pc := &peerConn{Conn: c, key: k, lim: ln.lim}
		pc.life = time.AfterFunc(maxConnTime, func() { pc.Close() })
		return pc, nil
	}
}

// refuseConn tells a peer why it is refused, and hangs up.
func refuseConn(c net.Conn, err error) {
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte(replyLine(se)))
	}
	c.Close()
}

// replyLine is se as a reply line.
func replyLine(se *gosmtp.SMTPError) string {
	ec := se.EnhancedCode
	return fmt.Sprintf("%d %d.%d.%d %s\r\n", se.Code, ec[0], ec[1], ec[2], se.Message)
}

// peerConn is an accepted connection: its peer's key and what the
// connection has done, which outlives go-smtp's sessions (STARTTLS starts
// a new one).
type peerConn struct {
	net.Conn
	key  peerKey
	lim  *limiter
	once sync.Once
	life *time.Timer // closes the connection after maxConnTime

	messages      atomic.Int32
	badRecipients atomic.Int32
	// hangUp closes the connection once the next reply is written: a 421
	// reply says that the server closes the channel, and go-smtp does not.
	hangUp atomic.Bool
}

func (c *peerConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.hangUp.Load() {
		c.Close()
	}
	return n, err
}

func (c *peerConn) Close() error {
	c.once.Do(func() {
		c.life.Stop()
		c.lim.close(c.key)
	})
	return c.Conn.Close()
}
