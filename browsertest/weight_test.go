package browsertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// resource is one response the browser loaded.
type resource struct {
	url      string
	kind     network.ResourceType
	transfer int64 // bytes received: headers and body as sent
	body     int64 // bytes of the body, decoded
	done     bool  // finished or failed
}

// netLog records what a tab loads, page by page.
type netLog struct {
	mu    sync.Mutex
	order []network.RequestID
	res   map[network.RequestID]*resource
}

func newNetLog(t *testing.T, ctx context.Context) *netLog {
	t.Helper()
	n := &netLog{res: map[network.RequestID]*resource{}}
	err := chromedp.Listen(ctx, func(ev any) {
		n.mu.Lock()
		defer n.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			r := n.res[e.RequestID]
			if r == nil { // a redirect keeps its request ID
				r = &resource{}
				n.res[e.RequestID] = r
				n.order = append(n.order, e.RequestID)
			}
			r.url, r.kind = e.Request.URL, e.Type
		case *network.EventDataReceived:
			if r := n.res[e.RequestID]; r != nil {
				r.body += e.DataLength
			}
		case *network.EventLoadingFinished:
			if r := n.res[e.RequestID]; r != nil {
				r.transfer, r.done = int64(e.EncodedDataLength), true
			}
		case *network.EventLoadingFailed:
			if r := n.res[e.RequestID]; r != nil {
				r.done = true
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// take waits until everything requested so far has loaded, and returns
// it, forgetting it.
func (n *netLog) take(t *testing.T) []resource {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n.mu.Lock()
		pending := 0
		for _, r := range n.res {
			if !r.done {
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) {
			var out []resource
			for _, id := range n.order {
				out = append(out, *n.res[id])
			}
			n.order, n.res = nil, map[network.RequestID]*resource{}
			n.mu.Unlock()
			if pending > 0 {
				t.Errorf("%d requests still loading after 10 s", pending)
			}
			return out
		}
		n.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
}

// pageWeight sums a page's resources by kind.
type pageWeight struct {
	page          string
	requests      int
	html, css, js int64 // bytes transferred
	rest          int64 // anything else: the favicon Chromium asks for
	body          int64 // bytes of bodies, decoded
}

func (w pageWeight) total() int64 { return w.html + w.css + w.js + w.rest }

func weigh(page string, rs []resource) pageWeight {
	w := pageWeight{page: page, requests: len(rs)}
	for _, r := range rs {
		switch r.kind {
		case network.ResourceTypeDocument:
			w.html += r.transfer
		case network.ResourceTypeStylesheet:
			w.css += r.transfer
		case network.ResourceTypeScript:
			w.js += r.transfer
		default:
			w.rest += r.transfer
		}
		w.body += r.body
	}
	return w
}

// TestPageWeight measures what each source page costs to load with
// JavaScript on: the bytes received (headers included) for its HTML, CSS
// and script. `go test -run TestPageWeight -v` prints the table. Every page
// loads its style sheet and script again, since every response is
// Cache-Control: no-store.
func TestPageWeight(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	var weights []pageWeight
	for _, tag := range []string{"en", "ar"} {
		ctx := b.tab(t, true)
		n := newNetLog(t, ctx)
		record := func(page string) {
			rs := n.take(t)
			if page == "login" { // the landing page again
				return
			}
			w := weigh(page+" ("+tag+")", rs)
			if w.html == 0 {
				t.Errorf("%s: no HTML was loaded (%d requests)", w.page, len(rs))
			}
			weights = append(weights, w)
		}
		runJourney(t, in, ctx, tag, true, record)
		wrongCodename(t, in, ctx, tag, record)
	}

	var tab strings.Builder
	kb := func(n int64) string { return fmt.Sprintf("%.1f", float64(n)/1000) }
	fmt.Fprintf(&tab, "\n| page | requests | HTML kB | CSS kB | JS kB | other kB | total kB | bodies kB |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, w := range weights {
		fmt.Fprintf(&tab, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", w.page, w.requests, kb(w.html), kb(w.css), kb(w.js), kb(w.rest), kb(w.total()), kb(w.body))
	}
	t.Log("bytes received per page, JavaScript on (kB = 1000 bytes; total includes headers; bodies are decoded sizes):" + tab.String())
}
