package benchmark

import (
	"context"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlood runs the flood at a tiny scale (40 clients, 2 s a phase) on a
// `pista serve` process built from ./cmd/pista, and checks the report is
// sane: every number measured, the real sources answered with receipts
// or "try again" and nothing else, the flood's requests answered.
func TestFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pista and starts a server and a flood")
	}
	exe := filepath.Join(t.TempDir(), "pista")
	build := exec.Command("go", "build", "-o", exe, "github.com/pista-tips/pista/cmd/pista")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("cannot build a pista binary to run (go build ./cmd/pista: %v):\n%s", err, out)
	}
	o := DefaultFloodOptions()
	o.Exe, o.Runs, o.Dir, o.Duration, o.Concurrency, o.Sources = exe, 1, t.TempDir(), 2*time.Second, 40, 2
	start := time.Now()
	rep, err := MeasureFlood(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > o.RunBound() {
		t.Errorf("the run took %s, more than its bound %s", d, o.RunBound())
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())

	r := rep.Runs[0]
	for name, tl := range map[string]Tally{
		"unflooded no-JS": r.Baseline.NoJS, "unflooded PoW": r.Baseline.PoW,
		"flooded no-JS": r.Flooded.NoJS, "flooded PoW": r.Flooded.PoW,
		"flooded login": r.Flooded.Login, "flooded login with PoW": r.Flooded.LoginPoW,
	} {
		// A busy machine may leave a puzzle unsolved for a whole phase.
		if tl.Attempts() == 0 && tl.Abandoned == 0 || tl.Attempts() > 0 && (len(tl.Times) == 0 || tl.PageMax <= 0) {
			t.Errorf("%s: %d attempts, %d unsolved puzzles, %d times, landing page %s", name, tl.Attempts(), tl.Abandoned, len(tl.Times), tl.PageMax)
		}
		if tl.Other > 0 || tl.TooMany > 0 {
			t.Errorf("%s: %d other answers, %d too many sessions; the first: %s", name, tl.Other, tl.TooMany, tl.FirstErr)
		}
	}
	if r.Baseline.NoJS.OK == 0 || r.Baseline.PoW.OK == 0 || r.Baseline.Login.OK == 0 {
		t.Errorf("unflooded: %d and %d receipts, %d logins", r.Baseline.NoJS.OK, r.Baseline.PoW.OK, r.Baseline.Login.OK)
	}
	if r.Baseline.PoW.NoPoW > 0 {
		t.Logf("this server offers no proof of work (GET %s)", PoWPath)
	} else if r.Baseline.PoW.Solved == 0 {
		t.Error("the real sources with the PoW solved no puzzle")
	}
	if r.Peak <= 0 || r.PeakBaseline <= 0 || r.Peak < r.PeakBaseline {
		t.Errorf("peak RSS %d, unflooded %d", r.Peak, r.PeakBaseline)
	}
	if r.Baseline.ServerCPU <= 0 || r.Flooded.ServerCPU <= 0 {
		t.Errorf("server CPU %s, %s", r.Baseline.ServerCPU, r.Flooded.ServerCPU)
	}
	if r.FloodErr != "" {
		t.Fatalf("the flood failed: %s", r.FloodErr)
	}
	if r.FloodCPU <= 0 {
		t.Errorf("flood CPU %s", r.FloodCPU)
	}
	for k, n := range FloodMix(o.Concurrency, nil) {
		c := r.Flood[k]
		if n == 0 {
			continue
		}
		if c == nil || c.Sent == 0 {
			t.Errorf("flood %s: %+v", k, c)
			continue
		}
		if c.TooMany > 0 {
			t.Errorf("flood %s: %d too many sessions", k, c.TooMany)
		}
	}
	// Wrong codenames are refused, or told to try again.
	for status := range r.Flood[FloodLogin].Answers {
		if status != 401 && status != 503 {
			t.Errorf("flood logins answered %d: %s", status, r.Flood[FloodLogin].answers())
		}
	}
	if g := rep.Goals(); len(g) != 4 || !g[2].Measured || !g[3].Met {
		t.Errorf("goals: %+v", g)
	}
}

// TestFloodVerdicts checks the verdicts from made-up runs: the longest
// answer is the median of each run's longest, an answer that is neither
// a receipt nor "try again" fails the goal, and the PoW ratio is per run.
func TestFloodVerdicts(t *testing.T) {
	tally := func(ok, retry, other int, longest time.Duration, rate float64) Tally {
		return Tally{OK: ok, Retry: retry, Other: other, Times: []time.Duration{time.Second, longest},
			Elapsed: time.Duration(float64(ok) / rate * float64(time.Second)), Solved: 1, MaxBits: 16}
	}
	run := func(longest time.Duration, p0, p1 float64, peak int64) FloodRun {
		return FloodRun{
			Baseline: FloodPhase{NoJS: tally(10, 0, 0, time.Second, 10), PoW: tally(10, 0, 0, time.Second, p0)},
			Flooded:  FloodPhase{NoJS: tally(5, 5, 0, longest, 1), PoW: tally(10, 0, 0, time.Second, p1)},
			Peak:     peak, PeakBaseline: peak / 2,
			Flood: FloodCounts{FloodLogin: {Sent: 3, Answers: map[int]int{401: 1, 503: 2}}},
		}
	}
	rep := &FloodReport{Options: DefaultFloodOptions(), Runs: []FloodRun{
		run(3*time.Second, 10, 6, 90*MiB),
		run(9*time.Second, 10, 2, 200*MiB), // over, in this run only
		run(4*time.Second, 10, 7, 100*MiB),
	}}
	g := rep.Goals()
	if g[0].Value != "4.00 s" || !g[0].Met {
		t.Errorf("answer: %+v, want 4.00 s, met", g[0])
	}
	if g[1].Value != "0.60" || !g[1].Met {
		t.Errorf("PoW: %+v, want 0.60, met", g[1])
	}
	if g[2].Value != "100.0 MiB" || !g[2].Met {
		t.Errorf("peak: %+v, want 100.0 MiB, met", g[2])
	}
	if !g[3].Met {
		t.Errorf("too many sessions: %+v", g[3])
	}
	var out strings.Builder
	if !rep.WriteTable(&out) {
		t.Errorf("WriteTable reported a goal not met:\n%s", out.String())
	}
	for _, want := range []string{"PASS", "503×2", "401×1", "p95"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}

	// One answer that is neither a receipt nor "try again", and one
	// "too many sessions": both goals fail.
	rep.Runs[0].Flooded.NoJS.Other = 1
	rep.Runs[0].Flooded.NoJS.FirstErr = "POST /submit: 500"
	rep.Runs[2].Flooded.Login.TooMany = 1
	g = rep.Goals()
	if g[0].Met || !strings.Contains(g[0].Why, "500") {
		t.Errorf("answer: %+v, want failed with the 500", g[0])
	}
	if g[3].Met || g[3].Value != "1" {
		t.Errorf("too many sessions: %+v, want 1, failed", g[3])
	}
	out.Reset()
	if rep.WriteTable(&out) {
		t.Errorf("WriteTable reported every goal met:\n%s", out.String())
	}
}

// TestTooManySessions checks what counts as the old session table's
// refusal: a 503 saying so, in a page or as the API's code "busy".
func TestTooManySessions(t *testing.T) {
	retry := http.Header{"Retry-After": {"60"}}
	for _, c := range []struct {
		status int
		hdr    http.Header
		body   string
		want   bool
	}{
		{503, nil, `<p>too many sessions; try again later</p>`, true},
		{503, nil, `{"error":"busy","message":"too many sessions; try again later"}`, true},
		{503, nil, `{"error":"busy","message":"try again later"}`, true},
		{503, retry, `{"error":"busy","message":"the server is very busy; try again in a minute"}`, false},
		{503, retry, `<p>The tip line is very busy. Please try again in a minute.</p>`, false},
		{200, nil, `too many sessions`, false},
	} {
		if got := tooManySessions(c.status, c.hdr, []byte(c.body)); got != c.want {
			t.Errorf("%d %s: %v, want %v", c.status, c.body, got, c.want)
		}
	}
}

// TestFloodMix checks --flood-mix: shares in percent that add up to 100,
// logins taking what rounding leaves.
func TestFloodMix(t *testing.T) {
	if got := FloodMix(400, nil); got[FloodLogin] != 320 || got[FloodAPI] != 40 || got[FloodSlow] != 40 || got[FloodTip] != 0 {
		t.Errorf("default mix of 400: %v", got)
	}
	mix, err := ParseFloodMix("login=70, api=10,slow=10,tip=10")
	if err != nil {
		t.Fatal(err)
	}
	if got := FloodMix(45, mix); got[FloodLogin] != 33 || got[FloodAPI] != 4 || got[FloodTip] != 4 {
		t.Errorf("mix of 45: %v", got)
	}
	for _, bad := range []string{"login=90", "login=80,api=10,foo=10", "login=110,api=-10", "login"} {
		if _, err := ParseFloodMix(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
