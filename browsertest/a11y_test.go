package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core 4.14.1 (axe.min.js from the npm package, MPL-2.0,
// its licence header kept), committed so that the tests need no network.
//
//go:embed testdata/axe.min.js
var axeSource string

// axeTags are the rules axe runs: WCAG 2.0 and 2.1, levels A and AA.
const axeTags = `["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]`

// axeRule is one rule's result, with the elements it concerns.
type axeRule struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  json.RawMessage `json:"target"`
		Summary string          `json:"summary"`
	} `json:"nodes"`
}

type axeResults struct {
	Violations []axeRule `json:"violations"`
	Incomplete []axeRule `json:"incomplete"`
	Passes     int       `json:"passes"`
}

// axeRun runs axe on the page and keeps what the test reports.
const axeRun = `(() => {
  const slim = (r) => ({id: r.id, impact: r.impact, help: r.help, helpUrl: r.helpUrl,
    nodes: r.nodes.map((n) => ({target: n.target, summary: n.failureSummary || ""}))})
  return axe.run(document, {runOnly: {type: "tag", values: ` + axeTags + `}})
    .then((r) => ({violations: r.violations.map(slim), incomplete: r.incomplete.map(slim), passes: r.passes.length}))
})()`

// runAxe injects axe-core into the page (through the DevTools protocol,
// which the page's Content-Security-Policy does not restrict) and runs it.
func runAxe(t *testing.T, ctx context.Context) axeResults {
	t.Helper()
	if !run(t, ctx, "looking for axe", chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
		do(t, ctx, "injecting axe-core", chromedp.Evaluate[chromedp.Void](axeSource))
		if !run(t, ctx, "looking for axe", chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
			t.Fatal("axe-core did not load into the page")
		}
	}
	res := run(t, ctx, "running axe", chromedp.Evaluate[axeResults](axeRun, chromedp.EvalAwaitPromise))
	if res.Passes == 0 {
		t.Fatal("axe passed no rule: it did not look at the page")
	}
	return res
}

// checkAxe runs axe on the page, fails t on any serious or critical
// violation and logs the others, and what axe could not decide.
func checkAxe(t *testing.T, ctx context.Context) {
	t.Helper()
	res := runAxe(t, ctx)
	for _, v := range res.Violations {
		var targets []string
		for _, n := range v.Nodes {
			targets = append(targets, string(n.Target))
		}
		msg := "axe: " + v.ID + " (" + v.Impact + "): " + v.Help + " " + v.HelpURL + "\n\ton " + strings.Join(targets, "\n\ton ")
		if len(v.Nodes) > 0 && v.Nodes[0].Summary != "" {
			msg += "\n\t" + strings.ReplaceAll(v.Nodes[0].Summary, "\n", "\n\t")
		}
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
	for _, v := range res.Incomplete {
		var targets []string
		for _, n := range v.Nodes {
			targets = append(targets, string(n.Target))
		}
		t.Logf("axe could not decide %s (%s): %s, on %s", v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
	}
}

// TestAccessibility runs axe-core (WCAG 2.1 A and AA) on every page a
// source sees, in every language: the landing page, the receipt, the
// landing page again, the source page before and after a follow-up, and
// the error page of a wrong codename.
func TestAccessibility(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	for _, tag := range languages(t) {
		t.Run(tag, func(t *testing.T) {
			ctx := b.tab(t, true)
			runJourney(t, in, ctx, tag, true, func(page string) {
				if page == "login" { // the landing page again
					return
				}
				t.Run(page, func(t *testing.T) { checkAxe(t, ctx) })
			})
			wrongCodename(t, in, ctx, tag, func(page string) {
				if page == "error" {
					t.Run(page, func(t *testing.T) { checkAxe(t, ctx) })
				}
			})
		})
	}
}

// TestAxeFindsViolations checks the checker: on a page with planted
// faults, axe reports them.
func TestAxeFindsViolations(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	ctx := b.tab(t, true)
	do(t, ctx, "opening the landing page and planting faults",
		chromedp.Navigate(in.url+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("label[for=contact]").remove();
			document.querySelector("main").insertAdjacentHTML("beforeend", '<button type="button"></button>')`))
	found := map[string]string{}
	for _, v := range runAxe(t, ctx).Violations {
		found[v.ID] = v.Impact
	}
	for _, id := range []string{"label", "button-name"} {
		if impact := found[id]; impact != "critical" && impact != "serious" {
			t.Errorf("axe did not report %s as serious or critical (found %v)", id, found)
		}
	}
}
