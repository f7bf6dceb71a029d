package benchmark

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkNewSourceTip sends new sources' tips (a message, no file) to
// the real server in this process, sixteen clients at once on two cores
// (eight per GOMAXPROCS): the codename path, Argon2id and all.
//
//	go test -run '^$' -bench NewSourceTip -benchtime 200x -count 6 ./benchmark/ | benchstat -
//
// `pista bench --goals` measures the same on a `pista serve` process,
// with its memory.
func BenchmarkNewSourceTip(b *testing.B) {
	ctx := context.Background()
	p, err := StartPista(ctx, filepath.Join(b.TempDir(), "pista"), 4*GiB, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := p.Tip(ctx, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tips/s")
}

// TestNewSources checks the new-source load: tips reach the real server
// and are answered with a receipt, and stopping ends the sources.
func TestNewSources(t *testing.T) {
	ctx := context.Background()
	p, err := StartPista(ctx, filepath.Join(t.TempDir(), "pista"), 4*GiB, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	stop := make(chan struct{})
	time.AfterFunc(500*time.Millisecond, func() { close(stop) })
	l := NewSources(ctx, p.Target, 4, stop)
	if l.Tips == 0 || l.Errors != 0 || l.Rate() <= 0 {
		t.Fatalf("%d tips, %d errors (%v), %.1f/s", l.Tips, l.Errors, l.Err, l.Rate())
	}
}

// TestHostileFiles checks goal (d)'s files are the hostile files it
// promises: four, each at most 2 MB (package hostile tests what each one
// inflates to).
func TestHostileFiles(t *testing.T) {
	files, err := HostileFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("%d files, want 4", len(files))
	}
	for _, f := range files {
		if len(f.Data) == 0 || len(f.Data) > MaxHostileSize {
			t.Errorf("%s: %d bytes", f.Name, len(f.Data))
		}
	}
}

// TestGoalVerdicts checks the verdicts from made-up runs: goal (a) is the
// median of each run's difference, and a goal over its limit is not met.
func TestGoalVerdicts(t *testing.T) {
	run := func(small, large, mixed, hostile int64) GoalRun {
		return GoalRun{Argon: 70, ArgonCPU: 25 * time.Millisecond, Results: map[string]map[string]Scenario{"pista": {
			ScenarioSmall: {Peak: small}, ScenarioLarge: {Peak: large},
			ScenarioSources: {Peak: 60 * MiB, Tips: 300, Rate: 30, CPU: 9 * time.Second},
			ScenarioMixed:   {Peak: mixed, Tips: 100, Rate: 20}, ScenarioHostile: {Peak: hostile},
		}}}
	}
	rep := &GoalReport{Options: DefaultGoalOptions(), Runs: []GoalRun{
		run(40*MiB, 42*MiB, 100*MiB, 90*MiB),
		run(41*MiB, 50*MiB, 101*MiB, 200*MiB), // (a) +9 in this run only
		run(39*MiB, 42*MiB, 140*MiB, 300*MiB),
	}}
	g := rep.Goals("pista")
	if g[0].Value != 3*MiB || !g[0].Met() {
		t.Errorf("(a) = %+v, want +3 MiB, met", g[0])
	}
	if g[1].Value != 42*MiB || !g[1].Met() {
		t.Errorf("(b) = %+v, want 42 MiB (the larger median), met", g[1])
	}
	if g[2].Value != 101*MiB || !g[2].Met() {
		t.Errorf("(c) = %+v, want 101 MiB, met", g[2])
	}
	if g[3].Value != 200*MiB || g[3].Met() {
		t.Errorf("(d) = %+v, want 200 MiB, over", g[3])
	}
	var out strings.Builder
	if rep.WriteTable(&out) {
		t.Error("WriteTable reported every goal met")
	}
	for _, want := range []string{"+3.0 MiB", "PASS", "OVER", "30.0 tips/s", "30.0 ms per tip"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}
