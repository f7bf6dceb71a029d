package benchmark

// The memory goals of issue 11 (points 10 and 1), measured on real
// `pista serve` processes, and the new-source throughput they must leave
// room for.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/pista-tips/pista/keys"
)

// The memory goals: peak RSS (VmHWM) of a `pista serve` process.
const (
	// (a) Memory does not grow with a file's size: one upload of 1 GiB
	// peaks within this of one of 1 MiB.
	GoalGrowth = 4 * MiB
	// (b) One upload.
	GoalOne = 64 * MiB
	// (c) 16 new sources and 4 uploads at once.
	GoalMixed = 128 * MiB
	// (d) Four hostile files of at most 2 MB scrubbed at once (point 1).
	GoalHostile = 128 * MiB
)

// GoalOptions say what MeasureGoals does.
type GoalOptions struct {
	// Exe is the pista binary measured, run as `serve`.
	Exe string
	// Against, if not "", is another pista binary measured in the same
	// runs, alternating with Exe, for a before/after ratio.
	Against string
	Runs    int
	// Dir is where the temporary data folders go.
	Dir string
	// Small and Large are the file sizes of goal (a); Large alone is also
	// goal (b)'s upload, with Small.
	Small, Large int64
	// Sources and Uploads are goal (c)'s new sources and uploads at once,
	// and MixedSize the file of each upload.
	Sources, Uploads int
	MixedSize        int64
	// Duration is how long the new sources send tips, alone (the
	// throughput measurement) and before goal (c)'s uploads start.
	Duration time.Duration
	// Hostile measures goal (d).
	Hostile bool
	// Only, if not empty, are the scenarios to run (ScenarioSmall…), for
	// a quicker look at one of them.
	Only []string
	// KillAbove stops a server whose RSS passes it (a hostile file can
	// take gigabytes): its peak is then reported as at least that.
	KillAbove int64
	Progress  io.Writer
}

// DefaultGoalOptions are `pista bench --goals`'s defaults.
func DefaultGoalOptions() GoalOptions {
	return GoalOptions{
		Runs: 3, Dir: os.TempDir(), Small: MiB, Large: GiB,
		Sources: 16, Uploads: 4, MixedSize: 64 * MiB,
		Duration: 10 * time.Second, Hostile: true, KillAbove: GiB,
	}
}

// Scenario is what one scenario measured on one server process.
type Scenario struct {
	Peak int64 // VmHWM at the end, or the highest RSS sampled if killed
	// New-source tips answered with a receipt, and those refused or
	// failed, and their rate over the scenario.
	Tips, Errors int
	Rate         float64
	// CPU is the server process's CPU time over the scenario: per tip,
	// it says what a tip costs even on a machine busy with other work,
	// where the rate says more about the neighbours.
	CPU       time.Duration
	Killed    bool   // stopped at KillAbove
	Err       string // the first error, if any, but of a new source's tip
	SourceErr string // the first error of a new source's tip
}

// Scenario names, in the order they run.
const (
	ScenarioSmall   = "upload-small"
	ScenarioLarge   = "upload-large"
	ScenarioSources = "sources"
	ScenarioMixed   = "mixed"
	ScenarioHostile = "hostile"
)

// Scenarios are every scenario's name, in order.
var Scenarios = []string{ScenarioSmall, ScenarioLarge, ScenarioSources, ScenarioMixed, ScenarioHostile}

// GoalRun is one run's numbers.
type GoalRun struct {
	// Argon is Argon2id derivations per second at a new instance's
	// codename parameters, GOMAXPROCS at once, in this process: the most
	// new-source tips per second this machine could take now (on a
	// machine busy with other work, it varies with the neighbours).
	Argon float64
	// ArgonCPU is the CPU time of one of those derivations: what a tip
	// cannot cost less than, steadier than the rate.
	ArgonCPU time.Duration
	// Results by binary ("pista", "against") and scenario.
	Results map[string]map[string]Scenario
}

// GoalReport is every run of MeasureGoals.
type GoalReport struct {
	Options GoalOptions
	Runs    []GoalRun
}

// MeasureGoals runs every scenario o.Runs times, each on a new `pista
// serve` process with a new data folder.
func MeasureGoals(ctx context.Context, o GoalOptions) (*GoalReport, error) {
	if o.Exe == "" || o.Runs < 1 {
		return nil, errors.New("benchmark: goals need a pista binary and at least one run")
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	exes := []struct{ label, exe string }{{"pista", o.Exe}}
	if o.Against != "" {
		exes = append(exes, struct{ label, exe string }{"against", o.Against})
	}
	names := slices.Clone(Scenarios)
	if !o.Hostile {
		names = names[:len(names)-1]
	} else {
		files, err := HostileFiles()
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			fmt.Fprintf(o.Progress, "hostile file %s: %d bytes\n", f.Name, len(f.Data))
		}
	}
	if len(o.Only) > 0 {
		names = slices.DeleteFunc(names, func(n string) bool { return !slices.Contains(o.Only, n) })
		if len(names) == 0 {
			return nil, fmt.Errorf("benchmark: no scenario among %q; there are %s", o.Only, strings.Join(Scenarios, ", "))
		}
	}
	rep := &GoalReport{Options: o}
	for i := range o.Runs {
		if err := checkFree(o.Dir, max(o.Large, int64(o.Uploads)*o.MixedSize)); err != nil {
			return rep, err
		}
		run := GoalRun{Results: map[string]map[string]Scenario{}}
		run.Argon, run.ArgonCPU = ArgonRate(min(o.Duration, 3*time.Second))
		fmt.Fprintf(o.Progress, "run %d: Argon2id alone: %.1f derivations/s, %.1f ms of CPU each\n", i+1, run.Argon, ms(run.ArgonCPU))
		for _, name := range names {
			order := exes
			if i%2 == 1 && len(exes) == 2 {
				order = []struct{ label, exe string }{exes[1], exes[0]}
			}
			for _, e := range order {
				s, err := measureScenario(ctx, o, e.exe, name)
				if err != nil {
					return rep, fmt.Errorf("run %d, %s, %s: %w", i+1, e.label, name, err)
				}
				if run.Results[e.label] == nil {
					run.Results[e.label] = map[string]Scenario{}
				}
				run.Results[e.label][name] = s
				fmt.Fprintf(o.Progress, "run %d: %-8s %-13s peak RSS %s%s\n", i+1, e.label, name, RSS(s.Peak), s.detail())
			}
		}
		rep.Runs = append(rep.Runs, run)
	}
	return rep, nil
}

func (s Scenario) detail() string {
	var b strings.Builder
	if s.Tips > 0 || s.Errors > 0 {
		fmt.Fprintf(&b, "; %d tips, %.1f tips/s, %d errors; server CPU %.2f s, %.1f ms per tip", s.Tips, s.Rate, s.Errors, s.CPU.Seconds(), s.cpuPerTip())
	}
	if s.Killed {
		b.WriteString("; stopped at the ceiling")
	}
	if s.Err != "" {
		fmt.Fprintf(&b, "; error: %s", firstLine(s.Err))
	}
	if s.SourceErr != "" {
		fmt.Fprintf(&b, "; first tip error: %s", firstLine(s.SourceErr))
	}
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// cpuPerTip is the server's CPU time per tip, in milliseconds.
func (s Scenario) cpuPerTip() float64 {
	if s.Tips == 0 {
		return 0
	}
	return float64(s.CPU.Milliseconds()) / float64(s.Tips)
}

// measureScenario runs one scenario on a new server process.
func measureScenario(ctx context.Context, o GoalOptions, exe, name string) (Scenario, error) {
	dir, err := os.MkdirTemp(o.Dir, "pista-goals-*")
	if err != nil {
		return Scenario{}, err
	}
	defer os.RemoveAll(dir)
	maxUpload := max(4*GiB, o.Large+MiB)
	p, err := StartPistaProcess(ctx, exe, filepath.Join(dir, "data"), maxUpload)
	if err != nil {
		return Scenario{}, err
	}
	defer p.Stop()
	// Let the process settle after start-up (its first GC cycles).
	time.Sleep(200 * time.Millisecond)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var s Scenario
	var sampled atomic.Int64
	var killed atomic.Bool
	watched := make(chan struct{})
	go func() {
		// Sample RSS as MeasureMemory does; stop a server that passes
		// the ceiling, and end the scenario's requests.
		defer close(watched)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rss, _, err := MemStatus(p.PID)
			if err != nil {
				return
			}
			if rss > sampled.Load() {
				sampled.Store(rss)
			}
			if o.KillAbove > 0 && rss > o.KillAbove {
				killed.Store(true)
				p.cmd.Process.Kill()
				cancel()
				return
			}
		}
	}()
	cpu0, cpuErr := CPUTime(p.PID)
	var errs []error
	switch name {
	case ScenarioSmall, ScenarioLarge:
		size := o.Small
		if name == ScenarioLarge {
			size = o.Large
		}
		if _, err := p.Upload(ctx, size, nil); err != nil {
			errs = append(errs, err)
		}
	case ScenarioSources:
		stop := make(chan struct{})
		t := time.AfterFunc(o.Duration, func() { close(stop) })
		defer t.Stop()
		l := NewSources(ctx, p.Target, o.Sources, stop)
		s.Tips, s.Errors, s.Rate = l.Tips, l.Errors, l.Rate()
		if l.Err != nil {
			s.SourceErr = l.Err.Error()
		}
	case ScenarioMixed:
		// The sources run alone a moment, then the uploads start; the
		// sources stop when the last upload is answered.
		stop := make(chan struct{})
		loaded := make(chan Load, 1)
		go func() { loaded <- NewSources(ctx, p.Target, o.Sources, stop) }()
		select {
		case <-time.After(min(o.Duration/4, 2*time.Second)):
		case <-ctx.Done():
		}
		errs = append(errs, parallel(o.Uploads, func(int) error {
			_, err := p.Upload(ctx, o.MixedSize, nil)
			return err
		}))
		close(stop)
		l := <-loaded
		s.Tips, s.Errors, s.Rate = l.Tips, l.Errors, l.Rate()
		if l.Err != nil {
			s.SourceErr = l.Err.Error()
		}
	case ScenarioHostile:
		files, err := HostileFiles()
		if err != nil {
			return s, err
		}
		errs = append(errs, parallel(len(files), func(i int) error {
			return p.Tip(ctx, &files[i])
		}))
	default:
		return s, fmt.Errorf("no scenario %q", name)
	}
	if cpu1, err := CPUTime(p.PID); err == nil && cpuErr == nil {
		s.CPU = cpu1 - cpu0
	}
	cancel()
	<-watched
	s.Killed = killed.Load()
	if s.Killed {
		s.Peak = max(sampled.Load(), o.KillAbove)
		s.Err = fmt.Sprintf("the server passed %s of RSS and was stopped", Human(o.KillAbove))
		return s, nil
	}
	_, hwm, err := MemStatus(p.PID)
	if err != nil {
		// The process ended by itself (killed by the system?).
		s.Peak = sampled.Load()
		errs = append(errs, fmt.Errorf("the server ended: %w\n%s", err, p.out))
	}
	s.Peak = max(hwm, sampled.Load())
	if err := errors.Join(errs...); err != nil {
		s.Err = err.Error()
	}
	return s, nil
}

// parallel runs f(0)…f(n-1) at once and joins their errors.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ms is a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ArgonRate is how many Argon2id derivations at a new instance's codename
// parameters (keys.CodenameKDF) this process completes per second for d,
// GOMAXPROCS at once: the ceiling of new-source tips on this machine now;
// and the CPU time each took (0 if unknown).
func ArgonRate(d time.Duration) (float64, time.Duration) {
	k := keys.CodenameKDF
	salt := make([]byte, keys.SaltSize)
	var n atomic.Int64
	deadline := time.Now().Add(d)
	cpu0, cpuErr := CPUTime(os.Getpid())
	start := time.Now()
	parallel(runtime.GOMAXPROCS(0), func(int) error {
		for time.Now().Before(deadline) {
			argon2.IDKey([]byte("ceiling"), salt, k.Time, k.Memory, k.Threads, keys.MasterSize)
			n.Add(1)
		}
		return nil
	})
	rate := float64(n.Load()) / time.Since(start).Seconds()
	cpu1, err := CPUTime(os.Getpid())
	if err != nil || cpuErr != nil || n.Load() == 0 {
		return rate, 0
	}
	return rate, (cpu1 - cpu0) / time.Duration(n.Load())
}

// ---------------------------------------------------------------------
// New sources.

// Load is what NewSources measured.
type Load struct {
	Tips, Errors int
	Elapsed      time.Duration
	Err          error // the first error
}

// Rate is tips answered with a receipt per second.
func (l Load) Rate() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Tips) / l.Elapsed.Seconds()
}

// NewSources runs c new sources at once, each sending a tip after
// another (Tip, without a file) until stop is closed or ctx ends, and
// counts the tips answered with a receipt until the last answer.
func NewSources(ctx context.Context, t *Target, c int, stop <-chan struct{}) Load {
	var mu sync.Mutex
	var l Load
	start := time.Now()
	parallel(c, func(int) error {
		for {
			select {
			case <-stop:
				return nil
			case <-ctx.Done():
				return nil
			default:
			}
			err := t.Tip(ctx, nil)
			mu.Lock()
			if err == nil {
				l.Tips++
			} else if ctx.Err() == nil {
				l.Errors++
				if l.Err == nil {
					l.Err = err
				}
			}
			mu.Unlock()
		}
	})
	l.Elapsed = time.Since(start)
	return l
}

// Tip sends a new source's tip as a browser without JavaScript does: GET /
// for the CSRF token (and the session cookie it is bound to), then POST
// /submit with the desk, a short message and file if not nil (scrubbed:
// the form has no keep_metadata). The answer must be the receipt page.
func (t *Target) Tip(ctx context.Context, file *File) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: t.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	token, err := csrfToken(ctx, c, t.URL+"/")
	if err != nil {
		return err
	}
	fields := []field{{"csrf", token}, {"desk", t.Desk}, {"message", "A new source's tip, sent by pista bench."}, {"contact", ""}}
	var part *filePart
	if file != nil {
		part = &filePart{file.Name, file.Type, bytes.NewReader(file.Data)}
	}
	var body bytes.Buffer
	if err := writeForm(&body, fields, part); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/submit", &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST /submit: %w", err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("POST /submit: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(receiptTag)) {
		return fmt.Errorf("POST /submit: %s, not the receipt page\n%s", resp.Status, snippet(answer))
	}
	return nil
}

// ---------------------------------------------------------------------
// The table.

// Goal is one goal's verdict.
type Goal struct {
	Name     string  // "(a) 1 GiB upload vs 1 MiB"…
	Value    float64 // bytes, the median of the runs
	Limit    int64
	Signed   bool // Value is a difference
	Against  float64
	Measured bool // false: not measured (e.g. --hostile=false)
	Killed   bool // a server was stopped at KillAbove
	Failed   string
}

// Met reports whether the goal was measured and met.
func (g Goal) Met() bool { return g.Measured && g.Failed == "" && g.Value <= float64(g.Limit) }

// median of one scenario's field over the runs, for one binary.
func (rep *GoalReport) median(label, name string, f func(Scenario) float64) (float64, bool) {
	var xs []float64
	for _, r := range rep.Runs {
		if s, ok := r.Results[label][name]; ok {
			xs = append(xs, f(s))
		}
	}
	return Median(xs), len(xs) > 0
}

func peak(s Scenario) float64 { return float64(s.Peak) }

// failed is the first error of a scenario in any run.
func (rep *GoalReport) failed(label string, names ...string) string {
	for _, r := range rep.Runs {
		for _, n := range names {
			if s, ok := r.Results[label][n]; ok && s.Err != "" && !s.Killed {
				return s.Err
			}
		}
	}
	return ""
}

// killed reports whether a scenario's server was stopped at KillAbove in
// any run.
func (rep *GoalReport) killed(label, name string) bool {
	for _, r := range rep.Runs {
		if r.Results[label][name].Killed {
			return true
		}
	}
	return false
}

// Goals are the verdicts, for the binary labelled label ("pista").
func (rep *GoalReport) Goals(label string) []Goal {
	o := rep.Options
	growth := func(s map[string]Scenario) (float64, bool) {
		a, ok1 := s[ScenarioLarge]
		b, ok2 := s[ScenarioSmall]
		return float64(a.Peak - b.Peak), ok1 && ok2
	}
	var diffs []float64
	for _, r := range rep.Runs {
		if d, ok := growth(r.Results[label]); ok {
			diffs = append(diffs, d)
		}
	}
	small, _ := rep.median(label, ScenarioSmall, peak)
	large, _ := rep.median(label, ScenarioLarge, peak)
	mixed, okMixed := rep.median(label, ScenarioMixed, peak)
	hostile, okHostile := rep.median(label, ScenarioHostile, peak)
	return []Goal{
		{Name: fmt.Sprintf("(a) one %s upload vs %s", Human(o.Large), Human(o.Small)), Value: Median(diffs), Limit: GoalGrowth, Signed: true,
			Measured: len(diffs) > 0, Failed: rep.failed(label, ScenarioSmall, ScenarioLarge)},
		{Name: "(b) one upload", Value: max(small, large), Limit: GoalOne, Measured: len(diffs) > 0,
			Failed: rep.failed(label, ScenarioSmall, ScenarioLarge)},
		{Name: fmt.Sprintf("(c) %d new sources + %d uploads", o.Sources, o.Uploads), Value: mixed, Limit: GoalMixed, Measured: okMixed,
			Failed: rep.failed(label, ScenarioMixed)},
		{Name: "(d) 4 hostile files scrubbed", Value: hostile, Limit: GoalHostile, Measured: okHostile,
			Failed: rep.failed(label, ScenarioHostile), Killed: rep.killed(label, ScenarioHostile)},
	}
}

// WriteTable writes each goal with its median and verdict, then the
// new-source throughput, and returns whether every measured goal was met.
func (rep *GoalReport) WriteTable(w io.Writer) bool {
	n := len(rep.Runs)
	if n == 0 {
		return false
	}
	o := rep.Options
	against := o.Against != ""
	fmt.Fprintf(w, "memory goals (issue 11): peak RSS (VmHWM) of a pista serve process, median of %d run(s)\n", n)
	ok := true
	var others []Goal
	if against {
		others = rep.Goals("against")
	}
	for i, g := range rep.Goals("pista") {
		if !g.Measured {
			fmt.Fprintf(w, "  %-34s not measured\n", g.Name)
			continue
		}
		val := RSS(int64(g.Value))
		limit := "≤ " + Human(g.Limit)
		if g.Signed {
			val = fmt.Sprintf("%+.1f MiB", g.Value/MiB)
			limit = "≤ +" + Human(g.Limit)
		}
		v := "PASS"
		if !g.Met() {
			v, ok = "OVER", false
		}
		if g.Failed != "" {
			v = "FAILED"
		}
		line := fmt.Sprintf("  %-34s %-12s goal %-10s %s", g.Name, val, limit, v)
		if against && others[i].Measured {
			a := others[i].Value
			if g.Signed {
				line += fmt.Sprintf("   against: %+.1f MiB", a/MiB)
			} else {
				line += fmt.Sprintf("   against: %s (ratio %.2f)", RSS(int64(a)), g.Value/a)
			}
		}
		fmt.Fprintln(w, line)
		if g.Failed != "" {
			fmt.Fprintf(w, "      %s\n", firstLine(g.Failed))
		}
		if g.Killed {
			fmt.Fprintf(w, "      the server passed %s of RSS and was stopped there\n", Human(o.KillAbove))
		}
	}
	small, ok1 := rep.median("pista", ScenarioSmall, peak)
	large, ok2 := rep.median("pista", ScenarioLarge, peak)
	if ok1 && ok2 {
		fmt.Fprintf(w, "  %-34s %s, %s\n", fmt.Sprintf("  one upload: %s, %s", Human(o.Small), Human(o.Large)), RSS(int64(small)), RSS(int64(large)))
	}

	// Throughput.
	rate := func(s Scenario) float64 { return s.Rate }
	errs := func(s Scenario) float64 { return float64(s.Errors) }
	var argon []float64
	for _, r := range rep.Runs {
		argon = append(argon, r.Argon)
	}
	ceiling := Median(argon)
	var argonCPU []float64
	for _, r := range rep.Runs {
		argonCPU = append(argonCPU, ms(r.ArgonCPU))
	}
	argonMS := Median(argonCPU)
	tps, okSources := rep.median("pista", ScenarioSources, rate)
	if okSources {
		sp, _ := rep.median("pista", ScenarioSources, peak)
		se, _ := rep.median("pista", ScenarioSources, errs)
		cpt, _ := rep.median("pista", ScenarioSources, Scenario.cpuPerTip)
		fmt.Fprintf(w, "new-source tips, %d at once, %s: %.1f tips/s (%.0f errors), server CPU %.1f ms per tip, peak RSS %s\n",
			o.Sources, o.Duration, tps, se, cpt, RSS(int64(sp)))
		fmt.Fprintf(w, "  baseline, Argon2id alone in this process: %.1f/s (ratio %.2f), %.1f ms of CPU each (CPU per tip / per derivation %.2f)\n",
			ceiling, tps/ceiling, argonMS, cpt/argonMS)
		perRun := func(label string) string {
			var xs []float64
			for _, r := range rep.Runs {
				xs = append(xs, r.Results[label][ScenarioSources].Rate)
			}
			return join(xs, "%.1f")
		}
		fmt.Fprintf(w, "  per run: %s tips/s; Argon2id alone %s/s\n", perRun("pista"), join(argon, "%.1f"))
		if against {
			atps, _ := rep.median("against", ScenarioSources, rate)
			ap, _ := rep.median("against", ScenarioSources, peak)
			var ratios []float64
			for _, r := range rep.Runs {
				ratios = append(ratios, r.Results["pista"][ScenarioSources].Rate/r.Results["against"][ScenarioSources].Rate)
			}
			acpt, _ := rep.median("against", ScenarioSources, Scenario.cpuPerTip)
			fmt.Fprintf(w, "  against %s: %.1f tips/s, server CPU %.1f ms per tip, peak RSS %s\n", o.Against, atps, acpt, RSS(int64(ap)))
			fmt.Fprintf(w, "  ratio pista/against: tips/s %.2f (median of per-run ratios %s); CPU per tip %.2f\n",
				Median(ratios), join(ratios, "%.2f"), cpt/acpt)
			fmt.Fprintf(w, "  per run, against: %s tips/s\n", perRun("against"))
		}
	}
	mt, okMixed := rep.median("pista", ScenarioMixed, rate)
	me, _ := rep.median("pista", ScenarioMixed, errs)
	if !okMixed {
		return ok
	}
	fmt.Fprintf(w, "  during (c): %.1f tips/s (%.0f errors) beside %d uploads of %s\n", mt, me, o.Uploads, Human(o.MixedSize))
	return ok
}
