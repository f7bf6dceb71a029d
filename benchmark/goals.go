package benchmark

// The memory goals of issue 11 (points 10 and 1), measured on real
// `pista serve` processes, and the new-source throughput they must leave
// room for.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
