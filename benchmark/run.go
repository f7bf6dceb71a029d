package benchmark

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pista-tips/pista/httpx"
)

// Goals of issue 5, on a 2-core machine, with the memory goals of issue
// 11 (point 10) that replaced its 32 and 64 MiB: see goals.go.
const (
	GoalRatio = 0.9       // pista's throughput over the baseline's
	GoalPeak1 = GoalOne   // peak RSS, one upload
	GoalPeak4 = GoalMixed // peak RSS, four uploads at once (goal (c) has 16 new sources besides)
)

// Options say what Measure does.
type Options struct {
	Size int64 // bytes of the file of each upload
	Runs int
	// Dir is where the temporary data folders go (default os.TempDir()):
	// it must be on the disk to measure.
	Dir string
	// Exe is the pista binary, run as `serve` and `bench --baseline-server`
	// for the memory measurements; "" skips them.
	Exe string
	// Progress gets a line per measurement (nil: none).
	Progress io.Writer
	// Log is the in-process server's log (nil: none).
	Log *slog.Logger
}

// Run is one run's numbers.
type Run struct {
	Pista, Baseline float64 // bytes/s of one upload
	// CPU time this process used during each upload: the server's and
	// the client's (the same client for both), or 0 if unknown.
	PistaCPU, BaselineCPU time.Duration
	// Memory of a server process, by "pista/1", "pista/4", "baseline/1"
	// and "baseline/4" (target/uploads at once).
	Memory map[string]Memory
}

// Ratio is pista's throughput over the baseline's.
func (r Run) Ratio() float64 { return r.Pista / r.Baseline }

// Report is every run of a Measure.
type Report struct {
	Size int64
	Runs []Run
}

// NeedFree is the free disk space Measure asks for: four uploads at once
// are on disk together, and the disk must not get full.
func NeedFree(size int64) int64 { return max(6*GiB, 5*size) }

// Measure runs the benchmarks o.Runs times. Each run uses a new temporary
// folder, deleted at its end; each upload's files are deleted as soon as
// it is measured.
func Measure(ctx context.Context, o Options) (*Report, error) {
	if o.Size <= 0 || o.Runs <= 0 {
		return nil, errors.New("benchmark: size and runs must be positive")
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	rep := &Report{Size: o.Size}
	for i := range o.Runs {
		// The disk is shared: look again before every run.
		if err := checkFree(o.Dir, o.Size); err != nil {
			return rep, err
		}
		r, err := measureRun(ctx, o, i)
		if err != nil {
			return rep, fmt.Errorf("run %d: %w", i+1, err)
		}
		rep.Runs = append(rep.Runs, r)
	}
	return rep, nil
}

// checkFree refuses to start when the disk has less than NeedFree(size).
func checkFree(dir string, size int64) error {
	free, err := FreeBytes(dir)
	if err != nil {
		return fmt.Errorf("free space in %s: %w", dir, err)
	}
	if free >= 0 && free < NeedFree(size) {
		return fmt.Errorf("only %s free in %s: the benchmark needs %s (four uploads of %s are on disk at once); free some space or choose another folder with --dir",
			Human(free), dir, Human(NeedFree(size)), Human(size))
	}
	return nil
}

func measureRun(ctx context.Context, o Options, i int) (Run, error) {
	r := Run{Memory: map[string]Memory{}}
	dir, err := os.MkdirTemp(o.Dir, "pista-bench-*")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	maxUpload := max(httpx.DefaultMaxUpload, o.Size+MiB)

	// Throughput: both servers in this process, the baseline writing into
	// a folder of pista's data folder.
	data := filepath.Join(dir, "pista")
	p, err := StartPista(ctx, data, maxUpload, o.Log)
	if err != nil {
		return r, err
	}
	defer p.Close()
	b, err := StartBaseline(filepath.Join(data, "baseline"))
	if err != nil {
		return r, err
	}
	defer b.Close()
	targets := []*Server{p, b}
	if i%2 == 1 {
		// Alternate which goes first, so a drift in the machine's load or
		// the disk's state does not always favour the same one.
		targets = []*Server{b, p}
	}
	for _, t := range targets {
		// A short warm-up: connections, page cache, the heap.
		if _, err := t.Upload(ctx, min(o.Size, 32*MiB), nil); err != nil {
			return r, fmt.Errorf("warm-up: %w", err)
		}
		if err := t.Clean(); err != nil {
			return r, err
		}
	}
	for _, t := range targets {
		cpu0, cpuErr := CPUTime(os.Getpid())
		d, err := t.Upload(ctx, o.Size, nil)
		if err != nil {
			return r, err
		}
		var cpu time.Duration
		if cpu1, err := CPUTime(os.Getpid()); err == nil && cpuErr == nil {
			cpu = cpu1 - cpu0
		}
		if err := t.Clean(); err != nil {
			return r, err
		}
		rate := float64(o.Size) / d.Seconds()
		if t.Name == "pista" {
			r.Pista, r.PistaCPU = rate, cpu
		} else {
			r.Baseline, r.BaselineCPU = rate, cpu
		}
		fmt.Fprintf(o.Progress, "run %d: %-8s 1 upload of %s in %.2f s: %.0f MiB/s; CPU %.2f s (server and client)\n",
			i+1, t.Name, Human(o.Size), d.Seconds(), rate/MiB, cpu.Seconds())
	}
	fmt.Fprintf(o.Progress, "run %d: ratio %.3f\n", i+1, r.Ratio())
	p.Close()
	b.Close()
	os.RemoveAll(data)

	if o.Exe == "" {
		return r, nil
	}
	// Memory: each server alone in a new process, per measurement.
	for _, m := range []struct {
		name string
		n    int
	}{{"pista", 1}, {"pista", 4}, {"baseline", 1}, {"baseline", 4}} {
		mem, err := measureProcess(ctx, o, filepath.Join(dir, fmt.Sprintf("mem-%s-%d", m.name, m.n)), m.name, m.n, maxUpload)
		if err != nil {
			return r, fmt.Errorf("memory, %s, %d uploads: %w", m.name, m.n, err)
		}
		r.Memory[fmt.Sprintf("%s/%d", m.name, m.n)] = mem
		fmt.Fprintf(o.Progress, "run %d: %-8s %d upload(s) at once: peak RSS %s, while streaming %s, idle %s; %.0f MiB/s in all; server CPU %.2f s\n",
			i+1, m.name, m.n, RSS(mem.Peak), RSS(mem.Streaming), RSS(mem.Idle), mem.Rate/MiB, mem.CPU.Seconds())
	}
	return r, nil
}

func measureProcess(ctx context.Context, o Options, data, name string, n int, maxUpload int64) (Memory, error) {
	defer os.RemoveAll(data)
	var p *Process
	var err error
	if name == "pista" {
		p, err = StartPistaProcess(ctx, o.Exe, data, maxUpload)
	} else {
		p, err = StartBaselineProcess(o.Exe, data)
	}
	if err != nil {
		return Memory{}, err
	}
	// Let the process settle after start-up (its first GC cycles).
	time.Sleep(200 * time.Millisecond)
	mem, err := MeasureMemory(ctx, p, n, o.Size)
	return mem, errors.Join(err, p.Clean(), p.Stop())
}

// Median is the median of xs (the mean of the middle two for an even
// count).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (rep *Report) each(f func(Run) float64) []float64 {
	var xs []float64
	for _, r := range rep.Runs {
		xs = append(xs, f(r))
	}
	return xs
}

func (rep *Report) memory(key string, f func(Memory) int64) (float64, bool) {
	var xs []float64
	for _, r := range rep.Runs {
		if m, ok := r.Memory[key]; ok {
			xs = append(xs, float64(f(m)))
		}
	}
	return Median(xs), len(xs) > 0
}

// WriteTable writes the medians as a small table, with the goals.
func (rep *Report) WriteTable(w io.Writer) {
	n := len(rep.Runs)
	if n == 0 {
		return
	}
	pista := Median(rep.each(func(r Run) float64 { return r.Pista }))
	base := Median(rep.each(func(r Run) float64 { return r.Baseline }))
	ratios := rep.each(Run.Ratio)
	ratio := Median(ratios)
	row := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-30s%s\n", label, fmt.Sprintf(format, args...))
	}
	row(fmt.Sprintf("upload %s, no JavaScript", Human(rep.Size)), "pista %.0f MiB/s   baseline %.0f MiB/s   ratio %.2f (median of %d; goal ≥ %.2f: %s)",
		pista/MiB, base/MiB, ratio, n, GoalRatio, verdict(ratio >= GoalRatio))
	row("  per run", "pista %s   baseline %s   ratio %s",
		join(rep.each(func(r Run) float64 { return r.Pista / MiB }), "%.0f"),
		join(rep.each(func(r Run) float64 { return r.Baseline / MiB }), "%.0f"),
		join(ratios, "%.2f"))
	perGiB := func(d time.Duration) float64 { return d.Seconds() * GiB / float64(rep.Size) }
	pc := Median(rep.each(func(r Run) float64 { return perGiB(r.PistaCPU) }))
	bc := Median(rep.each(func(r Run) float64 { return perGiB(r.BaselineCPU) }))
	if pc > 0 && bc > 0 {
		row("  CPU per GiB, this process", "pista %.2f s   baseline %.2f s   baseline/pista %.2f (server and client, the same client for both)", pc, bc, bc/pc)
	}
	peak := func(m Memory) int64 { return m.Peak }
	p1, ok := rep.memory("pista/1", peak)
	if !ok {
		return
	}
	p4, _ := rep.memory("pista/4", peak)
	b1, _ := rep.memory("baseline/1", peak)
	b4, _ := rep.memory("baseline/4", peak)
	row("peak RSS (VmHWM)", "1 upload %s   4 uploads %s   baseline 1 upload %s   4 uploads %s (goals ≤ %s: %s, ≤ %s: %s)",
		RSS(int64(p1)), RSS(int64(p4)), RSS(int64(b1)), RSS(int64(b4)),
		Human(GoalPeak1), verdict(p1 <= GoalPeak1), Human(GoalPeak4), verdict(p4 <= GoalPeak4))
	stream := func(m Memory) int64 { return m.Streaming }
	s1, _ := rep.memory("pista/1", stream)
	s4, _ := rep.memory("pista/4", stream)
	sb1, _ := rep.memory("baseline/1", stream)
	sb4, _ := rep.memory("baseline/4", stream)
	row("  RSS while all bodies stream", "1 upload %s   4 uploads %s   baseline 1 upload %s   4 uploads %s",
		RSS(int64(s1)), RSS(int64(s4)), RSS(int64(sb1)), RSS(int64(sb4)))
	idle := func(m Memory) int64 { return m.Idle }
	i1, _ := rep.memory("pista/1", idle)
	ib1, _ := rep.memory("baseline/1", idle)
	row("  RSS idle, before uploads", "pista %s   baseline %s", RSS(int64(i1)), RSS(int64(ib1)))
	rate := func(key string) float64 {
		var xs []float64
		for _, r := range rep.Runs {
			xs = append(xs, r.Memory[key].Rate)
		}
		return Median(xs)
	}
	cpu := func(key string) float64 {
		var xs []float64
		for _, r := range rep.Runs {
			m := r.Memory[key]
			xs = append(xs, perGiB(m.CPU)/float64(max(m.Uploads, 1)))
		}
		return Median(xs)
	}
	if c1, cb1 := cpu("pista/1"), cpu("baseline/1"); c1 > 0 && cb1 > 0 {
		row("server CPU per GiB", "pista %.2f s   baseline %.2f s   baseline/pista %.2f (server processes alone, 1 upload)", c1, cb1, cb1/c1)
	}
	row("4 uploads at once", "pista %.0f MiB/s in all   baseline %.0f MiB/s in all (separate processes)",
		rate("pista/4")/MiB, rate("baseline/4")/MiB)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func join(xs []float64, format string) string {
	var s []string
	for _, x := range xs {
		s = append(s, fmt.Sprintf(format, x))
	}
	return strings.Join(s, " ")
}

// RSS writes a resident size in MiB to a tenth, so that a reading just
// over a goal does not print as the goal itself.
func RSS(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/MiB)
}

// Human writes a size in binary units: "1 GiB", "64 MiB", "9.5 MiB".
func Human(n int64) string {
	switch {
	case n >= GiB && n%GiB == 0:
		return fmt.Sprintf("%d GiB", n/GiB)
	case n >= 10*GiB:
		return fmt.Sprintf("%.0f GiB", float64(n)/GiB)
	case n >= GiB:
		return fmt.Sprintf("%.1f GiB", float64(n)/GiB)
	case n >= 10*MiB:
		return fmt.Sprintf("%.0f MiB", float64(n)/MiB)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/MiB)
	}
}
