package storetest

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pista-tips/pista"
)

// RunShared runs the contract of pista.Shared against the stores open
// makes, each new and empty.
func RunShared(t *testing.T, open func(t *testing.T) pista.Shared) {
	ctx := context.Background()
	later := func() time.Time { return time.Now().Add(time.Hour) }
	key := []byte("k\x00\xff")

	t.Run("PutGetDelete", func(t *testing.T) {
		s := open(t)
		if _, ok, err := s.Get(ctx, "a", key); err != nil || ok {
			t.Fatalf("Get of nothing = %v, %v", ok, err)
		}
		must(t, s.Put(ctx, "a", key, []byte("one"), later()))
		must(t, s.Put(ctx, "a", key, []byte("two"), later()))
		v, ok, err := s.Get(ctx, "a", key)
		if err != nil || !ok || string(v) != "two" {
			t.Fatalf("Get = %q, %v, %v; want the last Put", v, ok, err)
		}
		if _, ok, _ := s.Get(ctx, "b", key); ok {
			t.Fatal("an entry of kind a is seen as kind b")
		}
		must(t, s.Delete(ctx, "a", key))
		if _, ok, _ := s.Get(ctx, "a", key); ok {
			t.Fatal("a deleted entry is still there")
		}
	})

	t.Run("ExpiredIsAbsent", func(t *testing.T) {
		s := open(t)
		must(t, s.Put(ctx, "a", key, []byte("old"), time.Now().Add(-time.Second)))
		if _, ok, _ := s.Get(ctx, "a", key); ok {
			t.Fatal("Get returns an expired entry")
		}
		if _, ok, _ := s.Take(ctx, "a", key); ok {
			t.Fatal("Take returns an expired entry")
		}
		if n, _ := s.Count(ctx, "a"); n != 0 {
			t.Fatalf("Count = %d with only an expired entry", n)
		}
		if ok, err := s.Add(ctx, "a", key, []byte("new"), later()); err != nil || !ok {
			t.Fatalf("Add over an expired entry = %v, %v", ok, err)
		}
		if v, _, _ := s.Get(ctx, "a", key); string(v) != "new" {
			t.Fatalf("after Add over an expired entry, Get = %q", v)
		}
		must(t, s.Put(ctx, "a", []byte("gone"), nil, time.Now().Add(-time.Minute)))
		n, err := s.Sweep(ctx, time.Now())
		if err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want the one expired entry", n, err)
		}
		if _, ok, _ := s.Get(ctx, "a", key); !ok {
			t.Fatal("Sweep removed a live entry")
		}
	})

	t.Run("AddOnce", func(t *testing.T) {
		s := open(t)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := s.Add(ctx, "spent", key, nil, later())
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent Adds of one key succeeded; want 1", wins.Load())
		}
	})

	t.Run("TakeOnce", func(t *testing.T) {
		s := open(t)
		must(t, s.Put(ctx, "c", key, []byte("challenge"), later()))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				v, ok, err := s.Take(ctx, "c", key)
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
					if string(v) != "challenge" {
						t.Errorf("Take = %q", v)
					}
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d concurrent Takes of one entry succeeded; want 1", wins.Load())
		}
	})

	t.Run("DeleteIfCountKeys", func(t *testing.T) {
		s := open(t)
		for _, k := range []string{"b", "a", "c"} {
			must(t, s.Put(ctx, "lock", []byte(k), []byte("holder-"+k), later()))
		}
		must(t, s.Put(ctx, "other", []byte("z"), nil, later()))
		if n, err := s.Count(ctx, "lock"); err != nil || n != 3 {
			t.Fatalf("Count = %d, %v; want 3", n, err)
		}
		ks, err := s.Keys(ctx, "lock", 2)
		if err != nil || len(ks) != 2 || !bytes.Equal(ks[0], []byte("a")) || !bytes.Equal(ks[1], []byte("b")) {
			t.Fatalf("Keys(2) = %q, %v; want a, b", ks, err)
		}
		if ok, _ := s.DeleteIf(ctx, "lock", []byte("a"), []byte("someone else")); ok {
			t.Fatal("DeleteIf deleted an entry holding another value")
		}
		if ok, _ := s.DeleteIf(ctx, "lock", []byte("a"), []byte("holder-a")); !ok {
			t.Fatal("DeleteIf did not delete the entry holding its value")
		}
		if n, _ := s.Count(ctx, "lock"); n != 2 {
			t.Fatalf("Count after DeleteIf = %d", n)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		s := open(t)
		if ok, _ := s.Replace(ctx, "r", key, nil, []byte("v"), later()); ok {
			t.Fatal("Replace made an entry that was not there")
		}
		if _, ok, _ := s.Get(ctx, "r", key); ok {
			t.Fatal("a Replace of nothing left an entry")
		}
		must(t, s.Put(ctx, "r", key, []byte("v1"), later()))
		if ok, _ := s.Replace(ctx, "r", key, []byte("other"), []byte("v2"), later()); ok {
			t.Fatal("Replace with the wrong old value replaced")
		}
		if ok, err := s.Replace(ctx, "r", key, []byte("v1"), []byte("v2"), later()); err != nil || !ok {
			t.Fatalf("Replace with the right old value = %v, %v", ok, err)
		}
		if ok, _ := s.Replace(ctx, "r", key, nil, []byte("v3"), later()); !ok {
			t.Fatal("Replace of any value did not replace")
		}
		if v, _, _ := s.Get(ctx, "r", key); string(v) != "v3" {
			t.Fatalf("Get = %q after the Replaces", v)
		}
		must(t, s.Put(ctx, "r", []byte("old"), []byte("v"), time.Now().Add(-time.Second)))
		if ok, _ := s.Replace(ctx, "r", []byte("old"), nil, []byte("v"), later()); ok {
			t.Fatal("Replace revived an expired entry")
		}
	})

	t.Run("Advance", func(t *testing.T) {
		s := open(t)
		for _, c := range []struct {
			n    int64
			want bool
		}{{10, true}, {10, false}, {9, false}, {11, true}, {3, false}} {
			ok, err := s.Advance(ctx, "step", key, c.n, later())
			if err != nil || ok != c.want {
				t.Fatalf("Advance(%d) = %v, %v; want %v", c.n, ok, err, c.want)
			}
		}
		if ok, _ := s.Advance(ctx, "step", []byte("other"), 1, later()); !ok {
			t.Fatal("another key's number is not its own")
		}
	})

	t.Run("SpendRefund", func(t *testing.T) {
		s := open(t)
		now := time.Now()
		const burst, iv = 3, time.Minute
		for i := range burst {
			if ok, err := s.Spend(ctx, "login", key, now, iv, burst); err != nil || !ok {
				t.Fatalf("attempt %d of a burst of %d refused (%v)", i+1, burst, err)
			}
		}
		if ok, _ := s.Spend(ctx, "login", key, now, iv, burst); ok {
			t.Fatal("an attempt past the burst was allowed")
		}
		if ok, _ := s.Spend(ctx, "login", []byte("other"), now, iv, burst); !ok {
			t.Fatal("another key's allowance was spent")
		}
		if ok, _ := s.Spend(ctx, "login", key, now.Add(iv), iv, burst); !ok {
			t.Fatal("no attempt came back after an interval")
		}
		if ok, _ := s.Spend(ctx, "login", key, now.Add(iv), iv, burst); ok {
			t.Fatal("two attempts came back after one interval")
		}
		must(t, s.Refund(ctx, "login", key, iv))
		if ok, _ := s.Spend(ctx, "login", key, now.Add(iv), iv, burst); !ok {
			t.Fatal("a refunded attempt is not allowed again")
		}
		// Parallel attempts count, all of them.
		var allowed atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if ok, _ := s.Spend(ctx, "login", []byte("parallel"), now, iv, burst); ok {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if allowed.Load() != burst {
			t.Fatalf("%d of 10 parallel attempts allowed; want %d", allowed.Load(), burst)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
