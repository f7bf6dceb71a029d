package main

import (
	"context"
	"math"
	"runtime/debug"
	"testing"

	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// TestMemoryLimit checks --memory-limit: a size, 0 for none, a bad value
// refused, and the default for a new instance: 80 MiB plus two codename
// derivations (GOMEMLIMIT, when set, is the runtime's and wins over the
// default; the test does not set it).
func TestMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	ctx := context.Background()
	st, err := server.OpenStores(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newInstance := memoryLimitBase + keys.MaxConcurrentArgon*int64(keys.CodenameKDF.Memory)<<10
	if newInstance != 94<<20 {
		t.Errorf("the default for a new instance is %d MiB; the flag's help says 94MiB", newInstance>>20)
	}
	for _, tt := range []struct {
		flag string
		want int64 // -1: refused
	}{
		{"", newInstance},
		{"96MiB", 96 << 20},
		{"0", math.MaxInt64},
		{"lots", -1},
	} {
		debug.SetMemoryLimit(1 << 40)
		err := setMemoryLimit(ctx, tt.flag, st)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("--memory-limit %q was taken", tt.flag)
			}
			continue
		}
		if err != nil {
			t.Errorf("--memory-limit %q: %v", tt.flag, err)
		}
		if got := debug.SetMemoryLimit(-1); got != tt.want {
			t.Errorf("--memory-limit %q set %d, want %d", tt.flag, got, tt.want)
		}
	}
}
