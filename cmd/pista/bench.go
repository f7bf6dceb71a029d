package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/pista-tips/pista/benchmark"
)

const benchHelp = `
pista bench measures the upload path on this machine (issue 5): a large
file sent without JavaScript, one multipart POST, through the real server,
against a baseline measured in the same run, a minimal handler that streams
the same request through age (one post-quantum recipient) into a file on the
same disk and fsyncs it. Then the peak resident memory (VmHWM) of a
"pista serve" process taking one upload, and four at once; and the same for
the baseline in a process of its own.

Each run uses a new folder under --dir and deletes every file as soon as it
is measured; it needs 6 GiB free (or five times --size). Throughput is of
the file's bytes, in MiB/s; the table shows the medians of the runs and the
ratio of each run. Machines are noisy: compare pista with the baseline of
the same run, not with numbers of another day.

With --goals it measures instead the memory goals of issue 11, each on
a new "pista serve" process of its own (peak RSS, VmHWM), and prints each
with PASS or OVER:

    (a) one 1 GiB upload peaks within 4 MiB of one 1 MiB upload
    (b) one upload: ≤ 64 MiB
    (c) 16 new sources sending tips and 4 uploads at once: ≤ 128 MiB
    (d) 4 hostile files (≤ 2 MB each, inflating to hundreds of MiB)
        scrubbed at once: ≤ 128 MiB

A server that passes 1 GiB of RSS is stopped there (a hostile file can
take gigabytes). Then the throughput of new sources' tips (16 at once, no
file) and the server's CPU time per tip, against Argon2id alone in the
same run (its rate and its CPU time per derivation): on a machine busy
with other work, CPU per tip is the steadier figure. --against measures
another pista binary in the same runs, alternating (before and after a
change). --check exits with status 1 when a goal is over.

With --flood it measures instead the flood goals of issue 12, on a new
"pista serve" process a run: real sources send tips for --duration, 4
without JavaScript and 4 with the proof of work (GET /pow), and a
returning source logs in; then the same beside a flood of
--flood-concurrency clients (most of them wrong-codename logins, a tenth
new sources through the API paying its proof of work, a tenth
submissions trickling a few bytes a second; --flood-mix changes that,
and can add new tips without JavaScript, spam in the inbox that competes
with the real sources' lane). The flood runs in a process of its own at
a lower priority (nice 10), so that its clients do not starve the
measuring ones of CPU; the table gives the CPU time of the server, of
the real sources and of the flood. Goals:

    a tip without JavaScript is answered (a receipt, or "try again")
        within 5 s, the longest of a run
    tips with the proof of work keep half their unflooded rate
    the server's peak RSS stays ≤ 128 MiB
    no request is told "too many sessions"

A run takes at most 3 × --duration + 10 s.

With --scale it measures instead an instance of --scale-items
conversations (default 1,000,000, built in bulk straight into the
database, with an object each) on SQLite, on PostgreSQL (a schema of
its own on the --database server, dropped afterwards) or both
(--scale-backend): the start-up time and peak RSS of "pista serve" on
it, every inbox filter at the first page and deep, over HTTP, logged
in (goal ≤ 10 ms each), new sources' tips per second, PostgreSQL's
against SQLite's (goal ≥ 0.8), and with --objects a 1 GiB upload to the
bucket against age streaming into the same bucket (goal ≥ 0.9). It needs
about 5 GiB free on --dir at 1,000,000 items.

Usage:
    pista bench [--size SIZE] [--runs N] [--dir DIR] [flags]
    pista bench --goals [--check] [--runs N] [--duration D] [--against FILE] [flags]
    pista bench --flood [--check] [--runs N] [--duration D] [--flood-concurrency N] [--flood-mix MIX]
    pista bench --scale [--check] [--scale-items N] [--scale-backend sqlite|postgres|both] [--database URL] [--objects URL]

The memory figures are those of the binary that runs: build it as a
release is built (static, no C library) to measure what a server runs:

    CGO_ENABLED=0 go build -trimpath -o pista ./cmd/pista

Examples:
    $ pista bench
    $ pista bench --size 256MiB --runs 5 --memory=false
    $ pista bench --runs 1 --memory=false --cpuprofile cpu.out && go tool pprof -top cpu.out
    $ pista bench --goals --check --runs 1 --duration 5s
    $ pista bench --goals --runs 5 --against ./pista-main
    $ pista bench --flood --check --runs 1 --duration 5s
    $ pista bench --flood --flood-mix login=60,api=10,slow=10,tip=20
    $ pista bench --scale --scale-items 100000 --scale-backend sqlite
    $ AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… pista bench --scale --objects 's3://bench?endpoint=127.0.0.1:9000&tls=false'
`

func runBench(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == benchmark.BaselineServerFlag {
		// Hidden: the baseline handler alone, for its memory to be measured.
		if len(args) != 2 {
			return fmt.Errorf("usage: pista bench %s DIR", benchmark.BaselineServerFlag)
		}
		return benchmark.ServeBaseline(ctx, args[1], e.stderr)
	}
	if len(args) > 0 && args[0] == benchmark.FloodClientFlag {
		// Hidden: the flood alone, in a process of its own (--flood).
		if len(args) != 2 {
			return fmt.Errorf("usage: pista bench %s PLAN", benchmark.FloodClientFlag)
		}
		return benchmark.RunFloodClient(ctx, args[1], e.stdin, e.stdout)
	}
	fs := newFlags(e, "bench", benchHelp)
	size := fs.String("size", "1GiB", "the `SIZE` of the file of each upload (64MiB, 1GiB…)")
	runs := fs.Int("runs", 3, "how many times to measure everything (`N`); the table shows medians")
	dir := fs.String("dir", os.TempDir(), "where the temporary data folders go (`DIR`): on the disk to measure")
	memory := fs.Bool("memory", true, "also measure peak RSS, with the servers in processes of their own")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this process (the in-process servers and the clients) to `FILE`")
	goals := fs.Bool("goals", false, "measure the memory goals and new sources' throughput instead")
	check := fs.Bool("check", false, "with --goals or --flood: exit with status 1 if a goal is not met")
	flood := fs.Bool("flood", false, "measure the flood goals (issue 12) instead")
	floodClients := fs.Int("flood-concurrency", 400, "with --flood: how many flood clients at once (`N`)")
	floodMix := fs.String("flood-mix", "login=80,api=10,slow=10", "with --flood: the kinds of flood client, in percent (`MIX` of login, api, slow and tip: new tips without JavaScript)")
	large := fs.String("large", "1GiB", "with --goals: the `SIZE` of goal (a)'s large upload")
	duration := fs.Duration("duration", 10*time.Second, "with --goals or --flood: how long new sources send tips, per measurement (`D`)")
	against := fs.String("against", "", "with --goals: also measure this other pista binary (`FILE`) in the same runs")
	serveExe := fs.String("serve", "", "with --goals or --flood: measure this pista binary (`FILE`; default: this one)")
	hostile := fs.Bool("hostile", true, "with --goals: measure goal (d), hostile files")
	only := fs.String("only", "", "with --goals: run only these scenarios (`LIST`, comma-separated: "+strings.Join(benchmark.Scenarios, ",")+")")
	scale := fs.Bool("scale", false, "measure an instance of --scale-items conversations instead")
	scaleItems := fs.Int("scale-items", 1000000, "with --scale: how many conversations (`N`)")
	scaleBackend := fs.String("scale-backend", "both", "with --scale: `sqlite`, postgres or both")
	database := fs.String("database", benchmark.DefaultScaleDatabase, "with --scale: the PostgreSQL server (`URL`); a schema is made in it and dropped")
	objects := fs.String("objects", "", "with --scale: an S3 bucket (`URL`, as pista serve --objects) for the upload to a bucket")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *scale {
		if *goals || *flood {
			return hint(errors.New("--scale, --goals and --flood are separate measurements"), "run one, then the other")
		}
		return runScale(ctx, e, *scaleItems, *scaleBackend, *database, *objects, *dir, *size, *duration, *serveExe, *check)
	}
	if *flood {
		if *goals {
			return hint(errors.New("--flood and --goals are separate measurements"), "run one, then the other")
		}
		mix, err := benchmark.ParseFloodMix(*floodMix)
		if err != nil {
			return hint(fmt.Errorf("--flood-mix: %w", err), "write shares such as login=70,api=10,slow=10,tip=10")
		}
		return runFlood(ctx, e, *runs, *dir, *duration, *floodClients, mix, *serveExe, *check)
	}
	if *goals {
		var scenarios []string
		if *only != "" {
			scenarios = strings.Split(*only, ",")
		}
		return runGoals(ctx, e, *runs, *dir, *large, *duration, *serveExe, *against, *hostile, scenarios, *check)
	}
	if *check {
		return hint(errors.New("--check goes with --goals or --flood"), "pista bench --goals --check")
	}
	n, err := parseSize(*size)
	if err != nil {
		return hint(fmt.Errorf("--size: %w", err), "write a size such as 64MiB or 1GiB")
	}
	if *runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	o := benchmark.Options{
		Size: n, Runs: *runs, Dir: *dir, Progress: e.stderr,
		Log: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if *memory {
		if o.Exe, err = os.Executable(); err != nil {
			return hint(err, "run with --memory=false, or build pista and run the binary")
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := benchmark.Measure(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr)
	rep.WriteTable(e.stdout)
	if *memory && builtWithCgo() {
		fmt.Fprintln(e.stdout, "note: this pista was built with cgo, so it loads the system's C library (for Go's DNS resolver),\n"+
			"      about 1.6 MiB more resident than a release build: CGO_ENABLED=0 go build -trimpath ./cmd/pista")
	}
	return nil
}

// runGoals is pista bench --goals.
func runGoals(ctx context.Context, e env, runs int, dir, large string, d time.Duration, serveExe, against string, hostile bool, only []string, check bool) error {
	o := benchmark.DefaultGoalOptions()
	var err error
	if o.Large, err = parseSize(large); err != nil {
		return hint(fmt.Errorf("--large: %w", err), "write a size such as 256MiB or 1GiB")
	}
	if runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	if d <= 0 {
		return errors.New("--duration must be positive")
	}
	o.Runs, o.Dir, o.Duration, o.Hostile, o.Only, o.Progress = runs, dir, d, hostile, only, e.stderr
	if serveExe != "" {
		o.Exe, err = filepath.Abs(serveExe)
	} else {
		o.Exe, err = os.Executable()
	}
	if err != nil {
		return hint(err, "build pista and run the binary")
	}
	if against != "" {
		if o.Against, err = filepath.Abs(against); err != nil {
			return err
		}
	}
	rep, err := benchmark.MeasureGoals(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr)
	met := rep.WriteTable(e.stdout)
	if builtWithCgo() {
		fmt.Fprintln(e.stdout, "note: this pista was built with cgo: about 1.6 MiB more resident than a release build (CGO_ENABLED=0)")
	}
	if check && !met {
		return errors.New("a memory goal is over")
	}
	return nil
}

// runFlood is pista bench --flood.
func runFlood(ctx context.Context, e env, runs int, dir string, d time.Duration, clients int, mix map[string]int, serveExe string, check bool) error {
	o := benchmark.DefaultFloodOptions()
	if runs < 1 {
		return errors.New("--runs must be at least 1")
	}
	if d <= 0 {
		return errors.New("--duration must be positive")
	}
	if clients < 0 {
		return errors.New("--flood-concurrency must not be negative")
	}
	o.Runs, o.Dir, o.Duration, o.Concurrency, o.Mix, o.Progress = runs, dir, d, clients, mix, e.stderr
	var err error
	if o.Client, err = os.Executable(); err != nil {
		return hint(err, "build pista and run the binary")
	}
	o.Exe = o.Client
	if serveExe != "" {
		if o.Exe, err = filepath.Abs(serveExe); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "at most %s in all (%d runs of at most %s)\n", time.Duration(runs)*o.RunBound(), runs, o.RunBound())
	rep, err := benchmark.MeasureFlood(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr)
	met := rep.WriteTable(e.stdout)
	if check && !met {
		return errors.New("a flood goal is not met")
	}
	return nil
}

// runScale is pista bench --scale.
func runScale(ctx context.Context, e env, items int, backend, database, objects, dir, size string, d time.Duration, serveExe string, check bool) error {
	o := benchmark.DefaultScaleOptions()
	if items < 10 {
		return errors.New("--scale-items must be at least 10")
	}
	switch backend {
	case "sqlite", "postgres":
		o.Backends = []string{backend}
	case "both":
	default:
		return hint(fmt.Errorf("--scale-backend %q", backend), "write sqlite, postgres or both")
	}
	var err error
	if o.Upload, err = parseSize(size); err != nil {
		return hint(fmt.Errorf("--size: %w", err), "write a size such as 64MiB or 1GiB")
	}
	if d <= 0 {
		return errors.New("--duration must be positive")
	}
	o.Items, o.Database, o.Objects, o.Dir, o.TipTime, o.Progress = items, database, objects, dir, d, e.stderr
	if serveExe != "" {
		o.Exe, err = filepath.Abs(serveExe)
	} else {
		o.Exe, err = os.Executable()
	}
	if err != nil {
		return hint(err, "build pista and run the binary")
	}
	rep, err := benchmark.MeasureScale(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stderr)
	met := rep.WriteTable(e.stdout)
	if check && !met {
		return benchmark.ErrScaleGoal
	}
	return nil
}

// builtWithCgo reports whether this binary was built with CGO_ENABLED=1:
// pista has no C code, but Go's net package then links the C library.
func builtWithCgo() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	return false
}
