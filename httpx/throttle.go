package httpx

import (
	"sync"
	"time"
)

// Throttle limits failed logins per account name, in memory only (no
// address of anyone is kept). After MaxFailures failures within Window,
// the name is locked until Window has passed since the first of them.
type Throttle struct {
	MaxFailures int
	Window      time.Duration

	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

// maxThrottled bounds the names tracked; beyond it, stale ones are dropped
// and, if none is stale, every name counts as locked until some are.
const maxThrottled = 10_000

// Allowed reports whether a login for name may be tried now.
func (t *Throttle) Allowed(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[name]
	if !ok {
		return len(t.m) < maxThrottled || t.sweepLocked()
	}
	if time.Since(f.first) > t.Window {
		delete(t.m, name)
		return true
	}
	return f.n < t.MaxFailures
}

// Fail records a failed login for name.
func (t *Throttle) Fail(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*failures{}
	}
	f, ok := t.m[name]
	if !ok || time.Since(f.first) > t.Window {
		if len(t.m) >= maxThrottled && !t.sweepLocked() {
			return
		}
		f = &failures{first: time.Now()}
		t.m[name] = f
	}
	f.n++
}

// Succeed forgets name's failures.
func (t *Throttle) Succeed(name string) {
	t.mu.Lock()
	delete(t.m, name)
	t.mu.Unlock()
}

// sweepLocked drops stale entries and reports whether there is room.
func (t *Throttle) sweepLocked() bool {
	for k, f := range t.m {
		if time.Since(f.first) > t.Window {
			delete(t.m, k)
		}
	}
	return len(t.m) < maxThrottled
}
