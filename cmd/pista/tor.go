package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/onion"
)

// Files of the onion services in the data folder. The keys are made once
// and kept (mode 0600): they are the services' addresses, so backups
// include them, and whoever holds them can impersonate the tip line on Tor.
const (
	torDir                = "tor"                         // the data folder of the tor pista starts (0700)
	sourceOnionKeyFile    = "onion-source.key"            // Tor's hs_ed25519_secret_key format
	newsroomOnionKeyFile  = "onion-newsroom.key"          // idem, for --newsroom-onion
	newsroomClientKeyFile = "onion-newsroom.auth_private" // the journalists' client key (private part), to hand out
	newsroomClientsFile   = "onion-newsroom.clients"      // the client keys the service lets in (public parts)
	torPasswordEnv        = "PISTA_TOR_CONTROL_PASSWORD"
)

// Tor's own defaults for the proof-of-work queue (tor(1),
// HiddenServicePoWQueueRate/Burst): introduction requests leave the
// priority queue at 250 per second, bursts of 2500. A small server cannot
// answer more than that anyway; lower them if pista falls behind under a
// flood, so that only the clients who solved the hardest puzzles get in.
const (
	defaultPoWQueueRate  = 250
	defaultPoWQueueBurst = 2500
)

type torFlags struct {
	enabled           bool
	control           string
	passwordFile      string
	newsroomOnion     bool
	pow               bool
	powRate, powBurst int
}

func addTorFlags(fs *flag.FlagSet, f *torFlags) {
	fs.BoolVar(&f.enabled, "tor", false, "publish the source pages as an onion service: through a tor that pista starts (its data in DIR/tor), or the one at --tor-control")
	fs.StringVar(&f.control, "tor-control", "", "use the running Tor whose control port is `ADDR` (127.0.0.1:9051, or unix:/run/tor/control) instead of starting one; cookie authentication, or a password from --tor-control-password-file or $"+torPasswordEnv)
	fs.StringVar(&f.passwordFile, "tor-control-password-file", "", "the control port's password is the first line of `FILE`")
	fs.BoolVar(&f.newsroomOnion, "newsroom-onion", false, "with --tor: publish the journalists' inbox (/newsroom/) and API on a second onion service that only holders of its client key can reach, and refuse them on --listen")
	fs.BoolVar(&f.pow, "tor-pow", true, "turn on Tor's proof-of-work defence of the onion services (=false: off)")
	fs.IntVar(&f.powRate, "tor-pow-queue-rate", defaultPoWQueueRate, "with the proof-of-work defence, let `N` introduction requests per second through, the best-solved first")
	fs.IntVar(&f.powBurst, "tor-pow-queue-burst", defaultPoWQueueBurst, "and bursts of up to `N`")
}

// onionPlan is what serve does about Tor, decided before the server is
// built: which address to announce, and the keys to publish it with.
type onionPlan struct {
	f        torFlags
	data     string
	source   *onion.ServiceKey
	newsroom *onion.ServiceKey
	clients  []string // x25519 public keys, base32
	password []byte
	banner   string // what serve prints about the services once it runs

	sourceTarget, newsroomTarget string // the loopback listeners Tor forwards to
}

// planOnion checks the Tor flags, validates --onion, and with --tor loads
// (or makes, the first time) the services' keys; it sets f.onion to the
// address to announce.
func planOnion(f *serveFlags) (*onionPlan, error) {
	t := f.tor
	if f.onion != "" {
		addr, _, err := onion.ParseAddress(f.onion)
		if err != nil {
			return nil, hint(fmt.Errorf("--onion %.80q: %w", f.onion, err), "copy the whole address, e.g. from the hostname file of the service's HiddenServiceDir")
		}
		f.onion = addr
	}
	if !t.enabled {
		if t.control != "" || t.newsroomOnion || t.passwordFile != "" {
			return nil, errors.New("--tor-control, --tor-control-password-file and --newsroom-onion go with --tor")
		}
		return &onionPlan{}, nil
	}
	if f.onion != "" {
		return nil, hint(errors.New("--tor and --onion go not together"), "--tor publishes pista's own onion service and announces its address; --onion only announces an address set up elsewhere")
	}
	if t.powRate < 0 || t.powBurst < 0 {
		return nil, errors.New("--tor-pow-queue-rate and --tor-pow-queue-burst cannot be negative")
	}
	p := &onionPlan{f: t, data: f.data}
	if t.passwordFile != "" || os.Getenv(torPasswordEnv) != "" {
		if t.control == "" {
			return nil, hint(errors.New("a control port password is only for --tor-control"), "the tor that pista starts uses a cookie")
		}
		pw, err := readTorPassword(t.passwordFile)
		if err != nil {
			return nil, err
		}
		p.password = pw
	}
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, err
	}
	var err error
	if p.source, _, err = onion.LoadOrCreateKey(filepath.Join(f.data, sourceOnionKeyFile)); err != nil {
		return nil, hint(fmt.Errorf("the onion service key: %w", err), "restore it from a backup, or move it away to get a new address")
	}
	f.onion = p.source.Address()
	if t.newsroomOnion {
		if p.newsroom, _, err = onion.LoadOrCreateKey(filepath.Join(f.data, newsroomOnionKeyFile)); err != nil {
			return nil, hint(fmt.Errorf("the newsroom onion service key: %w", err), "restore it from a backup, or move it away to get a new address")
		}
		if p.clients, err = newsroomClients(f.data, p.newsroom.Address()); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// newsroomClients reads the client keys the newsroom's onion service lets
// in. The first start makes a key pair: its private part for the
// journalists in onion-newsroom.auth_private (which may be deleted once
// handed out), its public part in onion-newsroom.clients, where an admin
// may add more, one per journalist.
func newsroomClients(data, addr string) ([]string, error) {
	file := filepath.Join(data, newsroomClientsFile)
	b, err := os.ReadFile(file)
	if err == nil {
		keys, err := onion.ParseClients(b)
		if err != nil {
			return nil, hint(fmt.Errorf("%s: %w", file, err), "one x25519 public key in base32 per line; delete the file to make a new key pair")
		}
		return keys, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k, _, err := onion.LoadOrCreateClientKey(filepath.Join(data, newsroomClientKeyFile), addr)
	if err != nil {
		return nil, hint(fmt.Errorf("the newsroom's client key: %w", err), "move it away to make a new one (journalists then need the new one)")
	}
	list := "# The client keys (x25519 public keys, base32) that may reach the newsroom's\n" +
		"# onion service, one per line. pista made the first; its private part was in\n" +
		"# " + newsroomClientKeyFile + ". Restart pista after a change.\n" + k.Public() + "\n"
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		return nil, err
	}
	return []string{k.Public()}, nil
}

func readTorPassword(file string) ([]byte, error) {
	if file == "" {
		return []byte(os.Getenv(torPasswordEnv)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--tor-control-password-file: %w", err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" || len(pw) > 1024 {
		return nil, errors.New("--tor-control-password-file: the first line must hold the password")
	}
	return []byte(pw), nil
}

// start publishes the onion services, if --tor asks for them, and returns
// the handler of the clearnet listener: h itself, or h without the
// journalists' routes when they are on their own onion service. stop ends
// the services (and the tor pista started).
//
// The services are added without Flags=Detach: they live as long as
// pista's control connection, so a stopped or crashed pista leaves nothing
// published in a Tor it shares with others (and Tor forgets the key), and
// the next start can add the same key again. If the connection ends while
// pista runs (Tor restarted, or the tor pista started died), pista logs it
// and publishes again, starting its tor again if it is its own.
func (p *onionPlan) start(ctx context.Context, h http.Handler, o onionHTTP, logger *slog.Logger) (clearnet http.Handler, stop func(), err error) {
	if !p.f.enabled {
		return h, func() {}, nil
	}
	var servers []*http.Server
	closeServers := func() {
		for _, hs := range servers {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			hs.Shutdown(sctx)
			cancel()
		}
	}
	// Onion traffic comes through listeners of its own on loopback, plain
	// HTTP (Tor encrypts it end to end), whatever --listen and TLS are.
	listen := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln = o.conns.Listener(ln)
		hs := &http.Server{
			Handler:           o.wrap(h),
			ConnState:         o.conns.ConnState,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			HTTP2:             http2Limits,
			ErrorLog:          log.New(io.Discard, "", 0),
		}
		go hs.Serve(ln)
		servers = append(servers, hs)
		return addr, nil
	}
	if p.sourceTarget, err = listen(withoutNewsroomIf(p.newsroom != nil, h)); err != nil {
		return nil, nil, err
	}
	if p.newsroom != nil {
		if p.newsroomTarget, err = listen(h); err != nil {
			closeServers()
			return nil, nil, err
		}
	}
	s, err := p.publish(ctx)
	if err != nil {
		closeServers()
		return nil, nil, err
	}
	p.banner = p.describe()

	// The services stay up until stop, after serve's shutdown grace, so
	// that uploads through Tor get the grace too.
	kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.keep(kctx, s, logger)
	}()
	return withoutNewsroomIf(p.newsroom != nil, h), func() {
		cancel()
		<-done
		closeServers()
	}, nil
}

// onionHTTP is how serve runs its listener, for the onion services'
// listeners to run alike: the same connection bound (one budget of open
// files), and the same handler wrapping (slow bodies cut, requests in
// flight cut at the end of the shutdown grace).
type onionHTTP struct {
	conns *httpx.ConnLimit
	wrap  func(http.Handler) http.Handler
}

// torSession is one control connection that publishes the services, and
// the tor pista started for it, if it did.
type torSession struct {
	conn  *onion.Conn
	tor   *onion.Tor
	watch <-chan error
}

func (s *torSession) close() {
	s.conn.Close()
	if s.tor != nil {
		s.tor.Stop()
	}
}

// republishWait is the first wait before publishing again after the
// connection to Tor ended; it doubles up to a minute while that fails.
var republishWait = 2 * time.Second

// keep watches s until ctx ends, and publishes again whenever Tor drops
// the connection.
func (p *onionPlan) keep(ctx context.Context, s *torSession, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			s.close()
			return
		case err := <-s.watch:
			s.close()
			logger.Error("the connection to Tor ended: the onion service is off Tor until pista publishes it again", "err", err)
		}
		for wait := republishWait; ; wait = min(2*wait, time.Minute) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			ns, err := p.publish(ctx)
			if err == nil {
				s = ns
				logger.Info("the onion service is published again")
				break
			}
			logger.Error("publishing the onion service again", "err", err, "retry_in", min(2*wait, time.Minute))
		}
	}
}

// publish starts tor if pista runs its own, connects, authenticates and
// adds the services.
func (p *onionPlan) publish(ctx context.Context) (_ *torSession, err error) {
	s := &torSession{}
	control := p.f.control
	if control == "" {
		if s.tor, err = onion.StartTor(ctx, filepath.Join(p.data, torDir)); err != nil {
			if errors.Is(err, onion.ErrTorMissing) {
				return nil, hint(err, "install it (apt-get install tor), or use a running Tor with --tor-control ADDR")
			}
			return nil, fmt.Errorf("--tor: %w", err)
		}
		control = s.tor.ControlAddr
	}
	if s.conn, err = onion.Dial(ctx, control); err != nil {
		if s.tor != nil {
			s.tor.Stop()
		}
		return nil, hint(fmt.Errorf("--tor: %w", err), "is Tor running, with ControlPort set? give its address with --tor-control")
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := s.conn.Authenticate(p.password); err != nil {
		return nil, hint(fmt.Errorf("--tor: %w", err), "check the password file (or $"+torPasswordEnv+"), or that pista may read Tor's cookie file (add its user to Tor's group: debian-tor)")
	}
	if s.tor != nil {
		// The tor pista started ends when this connection does.
		if rep, err := s.conn.Command("TAKEOWNERSHIP"); err != nil || !rep.OK() {
			return nil, fmt.Errorf("--tor: TAKEOWNERSHIP: %w", errors.Join(err, rep.Err()))
		}
		if rep, err := s.conn.Command("RESETCONF __OwningControllerProcess"); err != nil || !rep.OK() {
			return nil, fmt.Errorf("--tor: %w", errors.Join(err, rep.Err()))
		}
	}
	addr, err := s.conn.AddOnion(onion.Service{Key: p.source, Ports: []string{"80," + p.sourceTarget}, PoW: p.pow()})
	if err != nil {
		return nil, hint(fmt.Errorf("--tor: publishing the onion service: %w", err), "an \"address collision\" means this Tor already publishes it: stop the other pista, or remove the service from that Tor")
	}
	if addr != p.source.Address() {
		return nil, fmt.Errorf("--tor: Tor published %s, not %s, the address of %s", addr, p.source.Address(), sourceOnionKeyFile)
	}
	if p.newsroom != nil {
		addr, err := s.conn.AddOnion(onion.Service{Key: p.newsroom, Ports: []string{"80," + p.newsroomTarget}, PoW: p.pow(), ClientAuth: p.clients})
		if err != nil {
			return nil, fmt.Errorf("--newsroom-onion: publishing the onion service: %w", err)
		}
		if addr != p.newsroom.Address() {
			return nil, fmt.Errorf("--newsroom-onion: Tor published %s, not %s, the address of %s", addr, p.newsroom.Address(), newsroomOnionKeyFile)
		}
	}
	s.watch = s.conn.Watch()
	return s, nil
}

func (p *onionPlan) pow() *onion.PoW {
	if !p.f.pow {
		return nil
	}
	return &onion.PoW{QueueRate: p.f.powRate, QueueBurst: p.f.powBurst}
}

// describe is what serve prints about the services once they run.
func (p *onionPlan) describe() string {
	var b strings.Builder
	powText := "off"
	if p.f.pow {
		powText = fmt.Sprintf("on: queue rate %d/s, burst %d", p.f.powRate, p.f.powBurst)
	}
	fmt.Fprintf(&b, "  Onion:       http://%s/  (proof-of-work defence %s)\n  Onion key:   %s  (keep it: it is the address; backups include it)\n",
		p.source.Address(), powText, filepath.Join(p.data, sourceOnionKeyFile))
	if p.newsroom != nil {
		fmt.Fprintf(&b, "  Newsroom:    http://%s/newsroom/  (refused on --listen; %d client key(s) in %s)\n",
			p.newsroom.Address(), len(p.clients), filepath.Join(p.data, newsroomClientsFile))
		if _, err := os.Stat(filepath.Join(p.data, newsroomClientKeyFile)); err == nil {
			fmt.Fprintf(&b, `  Client key:  %s
    Give it to the journalists (not by e-mail): Tor Browser asks for it on the
    first visit (paste the part after "x25519:", tick "Remember"); a tor daemon
    takes the file in its ClientOnionAuthDir. Then you may delete it here.
`, filepath.Join(p.data, newsroomClientKeyFile))
		}
	}
	if p.f.control == "" {
		fmt.Fprintf(&b, "  Tor:         started (data %s); it may take a minute to reach the Tor network\n", filepath.Join(p.data, torDir))
	}
	return b.String()
}

func withoutNewsroomIf(on bool, h http.Handler) http.Handler {
	if on {
		return withoutNewsroom(h)
	}
	return h
}

// withoutNewsroom refuses the journalists' routes (their inbox and their
// API) with the server's own "not found" answers, as if they did not
// exist here: with --newsroom-onion they are only on that onion service.
func withoutNewsroom(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		switch {
		case p == "/newsroom" || strings.HasPrefix(p, "/newsroom/"):
			r = pathTo(r, "/.not-here")
		case strings.HasPrefix(p, "/api/v1/journalist/") || p == "/api/v1/journalist":
			r = pathTo(r, "/api/v1/.not-here")
		}
		h.ServeHTTP(w, r)
	})
}

func pathTo(r *http.Request, to string) *http.Request {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath, r2.RequestURI = to, "", to
	r2.Method = http.MethodGet
	r2.Body = http.NoBody
	return r2
}
