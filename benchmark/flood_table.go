package benchmark

// The table of the flood goals.

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// FloodGoal is one flood goal's verdict.
type FloodGoal struct {
	Name     string
	Value    string // the median of the runs, written out
	Goal     string
	Measured bool
	Met      bool
	Why      string // what failed, if it is not just the value
}

// each is a field of every run.
func (rep *FloodReport) each(f func(FloodRun) float64) []float64 {
	var xs []float64
	for _, r := range rep.Runs {
		xs = append(xs, f(r))
	}
	return xs
}

func (rep *FloodReport) median(f func(FloodRun) float64) float64 { return Median(rep.each(f)) }

// tooMany counts the real requests told the server had too many
// sessions, over every run and phase.
func (rep *FloodReport) tooMany() int {
	n := 0
	for _, r := range rep.Runs {
		for _, ph := range []FloodPhase{r.Baseline, r.Flooded} {
			n += ph.NoJS.TooMany + ph.PoW.TooMany + ph.Login.TooMany + ph.LoginPoW.TooMany
		}
	}
	return n
}

// Goals are the verdicts: the longest wait of a source without
// JavaScript under the flood (the median of each run's longest), the
// throughput kept by sources with the proof of work, the server's peak
// RSS, and "too many sessions" never seen.
func (rep *FloodReport) Goals() []FloodGoal {
	if len(rep.Runs) == 0 {
		return nil
	}
	var g []FloodGoal

	answer := FloodGoal{Name: "no-JS tip answered, longest", Goal: fmt.Sprintf("≤ %.0f s", GoalFloodAnswer.Seconds())}
	tries, others := 0, 0
	for _, r := range rep.Runs {
		tries += r.Flooded.NoJS.Attempts()
		others += r.Flooded.NoJS.Other + r.Flooded.NoJS.TooMany
		if answer.Why == "" {
			answer.Why = r.Flooded.NoJS.FirstErr
		}
	}
	longest := rep.median(func(r FloodRun) float64 { return r.Flooded.NoJS.Max().Seconds() })
	answer.Measured = tries > 0
	answer.Value = fmt.Sprintf("%.2f s", longest)
	answer.Met = answer.Measured && others == 0 && longest <= GoalFloodAnswer.Seconds()
	if others == 0 {
		answer.Why = ""
	} else {
		answer.Why = fmt.Sprintf("%d answered neither a receipt nor \"try again\"; the first: %s", others, firstLine(answer.Why))
	}
	g = append(g, answer)

	pw := FloodGoal{Name: "PoW tips/s, flooded / unflooded", Goal: fmt.Sprintf("≥ %.2f", GoalFloodPoW)}
	noPoW := 0
	for _, r := range rep.Runs {
		noPoW += r.Baseline.PoW.NoPoW + r.Flooded.PoW.NoPoW
	}
	ratio := rep.median(func(r FloodRun) float64 {
		if r.Baseline.PoW.Rate() == 0 {
			return 0
		}
		return r.Flooded.PoW.Rate() / r.Baseline.PoW.Rate()
	})
	pw.Measured = rep.median(func(r FloodRun) float64 { return r.Baseline.PoW.Rate() }) > 0
	pw.Value = fmt.Sprintf("%.2f", ratio)
	pw.Met = pw.Measured && noPoW == 0 && ratio >= GoalFloodPoW
	if noPoW > 0 {
		pw.Why = fmt.Sprintf("the server offered no proof of work (GET %s) to %d requests", PoWPath, noPoW)
	}
	g = append(g, pw)

	peakV := rep.median(func(r FloodRun) float64 { return float64(r.Peak) })
	g = append(g, FloodGoal{Name: "server peak RSS (VmHWM)", Value: RSS(int64(peakV)), Goal: "≤ " + Human(GoalFloodPeak),
		Measured: peakV > 0, Met: peakV > 0 && peakV <= GoalFloodPeak})

	n := rep.tooMany()
	g = append(g, FloodGoal{Name: `"too many sessions" seen`, Value: fmt.Sprint(n), Goal: "0 (all runs)", Measured: true, Met: n == 0})
	return g
}

// WriteTable writes each goal with its verdict, then what the sources,
// the returning source and the flood saw, and returns whether every
// goal was met.
func (rep *FloodReport) WriteTable(w io.Writer) bool {
	n := len(rep.Runs)
	if n == 0 {
		return false
	}
	o := rep.Options
	fmt.Fprintf(w, "flood goals (issue 12): %d flood clients (%s) beside %d real sources of each kind, %s a phase, median of %d run(s)\n",
		o.Concurrency, MixText(FloodMix(o.Concurrency, o.Mix)), o.Sources, o.Duration, n)
	ok := true
	for _, g := range rep.Goals() {
		if !g.Measured {
			fmt.Fprintf(w, "  %-34s not measured\n", g.Name)
			ok = false
			continue
		}
		v := "PASS"
		if !g.Met {
			v, ok = "FAIL", false
		}
		fmt.Fprintf(w, "  %-34s %-12s goal %-14s %s\n", g.Name, g.Value, g.Goal, v)
		if g.Why != "" {
			fmt.Fprintf(w, "      %s\n", g.Why)
		}
	}

	sec := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	rate := func(f func(FloodRun) Tally) string {
		return fmt.Sprintf("%.1f/s (runs: %s)", rep.median(func(r FloodRun) float64 { return f(r).Rate() }),
			join(rep.each(func(r FloodRun) float64 { return f(r).Rate() }), "%.1f"))
	}
	fmt.Fprintf(w, "new sources without JavaScript (no PoW), receipts: unflooded %s, flooded %s\n",
		rate(func(r FloodRun) Tally { return r.Baseline.NoJS }), rate(func(r FloodRun) Tally { return r.Flooded.NoJS }))
	for i, r := range rep.Runs {
		t := r.Flooded.NoJS
		fmt.Fprintf(w, "  run %d, flooded: %d stored, %d told to retry, %d other; time to answer p95 %s, longest %s (unflooded: longest %s); landing page longest %s\n",
			i+1, t.OK, t.Retry, t.Other+t.TooMany, sec(t.P95()), sec(t.Max()), sec(r.Baseline.NoJS.Max()), sec(t.PageMax))
		if r.Flooded.Cut {
			fmt.Fprintf(w, "      the run's bound (%s) ended its last requests unanswered\n", o.RunBound())
		}
	}
	fmt.Fprintf(w, "new sources with the PoW, receipts: unflooded P0 %s, flooded P1 %s\n",
		rate(func(r FloodRun) Tally { return r.Baseline.PoW }), rate(func(r FloodRun) Tally { return r.Flooded.PoW }))
	for i, r := range rep.Runs {
		b, f := r.Baseline.PoW, r.Flooded.PoW
		fmt.Fprintf(w, "  run %d, flooded: %d stored, %d told to retry, %d other; POST p95 %s, longest %s\n",
			i+1, f.OK, f.Retry, f.Other+f.TooMany, sec(f.P95()), sec(f.Max()))
		fmt.Fprintf(w, "      puzzles unflooded: %s; flooded: %s\n", solveText(b), solveText(f))
	}
	fmt.Fprintln(w, "returning source (a real codename), flooded:")
	for i, r := range rep.Runs {
		fmt.Fprintf(w, "  run %d: without PoW %s; with PoW %s\n", i+1, loginText(r.Flooded.Login), loginText(r.Flooded.LoginPoW))
	}
	fmt.Fprintln(w, "the flood (closed loop, each client one request at a time):")
	for i, r := range rep.Runs {
		if r.FloodErr != "" {
			fmt.Fprintf(w, "  run %d: the flood failed: %s\n", i+1, firstLine(r.FloodErr))
			continue
		}
		var parts []string
		split := FloodMix(o.Concurrency, o.Mix)
		for _, k := range FloodKinds {
			c := r.Flood[k]
			if c == nil || split[k] == 0 {
				continue
			}
			s := fmt.Sprintf("%s %s", k, c.answers())
			if c.Solved > 0 {
				s += fmt.Sprintf(" (%d puzzles solved, %.2f s each, up to %d bits)", c.Solved, c.SolveTime.Seconds()/float64(c.Solved), c.MaxBits)
			}
			if c.Unsolved > 0 {
				s += fmt.Sprintf(" (%d puzzles unsolved at the end)", c.Unsolved)
			}
			if c.TooMany > 0 {
				s += fmt.Sprintf(" (%d \"too many sessions\")", c.TooMany)
			}
			parts = append(parts, s)
		}
		fmt.Fprintf(w, "  run %d: %s\n", i+1, strings.Join(parts, "; "))
	}
	fmt.Fprintf(w, "CPU time (the clients share the machine's %s): unflooded / flooded phase\n", cores())
	for i, r := range rep.Runs {
		b, f := r.Baseline, r.Flooded
		fmt.Fprintf(w, "  run %d: server %.1f / %.1f s, bench (real sources, their PoW included) %.1f / %.1f s, flood process (nice %d) %.1f s; phases %.1f / %.1f s of wall time (the run %.1f s, bound %s); machine load %s / %s; peak RSS unflooded %s\n",
			i+1, b.ServerCPU.Seconds(), f.ServerCPU.Seconds(), b.BenchCPU.Seconds(), f.BenchCPU.Seconds(), o.Nice, r.FloodCPU.Seconds(),
			b.Wall.Seconds(), f.Wall.Seconds(), r.Wall.Seconds(), o.RunBound(), loadText(b.Load), loadText(f.Load), RSS(r.PeakBaseline))
	}
	return ok
}

func solveText(t Tally) string {
	if t.Solved == 0 {
		if t.NoPoW > 0 {
			return "not offered"
		}
		return "none solved"
	}
	s := fmt.Sprintf("%d solved (up to %d bits, %.2f s each)", t.Solved, t.MaxBits, t.SolveTime.Seconds()/float64(t.Solved))
	if t.Abandoned > 0 {
		s += fmt.Sprintf(", %d unsolved at the end", t.Abandoned)
	}
	return s
}

func loginText(t Tally) string {
	if t.Attempts() == 0 {
		if t.Abandoned > 0 {
			return fmt.Sprintf("no attempt: %d puzzle(s) still unsolved at the phase's end", t.Abandoned)
		}
		return "no attempt"
	}
	s := fmt.Sprintf("%d logged in, %d told to retry", t.OK, t.Retry)
	if t.TooMany > 0 {
		s += fmt.Sprintf(", %d \"too many sessions\"", t.TooMany)
	}
	if t.Other > 0 {
		s += fmt.Sprintf(", %d other (%s)", t.Other, firstLine(t.FirstErr))
	}
	if t.NoPoW > 0 {
		s += ", PoW not offered"
	}
	if t.Solved > 0 {
		s += fmt.Sprintf(", puzzles of up to %d bits, %.2f s each", t.MaxBits, t.SolveTime.Seconds()/float64(t.Solved))
	}
	if t.Abandoned > 0 {
		s += fmt.Sprintf(", %d unsolved at the phase's end", t.Abandoned)
	}
	return s + fmt.Sprintf(", longest %.2f s", t.Max().Seconds())
}

func cores() string {
	if n := runtime.NumCPU(); n != 1 {
		return fmt.Sprintf("%d cores", n)
	}
	return "1 core"
}

func loadText(x float64) string {
	if x < 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", x)
}
