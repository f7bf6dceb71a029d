package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista"
)

// owners are the epochs of the test sessions' owners, by value: an owner
// not in the map is gone.
type owners struct {
	mu sync.Mutex
	m  map[string]int64
}

func (o *owners) epoch(_ context.Context, v string) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.m[v]
	if !ok {
		return 0, fmt.Errorf("owner: %w", pista.ErrNotFound)
	}
	return e, nil
}

func (o *owners) set(v string, e int64) {
	o.mu.Lock()
	o.m[v] = e
	o.mu.Unlock()
}

func (o *owners) remove(v string) {
	o.mu.Lock()
	delete(o.m, v)
	o.mu.Unlock()
}

// testKeys is a database of window keys: key w is 32 bytes of seed+w.
type testKeys struct {
	seed byte

	mu     sync.Mutex
	keys   map[int64][]byte
	made   []int64 // windows whose keys Secret was asked for
	forgot []int64 // Forget's arguments
}

func (k *testKeys) secret(_ context.Context, w int64) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.made = append(k.made, w)
	if k.keys == nil {
		k.keys = map[int64][]byte{}
	}
	if _, ok := k.keys[w]; !ok {
		k.keys[w] = bytes.Repeat([]byte{k.seed + byte(w)}, 32)
	}
	return k.keys[w], nil
}

func (k *testKeys) forget(_ context.Context, before int64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.forgot = append(k.forgot, before)
	for w := range k.keys {
		if w < before {
			delete(k.keys, w)
		}
	}
	return nil
}

// ring is a KeyRing of hour windows, kept three hours, over k.
func (k *testKeys) ring() *KeyRing {
	return &KeyRing{Window: time.Hour, Keep: 3, Secret: k.secret, Forget: k.forget}
}

var testRing = (&testKeys{seed: 1}).ring()

func newTestSealed(t testing.TB, ring *KeyRing, purpose string, o *owners) *Sealed[string] {
	t.Helper()
	s, err := NewSealed[string](ring, purpose)
	if err != nil {
		t.Fatal(err)
	}
	s.Cookie, s.Path = "src", "/"
	s.Idle, s.Lifetime = 20*time.Minute, 2*time.Hour
	s.Encode = func(v string) ([]byte, error) { return []byte(v), nil }
	s.Decode = func(b []byte) (string, error) {
		if len(b) == 0 {
			return "", errors.New("empty")
		}
		return string(b), nil
	}
	s.Epoch = o.epoch
	return s
}

func newOwners(vs ...string) *owners {
	o := &owners{m: map[string]int64{}}
	for _, v := range vs {
		o.m[v] = 0
	}
	return o
}

func cookieOf(t testing.TB, w *httptest.ResponseRecorder, name string) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSealedRoundTrip(t *testing.T) {
	o := newOwners("alice")
	s := newTestSealed(t, testRing, "web", o)
	w := httptest.NewRecorder()
	r := requestWith(nil)
	r.TLS = &tls.ConnectionState{}
	sid, err := s.Start(w, r, "alice")
	if err != nil {
		t.Fatal(err)
	}
	c := cookieOf(t, w, "src")
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 0 {
		t.Fatalf("cookie %+v", c)
	}
	if len(sid) != 22 || strings.Contains(c.Value, sid) {
		t.Errorf("session ID %q (cookie %q): want 16 bytes in base64, not in the cookie as is", sid, c.Value)
	}
	v, got, err := s.Get(nil, requestWith(c))
	if err != nil || v != "alice" || got != sid {
		t.Fatalf("Get = %q, %q, %v; want alice, %q", v, got, err, sid)
	}

	tok, err := s.StartToken(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if v, _, err := s.Lookup(context.Background(), tok); err != nil || v != "alice" {
		t.Fatalf("Lookup = %q, %v", v, err)
	}
	other, _ := s.StartToken(context.Background(), "alice")
	if other == tok {
		t.Error("two tokens of the same value are equal")
	}

	w = httptest.NewRecorder()
	s.End(w, requestWith(c))
	if c := cookieOf(t, w, "src"); c == nil || c.Value != "" || c.MaxAge >= 0 {
		t.Errorf("End set %+v, want a cleared cookie", c)
	}
}

// sealAt seals a session of v as if started at created and last used at
// used, under the owner's epoch now.
func sealAt(t testing.TB, s *Sealed[string], v string, created, used time.Time) string {
	t.Helper()
	e, err := s.Epoch(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	st := sealedState{created: created, used: used, epoch: e}
	st.id[0] = 7
	tok, err := s.seal(context.Background(), st, []byte(v), used)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestSealedRefused(t *testing.T) {
	o := newOwners("alice", "gone")
	s := newTestSealed(t, testRing, "web", o)
	ctx := context.Background()
	good, err := s.StartToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	gone, _ := s.StartToken(ctx, "gone")
	o.remove("gone")
	ended := sealAt(t, s, "alice", time.Now(), time.Now())
	o.set("alice", 1) // logout: ends good and ended
	good, _ = s.StartToken(ctx, "alice")

	otherKey, _ := newTestSealed(t, (&testKeys{seed: 100}).ring(), "web", o).StartToken(ctx, "alice")
	otherPurpose, _ := newTestSealed(t, testRing, "api", o).StartToken(ctx, "alice")
	now := time.Now()
	flip := func(tok string, i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	raw := []byte(good)
	sealed := func(st sealedState, b []byte, at time.Time) string {
		tok, err := s.seal(ctx, st, b, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"not base64", strings.Repeat("!", len(good))},
		{"padded base64", good + "=="},
		{"truncated", good[:len(good)-1]},
		{"shorter than a session", good[:40]},
		{"longer than any session", good + strings.Repeat("A", maxSealedToken)},
		{"a byte appended", good + "AA"},
		{"version changed", flip(good, 0)},
		{"nonce changed", flip(good, 5)},
		{"ciphertext changed", flip(good, 50)},
		{"tag changed", flip(good, len(good)-3)},
		{"another key", otherKey},
		{"another purpose", otherPurpose},
		{"idle too long", sealAt(t, s, "alice", now.Add(-30*time.Minute), now.Add(-21*time.Minute))},
		{"past its lifetime", sealAt(t, s, "alice", now.Add(-2*time.Hour-time.Minute), now)},
		{"from the future", sealAt(t, s, "alice", now.Add(time.Hour), now.Add(time.Hour))},
		{"used before it began", sealAt(t, s, "alice", now, now.Add(-time.Second))},
		{"an ended epoch", ended},
		{"an owner who is gone", gone},
		{"an empty value", sealed(sealedState{created: now, used: now, epoch: 1}, nil, now)},
		{"a value over the limit", sealed(sealedState{created: now, used: now, epoch: 1}, bytes.Repeat([]byte("a"), MaxSealedValue+1), now)},
		{"a window too old", sealed(sealedState{created: now, used: now, epoch: 1}, []byte("alice"), now.Add(-3*time.Hour))},
		{"a window too far ahead", sealed(sealedState{created: now, used: now, epoch: 1}, []byte("alice"), now.Add(2*time.Hour))},
		{"the raw bytes", string(raw[:len(raw)/2])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, sid, err := s.Lookup(ctx, tt.token); !errors.Is(err, ErrNoSession) || v != "" || sid != "" {
				t.Errorf("Lookup = %q, %q, %v; want ErrNoSession", v, sid, err)
			}
			c := &http.Cookie{Name: "src", Value: tt.token}
			if tt.token == "" || strings.ContainsAny(tt.token, "=!") {
				return // not a cookie value a browser sends
			}
			if v, _, err := s.Get(nil, requestWith(c)); !errors.Is(err, ErrNoSession) || v != "" {
				t.Errorf("Get = %q, %v; want ErrNoSession", v, err)
			}
		})
	}
	if _, _, err := s.Get(nil, requestWith(nil)); !errors.Is(err, ErrNoSession) {
		t.Errorf("Get without a cookie: %v", err)
	}
	if v, _, err := s.Lookup(ctx, good); err != nil || v != "alice" {
		t.Errorf("a session of the new epoch: %q, %v", v, err)
	}
}

// TestSealedEpochError: a failing store is an error of its own, not a
// session that ended.
func TestSealedEpochError(t *testing.T) {
	o := newOwners("alice")
	s := newTestSealed(t, testRing, "api", o)
	tok, _ := s.StartToken(context.Background(), "alice")
	broken := errors.New("database is locked")
	s.Epoch = func(context.Context, string) (int64, error) { return 0, broken }
	if _, _, err := s.Lookup(context.Background(), tok); !errors.Is(err, broken) {
		t.Errorf("Lookup = %v, want the store's error", err)
	}
	if _, err := s.StartToken(context.Background(), "alice"); !errors.Is(err, broken) {
		t.Errorf("StartToken = %v, want the store's error", err)
	}
}

func TestSealedRefresh(t *testing.T) {
	o := newOwners("alice")
	s := newTestSealed(t, testRing, "web", o)
	now := time.Now()
	stale := &http.Cookie{Name: "src", Value: sealAt(t, s, "alice", now.Add(-time.Hour), now.Add(-5*time.Minute))}
	_, sid, _ := s.Get(nil, requestWith(stale))

	w := httptest.NewRecorder()
	if _, got, err := s.Get(w, requestWith(stale)); err != nil || got != sid {
		t.Fatalf("Get = %q, %v", got, err)
	}
	fresh := cookieOf(t, w, "src")
	if fresh == nil || fresh.Value == stale.Value {
		t.Fatalf("a cookie used 5 minutes ago was not sealed again: %+v", fresh)
	}
	st, _, err := s.open(context.Background(), fresh.Value, time.Now())
	if err != nil || st.sid() != sid || st.created.Unix() != now.Add(-time.Hour).Unix() || time.Since(st.used) > time.Minute {
		t.Errorf("refreshed session: ID %q (want %q), created %v, used %v", st.sid(), sid, st.created, st.used)
	}
	// Idle expiry slides: the fresh cookie outlives the stale one.
	if _, _, err := s.open(context.Background(), fresh.Value, now.Add(19*time.Minute)); err != nil {
		t.Error("the refreshed cookie expired with the old one's idle time")
	}
	if _, _, err := s.open(context.Background(), stale.Value, now.Add(19*time.Minute)); err == nil {
		t.Error("the stale cookie outlived its idle time")
	}

	w = httptest.NewRecorder()
	if _, _, err := s.Get(w, requestWith(fresh)); err != nil {
		t.Fatal(err)
	}
	if c := cookieOf(t, w, "src"); c != nil {
		t.Errorf("a cookie used just now was set again: %+v", c)
	}
}

func TestSealedTokenSize(t *testing.T) {
	o := newOwners(strings.Repeat("v", MaxSealedValue))
	s := newTestSealed(t, testRing, "web", o)
	tok, err := s.StartToken(context.Background(), strings.Repeat("v", MaxSealedValue))
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > MaxSmallField || len(tok) > maxSealedToken {
		t.Errorf("a token of the largest value is %d bytes, over %d (MaxSmallField) or %d", len(tok), MaxSmallField, maxSealedToken)
	}
	if _, _, err := s.Lookup(context.Background(), tok); err != nil {
		t.Errorf("the largest token: %v", err)
	}
	o.set(strings.Repeat("v", MaxSealedValue+1), 0)
	if _, err := s.StartToken(context.Background(), strings.Repeat("v", MaxSealedValue+1)); err == nil {
		t.Error("a value over MaxSealedValue was sealed")
	}
	if _, err := NewSealed[string](nil, "web"); err == nil {
		t.Error("NewSealed took no key ring")
	}
	if _, err := NewSealed[string](testRing, ""); err == nil {
		t.Error("NewSealed took no purpose")
	}
}

// TestSealedConcurrent runs under -race: one Sealed serves many requests.
func TestSealedConcurrent(t *testing.T) {
	o := newOwners("a", "b")
	s := newTestSealed(t, testRing, "web", o)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			v := []string{"a", "b"}[i%2]
			for range 200 {
				tok, err := s.StartToken(context.Background(), v)
				if err != nil {
					t.Error(err)
					return
				}
				if got, _, err := s.Lookup(context.Background(), tok); err != nil || got != v {
					t.Errorf("Lookup = %q, %v", got, err)
					return
				}
				w := httptest.NewRecorder()
				c := &http.Cookie{Name: "src", Value: sealAt(t, s, v, time.Now().Add(-time.Hour), time.Now().Add(-2*time.Minute))}
				if _, _, err := s.Get(w, requestWith(c)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func FuzzSealedOpen(f *testing.F) {
	o := newOwners("alice")
	s := newTestSealed(f, testRing, "web", o)
	good, _ := s.StartToken(context.Background(), "alice")
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-2])
	f.Add(strings.Repeat("A", maxSealedToken))
	f.Add("AQ" + good[2:])
	f.Fuzz(func(t *testing.T, token string) {
		v, sid, err := s.Lookup(context.Background(), token)
		if err != nil {
			if v != "" || sid != "" {
				t.Fatalf("a refused token gave %q, %q", v, sid)
			}
			return
		}
		// Only a token sealed under the key opens (each fuzzing process
		// seals good anew, so it may be another process's): the fuzzer
		// cannot forge one, nor change one that opens.
		if len(token) != len(good) || v != "alice" {
			t.Fatalf("%q opened as %q", token, v)
		}
	})
}

func BenchmarkSealedLookup(b *testing.B) {
	o := newOwners("alice")
	s := newTestSealed(b, testRing, "web", o)
	tok, _ := s.StartToken(context.Background(), "alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Lookup(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyRing: each window has its key; the first use of a window deletes
// the keys that fell out of the ring, from the database and from memory;
// a token of a window out of the ring is refused without the database
// being asked (no token makes the server create a key); a failing Forget
// does not stop sessions and is tried again.
func TestKeyRing(t *testing.T) {
	ctx := context.Background()
	o := newOwners("alice")
	k := &testKeys{seed: 1}
	ring := k.ring()
	s := newTestSealed(t, ring, "web", o)
	now := time.Now()
	c := ring.window(now)

	old := sealAt(t, s, "alice", now.Add(-3*time.Hour), now.Add(-3*time.Hour))
	if _, ok := k.keys[c-3]; !ok {
		t.Fatalf("no key of window %d after sealing in it", c-3)
	}
	tok, err := s.StartToken(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	_, kept := k.keys[c-3]
	forgot := slices.Contains(k.forgot, c-2)
	k.made = nil
	k.mu.Unlock()
	if kept || !forgot {
		t.Errorf("after a use of window %d: key of window %d kept %v, Forget(%d) called %v (%v)", c, c-3, kept, c-2, forgot, k.forgot)
	}
	ring.mu.Lock()
	_, cached := ring.aeads[c-3]
	ring.mu.Unlock()
	if cached {
		t.Error("the forgotten key is still in memory")
	}
	if _, _, err := s.Lookup(ctx, old); !errors.Is(err, ErrNoSession) {
		t.Errorf("a token of a forgotten window: %v", err)
	}
	// Sealed elsewhere with the same keys, by a clock 3 hours ahead.
	ahead := sealAt(t, newTestSealed(t, (&testKeys{seed: 1}).ring(), "web", o), "alice", now.Add(3*time.Hour), now.Add(3*time.Hour))
	if _, _, err := s.Lookup(ctx, ahead); !errors.Is(err, ErrNoSession) {
		t.Errorf("a token of a window 3 hours ahead: %v", err)
	}
	if _, _, err := s.Lookup(ctx, tok); err != nil {
		t.Errorf("a token of the current window: %v", err)
	}
	k.mu.Lock()
	if len(k.made) != 0 {
		t.Errorf("keys asked for while opening: %v", k.made)
	}
	k.mu.Unlock()

	// A window still in the ring opens (a token without idle expiry).
	s.Idle = 0
	recent := sealAt(t, s, "alice", now.Add(-time.Hour), now.Add(-time.Hour))
	if _, _, err := s.Lookup(ctx, recent); err != nil {
		t.Errorf("a token of the previous window: %v", err)
	}

	failing := &testKeys{seed: 7}
	calls := 0
	fr := &KeyRing{Window: time.Hour, Keep: 3, Secret: failing.secret, Forget: func(context.Context, int64) error {
		calls++
		return errors.New("database is locked")
	}}
	fs := newTestSealed(t, fr, "web", o)
	for range 2 {
		if tok, err := fs.StartToken(ctx, "alice"); err != nil {
			t.Fatalf("StartToken with a failing Forget: %v", err)
		} else if _, _, err := fs.Lookup(ctx, tok); err != nil {
			t.Fatalf("Lookup with a failing Forget: %v", err)
		}
	}
	if calls < 2 {
		t.Errorf("a failed Forget was not tried again: %d calls", calls)
	}
}
