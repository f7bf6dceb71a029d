package httpx

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rewind moves the first failure of name into the past.
func (t *Throttle) rewind(name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.m[name].first = t.m[name].first.Add(-d)
}

func TestThrottle(t *testing.T) {
	const window = 15 * time.Minute
	tests := []struct {
		name     string
		failures int
		succeed  bool          // a successful login after the failures
		elapsed  time.Duration // time since the first failure
		allowed  bool
	}{
		{"no failure", 0, false, 0, true},
		{"four failures", 4, false, 0, true},
		{"five failures lock", 5, false, 0, false},
		{"six failures lock", 6, false, 0, false},
		{"five failures, still inside the window", 5, false, window - time.Minute, false},
		{"five failures, window passed", 5, false, window + time.Second, true},
		{"four failures then a success forget them", 4, true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := &Throttle{MaxFailures: 5, Window: window}
			for range tt.failures {
				th.Attempt("alice")
			}
			if tt.succeed {
				th.Succeed("alice")
				// After a success, a new series starts from zero: four
				// more failures still leave the name allowed.
				for range 4 {
					th.Attempt("alice")
				}
			}
			if tt.elapsed > 0 {
				th.rewind("alice", tt.elapsed)
			}
			if got := th.Attempt("alice"); got != tt.allowed {
				t.Errorf("Attempt(alice) = %v, want %v", got, tt.allowed)
			}
			if !th.Attempt("bob") {
				t.Error("alice's failures locked bob")
			}
		})
	}
}

func TestThrottleNewSeriesAfterWindow(t *testing.T) {
	th := &Throttle{MaxFailures: 5, Window: time.Minute}
	for range 5 {
		th.Attempt("alice")
	}
	th.rewind("alice", 2*time.Minute)
	// One failure after the window starts a new series: not locked.
	th.Attempt("alice")
	if !th.Attempt("alice") {
		t.Fatal("a failure after the window counts the old ones too")
	}
	for range 3 {
		th.Attempt("alice")
	}
	if th.Attempt("alice") {
		t.Fatal("five attempts of the new series do not lock")
	}
}

func TestThrottleTableFull(t *testing.T) {
	th := &Throttle{MaxFailures: 5, Window: time.Minute}
	for i := range maxThrottled {
		th.Attempt(string(rune(i + 0x4e00)))
		if i == 0 {
			time.Sleep(time.Millisecond) // the first name is the oldest
		}
	}
	// A full table of made-up names must not lock real journalists out:
	// the oldest entry makes room, and the table stays bounded.
	if !th.Attempt("alice") {
		t.Error("a journalist is refused because the table is full")
	}
	th.mu.Lock()
	n := len(th.m)
	_, oldest := th.m[string(rune(0x4e00))]
	th.mu.Unlock()
	if n > maxThrottled || oldest {
		t.Errorf("the table has %d entries (max %d), the oldest kept: %v", n, maxThrottled, oldest)
	}
}

// Attempts count when they start: of many parallel attempts, only
// MaxFailures get to check a password.
func TestThrottleParallel(t *testing.T) {
	th := &Throttle{MaxFailures: 5, Window: time.Minute}
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if th.Attempt("ana") {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != 5 {
		t.Fatalf("%d parallel attempts went through, want 5", got)
	}
}
