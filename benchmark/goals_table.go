package benchmark

// The table of the memory goals.

import (
	"fmt"
	"io"
)

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
