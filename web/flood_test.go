package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// es is the Spanish text of a message key.
func es(key string) string {
	l, _ := i18n.Get("es")
	return l.T(key)
}

// A flood of wrong-codename logins and tips on a server whose key
// stretching is full: every request is answered at once, told in the
// source's language to try again in a minute (503, Retry-After), and a
// tip told so is not stored, not even in part. Once the slots free up,
// the server serves again.
//
// The stretching is busy by construction, not by timing: the test holds
// every slot of the server's gate for the whole flood (a loaded machine
// once let every request through in time).
func TestBusyServerSaysRetryAndKeepsNothing(t *testing.T) {
	// A millisecond's wait: a request that finds the slots taken is
	// refused at once.
	in := pistatest.New(t, server.Config{StretchWait: time.Millisecond})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)

	b := in.Browser()
	landing := b.Get("/?lang=es")
	tok := landing.CSRF(t)
	before := in.Snapshot(alice)

	hold := make(chan struct{})
	held := make(chan struct{})
	var holders sync.WaitGroup
	for range keys.MaxConcurrentArgon {
		holders.Add(1)
		go func() {
			defer holders.Done()
			// Proven lanes may take every slot.
			if err := in.Srv.Gate.Do(context.Background(), admit.NewProven, func() { held <- struct{}{}; <-hold }); err != nil {
				t.Errorf("holding a slot: %v", err)
				held <- struct{}{}
			}
		}()
	}
	for range keys.MaxConcurrentArgon {
		<-held
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var tips []*pistatest.Response
	for k := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r *pistatest.Response
			if k%8 == 0 {
				r = b.PostMultipart("/submit?lang=es", []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "a tip in a flood"}})
			} else {
				r = b.Post("/login?lang=es", url.Values{"csrf": {tok}, "codename": {string(keys.NewCodename())}})
			}
			mu.Lock()
			defer mu.Unlock()
			statuses[r.Status]++
			if k%8 == 0 {
				tips = append(tips, r)
			}
			switch r.Status {
			case http.StatusServiceUnavailable:
				if got := r.Header.Get("Retry-After"); got != "60" {
					t.Errorf("503 with Retry-After %q, want 60", got)
				}
				want := es("error.retry.login")
				if k%8 == 0 {
					want = es("error.retry.tip")
				}
				if !strings.Contains(r.Text(), want) {
					t.Errorf("503 page does not say %q in Spanish:\n%s", want, r.Text())
				}
			case http.StatusUnauthorized, http.StatusOK:
			default:
				t.Errorf("status %d: %s", r.Status, r.Text())
			}
		}()
	}
	wg.Wait()
	close(hold)
	holders.Wait()
	if statuses[http.StatusServiceUnavailable] != 40 {
		t.Fatalf("with every slot taken, %v: every request should have been told to retry", statuses)
	}
	stored := 0
	for _, r := range tips {
		if r.Status == http.StatusOK {
			r.Codename(t)
			stored++
		}
	}
	after := in.Snapshot(alice)
	if got := int(after.LastItem - before.LastItem); got != stored {
		t.Errorf("%d tips got a receipt, %d items were stored", stored, got)
	}
	if len(after.Objects)-len(before.Objects) != stored {
		t.Errorf("%d tips got a receipt, %d objects were written", stored, len(after.Objects)-len(before.Objects))
	}
	if tmp := in.TempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	// The slots are free again: a tip is served.
	r := b.PostMultipart("/submit?lang=es", []pistatest.Part{{Name: "csrf", Value: b.Get("/?lang=es").CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "after the flood"}})
	if r.Status != http.StatusOK {
		t.Fatalf("after the flood, a tip: %d %s", r.Status, r.Text())
	}
	r.Codename(t)
}

// The page's proof of work: GET /pow gives a challenge, a login or a tip
// carrying its solution is served, a replayed or forged one is not
// refused (the request waits in the ordinary lane, as without
// JavaScript).
func TestProofOfWorkOnThePages(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	b := in.Browser()

	r := b.Get("/pow")
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Body, "1.8.") {
		t.Fatalf("GET /pow: %d %q", r.Status, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("GET /pow Cache-Control %q", cc)
	}
	proof := b.Prove()
	tok := b.Get("/").CSRF(t)
	receipt := b.PostMultipart("/submit", []pistatest.Part{{Name: "csrf", Value: tok}, {Name: "desk", Value: "americas"}, {Name: "message", Value: "proven"}, {Name: "pow", Value: proof}})
	if receipt.Status != http.StatusOK {
		t.Fatalf("a proven tip: %d %s", receipt.Status, receipt.Text())
	}
	codename := receipt.Codename(t)
	for _, p := range []string{proof, "1.8.garbage", strings.Repeat("x", 5000)} {
		tok := b.Get("/").CSRF(t)
		r := b.Post("/login", url.Values{"csrf": {tok}, "codename": {codename}, "pow": {p}})
		if r.Status != http.StatusSeeOther {
			t.Errorf("login with pow %.20q: %d %s", p, r.Status, r.Text())
		}
	}
	// The landing page asks its script to prove work on both forms.
	if page := b.Get("/").Body; strings.Count(page, `data-pow="/pow"`) != 2 {
		t.Errorf("the landing page's forms do not carry data-pow")
	}
}
