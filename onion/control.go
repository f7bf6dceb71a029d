package onion

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits of what pista reads from a control port: Tor's replies to the
// few commands pista sends are a few hundred bytes.
const (
	maxLine       = 16 << 10 // one reply line
	maxReplyLines = 1024     // lines of one reply, data lines included
	maxCookie     = 1 << 10  // the cookie file is 32 bytes
	dialTimeout   = 10 * time.Second
	replyTimeout  = 30 * time.Second
)

// Errors a control connection returns, wrapped with Tor's own words.
var (
	ErrUnreachable = errors.New("cannot reach Tor's control port")
	ErrAuth        = errors.New("Tor refused the control port authentication")
	ErrRefused     = errors.New("Tor refused the command")
	ErrProtocol    = errors.New("not a Tor control port reply")
)

// Reply is one reply of Tor's control protocol (control-spec §2.3): its
// status code and its lines, without the code; a data block ("250+key=")
// is joined to its line with newlines.
type Reply struct {
	Status int
	Lines  []string
}

// OK tells whether the reply is a success (2xx).
func (r Reply) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Err is nil for a success, else an error wrapping ErrRefused (ErrAuth
// for 515) that quotes Tor.
func (r Reply) Err() error {
	if r.OK() {
		return nil
	}
	msg := strings.Join(r.Lines, "; ")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if r.Status == 515 {
		return fmt.Errorf("%w: %d %s", ErrAuth, r.Status, msg)
	}
	return fmt.Errorf("%w: %d %s", ErrRefused, r.Status, msg)
}

// ReadReply reads one reply from r, bounded by maxLine and maxReplyLines.
// Asynchronous events (6xx) are read and dropped: pista subscribes to none.
func ReadReply(r *bufio.Reader) (Reply, error) {
	for {
		rep, err := readOne(r)
		if err != nil || rep.Status/100 != 6 {
			return rep, err
		}
	}
}

func readOne(r *bufio.Reader) (Reply, error) {
	var rep Reply
	for n := 0; ; n++ {
		if n >= maxReplyLines {
			return Reply{}, fmt.Errorf("%w: more than %d lines", ErrProtocol, maxReplyLines)
		}
		line, err := readLine(r)
		if err != nil {
			return Reply{}, err
		}
		if len(line) < 4 {
			return Reply{}, fmt.Errorf("%w: short line", ErrProtocol)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 100 || code > 699 {
			return Reply{}, fmt.Errorf("%w: no status code", ErrProtocol)
		}
		if n > 0 && code != rep.Status {
			return Reply{}, fmt.Errorf("%w: status changed within a reply", ErrProtocol)
		}
		rep.Status = code
		text := line[4:]
		switch line[3] {
		case ' ':
			rep.Lines = append(rep.Lines, text)
			return rep, nil
		case '-':
			rep.Lines = append(rep.Lines, text)
		case '+':
			var b strings.Builder
			b.WriteString(text)
			for {
				n++
				if n >= maxReplyLines {
					return Reply{}, fmt.Errorf("%w: more than %d lines", ErrProtocol, maxReplyLines)
				}
				d, err := readLine(r)
				if err != nil {
					return Reply{}, err
				}
				if d == "." {
					break
				}
				d = strings.TrimPrefix(d, ".") // dot-stuffing
				if b.Len()+len(d) > maxLine*4 {
					return Reply{}, fmt.Errorf("%w: data block too long", ErrProtocol)
				}
				b.WriteByte('\n')
				b.WriteString(d)
			}
			rep.Lines = append(rep.Lines, b.String())
		default:
			return Reply{}, fmt.Errorf("%w: bad separator", ErrProtocol)
		}
	}
}

// readLine reads a CRLF- (or LF-) terminated line of at most maxLine bytes.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(b)+len(chunk) > maxLine+2 {
			return "", fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, maxLine)
		}
		b = append(b, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		return s, nil
	}
}

// Conn is a connection to Tor's control port. Its methods may be called
// from one goroutine at a time; Close may be called from any.
type Conn struct {
	c    net.Conn
	r    *bufio.Reader
	mu   sync.Mutex
	addr string
}

// Dial connects to the control port at addr ("host:port", or
// "unix:/path").
func Dial(ctx context.Context, addr string) (*Conn, error) {
	network, a := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, a = "unix", p
	}
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, network, a)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, addr, err)
	}
	return &Conn{c: c, r: bufio.NewReaderSize(c, 4096), addr: addr}, nil
}

// Close closes the connection; services added without Flags=Detach end.
func (c *Conn) Close() error { return c.c.Close() }

// Watch reports when Tor closes the connection (or sends anything: pista
// asked for no event). It takes the connection for good: call it after
// the last command.
func (c *Conn) Watch() <-chan error {
	done := make(chan error, 1)
	go func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.c.SetReadDeadline(time.Time{})
		_, err := ReadReply(c.r)
		if err == nil {
			err = errors.New("unexpected reply")
		}
		done <- err
	}()
	return done
}

// Command sends one command line and reads its reply. line must not hold
// CR or LF (checked: they would start a second command).
func (c *Conn) Command(line string) (Reply, error) {
	if strings.ContainsAny(line, "\r\n") {
		return Reply{}, errors.New("control command with a line break")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c.SetDeadline(time.Now().Add(replyTimeout))
	defer c.c.SetDeadline(time.Time{})
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		return Reply{}, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	rep, err := ReadReply(c.r)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Reply{}, fmt.Errorf("%w: Tor closed the connection", ErrUnreachable)
		}
		return Reply{}, err
	}
	return rep, nil
}

// Authenticate logs in to the control port: with password if it is not
// nil (HASHEDPASSWORD), else with the cookie Tor names in PROTOCOLINFO
// (SAFECOOKIE, or COOKIE if only that is offered), else with none if Tor
// allows that.
func (c *Conn) Authenticate(password []byte) error {
	rep, err := c.Command("PROTOCOLINFO 1")
	if err != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		return err
	}
	methods, cookieFile := map[string]bool{}, ""
	for _, l := range rep.Lines {
		rest, ok := strings.CutPrefix(l, "AUTH ")
		if !ok {
			continue
		}
		kv := parseKV(rest)
		for _, m := range strings.Split(kv["METHODS"], ",") {
			methods[m] = true
		}
		cookieFile = kv["COOKIEFILE"]
	}
	switch {
	case password != nil:
		if !methods["HASHEDPASSWORD"] {
			return fmt.Errorf("%w: this Tor takes no password (it offers %s)", ErrAuth, offered(methods))
		}
		return c.auth(`AUTHENTICATE ` + quote(string(password)))
	case methods["SAFECOOKIE"] || methods["COOKIE"]:
		cookie, err := readCookie(cookieFile)
		if err != nil {
			return fmt.Errorf("%w: reading its cookie file: %w", ErrAuth, err)
		}
		if !methods["SAFECOOKIE"] {
			return c.auth("AUTHENTICATE " + hex.EncodeToString(cookie))
		}
		return c.safeCookie(cookie)
	case methods["NULL"]:
		return c.auth("AUTHENTICATE")
	default:
		return fmt.Errorf("%w: it asks for a password (give one with --tor-control-password-file or PISTA_TOR_CONTROL_PASSWORD)", ErrAuth)
	}
}

func offered(m map[string]bool) string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return strings.Join(s, ",")
}

func (c *Conn) auth(line string) error {
	rep, err := c.Command(line)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%w: %d %s", ErrAuth, rep.Status, strings.Join(rep.Lines, "; "))
	}
	return nil
}

// safeCookie authenticates with SAFECOOKIE (control-spec §3.24): the
// cookie never crosses the connection, and Tor proves it knows it too.
func (c *Conn) safeCookie(cookie []byte) error {
	nonce := make([]byte, 32)
	rand.Read(nonce)
	rep, err := c.Command("AUTHCHALLENGE SAFECOOKIE " + hex.EncodeToString(nonce))
	if err != nil {
		return err
	}
	if !rep.OK() || len(rep.Lines) != 1 {
		return fmt.Errorf("%w: %d %s", ErrAuth, rep.Status, strings.Join(rep.Lines, "; "))
	}
	kv := parseKV(strings.TrimPrefix(rep.Lines[0], "AUTHCHALLENGE "))
	serverHash, err1 := hex.DecodeString(kv["SERVERHASH"])
	serverNonce, err2 := hex.DecodeString(kv["SERVERNONCE"])
	if err1 != nil || err2 != nil || len(serverHash) != 32 || len(serverNonce) != 32 {
		return fmt.Errorf("%w: bad AUTHCHALLENGE reply", ErrProtocol)
	}
	msg := append(append(append([]byte{}, cookie...), nonce...), serverNonce...)
	mac := func(key string) []byte {
		h := hmac.New(sha256.New, []byte(key))
		h.Write(msg)
		return h.Sum(nil)
	}
	if !hmac.Equal(serverHash, mac("Tor safe cookie authentication server-to-controller hash")) {
		return fmt.Errorf("%w: the control port does not know the cookie (is it the Tor you meant?)", ErrAuth)
	}
	return c.auth("AUTHENTICATE " + hex.EncodeToString(mac("Tor safe cookie authentication controller-to-server hash")))
}

func readCookie(file string) ([]byte, error) {
	if file == "" {
		return nil, errors.New("Tor names no cookie file")
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCookie))
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("%s: not a 32-byte cookie", file)
	}
	return b, nil
}

// parseKV reads `KEY=VALUE KEY="quoted value"` pairs.
func parseKV(s string) map[string]string {
	kv := map[string]string{}
	for s != "" {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq < 0 || (sp >= 0 && sp < eq) {
			if sp < 0 {
				break
			}
			s = s[sp:]
			continue
		}
		key, rest := s[:eq], s[eq+1:]
		if strings.HasPrefix(rest, `"`) {
			val, n := unquote(rest)
			kv[key], s = val, rest[n:]
			continue
		}
		if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			kv[key], s = rest[:sp], rest[sp:]
		} else {
			kv[key], s = rest, ""
		}
	}
	return kv
}

// unquote reads a QuotedString at the start of s and returns its value
// and the bytes it took.
func unquote(s string) (string, int) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), len(s)
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Service is what AddOnion publishes.
type Service struct {
	Key *ServiceKey
	// Ports maps virtual ports to targets: "80,127.0.0.1:8080".
	Ports []string
	// PoW turns on Tor's proof-of-work defence (proposal 327) with these
	// queue parameters; nil leaves it off.
	PoW *PoW
	// ClientAuth are the x25519 public keys (base32) allowed to reach the
	// service; none means anyone with the address.
	ClientAuth []string
}

// PoW are the parameters of Tor's proof-of-work defence for onion
// services: the rate (per second) and burst at which introduction
// requests leave the priority queue. 0 means Tor's default (250, 2500).
type PoW struct{ QueueRate, QueueBurst int }

// AddOnion publishes s on this connection, without Flags=Detach: the
// service ends when the connection does. It returns the service's onion
// address as Tor reports it.
func (c *Conn) AddOnion(s Service) (string, error) {
	args := []string{"ADD_ONION", s.Key.blob()}
	if len(s.ClientAuth) > 0 {
		args = append(args, "Flags=V3Auth")
	}
	if s.PoW != nil {
		args = append(args, "PoWDefensesEnabled=1")
		if s.PoW.QueueRate > 0 {
			args = append(args, "PoWQueueRate="+strconv.Itoa(s.PoW.QueueRate))
		}
		if s.PoW.QueueBurst > 0 {
			args = append(args, "PoWQueueBurst="+strconv.Itoa(s.PoW.QueueBurst))
		}
	}
	for _, p := range s.Ports {
		args = append(args, "Port="+p)
	}
	for _, k := range s.ClientAuth {
		args = append(args, "ClientAuthV3="+k)
	}
	rep, err := c.Command(strings.Join(args, " "))
	if err != nil {
		return "", err
	}
	if err := rep.Err(); err != nil {
		return "", err
	}
	for _, l := range rep.Lines {
		if id, ok := strings.CutPrefix(l, "ServiceID="); ok {
			return id + ".onion", nil
		}
	}
	return "", fmt.Errorf("%w: ADD_ONION reply without ServiceID", ErrProtocol)
}
