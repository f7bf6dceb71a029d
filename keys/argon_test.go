package keys

import (
	"bytes"
	"context"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// BenchmarkDerive is the codename path's key stretching as the server
// runs it: new codenames derived by many requests at once (sixteen per
// core, as with 16 new sources on a small server), through the bound on
// concurrent Argon2id computations. The derivations/s metric is what new
// sources' tips per second cannot exceed on this machine:
//
//	go test -run '^$' -bench Derive -count 6 ./keys/ | benchstat -
//
// `pista bench --goals` measures the whole path on a real server.
func BenchmarkDerive(b *testing.B) {
	for _, k := range []struct {
		name string
		salt int
	}{{"new", SaltSize}, {"legacy", LegacySaltSize}} {
		b.Run(k.name, func(b *testing.B) {
			ctx := context.Background()
			salt := bytes.Repeat([]byte{7}, k.salt)
			b.SetParallelism(16)
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := Derive(ctx, NewCodename(), salt); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "derivations/s")
		})
	}
}

// TestDeriveWaitsForASlot checks that a derivation waits while
// MaxConcurrentArgon others run, starts when one ends, and gives up with
// its context's error if that ends first.
func TestDeriveWaitsForASlot(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, SaltSize)
	for range MaxConcurrentArgon {
		argonSlots <- struct{}{} // every slot taken
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Derive(ctx, NewCodename(), salt); err != context.DeadlineExceeded {
		t.Fatalf("Derive with every slot taken and its context ended: %v, want %v", err, context.DeadlineExceeded)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Derive(context.Background(), NewCodename(), salt)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Derive ran with every slot taken (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	<-argonSlots // one slot frees
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for range MaxConcurrentArgon - 1 {
		<-argonSlots
	}
}

// TestArgonMatchesXCrypto checks that codenames stretch to what
// x/crypto's argon2.IDKey gives, at both codename parameters: the keys
// of every source ever made depend on it.
func TestArgonMatchesXCrypto(t *testing.T) {
	for _, k := range []KDF{CodenameKDF, LegacyCodenameKDF} {
		salt := bytes.Repeat([]byte{9}, SaltSize)
		got, err := argon2id(context.Background(), k, []byte("1234 5678 9012 3456 7890 1234 5678"), salt, MasterSize)
		if err != nil {
			t.Fatal(err)
		}
		want := argon2.IDKey([]byte("1234 5678 9012 3456 7890 1234 5678"), salt, k.Time, k.Memory, k.Threads, MasterSize)
		if !bytes.Equal(got, want) {
			t.Errorf("%v: %x, want x/crypto's %x", k, got, want)
		}
	}
}
