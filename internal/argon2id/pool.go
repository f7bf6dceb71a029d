package argon2id

import (
	"slices"
	"sync"
	"time"
)

// The block memory pool's policy (see the package doc, "Memory reuse").
const (
	// MaxIdle is how many buffers are kept while unused: as many as pista
	// runs derivations at once (keys.MaxConcurrentArgon).
	MaxIdle = 2
	// MaxKeptKiB is the largest buffer kept: a legacy instance's codename
	// memory and a journalist's, the largest pista derives with itself.
	MaxKeptKiB = 64 * 1024
	// IdleTimeout is how long an unused buffer is kept.
	IdleTimeout = 30 * time.Second
)

var buffers = &pool{maxIdle: MaxIdle, maxKept: MaxKeptKiB, timeout: IdleTimeout}

// pool keeps a few block buffers for the next derivations.
type pool struct {
	maxIdle int
	maxKept int // blocks
	timeout time.Duration

	mu    sync.Mutex
	idle  []idleBuffer // at most maxIdle
	timer *time.Timer  // drops buffers idle for timeout; nil if none is kept
}

type idleBuffer struct {
	blocks []block // full capacity
	since  time.Time
}

// get returns n blocks, from a kept buffer of at most 2n blocks if one
// is idle. Their content is undefined.
func (p *pool) get(n int) []block {
	p.mu.Lock()
	best := -1
	for i, b := range p.idle {
		if c := len(b.blocks); c >= n && c <= 2*n && (best < 0 || c < len(p.idle[best].blocks)) {
			best = i
		}
	}
	if best >= 0 {
		b := p.idle[best].blocks
		p.idle = slices.Delete(p.idle, best, best+1)
		p.mu.Unlock()
		return b[:n]
	}
	p.mu.Unlock()
	return make([]block, n)
}

// put wipes b and keeps it if it is not too large, in place of the
// buffer idle longest if maxIdle are kept.
func (p *pool) put(b []block) {
	b = b[:cap(b)]
	clear(b)
	if len(b) > p.maxKept {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= p.maxIdle {
		oldest := 0
		for i, ib := range p.idle {
			if ib.since.Before(p.idle[oldest].since) {
				oldest = i
			}
		}
		p.idle = slices.Delete(p.idle, oldest, oldest+1)
	}
	p.idle = append(p.idle, idleBuffer{blocks: b, since: time.Now()})
	if p.timer == nil {
		p.timer = time.AfterFunc(p.timeout, p.trim)
	}
}

// trim drops the buffers idle for the pool's timeout, and runs again
// when the next would be.
func (p *pool) trim() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	kept := p.idle[:0]
	var next time.Duration
	for _, b := range p.idle {
		left := p.timeout - now.Sub(b.since)
		if left <= 0 {
			continue
		}
		kept = append(kept, b)
		if next == 0 || left < next {
			next = left
		}
	}
	clear(p.idle[len(kept):])
	p.idle = kept
	if len(kept) == 0 {
		p.timer = nil
		return
	}
	p.timer.Reset(next)
}

// idleBuffers is how many buffers are kept, for tests.
func (p *pool) idleBuffers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
