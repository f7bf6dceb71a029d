package admit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hold fills every slot of g with work that lasts until the returned
// function is called.
func hold(t *testing.T, g *Gate) (release func()) {
	t.Helper()
	stop := make(chan struct{})
	var started sync.WaitGroup
	for k := range g.slots {
		started.Add(1)
		// The ordinary lanes may hold all slots but one.
		l := New
		if k > 0 {
			l = NewProven
		}
		go g.Do(context.Background(), l, func() { started.Done(); <-stop })
	}
	started.Wait()
	return sync.OnceFunc(func() { close(stop) })
}

// enqueue starts a request in lane l that records its lane in order when
// it runs, and waits until it is queued.
func enqueue(t *testing.T, g *Gate, l Lane, order chan<- Lane, errs chan<- error) {
	t.Helper()
	before := g.Waiting()
	go func() {
		err := g.Do(context.Background(), l, func() { order <- l })
		if errs != nil && err != nil {
			errs <- err
		}
	}()
	for g.Waiting() == before {
		time.Sleep(time.Millisecond)
	}
}

// With a flood of logins queued first, a new tip that arrives after them
// is served among the first, not after the flood.
func TestNewTipsAreNotStarvedByLogins(t *testing.T) {
	g := NewGate(1, time.Minute)
	release := hold(t, g)
	order := make(chan Lane, 64)
	for range 20 {
		enqueue(t, g, Login, order, nil)
	}
	enqueue(t, g, New, order, nil)
	release()
	for k := range 4 {
		if l := <-order; l == New {
			return
		} else if k == 3 {
			t.Fatalf("the new tip was not among the first four served")
		}
	}
}

// When every lane is full, proven lanes get two turns in three and the
// ordinary lanes the third: none is starved.
func TestScheduleSharesTurns(t *testing.T) {
	g := NewGate(1, time.Minute)
	release := hold(t, g)
	order := make(chan Lane, 256)
	for range 12 {
		for _, l := range []Lane{Login, New, LoginProven, NewProven} {
			enqueue(t, g, l, order, nil)
		}
	}
	release()
	var got [Lanes]int
	for range 24 {
		got[<-order]++
	}
	// 24 turns are four rounds of the six-step schedule (the first turn
	// may have gone to the holder's release).
	for l, want := range map[Lane]int{NewProven: 8, LoginProven: 8, New: 4, Login: 4} {
		if got[l] < want-1 || got[l] > want+1 {
			t.Errorf("lane %v served %d of 24, want about %d (all: %v)", l, got[l], want, got)
		}
	}
}

// A request that cannot start soon is told at once.
func TestShedsAtOnce(t *testing.T) {
	g := NewGate(1, 100*time.Millisecond)
	g.avg = 50 * time.Millisecond // capacity: two in the lane
	release := hold(t, g)
	defer release()
	for range 2 {
		enqueue(t, g, Login, make(chan Lane, 1), nil)
	}
	start := time.Now()
	err := g.Do(context.Background(), Login, func() { t.Error("ran past capacity") })
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("past capacity: %v, want ErrBusy", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("telling a request to retry took %v", d)
	}
	// Another lane still has room.
	if len(g.queue[New]) >= g.capacityLocked(New) {
		t.Errorf("a full login lane left no room for new tips")
	}
	if s := g.Stats(); s.Shed[Login] != 1 {
		t.Errorf("shed counter %v", s.Shed)
	}
}

// A request that waited past the gate's wait gives up with ErrBusy,
// without running and without keeping its place.
func TestGivesUpAfterMaxWait(t *testing.T) {
	g := NewGate(1, 30*time.Millisecond)
	g.avg = time.Millisecond
	release := hold(t, g)
	defer release()
	err := g.Do(context.Background(), New, func() { t.Error("ran after giving up") })
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("after the wait: %v, want ErrBusy", err)
	}
	if n := g.Waiting(); n != 0 {
		t.Errorf("%d left waiting", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	if err := g.Do(ctx, New, func() {}); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled request: %v", err)
	}
}

// Under many concurrent requests, no more run at once than there are
// slots, and every request either runs or is told to retry.
func TestNeverMoreThanSlots(t *testing.T) {
	g := NewGate(2, 20*time.Millisecond)
	var running, most, ran, busy atomic.Int64
	var wg sync.WaitGroup
	for k := range 400 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.Do(context.Background(), Lane(k%int(Lanes)), func() {
				n := running.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				ran.Add(1)
			})
			if errors.Is(err, ErrBusy) {
				busy.Add(1)
			} else if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() > 2 {
		t.Errorf("%d ran at once in 2 slots", most.Load())
	}
	if ran.Load()+busy.Load() != 400 || ran.Load() == 0 {
		t.Errorf("ran %d, busy %d of 400", ran.Load(), busy.Load())
	}
	if g.Waiting() != 0 || g.busy != 0 {
		t.Errorf("left %d waiting, %d busy", g.Waiting(), g.busy)
	}
}

// Only the proven lanes' queue prices the proof of work.
func TestWaitingProven(t *testing.T) {
	g := NewGate(1, time.Minute)
	release := hold(t, g)
	defer release()
	order := make(chan Lane, 16)
	for range 3 {
		enqueue(t, g, Login, order, nil)
	}
	enqueue(t, g, NewProven, order, nil)
	if w, p := g.Waiting(), g.WaitingProven(); w != 4 || p != 1 {
		t.Errorf("waiting %d, proven %d; want 4 and 1", w, p)
	}
}

// While requests with a proof come, requests without hold at most all
// slots but one: a request with a proof starts at once beside a flood of
// ordinary ones.
func TestOrdinaryLanesLeaveASlot(t *testing.T) {
	g := NewGate(2, time.Minute)
	g.proven = time.Now() // a request with a proof came just now
	stop := make(chan struct{})
	defer close(stop)
	var running, most atomic.Int64
	for k := range 6 {
		go g.Do(context.Background(), []Lane{Login, New}[k%2], func() {
			n := running.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-stop
			running.Add(-1)
		})
	}
	for g.Waiting() < 5 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- g.Do(context.Background(), LoginProven, func() {}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a proven request did not start beside the ordinary flood")
	}
	if most.Load() != 1 {
		t.Errorf("%d ordinary requests ran at once in a gate of 2", most.Load())
	}
}

// When no one proves work, the ordinary lanes may use every slot.
func TestOrdinaryLanesUseEverySlotAlone(t *testing.T) {
	g := NewGate(2, time.Minute)
	stop := make(chan struct{})
	var started sync.WaitGroup
	for range 2 {
		started.Add(1)
		go g.Do(context.Background(), Login, func() { started.Done(); <-stop })
	}
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	select {
	case <-both:
	case <-time.After(5 * time.Second):
		t.Error("two ordinary requests could not run at once with no proof in sight")
	}
	close(stop)
}

// TakePeaks tells the longest queue of each lane since the last call, and
// the next period starts from the queues as they are.
func TestTakePeaks(t *testing.T) {
	g := NewGate(1, time.Minute)
	var took atomic.Int64
	g.Observe = func(d time.Duration) { took.Add(1) }
	release := hold(t, g)
	order := make(chan Lane, 16)
	for range 3 {
		enqueue(t, g, Login, order, nil)
	}
	enqueue(t, g, New, order, nil)
	if p := g.TakePeaks(); p[Login] != 3 || p[New] != 1 || p[NewProven] != 0 {
		t.Errorf("peaks %v; want 3 logins and 1 new", p)
	}
	// Still queued: the next period starts there.
	if p := g.TakePeaks(); p[Login] != 3 || p[New] != 1 {
		t.Errorf("peaks of the next period %v; want the queues as they are", p)
	}
	release()
	for range 4 {
		<-order
	}
	if p := g.Waiting(); p != 0 {
		t.Fatalf("%d still waiting", p)
	}
	if p := g.TakePeaks(); p[Login] != 3 {
		t.Errorf("peaks %v; want the 3 logins that waited in the period", p)
	}
	if p := g.TakePeaks(); p != [Lanes]int{} {
		t.Errorf("peaks of an idle period %v; want none", p)
	}
	// Observe runs after release, which is after the work: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for took.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := took.Load(); n != 5 {
		t.Errorf("Observe told of %d pieces of work; want 5 (1 holding, 4 queued)", n)
	}
}
