// Package server assembles a pista instance: the stores in a data folder,
// the source pages, the newsroom inbox and the API on one ServeMux, behind
// the security headers and cross-origin protection.
//
// The data folder holds pista.db (SQLite, WAL), the encrypted objects
// (objects/, tmp/) and the resumable uploads in progress (uploads/, files
// the browser encrypted; package upload). Nothing in it is plaintext of a
// tip. With Config.Database the rows live in PostgreSQL instead (package
// postgres) and the folder keeps the objects and uploads; OpenStoresOn is
// the one place that knows which backend runs.
//
// There is no access log: the server logs what failed and what journalists
// did, never a request's address, user agent or anything a source sent.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/blob/s3"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/metrics"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/scrub"
	"github.com/pista-tips/pista/sqlite"
	"github.com/pista-tips/pista/ui"
	"github.com/pista-tips/pista/upload"
	"github.com/pista-tips/pista/web"
)

// Config is what `pista serve` is told.
type Config struct {
	Data string // data folder
	// Database, if set, is a PostgreSQL URL (postgres://USER@HOST/DB):
	// the stores' rows are there, while the objects and uploads stay in
	// Data. It may not hold a password (postgres.CheckURL).
	Database string
	// DatabasePassword is the database role's password, if it has one
	// and $PGPASSWORD (or ~/.pgpass) does not give it.
	DatabasePassword string
	Newsroom         string   // the newsroom's name, shown on every page
	Archive          []string // archive recipients (age1pq1…), every item is also encrypted to them
	MaxUpload        int64    // bytes one submission may carry
	// MinFreeDisk is the floor of free space on the data folder's disk
	// that uploads keep (0: DefaultMinFreeDisk; negative: none).
	MinFreeDisk int64
	// ScrubMemory bounds the memory scrubbing one file may take on
	// arrival (0: scrub.DefaultBudget's); a file that would take more is
	// stored as sent, flagged "not scrubbed: too complex".
	ScrubMemory int64
	Onion       string // the onion address, for the Onion-Location header
	// ExitURL is where the source pages' "leave quickly" link goes: a
	// harmless, common site. "" means DefaultExitURL.
	ExitURL string
	// SecureCookies sets the Secure flag on cookies even on plain HTTP,
	// for a server behind a TLS-terminating proxy.
	SecureCookies bool
	// WebAuthnRPID is the relying party ID of security keys and passkeys:
	// the tip line's host name ("": the host name each request names).
	WebAuthnRPID string
	// NoServerReplies turns off the newsroom's no-JavaScript reply form,
	// whose reply the server encrypts: replies are then encrypted only in
	// journalists' browsers, and the server never sees one in plaintext.
	NoServerReplies bool
	// MaxPendingUploads bounds the resumable uploads that exist at once
	// (0: upload.DefaultMaxPending).
	MaxPendingUploads int
	// CoarsenEvery is how often the data folder's times are set back to
	// pista.TimeGranularity (0: DefaultCoarsenEvery; see blob.CoarsenData).
	CoarsenEvery time.Duration
	// PoWBits is the proof of work's difficulty on an idle server (0:
	// pow.DefaultBits); it rises with the queue of key stretching.
	PoWBits int
	// StretchWait is how long a source's request may wait for key
	// stretching before being told to retry (0: admit.DefaultMaxWait).
	StretchWait time.Duration
	// Objects, when set, keeps the encrypted objects in an S3 bucket
	// (s3://BUCKET[/PREFIX]?endpoint=HOST:PORT&region=…&tls=false; see
	// s3.ParseURL) rather than in the data folder, which keeps the
	// database and the encrypted temporary files. The bucket's keys come
	// from ObjectsCredentialsFile, or else from $AWS_ACCESS_KEY_ID and
	// $AWS_SECRET_ACCESS_KEY (s3.Credentials).
	Objects                string
	ObjectsCredentialsFile string
	Log                    *slog.Logger
	// Metrics, if not nil, records the server's metrics (health.go).
	Metrics *metrics.Metrics
	// IntakeDay is the length of an intake key's day (forward.Clock; 0:
	// forward.DefaultPeriod, 24 hours). Only tests shorten it (pista
	// serve --intake-day), so that intake keys expire within a test.
	IntakeDay time.Duration
}

// DefaultCoarsenEvery bounds how long a folder or the database keeps the
// exact time of its last change: the changes the object store makes are
// coarsened at once, those of the database, the uploads and the pages'
// spooled files within this.
const DefaultCoarsenEvery = time.Minute

// DefaultMinFreeDisk is the default floor of free disk space: room for
// the database, the logs and the system to keep working.
const DefaultMinFreeDisk = 256 << 20

// DefaultExitURL is where "leave this site quickly" goes by default: a
// site so common that a visit says nothing.
const DefaultExitURL = "https://www.wikipedia.org/"

// Stores are the stores of a data folder, or of a PostgreSQL database
// and a data folder.
type Stores struct {
	Desks       pista.DeskStore
	Journalists pista.JournalistStore
	Tips        pista.TipStore
	Settings    pista.Settings
	Team        pista.TeamStore
	// Blobs keeps the encrypted objects: Local, or an S3 bucket
	// (UseObjects).
	Blobs pista.BlobStore
	// Shared is what several instances on one database must see alike
	// (sessions, login allowances, challenges, uploads in progress): the
	// database's on PostgreSQL; nil on SQLite, whose single instance
	// keeps these in memory.
	Shared pista.Shared
	// Local is the data folder's object store: its tmp/ holds the
	// encrypted spools and writes in progress, and its floor of free
	// disk space bounds uploads, wherever the objects go.
	Local *blob.Local
	db    io.Closer
}

// DBFile is the database's name in the data folder.
const DBFile = "pista.db"

// PostgresMark is the file that says a data folder's rows are in
// PostgreSQL. Its first line is the database's URL (never with a
// password): admin commands given only --data open that database (the
// password from $PGPASSWORD or ~/.pgpass), and a server is refused
// another database on the folder, whose rows would make every object
// here an orphan to sweep.
const PostgresMark = "ROWS-IN-POSTGRESQL"

// Database says where the rows of a data folder's stores live.
type Database struct {
	URL      string // "": the folder's (PostgresMark), or SQLite's pista.db in it; else postgres://…
	Password string // the PostgreSQL role's password, if any (not in URL)
}

// OpenStores opens (creating) the stores of a data folder: SQLite's
// pista.db in it, or the PostgreSQL database its PostgresMark names. It
// takes no lock and sweeps nothing, so that admin commands can use it
// beside a running server; New does both.
func OpenStores(ctx context.Context, dir string) (*Stores, error) {
	return OpenStoresOn(ctx, dir, Database{})
}

// OpenStoresOn opens (creating) the stores of a data folder, their rows
// on SQLite in the folder or in the PostgreSQL database db names (by
// default, the one the folder's PostgresMark names). A folder is used
// with one database: pista.db beside PostgreSQL, or another PostgreSQL
// database than the mark's, is refused.
func OpenStoresOn(ctx context.Context, dir string, db Database) (*Stores, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	markPath := filepath.Join(dir, PostgresMark)
	mark, err := os.ReadFile(markPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	marked, _, _ := strings.Cut(string(mark), "\n")
	switch {
	case db.URL == "":
		db.URL = marked
	case marked != "" && marked != db.URL:
		return nil, fmt.Errorf("the data folder %s keeps the objects of the database %s, not %s (if it is the same database under another URL, write the new one on the first line of %s)",
			dir, marked, db.URL, markPath)
	}
	var st *Stores
	if db.URL == "" {
		lite, err := sqlite.Open(ctx, filepath.Join(dir, DBFile))
		if err != nil {
			return nil, err
		}
		st = &Stores{
			db: lite, Desks: sqlite.NewDeskStore(lite), Journalists: sqlite.NewJournalistStore(lite),
			Tips: sqlite.NewTipStore(lite), Settings: sqlite.NewSettings(lite), Team: sqlite.NewTeamStore(lite),
		}
	} else {
		if err := postgres.CheckURL(db.URL); err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(dir, DBFile)); !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("the data folder %s has the SQLite database %s: its objects belong to it, not to PostgreSQL; use another folder", dir, DBFile)
		}
		pg, err := postgres.OpenWith(ctx, db.URL, postgres.Options{Password: db.Password})
		if err != nil {
			return nil, err
		}
		if marked == "" {
			note := db.URL + "\n\nThe rows of this folder's objects are in the PostgreSQL database above (pista serve --database):\n" +
				"admin commands given this folder (--data) use it, with the password in $PGPASSWORD or ~/.pgpass.\n"
			if err := os.WriteFile(markPath, []byte(note), 0o600); err != nil {
				pg.Close()
				return nil, err
			}
		}
		st = &Stores{
			db: pg, Desks: postgres.NewDeskStore(pg), Journalists: postgres.NewJournalistStore(pg),
			Tips: postgres.NewTipStore(pg), Settings: postgres.NewSettings(pg), Team: postgres.NewTeamStore(pg),
			Shared: postgres.NewShared(pg),
		}
	}
	blobs, err := blob.OpenLocal(dir)
	if err != nil {
		st.db.Close()
		return nil, err
	}
	st.Blobs, st.Local = blobs, blobs
	return st, nil
}

// Close closes the database.
func (s *Stores) Close() error { return s.db.Close() }

// UseObjects moves the stores' objects to the S3 bucket rawURL names
// (Config.Objects), with the keys from credentialsFile or the
// environment. The data folder keeps the temporary files.
func (s *Stores) UseObjects(ctx context.Context, rawURL, credentialsFile string) error {
	cfg, err := s3.ParseURL(rawURL)
	if err != nil {
		return fmt.Errorf("--objects: %w", err)
	}
	cfg.Creds, err = s3.Credentials(credentialsFile, os.Getenv)
	if err != nil {
		return err
	}
	store, err := s3.Open(ctx, cfg)
	if err != nil {
		return err
	}
	s.Blobs = bucket{store, s.Local}
	return nil
}

// bucket is the objects' S3 store, with the data folder's floor of free
// disk for the spools the source pages write there before the objects
// leave for the bucket. Asked for room for the objects and a spool
// (web's readForm asks for twice a request's size), it checks the local
// disk for both: more than the spool needs, never less.
type bucket struct {
	*s3.Store
	local *blob.Local
}

func (b bucket) Room(n int64) error { return b.local.Room(n) }

// CodenameSalt returns the instance's codename salt, made on first use.
//
// The salt also records the instance's codename parameters
// (keys.InstanceKDF): an instance made before they were per instance has a
// 16-byte salt and keeps the parameters its sources' codenames were
// derived with (keys.LegacyCodenameKDF); a new instance makes a 32-byte
// salt, which goes with keys.CodenameKDF. Settings keeps a secret as it
// was first stored, whatever size is asked later, so the salt, and with
// it the parameters, never change once made.
func (s *Stores) CodenameSalt(ctx context.Context) ([]byte, error) {
	salt, err := s.Settings.Secret(ctx, "codename-salt", keys.SaltSize)
	if err != nil {
		return nil, err
	}
	if _, err := keys.InstanceKDF(salt); err != nil {
		return nil, fmt.Errorf("the stored codename salt: %w", err)
	}
	return salt, nil
}

// CodenameKDF returns the instance's codename parameters (see
// CodenameSalt).
func (s *Stores) CodenameKDF(ctx context.Context) (keys.KDF, error) {
	salt, err := s.CodenameSalt(ctx)
	if err != nil {
		return keys.KDF{}, err
	}
	return keys.InstanceKDF(salt)
}

// Server is a running instance's handler and stores.
type Server struct {
	Stores  *Stores
	Uploads *upload.Store
	Handler http.Handler
	// Gate admits the key stretching of sources' codenames; its Stats
	// say how many were served and told to retry, lane by lane.
	Gate *admit.Gate
	// ScrubBudget bounds what scrubbing one arriving file may cost, for
	// every intake that scrubs (the form without JavaScript, e-mail);
	// SpoolDir is where those files wait, encrypted, to be scrubbed.
	ScrubBudget scrub.Budget
	SpoolDir    string
	// Clock numbers the intake days (Config.IntakeDay), for every
	// channel that encrypts to intake keys (the e-mail intake too).
	Clock forward.Clock
	stop  context.CancelFunc // ends the uploads' expiry sweep
	lock  *os.File           // the data folder's lock (lockData)
	dir   string             // the data folder
	swept chan struct{}      // closed when the start-up sweep is done (Swept)
}

// New locks the data folder (ErrInUse if another server holds it), opens
// it, removes what a crash left behind and builds the handler.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = httpx.DefaultMaxUpload
	}
	if cfg.Newsroom == "" {
		cfg.Newsroom = "pista"
	}
	if cfg.ExitURL == "" {
		cfg.ExitURL = DefaultExitURL
	}
	if cfg.IntakeDay < 0 {
		return nil, fmt.Errorf("the intake day cannot be negative (%v)", cfg.IntakeDay)
	}
	if len(cfg.Archive) > 0 {
		if _, err := keys.ParseRecipients(cfg.Archive...); err != nil {
			return nil, fmt.Errorf("archive recipient: %w", err)
		}
	}
	// Lock first: a second server on this folder must change nothing,
	// not even a migration or a sweep.
	lock, err := lockData(cfg.Data)
	if err != nil {
		return nil, err
	}
	st, err := OpenStoresOn(ctx, cfg.Data, Database{URL: cfg.Database, Password: cfg.DatabasePassword})
	if err != nil {
		lock.Close()
		return nil, err
	}
	// Only the server holding the lock sweeps: admin commands open the
	// same stores beside it and must not touch its writes in flight.
	if err := st.Local.RemoveTemp(); err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	switch {
	case cfg.MinFreeDisk == 0:
		st.Local.MinFree = DefaultMinFreeDisk
	case cfg.MinFreeDisk > 0:
		st.Local.MinFree = cfg.MinFreeDisk
	}
	if cfg.Objects != "" {
		if err := st.UseObjects(ctx, cfg.Objects, cfg.ObjectsCredentialsFile); err != nil {
			st.Close()
			lock.Close()
			return nil, err
		}
	}
	// An upload is at most the ciphertext of a file at the form's limit.
	upCfg := upload.Config{
		MaxSize:    upload.CiphertextSize(cfg.MaxUpload, intake.MaxSealedHeader),
		MaxPending: cfg.MaxPendingUploads,
		Room:       st.Local,
		Log:        cfg.Log,
	}
	var up *upload.Store
	if cfg.Objects != "" && st.Shared != nil {
		// Several instances may serve this tip line: an upload begun on
		// one resumes and is claimed on any.
		up, err = upload.OpenShared(st.Shared, st.Blobs, upCfg)
	} else {
		up, err = upload.Open(filepath.Join(cfg.Data, upload.Dir), upCfg)
	}
	if err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	gate := admit.NewGate(keys.MaxConcurrentArgon, cfg.StretchWait)
	h, err := build(ctx, cfg, st, up, gate)
	if err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	// Orphan objects are swept in the background, only the hours that
	// can hold one (sweep.go); in the data folder they are listed now,
	// before the server takes a request.
	sweep, err := newSweeper(cfg.Log, st.Tips, st.Blobs)
	if err != nil {
		st.Close()
		lock.Close()
		return nil, err
	}
	sweepCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go sweep.run(sweepCtx)
	blob.CoarsenData(cfg.Data)
	go up.Run(sweepCtx)
	watch(sweepCtx, cfg, st, up, gate)
	go coarsen(sweepCtx, cfg)
	go expire(sweepCtx, cfg.Log, st)
	go destroyIntake(sweepCtx, cfg.Log, st.Tips, clockOf(cfg))
	if st.Shared != nil {
		go sweepShared(sweepCtx, cfg.Log, st.Shared)
	}
	return &Server{Stores: st, Uploads: up, Handler: h, Gate: gate, ScrubBudget: scrubBudget(cfg.ScrubMemory), SpoolDir: st.Local.TempDir(),
		Clock: clockOf(cfg), stop: stop, lock: lock, dir: cfg.Data, swept: sweep.swept}, nil
}

// Swept is closed once the objects a crash left in the data folder
// before this server started are swept (or the sweep ended with an error
// or Close); at once on a bucket, whose sweeps wait for OrphanGrace.
func (s *Server) Swept() <-chan struct{} { return s.swept }

// Close stops the uploads' sweep, closes the stores and lets go of the
// data folder.
func (s *Server) Close() error {
	s.stop()
	<-s.swept // a sweep cut short by stop leaves the rest to the next start
	err := s.Stores.Close()
	blob.CoarsenData(s.dir)
	s.lock.Close()
	return err
}

// sweepShared deletes expired shared entries every five minutes until
// ctx ends: every instance does, which costs an indexed DELETE each.
func sweepShared(ctx context.Context, log *slog.Logger, shared pista.Shared) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := shared.Sweep(ctx, now); err != nil && ctx.Err() == nil {
				log.Error("sweeping expired shared state", "err", err)
			}
		}
	}
}

// coarsen runs blob.CoarsenData every cfg.CoarsenEvery until ctx ends.
func coarsen(ctx context.Context, cfg Config) {
	every := cfg.CoarsenEvery
	if every <= 0 {
		every = DefaultCoarsenEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			blob.CoarsenData(cfg.Data)
		}
	}
}

func build(ctx context.Context, cfg Config, st *Stores, up *upload.Store, gate *admit.Gate) (http.Handler, error) {
	salt, err := st.CodenameSalt(ctx)
	if err != nil {
		return nil, err
	}
	csrfKey, err := st.Settings.Secret(ctx, "csrf-key", 32)
	if err != nil {
		return nil, err
	}
	render, err := ui.NewRenderer(cfg.Log)
	if err != nil {
		return nil, err
	}
	csrf := httpx.NewCSRF(csrfKey)
	loginSecret, err := st.Settings.Secret(ctx, "login-salt-key", 32)
	if err != nil {
		return nil, err
	}
	powKey, err := st.Settings.Secret(ctx, "pow-key", 32)
	if err != nil {
		return nil, err
	}
	// The puzzle's difficulty follows the queue of the lanes it buys a
	// place in.
	puzzle := pow.NewIssuer(powKey)
	puzzle.Base, puzzle.Load, puzzle.Shared = cfg.PoWBits, gate.WaitingProven, st.Shared
	clock := clockOf(cfg)
	sourceKeys := SourceSessionKeys(st.Settings)
	sourceSessions, err := web.NewSessions(sourceKeys, st.Tips, cfg.SecureCookies)
	if err != nil {
		return nil, err
	}
	sourceTokens, err := api.NewSourceTokens(sourceKeys, st.Tips)
	if err != nil {
		return nil, err
	}
	throttle := newsroom.NewThrottle()
	journalistSessions, apiTokens := newsroom.NewSessions(cfg.SecureCookies), api.NewTokens()
	if st.Shared != nil {
		// Every instance counts the same attempts in the same slots.
		if throttle.Key, err = st.Settings.Secret(ctx, "throttle-key", 32); err != nil {
			return nil, err
		}
		throttle.Shared = st.Shared
		journalistSessions.Shared, journalistSessions.Kind = st.Shared, "session/newsroom"
		apiTokens.Shared, apiTokens.Kind = st.Shared, "session/api"
	}
	auth := &newsroom.Auth{Journalists: st.Journalists, Throttle: throttle, Secret: loginSecret, Team: st.Team, Log: cfg.Log, Shared: st.Shared}

	mux := http.NewServeMux()
	mux.Handle("GET /static/", ui.Static())
	// Browsers ask for it on every visit: answer with nothing rather than
	// a page.
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	(&web.Handler{
		Desks: st.Desks, Tips: st.Tips, Settings: st.Settings, Blobs: st.Blobs, CSRF: csrf, Render: render, Log: cfg.Log,
		Sessions: sourceSessions,
		Newsroom: cfg.Newsroom, Salt: salt, Archive: cfg.Archive, MaxUpload: cfg.MaxUpload, ExitURL: cfg.ExitURL,
		SpoolDir: st.Local.TempDir(), Onion: cfg.Onion, Uploads: up, ScrubBudget: scrubBudget(cfg.ScrubMemory),
		Gate: gate, PoW: puzzle, Clock: clock,
	}).Register(mux)
	up.RequireProof(func(sol string) error { _, err := puzzle.Verify(sol); return err })
	if err := up.Register(mux); err != nil {
		return nil, err
	}
	(&newsroom.Handler{
		Auth: auth, Journalists: st.Journalists, Desks: st.Desks, Tips: st.Tips, Team: st.Team, Blobs: st.Blobs, RPID: cfg.WebAuthnRPID,
		Sessions: journalistSessions, CSRF: csrf, Render: render, Log: cfg.Log, Shared: st.Shared,
		Newsroom: cfg.Newsroom, Archive: cfg.Archive, NoServerReplies: cfg.NoServerReplies, MaxUpload: cfg.MaxUpload,
		Clock: clock,
	}).Register(mux)
	(&api.Handler{
		Auth: auth, Desks: st.Desks, Tips: st.Tips, Blobs: st.Blobs, Tokens: apiTokens, Log: cfg.Log,
		SourceTokens: sourceTokens, Salt: salt, Archive: cfg.Archive, MaxUpload: cfg.MaxUpload,
		PoW: puzzle, Clock: clock,
	}).Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		render.Error(w, ui.NewPage(r, cfg.Newsroom, "error.title"), http.StatusNotFound, "error.notfound", "/")
	})
	registerHealth(mux, st)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render.Error(w, ui.NewPage(r, cfg.Newsroom, "error.title"), http.StatusForbidden, "error.csrf", "/")
	}))
	return httpx.Headers(cop.Handler(cfg.Metrics.Instrument(mux)), cfg.Onion), nil
}

// sourceKeyPrefix names the keys of sources' sessions in settings, one
// per hour: sourceKeyPrefix and the hour since 1970, in 12 digits, so
// that names sort as their hours.
const sourceKeyPrefix = "source-session-key/"

func sourceKeyName(hour int64) string { return fmt.Sprintf("%s%012d", sourceKeyPrefix, hour) }

// SourceSessionKeys is the key ring sources' web sessions and API tokens
// are sealed with: a key an hour, in settings, so that every instance
// sharing the database opens every session and sessions survive a
// restart; kept three hours (a session's two-hour lifetime and the hour
// it began in), then deleted, so that a cookie copied from a source's
// computer cannot be opened later, even with the database: the cookie
// holds the seed of the source's identity.
func SourceSessionKeys(settings pista.Settings) *httpx.KeyRing {
	return &httpx.KeyRing{
		Window: time.Hour,
		Keep:   3,
		Secret: func(ctx context.Context, hour int64) ([]byte, error) {
			return settings.Secret(ctx, sourceKeyName(hour), 32)
		},
		Forget: func(ctx context.Context, before int64) error {
			return settings.DeleteSecrets(ctx, sourceKeyPrefix, sourceKeyName(before))
		},
	}
}

// SweepOrphans deletes objects that no row refers to: what a crash between
// writing an object and its row left behind, listing every object and
// every row (New sweeps only recent hours, see sweep.go). No write may be
// in flight: never call it on a folder a server holds.
func SweepOrphans(ctx context.Context, tips pista.TipStore, blobs pista.BlobStore) (int, error) {
	used, err := tips.ObjectKeys(ctx)
	if err != nil {
		return 0, err
	}
	all, err := blobs.Keys(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, k := range all {
		if !used[k] {
			if err := blobs.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// clockOf is the intake days' clock of cfg.
func clockOf(cfg Config) forward.Clock { return forward.Clock{Period: cfg.IntakeDay} }

// scrubBudget is the budget of memory bytes for scrubbing a file on
// arrival; 0 means the default.
func scrubBudget(memory int64) scrub.Budget {
	if memory <= 0 {
		return scrub.DefaultBudget
	}
	return scrub.BudgetFor(memory)
}
