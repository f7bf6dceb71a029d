package httpx

import (
	"sync"
	"time"
)

// Throttle limits login attempts per account name, in memory only (no
// address of anyone is kept). Every attempt counts from the moment it
// starts, before any password is checked, so parallel attempts cannot all
// slip through: after MaxFailures attempts within Window that did not
// succeed, the name is locked until Window has passed since the first.
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

// maxThrottled bounds the names tracked. When the table is full, the
// entry whose window started first is dropped: an attacker who fills it
// with made-up names frees their own entries first, and cannot lock every
// journalist out.
const maxThrottled = 10_000

// Attempt reports whether a login for name may be tried now, and if so
// counts it. A successful login must call Succeed.
func (t *Throttle) Attempt(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*failures{}
	}
	now := time.Now()
	f, ok := t.m[name]
	if ok && now.Sub(f.first) > t.Window {
		ok = false
	}
	if !ok {
		if len(t.m) >= maxThrottled {
			t.makeRoomLocked(now)
		}
		f = &failures{first: now}
		t.m[name] = f
	}
	if f.n >= t.MaxFailures {
		return false
	}
	f.n++
	return true
}

// Succeed forgets name's attempts.
func (t *Throttle) Succeed(name string) {
	t.mu.Lock()
	delete(t.m, name)
	t.mu.Unlock()
}

// makeRoomLocked drops stale entries, and if none is stale, the oldest.
func (t *Throttle) makeRoomLocked(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, f := range t.m {
		if now.Sub(f.first) > t.Window {
			delete(t.m, k)
			continue
		}
		if oldest == "" || f.first.Before(oldestAt) {
			oldest, oldestAt = k, f.first
		}
	}
	if len(t.m) >= maxThrottled && oldest != "" {
		delete(t.m, oldest)
	}
}
