package browsertest

import (
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestRequestsStayOnOrigin follows every request the browser makes during
// a source's whole visit, with JavaScript and without, and fails on any
// that goes anywhere but the server's own origin (scheme, host and port):
// no font, script, style sheet, image, analytics or prefetch from
// elsewhere, which would tell a third party who visits the tip line.
func TestRequestsStayOnOrigin(t *testing.T) {
	b := newBrowser(t)
	in := newInstance(t)
	origin, err := url.Parse(in.url)
	if err != nil {
		t.Fatal(err)
	}
	for _, js := range []bool{true, false} {
		t.Run(jsMode(js), func(t *testing.T) {
			ctx := b.tab(t, js)
			var mu sync.Mutex
			var seen []string
			err := chromedp.Listen(ctx, func(ev any) {
				if e, ok := ev.(*network.EventRequestWillBeSent); ok {
					mu.Lock()
					seen = append(seen, e.Request.URL)
					mu.Unlock()
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			runJourney(t, in, ctx, "ar", js, nil)
			wrongCodename(t, in, ctx, "en", nil)

			mu.Lock()
			defer mu.Unlock()
			var paths []string
			for _, s := range seen {
				u, err := url.Parse(s)
				if err != nil {
					t.Errorf("the browser requested %q, which does not parse: %v", s, err)
					continue
				}
				if u.Scheme != origin.Scheme || u.Host != origin.Host {
					t.Errorf("the browser requested %s, outside the server's origin %s://%s", s, origin.Scheme, origin.Host)
					continue
				}
				if !slices.Contains(paths, u.Path) {
					paths = append(paths, u.Path)
				}
			}
			t.Logf("%d requests, all to %s, to %v", len(seen), in.url, paths)
			want := []string{"/", "/static/style.css", "/submit", "/login", "/source", "/source/submit"}
			if js {
				// The journey sends files: the page fetches the scrubber.
				want = append(want, "/static/pista.js", "/static/history.js", "/static/wasm_exec.js", "/static/scrub.wasm")
			}
			for _, p := range want {
				if !slices.Contains(paths, p) {
					t.Errorf("no request for %s was seen: the listener missed requests (saw %v)", p, paths)
				}
			}
		})
	}
}
