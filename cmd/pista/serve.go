package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/notify"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/upload"
)

const serveHelp = `
pista serve runs the tip line: the source pages at /, the journalists'
inbox at /newsroom/ and the API at /api/v1/, on SQLite and a local data
folder, or on PostgreSQL (--database) and a local data folder for the
encrypted objects. It keeps no access log and never logs or stores a visitor's
address, browser, codename, message or file name.

With --objects s3://BUCKET?endpoint=HOST:PORT the encrypted objects go to
an S3-compatible bucket (AWS, MinIO, Ceph RGW, Garage…) instead; the
data folder keeps the database and the encrypted temporary files. The
bucket's keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or
from --objects-credentials-file, never from the command line.

Usage:
    pista serve [--data DIR] [--listen ADDR] [flags]

Journalists who asked for notifications (pista journalist notify) get a
digest when their desks have new tips: by e-mail through --notify-smtp,
or by webhook. With --smtp-listen and --mail-domain, mail to
DESK@DOMAIN (or a desk's alias) becomes a tip of that desk, encrypted on
arrival like any other.

Examples:
    $ pista serve
    $ pista serve --data /var/lib/pista --listen 127.0.0.1:8080 --newsroom "El Diario"
    $ PGPASSWORD=… pista serve --database postgres://pista@db.example/pista --data /var/lib/pista
    $ pista serve --tls-cert cert.pem --tls-key key.pem --listen :443
    $ pista serve --server-replies=false     # replies only encrypted in the browser
    $ pista serve --shutdown-grace 2m        # let slow uploads finish on stop
    $ AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… pista serve --objects 's3://tips?endpoint=127.0.0.1:9000&tls=false'
    $ pista serve --pow-bits 18              # a harder proof of work for scripts and apps
    $ pista serve --metrics-listen 127.0.0.1:9464 --log-format json   # Prometheus; a log for journald
    $ pista serve --smtp-listen :25 --mail-domain tips.example.org --tls-cert cert.pem --tls-key key.pem
    $ pista serve --notify-smtp mail.example.org:587 --notify-from pista@example.org \
          --notify-smtp-user pista --notify-smtp-password-file relay.pass --public-url https://tips.example.org
`

// serveFlags are the flags serve and demo share.
type serveFlags struct {
	data, listen, newsroom, onion, maxUpload, tlsCert, tlsKey string
	database, databasePWFile                                  string // --database, --database-password-file
	minFreeDisk                                               string
	scrubMemory                                               string
	memoryLimit                                               string // --memory-limit (memory.go)
	maxPendingUploads                                         int
	archive                                                   multi
	secureCookies                                             bool
	noServerReplies                                           bool // --server-replies=false
	publicURL                                                 string
	webauthnRPID                                              string
	objects, objectsCredentials                               string        // --objects, --objects-credentials-file
	intakeDay                                                 time.Duration // --intake-day, for tests

	// slow clients and shutdown
	maxConns      int
	minBodyRate   string
	bodyWindow    time.Duration
	minRespRate   string
	respWindow    time.Duration
	shutdownGrace time.Duration
	powBits       int
	stretchWait   time.Duration

	// notifications
	notifyInterval                                   time.Duration
	notifySMTP, notifyFrom, notifyUser, notifyPWFile string
	notifyPlaintext                                  bool

	// e-mail intake
	smtpListen, mailDomain, smtpCert, smtpKey, smtpMaxSize string

	tor torFlags // onion services (tor.go)
	ops opsFlags // metrics and the log's format (metrics.go)
}

func addServeFlags(fs *flag.FlagSet, f *serveFlags, dataDefault string) {
	fs.StringVar(&f.data, "data", dataDefault, "the data `DIR`: database and encrypted objects")
	fs.StringVar(&f.database, "database", "", "keep the rows in this PostgreSQL database, `postgres://USER@HOST/DB` (objects stay in --data; default: SQLite in --data)")
	fs.StringVar(&f.databasePWFile, "database-password-file", "", "the database role's password, on the first line of `FILE` (default: $PGPASSWORD or ~/.pgpass)")
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8080", "the `ADDR`ess to listen on")
	fs.StringVar(&f.newsroom, "newsroom", "pista", "the newsroom's `NAME`, shown on every page")
	fs.StringVar(&f.onion, "onion", "", "the tip line's onion `ADDRESS` (…onion), announced with an Onion-Location header")
	fs.StringVar(&f.objects, "objects", "", "keep the encrypted objects in an S3 bucket, `URL` s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&region=R][&tls=false], with keys from $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY (default: in the data folder)")
	fs.StringVar(&f.objectsCredentials, "objects-credentials-file", "", "read the bucket's keys from this `FILE` (AWS credentials format: [default], aws_access_key_id, aws_secret_access_key) rather than the environment")
	fs.StringVar(&f.maxUpload, "max-upload", "4GiB", "the most one submission may carry, files included (`SIZE`: 500MB, 4GiB…)")
	fs.StringVar(&f.minFreeDisk, "min-free-disk", "256MiB", "refuse uploads that would leave less free disk than `SIZE` (0: no floor)")
	fs.StringVar(&f.scrubMemory, "scrub-memory", "32MiB", "memory scrubbing one file on arrival may take (two at once; a PDF may be a quarter of it): a file that needs more is stored as sent, flagged \"not scrubbed: too complex\"")
	fs.IntVar(&f.maxPendingUploads, "max-pending-uploads", upload.DefaultMaxPending, "refuse new resumable uploads while `N` exist (unfinished or not yet submitted; each is removed after a day)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "and this private key `FILE` (PEM)")
	fs.Var(&f.archive, "archive-recipient", "also encrypt every item to this offline archive key, `AGE1PQ…` (repeatable)")
	fs.BoolVar(&f.secureCookies, "secure-cookies", false, "mark cookies Secure even on plain HTTP (behind a TLS proxy)")
	fs.StringVar(&f.webauthnRPID, "webauthn-rp-id", "", "the `HOST` name security keys and passkeys are bound to (default: the host name each browser asks for; an IP address cannot be used)")
	fs.BoolFunc("server-replies", "let journalists without JavaScript send replies for the server to encrypt (the default; =false: replies are encrypted only in the browser)", func(s string) error {
		on, err := strconv.ParseBool(s)
		f.noServerReplies = !on
		return err
	})
	fs.StringVar(&f.publicURL, "public-url", "", "the tip line's public `URL`, for links in notifications (default: the listen address)")
	fs.IntVar(&f.maxConns, "max-connections", 0, "keep at most `N` connections open (default: half the open-file limit less 256, at most 512)")
	fs.StringVar(&f.minBodyRate, "min-body-rate", "1KiB", "cut request bodies slower than `SIZE` per second on average (0: never)")
	fs.DurationVar(&f.bodyWindow, "body-rate-window", httpx.DefaultBodyRateWindow, "over this `DURATION`: a body may stall that long")
	fs.StringVar(&f.minRespRate, "min-response-rate", "1KiB", "cut responses a client takes slower than `SIZE` per second on average (0: never)")
	fs.DurationVar(&f.respWindow, "response-rate-window", httpx.DefaultResponseRateWindow, "over this `DURATION`: a client may stop reading that long")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", defaultShutdownGrace, "on stop, give requests in flight this `DURATION` to end before cutting them")
	fs.IntVar(&f.powBits, "pow-bits", pow.DefaultBits, fmt.Sprintf("the proof of work asked of clients that run code, in zero `BITS` of SHA-256 on an idle server (%d–%d); it rises by one bit for each doubling of the queue of key stretching", pow.MinBits, pow.MaxBits))
	fs.DurationVar(&f.stretchWait, "stretch-wait", admit.DefaultMaxWait, "tell a source to try again in a minute rather than make them wait longer than this `DURATION` for key stretching")

	fs.DurationVar(&f.notifyInterval, "notify-interval", notify.DefaultInterval, "send journalists a digest of new tips at most once per `INTERVAL`, on its boundary")
	fs.StringVar(&f.notifySMTP, "notify-smtp", "", "send notification e-mail through this relay, `HOST:PORT` (STARTTLS required)")
	fs.StringVar(&f.notifyFrom, "notify-from", "", "the `ADDRESS` notification e-mail comes from")
	fs.StringVar(&f.notifyUser, "notify-smtp-user", "", "log in to the relay as `USER`")
	fs.StringVar(&f.notifyPWFile, "notify-smtp-password-file", "", "with the password on the first line of `FILE`")
	fs.BoolVar(&f.notifyPlaintext, "notify-smtp-plaintext", false, "talk to the relay without STARTTLS (a relay on this machine only)")

	fs.StringVar(&f.smtpListen, "smtp-listen", "", "also take tips by e-mail: listen for SMTP on `ADDR` (e.g. :25)")
	fs.StringVar(&f.mailDomain, "mail-domain", "", "mail to DESK@`DOMAIN` goes to that desk")
	fs.StringVar(&f.smtpCert, "smtp-tls-cert", "", "offer STARTTLS with this certificate `FILE` (PEM; default: --tls-cert)")
	fs.StringVar(&f.smtpKey, "smtp-tls-key", "", "and this private key `FILE` (PEM; default: --tls-key)")
	fs.StringVar(&f.smtpMaxSize, "smtp-max-size", "32MiB", "the largest e-mail taken (`SIZE`), announced with the SIZE extension")
	fs.DurationVar(&f.intakeDay, "intake-day", 0, "for tests only: an intake key's day lasts this `DURATION` (at least 1s; default 24h), so that forward secrecy's keys expire within a test")
	addMemoryFlag(fs, f)
	addTorFlags(fs, &f.tor)
	addOpsFlags(fs, &f.ops)
}

func runServe(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "serve", serveHelp)
	var f serveFlags
	addServeFlags(fs, &f, "./pista-data")
	if err := parse(fs, args); err != nil {
		return err
	}
	return serve(ctx, e, f, nil)
}

// serve runs the server until ctx ends. ready, if not nil, is told the
// address once the server listens.
func serve(ctx context.Context, e env, f serveFlags, ready func(addr string)) error {
	maxUpload, err := parseSize(f.maxUpload)
	if err != nil {
		return hint(fmt.Errorf("--max-upload: %w", err), "write a size such as 500MB or 4GiB")
	}
	var scrubMemory int64 // 0: the default budget
	if f.scrubMemory != "" {
		if scrubMemory, err = parseSize(f.scrubMemory); err != nil || scrubMemory < 4<<20 {
			return hint(fmt.Errorf("--scrub-memory %q: not a size of at least 4MiB", f.scrubMemory), "write a size such as 32MiB or 256MiB")
		}
	}
	minFree := int64(-1)
	if f.minFreeDisk != "" && f.minFreeDisk != "0" {
		if minFree, err = parseSize(f.minFreeDisk); err != nil {
			return hint(fmt.Errorf("--min-free-disk: %w", err), "write a size such as 256MiB or 2GiB")
		}
	}
	if f.maxPendingUploads < 0 {
		return hint(errors.New("--max-pending-uploads cannot be negative"), "the default is "+strconv.Itoa(upload.DefaultMaxPending))
	}
	if f.powBits != 0 && (f.powBits < pow.MinBits || f.powBits > pow.MaxBits) {
		return hint(fmt.Errorf("--pow-bits %d is out of range", f.powBits), fmt.Sprintf("choose from %d to %d; the default is %d", pow.MinBits, pow.MaxBits, pow.DefaultBits))
	}
	if f.stretchWait < 0 {
		return errors.New("--stretch-wait cannot be negative")
	}
	if f.intakeDay != 0 && f.intakeDay < time.Second {
		return hint(fmt.Errorf("--intake-day %v is too short", f.intakeDay), "it is for tests, and at least 1s; leave it out for the real 24h")
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	lim, err := httpLimits(f)
	if err != nil {
		return err
	}
	onionPlan, err := planOnion(&f)
	if err != nil {
		return err
	}
	dbPassword, err := databasePassword(f)
	if err != nil {
		return err
	}
	if err := f.ops.check(); err != nil {
		return err
	}
	mtr := f.ops.newMetrics()
	logger := f.ops.newLogger(e.stderr, mtr)
	srv, err := server.New(ctx, server.Config{
		Data: f.data, Database: f.database, DatabasePassword: dbPassword, Newsroom: f.newsroom, Archive: f.archive, MaxUpload: maxUpload, MinFreeDisk: minFree, ScrubMemory: scrubMemory,
		Onion: f.onion, SecureCookies: f.secureCookies || f.tlsCert != "", WebAuthnRPID: f.webauthnRPID,
		NoServerReplies: f.noServerReplies, MaxPendingUploads: f.maxPendingUploads, Log: logger,
		PoWBits: f.powBits, StretchWait: f.stretchWait,
		Objects: f.objects, ObjectsCredentialsFile: f.objectsCredentials, Metrics: mtr,
		IntakeDay: f.intakeDay,
	})
	if errors.Is(err, server.ErrInUse) {
		return hint(err, "stop the other server first, or give this one its own --data")
	} else if err != nil {
		return err
	}
	defer srv.Close()
	if err := setMemoryLimit(ctx, f.memoryLimit, srv.Stores); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return hint(err, "is another server using that address? choose another with --listen")
	}
	conns := httpx.NewConnLimit(lim.maxConns, logger)
	ln = conns.Listener(ln)
	drain := &httpx.Drain{Refuse: http.HandlerFunc(refuseStopping)}
	clearnet, stopOnion, err := onionPlan.start(ctx, srv.Handler, onionHTTP{conns, func(h http.Handler) http.Handler { return drain.Handler(lim.write.Handler(lim.rate.Handler(h))) }}, logger)
	if err != nil {
		return err
	}
	defer stopOnion()
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + ln.Addr().String()
	hs := &http.Server{
		Handler:           drain.Handler(lim.write.Handler(lim.rate.Handler(clearnet))),
		ConnState:         conns.ConnState,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		HTTP2:             http2Limits,
		// net/http's own messages name the client's address: drop them.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	desks, err := srv.Stores.Desks.Desks(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "pista is running.\n  Sources:     %s/\n  Journalists: %s/newsroom/\n  Data folder: %s\n", base, base, f.data)
	if f.database != "" {
		fmt.Fprintf(e.stderr, "  Database:    %s\n", f.database)
	}
	fmt.Fprint(e.stderr, onionPlan.banner)
	metricsAddr, stopMetrics, err := f.ops.startMetrics(mtr, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if metricsAddr != "" {
		fmt.Fprintf(e.stderr, "  Metrics:     http://%s/metrics\n", metricsAddr)
	}
	if len(desks) == 0 {
		fmt.Fprintf(e.stderr, `
No desk can receive tips yet. To open the tip line from the browser:
  %[3]s invite --data %[1]s --url %[2]s --admin
prints a one-time link: open it, choose a name and a passphrase (your browser
makes your key), sign in, and create desks and invite journalists in the inbox.
Or on the command line:
  1. On each journalist's own computer, make their key:
       %[3]s keygen -o alice.key
  2. Here, add their account (the password file's first line is the passphrase):
       %[3]s journalist add --data %[1]s --name alice --identity alice.key --password-file alice.pass
     (or --recipient age1pq1… to keep the key only in the file) and scan the
     otpauth:// URI it prints into their authenticator app.
  3. Here, make a desk for them:
       %[3]s desk add --data %[1]s --name americas --title "Americas" --coordinator alice
Or try everything at once with a ready demo desk: %[3]s demo
`, f.data, base, selfCommand())
	}
	public := strings.TrimRight(f.publicURL, "/")
	if public == "" {
		public = base
	}
	stopChannels, err := startChannels(ctx, e, f, srv, logger, public)
	if err != nil {
		return err
	}
	defer stopChannels()
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if f.tlsCert != "" {
			errc <- hs.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return shutdown(hs, drain, f.shutdownGrace, logger)
	}
}

// coarseTime writes log times to the hour, as pista records every time
// (pista.TimeGranularity): a log line caused by a source must not date
// their visit more closely than the database does.
func coarseTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		a.Value = slog.TimeValue(a.Value.Time().UTC().Truncate(pista.TimeGranularity))
	}
	return a
}

// parseSize reads a size such as 4GiB, 500MB or 1048576.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, errors.New("not a size")
	}
	return n * mult, nil
}

// databasePassword checks --database and returns the password of
// --database-password-file, if given. A password never comes on the
// command line, where every user of the machine can read it (ps, shell
// histories): a URL holding one is refused.
func databasePassword(f serveFlags) (string, error) {
	return databasePasswordOf("--database", f.database, f.databasePWFile)
}

// databasePasswordOf is databasePassword for the flag name (--database,
// migrate's --to-database) and its -password-file.
func databasePasswordOf(flag, database, pwFile string) (string, error) {
	if database == "" {
		if pwFile != "" {
			return "", fmt.Errorf("%s-password-file goes with %s", flag, flag)
		}
		return "", nil
	}
	if err := postgres.CheckURL(database); err != nil {
		return "", hint(fmt.Errorf("%s: %w", flag, err),
			"write postgres://USER@HOST/DB and put the password in $PGPASSWORD or in a file given with "+flag+"-password-file")
	}
	if pwFile == "" {
		return "", nil
	}
	pw, err := readSecretFile(pwFile)
	if err != nil {
		return "", fmt.Errorf("%s-password-file: %w", flag, err)
	}
	return pw, nil
}
