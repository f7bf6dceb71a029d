package benchmark

// The flood goals of issue 12: a flood degrades the service fairly but
// never stops it. Measured on a real `pista serve` process, with real
// sources beside a flood of requests for the server's most expensive work
// (flood_attack.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The flood goals.
const (
	// A source without JavaScript hears back within this: a receipt, or
	// "try again in a minute"; the longest over a run.
	GoalFloodAnswer = 5 * time.Second
	// Sources that pay the proof of work keep at least this share of
	// their unflooded throughput.
	GoalFloodPoW = 0.5
	// Peak RSS of the server under the flood.
	GoalFloodPeak = 128 * MiB
)

// FloodOptions say what MeasureFlood does.
type FloodOptions struct {
	// Exe is the pista binary measured, run as `serve`.
	Exe string
	// Client is the pista binary run as `bench --flood-client` (default
	// Exe).
	Client string
	Runs   int
	// Dir is where the temporary data folders go.
	Dir string
	// Duration is how long the real sources send tips, unflooded and then
	// flooded.
	Duration time.Duration
	// Concurrency is the number of flood clients, and Mix their kinds
	// (percent; nil: DefaultFloodMix).
	Concurrency int
	Mix         map[string]int
	// Sources is the number of real sources of each kind (without and
	// with the proof of work) sending tips at once.
	Sources int
	// Nice is the flood process's nice value: the flood yields the CPU to
	// the server and the measuring clients (an attacker floods from
	// machines of its own).
	Nice     int
	Progress io.Writer
}

// DefaultFloodOptions are `pista bench --flood`'s defaults.
func DefaultFloodOptions() FloodOptions {
	return FloodOptions{Runs: 3, Dir: os.TempDir(), Duration: 10 * time.Second, Concurrency: 400, Sources: 4, Nice: 10}
}

// RunBound is the longest one run may take: the server's start, two
// phases, the flood's ramp and the server's stop.
func (o FloodOptions) RunBound() time.Duration { return 3*o.Duration + 10*time.Second }

// Tally is what real sources of one kind saw in one phase.
type Tally struct {
	// OK are tips answered with a receipt (logins: logged in); Retry
	// those told to try again (503 with Retry-After); TooMany those told
	// the server had too many sessions; Other every other answer or
	// failure.
	OK, Retry, TooMany, Other int
	// Times are each request's time until its answer, or its failure.
	Times []time.Duration
	// Elapsed is the phase's length, for the rate.
	Elapsed time.Duration
	// NoPoW are requests meant to carry a proof of work for which the
	// server offered no challenge.
	NoPoW int
	// Abandoned are proofs of work still being solved when the phase
	// ended: no request was made.
	Abandoned int
	// PageMax is the longest load of the landing page (GET /), which a
	// source makes before the request timed.
	PageMax   time.Duration
	Solved    int
	SolveTime time.Duration
	MaxBits   int
	FirstErr  string
}

// Rate is OK answers per second.
func (t Tally) Rate() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.OK) / t.Elapsed.Seconds()
}

// Max is the longest time until an answer.
func (t Tally) Max() time.Duration {
	if len(t.Times) == 0 {
		return 0
	}
	return slices.Max(t.Times)
}

// P95 is the 95th percentile of the times until an answer.
func (t Tally) P95() time.Duration {
	if len(t.Times) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(t.Times))
	return s[min(len(s)-1, (len(s)*95+99)/100-1)]
}

// Attempts is how many requests were made.
func (t Tally) Attempts() int { return t.OK + t.Retry + t.TooMany + t.Other }

// FloodPhase is what the real sources saw in one phase.
type FloodPhase struct {
	NoJS, PoW Tally // new sources' tips without and with the proof of work
	// Login and LoginPoW are a returning source's logins with a real
	// codename, without and with the proof of work.
	Login, LoginPoW Tally
	// ServerCPU and BenchCPU are the CPU time of the server process and
	// of this one (the real sources) over the phase.
	ServerCPU, BenchCPU time.Duration
	Wall                time.Duration
	// Cut is set when the run's bound ended the phase's last requests.
	Cut bool
	// Load is the machine's load average over the last minute at the
	// phase's end (-1: unknown): other work on the machine shows there.
	Load float64
}

// FloodRun is one run's numbers.
type FloodRun struct {
	Baseline, Flooded FloodPhase
	// PeakBaseline is the server's VmHWM after the unflooded phase, Peak
	// after the flood.
	PeakBaseline, Peak int64
	// Flood is what the flood clients did, and FloodCPU the flood
	// process's CPU time.
	Flood    FloodCounts
	FloodErr string
	FloodCPU time.Duration
	Wall     time.Duration
}

// FloodReport is every run of MeasureFlood.
type FloodReport struct {
	Options FloodOptions
	Runs    []FloodRun
}

// MeasureFlood runs the flood o.Runs times, each on a new `pista serve`
// process with a new data folder: real sources unflooded for o.Duration,
// then the same beside the flood for o.Duration.
func MeasureFlood(ctx context.Context, o FloodOptions) (*FloodReport, error) {
	if o.Exe == "" || o.Runs < 1 || o.Duration <= 0 || o.Concurrency < 0 || o.Sources < 1 {
		return nil, errors.New("benchmark: the flood needs a pista binary, at least one run and source, and a duration")
	}
	if o.Client == "" {
		o.Client = o.Exe
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	rep := &FloodReport{Options: o}
	for i := range o.Runs {
		r, err := measureFloodRun(ctx, o, i)
		if err != nil {
			return rep, fmt.Errorf("run %d: %w", i+1, err)
		}
		rep.Runs = append(rep.Runs, r)
		fmt.Fprintf(o.Progress, "run %d: %s\n", i+1, r.summary())
	}
	return rep, nil
}

func (r FloodRun) summary() string {
	b, f := r.Baseline, r.Flooded
	return fmt.Sprintf("unflooded %.1f + %.1f tips/s (no JS + PoW); flooded no JS %d stored, %d retry, %d other, max %.2f s; PoW %.1f tips/s; peak RSS %s; %d flood requests",
		b.NoJS.Rate(), b.PoW.Rate(), f.NoJS.OK, f.NoJS.Retry, f.NoJS.Other+f.NoJS.TooMany, f.NoJS.Max().Seconds(), f.PoW.Rate(), RSS(r.Peak), r.Flood.sent())
}

func measureFloodRun(ctx context.Context, o FloodOptions, i int) (FloodRun, error) {
	var run FloodRun
	start := time.Now()
	// The real sources' requests end in time for the flood and the
	// server to stop within the run's bound: one still waiting then is
	// counted as unanswered.
	ctx, cancel := context.WithTimeout(ctx, o.RunBound()-stopTime)
	defer cancel()
	dir, err := os.MkdirTemp(o.Dir, "pista-flood-*")
	if err != nil {
		return run, err
	}
	defer os.RemoveAll(dir)
	p, err := StartPistaProcess(ctx, o.Exe, filepath.Join(dir, "data"), 64*MiB)
	if err != nil {
		return run, err
	}
	defer p.Stop()
	time.Sleep(200 * time.Millisecond)

	// A source who sent a tip before, and comes back during each phase.
	rs := &realSources{url: p.URL, desk: p.Desk}
	var first Tally
	if rs.codename = rs.tip(ctx, false, &first); rs.codename == "" {
		return run, fmt.Errorf("the first tip got no receipt: %s", first.FirstErr)
	}

	fmt.Fprintf(o.Progress, "run %d: unflooded, %s\n", i+1, o.Duration)
	if run.Baseline, err = rs.phase(ctx, o, p.PID); err != nil {
		return run, err
	}
	if run.Baseline.Cut {
		return run, fmt.Errorf("the unflooded phase did not end within the run's bound (%s): is the machine busy?", o.RunBound())
	}
	if _, run.PeakBaseline, err = MemStatus(p.PID); err != nil {
		return run, fmt.Errorf("the server ended: %w\n%s", err, p.out)
	}

	fmt.Fprintf(o.Progress, "run %d: flooded by %d clients, %s\n", i+1, o.Concurrency, o.Duration)
	fl, err := startFlood(ctx, o, p)
	if err != nil {
		return run, err
	}
	// Let the flood fill the queues before measuring.
	select {
	case <-time.After(min(time.Second, o.Duration/2)):
	case <-ctx.Done():
	}
	run.Flooded, err = rs.phase(ctx, o, p.PID)
	_, hwm, merr := MemStatus(p.PID)
	var ferr error
	run.Flood, run.FloodCPU, ferr = fl.stop()
	if ferr != nil {
		run.FloodErr = ferr.Error()
	}
	if err != nil {
		return run, err
	}
	if merr != nil {
		return run, fmt.Errorf("the server ended under the flood: %w\n%s", merr, p.out)
	}
	run.Peak = hwm
	err = p.Stop()
	run.Wall = time.Since(start)
	return run, err
}

// stopTime is what a run keeps of its bound to stop the flood and the
// server.
const stopTime = 3 * time.Second

// realSources are the measuring clients: sources without JavaScript, with
// the proof of work (a page's script, `pista submit`), and a returning
// source.
type realSources struct {
	url, desk string
	codename  string // the returning source's
	// end is the current phase's: a proof of work still being solved
	// then is abandoned, and not counted (no request was made).
	end time.Time
}

// realTimeout bounds each real request: past it, the source gave up.
const realTimeout = 20 * time.Second

// client is a new browser: its own connections and cookies.
func (rs *realSources) client() (*http.Client, func()) {
	tr := &http.Transport{Proxy: nil, DisableCompression: true}
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: tr, Jar: jar, Timeout: realTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}, tr.CloseIdleConnections
}

// phase runs o.Sources real sources of each kind, and the returning
// source, for o.Duration.
func (rs *realSources) phase(ctx context.Context, o FloodOptions, pid int) (FloodPhase, error) {
	var ph FloodPhase
	s0, serr := CPUTime(pid)
	b0, berr := CPUTime(os.Getpid())
	start := time.Now()
	end := start.Add(o.Duration)
	rs.end = end
	var mu sync.Mutex
	var wg sync.WaitGroup
	loop := func(t *Tally, f func(*Tally)) {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				var one Tally
				f(&one)
				mu.Lock()
				t.add(one)
				mu.Unlock()
			}
		})
	}
	for range o.Sources {
		loop(&ph.NoJS, func(t *Tally) { rs.tip(ctx, false, t) })
		loop(&ph.PoW, func(t *Tally) { rs.tip(ctx, true, t) })
	}
	// The returning source logs in without the proof of work (a page
	// without JavaScript) and with it (the page's script), a few times
	// over the phase: two browsers.
	for _, withPoW := range []bool{false, true} {
		t := &ph.Login
		if withPoW {
			t = &ph.LoginPoW
		}
		loop(t, func(one *Tally) {
			rs.login(ctx, withPoW, one)
			select {
			case <-time.After(250 * time.Millisecond):
			case <-ctx.Done():
			}
		})
	}
	wg.Wait()
	ph.Wall = time.Since(start)
	for _, t := range []*Tally{&ph.NoJS, &ph.PoW, &ph.Login, &ph.LoginPoW} {
		t.Elapsed = ph.Wall
	}
	if s1, err := CPUTime(pid); err == nil && serr == nil {
		ph.ServerCPU = s1 - s0
	}
	if b1, err := CPUTime(os.Getpid()); err == nil && berr == nil {
		ph.BenchCPU = b1 - b0
	}
	ph.Cut = ctx.Err() != nil
	ph.Load = loadAverage()
	return ph, nil
}

// loadAverage is the machine's load average over the last minute, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	x, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return x
}

func (t *Tally) add(o Tally) {
	t.OK += o.OK
	t.Retry += o.Retry
	t.TooMany += o.TooMany
	t.Other += o.Other
	t.Times = append(t.Times, o.Times...)
	t.NoPoW += o.NoPoW
	t.Abandoned += o.Abandoned
	t.PageMax = max(t.PageMax, o.PageMax)
	t.Solved += o.Solved
	t.SolveTime += o.SolveTime
	t.MaxBits = max(t.MaxBits, o.MaxBits)
	if t.FirstErr == "" {
		t.FirstErr = o.FirstErr
	}
}

func (t *Tally) fail(err error) {
	t.Other++
	if t.FirstErr == "" {
		t.FirstErr = err.Error()
	}
}

// page loads the landing page for its CSRF token, and counts the time.
func (rs *realSources) page(ctx context.Context, c *http.Client, t *Tally) (string, error) {
	start := time.Now()
	token, err := csrfToken(ctx, c, rs.url+"/")
	t.PageMax = max(t.PageMax, time.Since(start))
	if err != nil {
		t.fail(err)
	}
	return token, err
}

// prove fetches and solves a challenge of the source pages for a real
// source, and counts it.
func (rs *realSources) prove(ctx context.Context, c *http.Client, t *Tally) (string, bool) {
	sctx, cancel := ctx, func() {}
	if !rs.end.IsZero() {
		sctx, cancel = context.WithDeadline(ctx, rs.end)
	}
	defer cancel()
	sol, bits, took, err := solve(sctx, c, rs.url, PoWPath)
	if err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			t.Abandoned++ // the phase ended
			return "", false
		}
		t.fail(fmt.Errorf("proof of work: %w", err))
		return "", false
	}
	if sol == "" {
		t.NoPoW++
	} else {
		t.Solved++
		t.SolveTime += took
		t.MaxBits = max(t.MaxBits, bits)
	}
	return sol, true
}

var codenameRe = regexp.MustCompile(`(?s)id="codename"[^>]*>(.*?)</p>`)

// tip sends a new source's tip as a browser without JavaScript does (with
// the proof of work if withPoW: what the page's script adds), and counts
// the answer in t; it returns the codename of the receipt, if any. The
// time counted is the POST's: the source has the page already.
func (rs *realSources) tip(ctx context.Context, withPoW bool, t *Tally) string {
	c, done := rs.client()
	defer done()
	token, err := rs.page(ctx, c, t)
	if err != nil {
		return ""
	}
	fields := []field{{"csrf", token}, {"desk", rs.desk}, {"message", "A real source's tip, sent by pista bench --flood."}, {"contact", ""}}
	if withPoW {
		sol, ok := rs.prove(ctx, c, t)
		if !ok {
			return ""
		}
		if sol != "" {
			fields = append(fields, field{PoWField, sol})
		}
	}
	var body strings.Builder
	if err := writeForm(&body, fields, nil); err != nil {
		t.fail(err)
		return ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rs.url+"/submit", strings.NewReader(body.String()))
	if err != nil {
		t.fail(err)
		return ""
	}
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	status, answer, hdr, took, err := send(c, req)
	t.Times = append(t.Times, took)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within the run's bound, after %.1f s", took.Seconds())
		}
		t.fail(fmt.Errorf("POST /submit: %w", err))
		return ""
	}
	if status == http.StatusOK && strings.Contains(answer, receiptTag) {
		t.OK++
		if m := codenameRe.FindStringSubmatch(answer); m != nil {
			return strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, m[1])
		}
		return ""
	}
	t.classify("POST /submit", status, answer, hdr)
	return ""
}

// login logs the returning source in with their codename (with the proof
// of work if withPoW), and counts the answer in t: logged in is a
// redirect to the source's page.
func (rs *realSources) login(ctx context.Context, withPoW bool, t *Tally) {
	c, done := rs.client()
	defer done()
	token, err := rs.page(ctx, c, t)
	if err != nil {
		return
	}
	form := url.Values{"csrf": {token}, "codename": {rs.codename}}
	if withPoW {
		sol, ok := rs.prove(ctx, c, t)
		if !ok {
			return
		}
		if sol != "" {
			form.Set(PoWField, sol)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rs.url+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.fail(err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, answer, hdr, took, err := send(c, req)
	t.Times = append(t.Times, took)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer within the run's bound, after %.1f s", took.Seconds())
		}
		t.fail(fmt.Errorf("POST /login: %w", err))
		return
	}
	if status == http.StatusSeeOther && strings.Contains(hdr.Get("Location"), "/source") {
		t.OK++
		return
	}
	t.classify("POST /login", status, answer, hdr)
}

// send makes a request and reads its answer, and says how long that took.
func send(c *http.Client, req *http.Request) (int, string, http.Header, time.Duration, error) {
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, time.Since(start), err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, string(b), resp.Header, time.Since(start), err
}

// classify counts an answer that is neither a receipt nor a login.
func (t *Tally) classify(what string, status int, answer string, hdr http.Header) {
	switch {
	case tooManySessions(status, hdr, []byte(answer)):
		t.TooMany++
		if t.FirstErr == "" {
			t.FirstErr = what + ": too many sessions"
		}
	case status == http.StatusServiceUnavailable && hdr.Get("Retry-After") != "":
		t.Retry++
	case status == http.StatusServiceUnavailable:
		t.fail(fmt.Errorf("%s: 503 without Retry-After\n%s", what, snippet([]byte(answer))))
	default:
		t.fail(fmt.Errorf("%s: %d\n%s", what, status, snippet([]byte(answer))))
	}
}

// floodProcess is a running `pista bench --flood-client`.
type floodProcess struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	counts chan floodResult
	out    *tail
}

type floodResult struct {
	counts FloodCounts
	err    error
}

// startFlood starts the flood process and waits until it floods.
func startFlood(ctx context.Context, o FloodOptions, p *Process) (*floodProcess, error) {
	plan, err := json.Marshal(FloodPlan{URL: p.URL, Desk: p.Desk, Clients: FloodMix(o.Concurrency, o.Mix), Max: 2*o.Duration + 30*time.Second, Nice: o.Nice})
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.Client, "bench", FloodClientFlag, string(plan))
	fl := &floodProcess{cmd: cmd, counts: make(chan floodResult, 1), out: &tail{}}
	cmd.Stderr = fl.out
	if fl.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	go func() {
		c, err := readFloodOutput(stdout, ready)
		fl.counts <- floodResult{c, err}
	}()
	select {
	case <-ready:
		return fl, nil
	case r := <-fl.counts:
		fl.counts <- r
		fl.stop()
		return nil, fmt.Errorf("the flood did not start: %v\n%s", r.err, fl.out)
	case <-time.After(15 * time.Second):
	case <-ctx.Done():
	}
	fl.stop()
	return nil, fmt.Errorf("the flood did not start within 15 s\n%s", fl.out)
}

// stop ends the flood (closing its stdin), and returns what it did and
// the CPU time it took.
func (fl *floodProcess) stop() (FloodCounts, time.Duration, error) {
	fl.stdin.Close()
	var r floodResult
	select {
	case r = <-fl.counts:
	case <-time.After(10 * time.Second):
		fl.cmd.Process.Kill()
		r = <-fl.counts
	}
	fl.cmd.Wait()
	var cpu time.Duration
	if s := fl.cmd.ProcessState; s != nil {
		cpu = s.UserTime() + s.SystemTime()
	}
	if r.err != nil {
		return nil, cpu, fmt.Errorf("%w\n%s", r.err, fl.out)
	}
	return r.counts, cpu, nil
}
