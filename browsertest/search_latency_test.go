package browsertest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/internal/searchindex"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// searchGoal is how long a search may take in the page once the index is
// downloaded, at a million conversations.
const searchGoal = 2 * time.Second

// TestSearchIndexLatency measures the inbox's search over a synthetic
// desk index (internal/searchindex) of $PISTA_SEARCH_CONVERSATIONS
// conversations (20,000 unless set; 1,000,000 is the goal's scale): the
// time from opening the inbox to the index being ready (download,
// decryption, decoding), and each search's time in the page, which must
// stay under searchGoal.
//
//	PISTA_SEARCH_CONVERSATIONS=1000000 go test ./browsertest/ -run TestSearchIndexLatency -v -timeout 30m
func TestSearchIndexLatency(t *testing.T) {
	b := newBrowser(t)
	n := 20_000
	if searchindex.Set() {
		n = searchindex.Conversations()
	}
	in := pistatest.New(t, server.Config{})
	carla := in.Journalist("carla")
	desk := in.Desk("americas", carla)
	ctx := context.Background()
	rs, err := keys.ParseRecipients(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	segs, err := searchindex.Segments(desk.Slug, n, 1, rs...)
	if err != nil {
		t.Fatal(err)
	}
	var size int
	for _, s := range segs {
		key, sz, err := in.Srv.Stores.Blobs.Put(ctx, bytes.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		g := pista.IndexSegment{DeskID: desk.ID, Object: key, Size: sz, AuthorID: carla.ID}
		if _, err := in.Srv.Stores.Tips.AddIndexSegment(ctx, carla.ID, &g, nil); err != nil {
			t.Fatal(err)
		}
		size += len(s)
	}
	t.Logf("%d conversations: %d segments, %.1f MiB encrypted, made in %v", n, len(segs), float64(size)/(1<<20), time.Since(start).Round(time.Millisecond))

	tab := b.tab(t, true)
	base := byHostName(in.TS.URL)
	teamLogin(t, tab, base, carla)
	start = time.Now()
	do(t, tab, "opening the inbox", chromedp.Navigate(base+"/newsroom/?lang=en"), loaded())
	for {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("form#search").dataset.indexReady === "1"`))
		if err == nil && ok {
			break
		}
		if time.Since(start) > 15*time.Minute || (err == nil && teamEval[string](t, tab, "status", `document.querySelector("[data-search-status]").textContent`) == locale(t, "en").T("search.index.failed")) {
			t.Fatalf("the index did not load (%v)%s", err, describe(tab))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("index ready %v after opening the inbox", time.Since(start).Round(time.Millisecond))

	for _, q := range []struct {
		query string
		min   int
	}{
		{searchindex.Rare, 1},
		{searchindex.Common, n / 10},
		{"ab*", 1},
		{searchindex.Common + " ba", 1},
		{searchindex.Rare + " " + searchindex.Common, 0},
	} {
		type result struct {
			MS    float64 `json:"ms"`
			Count int     `json:"count"`
		}
		r := teamEval[result](t, tab, "searching", `(() => {
			const f = document.querySelector("form#search");
			f.querySelector("#search-q").value = `+jsString(q.query)+`;
			const t0 = performance.now();
			f.querySelector("button[type=submit]").click();
			return {ms: performance.now() - t0, count: Number(f.dataset.searched)};
		})()`)
		took := time.Duration(r.MS * float64(time.Millisecond))
		t.Logf("search %q: %d conversations in %v", q.query, r.Count, took.Round(time.Millisecond))
		if r.Count < q.min {
			t.Errorf("search %q found %d conversations, want at least %d", q.query, r.Count, q.min)
		}
		if took > searchGoal {
			t.Errorf("search %q took %v, over the goal of %v", q.query, took, searchGoal)
		}
	}
}
