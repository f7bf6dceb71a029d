package argon2id

import (
	"testing"
	"time"
)

func TestPool(t *testing.T) {
	p := &pool{maxIdle: 2, maxKept: 1000, timeout: time.Hour}
	a, b, c := p.get(100), p.get(100), p.get(100)
	a[0][0] = 1
	p.put(a)
	if a[0][0] != 0 {
		t.Error("a returned buffer was not wiped")
	}
	p.put(b)
	p.put(c)
	if n := p.idleBuffers(); n != 2 {
		t.Fatalf("%d idle buffers, want 2", n)
	}
	if got := p.get(60); &got[0] != &b[0] && &got[0] != &c[0] {
		t.Error("a 60-block derivation did not reuse a kept 100-block buffer")
	}
	if got := p.get(40); len(got) != 40 || cap(got) != 40 {
		t.Errorf("a 40-block derivation got a buffer of %d blocks, want a new one: a kept one is over twice its size", cap(got))
	}
	p.put(make([]block, 1001))
	if n := p.idleBuffers(); n != 1 {
		t.Errorf("%d idle buffers after putting one over maxKept, want 1", n)
	}
	p.put(make([]block, 500))
	if got := p.get(500); cap(got) != 500 {
		t.Errorf("got %d blocks, want the 500 just put", cap(got))
	}
}

func TestPoolIdleTimeout(t *testing.T) {
	// The timeout is long beside the 10 ms between the two puts, so that
	// a loaded machine (CI with the race detector) cannot expire the first
	// buffer before the second comes.
	p := &pool{maxIdle: 2, maxKept: 1000, timeout: 500 * time.Millisecond}
	p.put(p.get(10))
	time.Sleep(10 * time.Millisecond)
	p.put(p.get(20)) // a new buffer: the kept one is too small
	if n := p.idleBuffers(); n != 2 {
		t.Fatalf("%d idle buffers, want 2", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.idleBuffers() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d buffers still kept after their idle timeout", p.idleBuffers())
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.put(p.get(10)) // the timer starts again
	if n := p.idleBuffers(); n != 1 {
		t.Errorf("%d idle buffers, want 1", n)
	}
}
