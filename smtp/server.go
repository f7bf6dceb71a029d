package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/scrub"
)

// Config is what the e-mail channel is told.
type Config struct {
	// Domain is the mail domain: mail to LOCAL@Domain goes to the desk
	// whose slug or alias is LOCAL. With "", every recipient is refused.
	Domain string
	Desks  pista.DeskStore
	Tips   pista.TipStore
	Blobs  pista.BlobStore
	// Archive recipients (age1pq1…): every item is also encrypted to them.
	Archive []string
	// Clock numbers the intake days (forward secrecy): a message's items
	// go to each desk's intake key of the day.
	Clock forward.Clock
	// MaxMessageBytes is the SIZE limit; 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int64
	// SpoolDir is where an attachment waits, encrypted under a key held
	// only in memory, to have its metadata removed (intake.AddScrubbedFile);
	// "" for the system's temporary folder. ScrubBudget bounds what
	// scrubbing one attachment may cost; zero means scrub.DefaultBudget.
	SpoolDir    string
	ScrubBudget scrub.Budget
	// TLS, if not nil, is offered with STARTTLS.
	TLS *tls.Config
	Log *slog.Logger
}

// Server takes tips by e-mail.
type Server struct {
	cfg  Config
	log  *slog.Logger
	srv  *gosmtp.Server
	lim  *limiter
	slot chan struct{} // delivery slots, see maxDeliveries

	ctx     context.Context // ends with Close
	cancel  context.CancelFunc
	mu      sync.Mutex
	closing bool
	busy    sync.WaitGroup // deliveries in flight
	closed  sync.Once
}

// NewServer makes a server; Serve runs it.
func NewServer(cfg Config) *Server {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ScrubBudget.Memory <= 0 {
		cfg.ScrubBudget = scrub.DefaultBudget
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, log: cfg.Log,
		lim:  newLimiter(defaultLimits),
		slot: make(chan struct{}, maxDeliveries),
		ctx:  ctx, cancel: cancel,
	}
	srv := gosmtp.NewServer(backend{s})
	srv.Domain = cfg.Domain
	if srv.Domain == "" {
		srv.Domain = "localhost"
	}
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = maxRecipients
	srv.MaxLineLength = maxLineLength
	srv.ReadTimeout = ioTimeout
	srv.WriteTimeout = ioTimeout
	srv.EnableSMTPUTF8 = true
	// go-smtp's own log names peers: it goes nowhere.
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if cfg.TLS != nil {
		t := cfg.TLS.Clone()
		if t.MinVersion == 0 {
			t.MinVersion = tls.VersionTLS12
		}
		srv.TLSConfig = t
	}
	s.srv = srv
	return s
}

// Serve takes connections on ln until Close, and then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	if s.ctx.Err() != nil {
		ln.Close()
		return nil
	}
	return s.srv.Serve(&listener{Listener: ln, lim: s.lim})
}

// Close stops the listeners, hangs up on every connection and waits for
// the deliveries in flight to end (those not finished store nothing).
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.cancel()
		err = s.srv.Close()
		s.busy.Wait()
	})
	return err
}

// backend makes a session per connection (and a new one after STARTTLS).
type backend struct{ s *Server }

func (b backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	nc := c.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	pc, ok := nc.(*peerConn)
	if !ok {
		// Only Serve's listener makes connections.
		return nil, errInternal
	}
	return &session{s: b.s, c: c, pc: pc}, nil
}

// Replies. None of them echoes what the peer sent.
var (
	errNoRecipient = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1},
		Message: "No such recipient here"}
	errTooManyBad = &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 7, 0},
		Message: "Too many unknown recipients, try again later"}
	errConnMessages = &gosmtp.SMTPError{Code: 421, EnhancedCode: gosmtp.EnhancedCode{4, 7, 0},
		Message: "Too many messages on one connection, please reconnect"}
	errInternal = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0},
		Message: "Temporary server error, try again later"}
	errMalformedReply = &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0},
		Message: "Malformed message: its MIME structure or encoding cannot be read"}
	errHeaderReply = &gosmtp.SMTPError{Code: 552, EnhancedCode: gosmtp.EnhancedCode{5, 3, 4},
		Message: "Message header too large"}
	errLineReply = &gosmtp.SMTPError{Code: 500, EnhancedCode: gosmtp.EnhancedCode{5, 4, 0},
		Message: "Line too long"}
	errBusyData = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 2},
		Message: "Too busy, try again later"}
	errAborted = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 4, 2},
		Message: "Message transfer interrupted, try again"}
)

// session is one SMTP session. go-smtp calls its methods from the
// connection's goroutine, but Data, with CHUNKING, from another, while
// the connection's goroutine may go on to RSET.
type session struct {
	s  *Server
	c  *gosmtp.Conn
	pc *peerConn

	mu    sync.Mutex
	from  string
	desks []pista.Desk
}

func (ss *session) Reset() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.from, ss.desks = "", nil
}

func (ss *session) Logout() error { return nil }

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.pc.messages.Load() >= maxMessagesPerConn {
		ss.pc.hangUp.Store(true)
		return errConnMessages
	}
	if err := ss.s.lim.message(ss.pc.key); err != nil {
		return err
	}
	ss.pc.messages.Add(1)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.from, ss.desks = from, nil
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.pc.badRecipients.Load() >= maxBadRecipientsPerConn {
		ss.pc.hangUp.Store(true)
		return errTooManyBad
	}
	d, err := ss.s.deskFor(ss.s.ctx, to)
	if errors.Is(err, pista.ErrNotFound) {
		ss.pc.badRecipients.Add(1)
		return errNoRecipient
	} else if err != nil {
		return errInternal
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, o := range ss.desks {
		if o.ID == d.ID {
			return nil // an alias and the slug of one desk: one conversation
		}
	}
	ss.desks = append(ss.desks, d)
	return nil
}

// deskFor finds the desk of a recipient address, or answers
// pista.ErrNotFound.
func (s *Server) deskFor(ctx context.Context, addr string) (pista.Desk, error) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || s.cfg.Domain == "" {
		return pista.Desk{}, pista.ErrNotFound
	}
	local, domain := addr[:i], strings.TrimSuffix(addr[i+1:], ".")
	if !strings.EqualFold(domain, strings.TrimSuffix(s.cfg.Domain, ".")) || len(local) > 64 {
		return pista.Desk{}, pista.ErrNotFound
	}
	d, err := s.cfg.Desks.DeskByAddress(ctx, strings.ToLower(local))
	if err != nil && !errors.Is(err, pista.ErrNotFound) {
		s.log.Error("smtp: looking up a desk address failed", "err", redact(err, local))
	}
	return d, err
}

// redact is what a log may say of an error that may quote what a peer
// sent (a store's error names the address it looked for): the innermost
// error, the database's or the file system's, without secret in it.
func redact(err error, secret string) string {
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(err) {
		err = u
	}
	msg := err.Error()
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "…")
		msg = strings.ReplaceAll(msg, strings.ToLower(secret), "…")
	}
	return msg
}

func (ss *session) Data(r io.Reader) error {
	s := ss.s
	ss.mu.Lock()
	desks, from := ss.desks, ss.from
	ss.mu.Unlock()
	if len(desks) == 0 { // go-smtp checks this already
		return errNoRecipient
	}
	// The peer's share of the slots first, so that a peer over it waits
	// for none of them (nor makes others wait).
	if err := s.lim.startDelivery(ss.pc.key); err != nil {
		return err
	}
	defer s.lim.endDelivery(ss.pc.key)
	t := time.NewTimer(deliveryWait)
	defer t.Stop()
	select {
	case s.slot <- struct{}{}:
		defer func() { <-s.slot }()
	case <-t.C:
		return errBusyData
	case <-s.ctx.Done():
		return errBusyData
	}
	if !s.startDelivery() {
		return errBusyData
	}
	defer s.busy.Done()
	now := time.Now()
	dr := &rateReader{r: r, conn: ss.c.Conn(), end: now.Add(maxDataTime), credit: s.lim.lim.dataWindow,
		rate: s.lim.lim.dataRate, window: s.lim.lim.dataWindow}
	err := s.deliver(s.ctx, desks, from, dr)
	if err == nil {
		return nil
	}
	if isTransferError(err) {
		// What the peer sends after a cut transfer would be read as
		// commands: hang up once the reply is written.
		ss.pc.hangUp.Store(true)
	}
	return s.reply(err)
}

// startDelivery counts a delivery in flight, unless the server is
// closing.
func (s *Server) startDelivery() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.busy.Add(1)
	return true
}

// reply turns a failed delivery into the peer's reply, and logs what
// failed on the server's side (never who sent what).
func (s *Server) reply(err error) *gosmtp.SMTPError {
	var se *gosmtp.SMTPError
	switch {
	case errors.As(err, &se):
		return se // a size limit, already worded for the peer
	case errors.Is(err, errMalformed):
		s.log.Info("smtp: refused a malformed message")
		return errMalformedReply
	case errors.Is(err, errHeaderTooLarge):
		s.log.Info("smtp: refused a message with an oversized header")
		return errHeaderReply
	case errors.Is(err, gosmtp.ErrTooLongLine):
		s.log.Info("smtp: refused a message with an overlong line")
		return errLineReply
	case isTransferError(err):
		return errAborted
	}
	s.log.Error("smtp: delivery failed", "err", err)
	return errInternal
}

// isTransferError reports whether err is the connection failing while the
// message arrived: the peer hung up, timed out or the server is closing.
func isTransferError(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, gosmtp.ErrDataReset) || errors.As(err, &ne)
}

// rateReader holds a message's transfer to a least average rate, as
// httpx.MinBodyRate does a web upload's: it starts with window of credit,
// each byte adds 1/rate of a second (up to window), the time spent
// waiting for the peer takes from it, and the read deadline is where the
// credit ends; and maxDataTime in all. go-smtp sets the read deadline only
// when it reads a command.
type rateReader struct {
	r      io.Reader
	conn   net.Conn
	end    time.Time
	credit time.Duration
	rate   int64
	window time.Duration
}

func (d *rateReader) Read(p []byte) (int, error) {
	if d.credit <= 0 {
		return 0, errTooSlow
	}
	start := time.Now()
	dl := start.Add(d.credit)
	if dl.After(d.end) {
		dl = d.end
	}
	d.conn.SetReadDeadline(dl)
	n, err := d.r.Read(p)
	d.credit -= time.Since(start)
	d.credit = min(d.credit+time.Duration(n)*time.Second/time.Duration(d.rate), d.window)
	return n, err
}

// errTooSlow is a transfer cut for its rate: a net.Error timing out, as
// the read deadline's is.
var errTooSlow error = tooSlow{}

type tooSlow struct{}

func (tooSlow) Error() string   { return "smtp: the message arrived too slowly" }
func (tooSlow) Timeout() bool   { return true }
func (tooSlow) Temporary() bool { return false }
