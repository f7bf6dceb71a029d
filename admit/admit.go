// Package admit is the bounded admission of key stretching: every
// Argon2id derivation the server makes for a source (a new tip's codename,
// a returning source's login) waits here for one of a few slots, in one of
// four lanes.
//
// Without addresses, the server cannot tell a flood from its sources, so
// it shares its work between kinds of request instead:
//
//   - New tips and logins wait in separate lanes, so that a flood of cheap
//     wrong-codename logins cannot starve submissions whose bodies have
//     already arrived, nor returning sources starve new tips.
//   - A request that carries a proof of work (package pow: the pages'
//     script, `pista submit`, apps) waits in a priority lane of its kind,
//     served twice as often as the ordinary one; the ordinary lanes, where
//     sources without JavaScript wait, are never starved: they get one
//     turn in three when every lane is full.
//   - While requests with a proof are coming (one in the last ReserveFor),
//     requests without use at most all slots but one (of a gate with two
//     or more): a flood in the ordinary lanes takes one core of a small
//     server, and the rest stays free for requests with a proof and for
//     everything else their sources do (pages, uploads, storing). When no
//     one proves work, the ordinary lanes may use every slot.
//   - A request that cannot start within MaxWait is told at once (ErrBusy)
//     rather than queued: each lane holds only what its share of the
//     slots can serve in that time, measured from how long the work has
//     been taking. One that waited past MaxWait anyway gives up with
//     ErrBusy. The caller has stored nothing yet and says "try again in a
//     minute" in the source's language.
package admit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Lane is a kind of request.
type Lane uint8

// The lanes.
const (
	NewProven   Lane = iota // a new tip with a proof of work
	LoginProven             // a returning source's login with a proof of work
	New                     // a new tip without (no JavaScript)
	Login                   // a returning source's login without
	// Lanes is the number of lanes.
	Lanes
)

func (l Lane) String() string {
	return [...]string{"new+pow", "login+pow", "new", "login"}[l]
}

// schedule is the order in which lanes are served when several wait:
// the proven lanes twice per turn, the ordinary ones once.
var schedule = [...]Lane{NewProven, LoginProven, New, NewProven, LoginProven, Login}

// weight is how many times a lane appears in schedule.
var weight = func() (w [Lanes]int) {
	for _, l := range schedule {
		w[l]++
	}
	return w
}()

// ErrBusy is a request that cannot be served soon.
var ErrBusy = errors.New("admit: too busy to serve this request soon")

// DefaultMaxWait is how long a request may wait for a slot: with the work
// itself and the rest of the request, a source hears back within 5 s.
const DefaultMaxWait = 3 * time.Second

// Gate admits work into a fixed number of slots.
type Gate struct {
	slots   int
	maxWait time.Duration

	mu     sync.Mutex
	busy   int
	plain  int       // of busy, requests of the ordinary lanes
	proven time.Time // when the last request with a proof arrived
	queue  [Lanes][]*waiter
	turn   int           // position in schedule
	avg    time.Duration // moving average of how long work takes
	served [Lanes]uint64
	shed   [Lanes]uint64
	peak   [Lanes]int // the longest each queue was since TakePeaks

	// Observe, if set before the gate is first used, is told how long
	// each piece of work took (the metrics' key-stretching time).
	Observe func(took time.Duration)
}

type waiter struct {
	ready   chan struct{}
	granted bool
}

// New returns a Gate of slots slots where a request waits at most
// maxWait (0: DefaultMaxWait).
func NewGate(slots int, maxWait time.Duration) *Gate {
	if slots < 1 {
		slots = 1
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxWait
	}
	return &Gate{slots: slots, maxWait: maxWait, avg: 50 * time.Millisecond}
}

// Do runs work in lane l when a slot is free. It returns ErrBusy without
// running it when the request cannot start within the gate's wait, or the
// context's error if that ends first.
func (g *Gate) Do(ctx context.Context, l Lane, work func()) error {
	if err := g.acquire(ctx, l); err != nil {
		return err
	}
	start := time.Now()
	defer func() {
		took := time.Since(start)
		g.release(l, took)
		if g.Observe != nil {
			g.Observe(took)
		}
	}()
	work()
	return nil
}

// ordinary reports whether l is a lane of requests without a proof.
func ordinary(l Lane) bool { return l == New || l == Login }

// ReserveFor is how long after a request with a proof a slot stays
// reserved for such requests.
const ReserveFor = 2 * time.Second

// plainSlots is how many slots the ordinary lanes may hold at once.
func (g *Gate) plainSlots() int {
	if time.Since(g.proven) < ReserveFor {
		return max(1, g.slots-1)
	}
	return g.slots
}

// canStartLocked reports whether a request of lane l may take a free slot.
func (g *Gate) canStartLocked(l Lane) bool {
	return g.busy < g.slots && (!ordinary(l) || g.plain < g.plainSlots())
}

// startLocked takes a slot for a request of lane l.
func (g *Gate) startLocked(l Lane) {
	g.busy++
	if ordinary(l) {
		g.plain++
	}
	g.served[l]++
}

func (g *Gate) acquire(ctx context.Context, l Lane) error {
	g.mu.Lock()
	if !ordinary(l) {
		g.proven = time.Now()
	}
	// Whoever waits could not take a free slot (each release hands them
	// on at once), so a free slot this lane may use is this request's.
	if g.canStartLocked(l) && len(g.queue[l]) == 0 {
		g.startLocked(l)
		g.mu.Unlock()
		return nil
	}
	if len(g.queue[l]) >= g.capacityLocked(l) {
		g.shed[l]++
		g.mu.Unlock()
		return ErrBusy
	}
	w := &waiter{ready: make(chan struct{})}
	g.queue[l] = append(g.queue[l], w)
	g.peak[l] = max(g.peak[l], len(g.queue[l]))
	g.mu.Unlock()

	t := time.NewTimer(g.maxWait)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-t.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if w.granted {
		// Granted as it gave up: hand the slot on.
		g.stopLocked(l)
		g.served[l]--
		g.grantLocked()
		return err
	}
	q := g.queue[l]
	for k, x := range q {
		if x == w {
			g.queue[l] = append(q[:k:k], q[k+1:]...)
			break
		}
	}
	g.shed[l]++
	return err
}

func (g *Gate) release(l Lane, took time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	// An average over the last eight or so.
	g.avg += (took - g.avg) / 8
	g.stopLocked(l)
	g.grantLocked()
}

// stopLocked gives back the slot of a request of lane l.
func (g *Gate) stopLocked(l Lane) {
	g.busy--
	if ordinary(l) {
		g.plain--
	}
}

// grantLocked hands free slots to waiters, lane by lane in schedule order.
func (g *Gate) grantLocked() {
	for g.busy < g.slots {
		var w *waiter
		for k := range schedule {
			l := schedule[(g.turn+k)%len(schedule)]
			if len(g.queue[l]) > 0 && g.canStartLocked(l) {
				w = g.queue[l][0]
				g.queue[l] = g.queue[l][1:]
				g.turn = (g.turn + k + 1) % len(schedule)
				g.startLocked(l)
				break
			}
		}
		if w == nil {
			return
		}
		w.granted = true
		close(w.ready)
	}
}

// capacityLocked is how many requests lane l may hold: as many as its
// share of the slots serves within maxWait at the recent pace, its share
// being its weight among the lanes that have requests waiting.
func (g *Gate) capacityLocked(l Lane) int {
	total := weight[l]
	for k := range Lanes {
		if Lane(k) != l && len(g.queue[k]) > 0 {
			total += weight[k]
		}
	}
	avg := max(g.avg, time.Millisecond)
	perSlot := float64(g.maxWait) / float64(avg)
	slots := g.slots
	if ordinary(l) {
		slots = g.plainSlots()
	}
	return max(1, int(perSlot*float64(slots)*float64(weight[l])/float64(total)))
}

func (g *Gate) waitingLocked() int {
	n := 0
	for _, q := range g.queue {
		n += len(q)
	}
	return n
}

// Waiting is the number of requests waiting for a slot, in every lane
// (the proof of work's difficulty rises with it).
func (g *Gate) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waitingLocked()
}

// WaitingProven is the number of requests waiting in the proven lanes:
// what the proof of work prices. A flood in the ordinary lanes (requests
// without a proof) does not make the puzzle of those with one harder.
func (g *Gate) WaitingProven() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue[NewProven]) + len(g.queue[LoginProven])
}

// Stats are a gate's counters since it started.
type Stats struct {
	Served, Shed [Lanes]uint64 // by lane: started, and told to retry
	Average      time.Duration // how long the work takes lately
}

// Stats returns the gate's counters.
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Stats{Served: g.served, Shed: g.shed, Average: g.avg}
}

// TakePeaks returns the longest each lane's queue has been since the last
// call (or since the gate started), and starts the next period from the
// queues' lengths now.
func (g *Gate) TakePeaks() [Lanes]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.peak
	for l := range g.peak {
		g.peak[l] = len(g.queue[l])
	}
	return p
}
