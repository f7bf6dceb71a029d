package httpx

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a test's clock, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestThrottle() (*Throttle, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &Throttle{Burst: 5, Interval: 12 * time.Minute, Now: c.now}, c
}

func TestThrottleAllowance(t *testing.T) {
	tests := []struct {
		name    string
		tries   int           // attempts first, at once
		refund  int           // of them, successful
		wait    time.Duration // then this long
		allowed bool          // is one more allowed?
	}{
		{"none", 0, 0, 0, true},
		{"four", 4, 0, 0, true},
		{"five: the burst is spent", 5, 0, 0, false},
		{"five, then less than an interval", 5, 0, 11 * time.Minute, false},
		{"five, then an interval", 5, 0, 12 * time.Minute, true},
		{"five, one of them a success", 5, 1, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th, c := newTestThrottle()
			for range tt.tries {
				th.AttemptAccount("alice")
			}
			for range tt.refund {
				th.RefundAccount("alice")
			}
			c.add(tt.wait)
			if got := th.AttemptAccount("alice"); got != tt.allowed {
				t.Errorf("AttemptAccount(alice) = %v, want %v", got, tt.allowed)
			}
			if !th.AttemptAccount("bob") || !th.AttemptDevice([]byte("alice's laptop")) {
				t.Error("alice's attempts spent another allowance")
			}
		})
	}
}

// TestThrottleTenAnHour: an attacker trying as fast as allowed for three
// hours gets at most ten attempts in any hour.
func TestThrottleTenAnHour(t *testing.T) {
	th, c := newTestThrottle()
	var allowed []time.Time
	for range 3 * 60 * 60 {
		if th.AttemptAccount("alice") {
			allowed = append(allowed, c.now())
		}
		c.add(time.Second)
	}
	most := 0
	for i := range allowed {
		n := 0
		for _, a := range allowed[i:] {
			if a.Sub(allowed[i]) < time.Hour {
				n++
			}
		}
		most = max(most, n)
	}
	if most > 10 || most < 9 {
		t.Errorf("at most %d attempts in an hour, want 10", most)
	}
	t.Logf("%d attempts in 3 hours, at most %d in one hour", len(allowed), most)
}

// TestThrottleMadeUpNames is the attack on the old table, which dropped
// its oldest entry when full: 10,000 made-up names free nothing.
func TestThrottleMadeUpNames(t *testing.T) {
	th, _ := newTestThrottle()
	for range 5 {
		th.AttemptAccount("alice")
	}
	for i := range 100_000 {
		th.AttemptAccount(fmt.Sprintf("made-up-%d", i))
	}
	if th.AttemptAccount("alice") {
		t.Error("100,000 made-up names reset alice's allowance")
	}
}

func TestThrottleParallel(t *testing.T) {
	th, _ := newTestThrottle()
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if th.AttemptAccount("alice") {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 {
		t.Errorf("%d parallel attempts allowed, want 5", ok.Load())
	}
}
