package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/debug"

	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// The soft memory limit of pista serve (Go's GOMEMLIMIT): below it the
// garbage collector runs at its usual pace (GOGC), the one that gives new
// sources the most tips per second; near it, it collects more often, so
// that bursts (many new sources' Argon2id derivations at once, the
// uploads' buffers) do not pile up garbage. It is soft: the live heap is
// never cut short, and the collector takes at most half the CPU trying.
//
// The default is memoryLimitBase plus what keys.MaxConcurrentArgon
// derivations take at the instance's codename parameters: 2 × 7 MiB for
// a new instance (94 MiB in all), 2 × 64 MiB for one made before the
// parameters were per instance (208 MiB). Measured with `pista bench
// --goals` on a 2-core server, 16 new sources and 4 uploads at once use
// about 60 MiB of the Go runtime's memory (RSS adds about 16 MiB of the
// binary's own pages): the limit is then not reached and costs nothing,
// while a burst beyond that is collected before RSS passes goal (c)'s
// 128 MiB. A limit of 78 MiB, reached under that load, cost 8 % more
// CPU per tip for no lower peak; GOGC=200 cost the same CPU per tip as
// the default 100 and peaked 20 MiB higher, so GOGC is left as it is.
const memoryLimitBase = 80 << 20

// addMemoryFlag adds --memory-limit to serve's flags.
func addMemoryFlag(fs *flag.FlagSet, f *serveFlags) {
	fs.StringVar(&f.memoryLimit, "memory-limit", "", "the soft memory `LIMIT` of the Go runtime (default: GOMEMLIMIT if set, else 80MiB plus two codename derivations: 94MiB for a new instance; 0: none)")
}

// setMemoryLimit sets the soft memory limit: the flag's, else GOMEMLIMIT's
// (which the runtime read at start), else the default for the instance's
// codename parameters.
func setMemoryLimit(ctx context.Context, flagValue string, st *server.Stores) error {
	switch {
	case flagValue == "0":
		debug.SetMemoryLimit(math.MaxInt64)
	case flagValue != "":
		n, err := parseSize(flagValue)
		if err != nil {
			return hint(fmt.Errorf("--memory-limit: %w", err), "write a size such as 96MiB or 1GiB, or 0 for none")
		}
		debug.SetMemoryLimit(n)
	case os.Getenv("GOMEMLIMIT") != "":
		// The runtime has read it.
	default:
		k, err := st.CodenameKDF(ctx)
		if err != nil {
			return err
		}
		debug.SetMemoryLimit(memoryLimitBase + keys.MaxConcurrentArgon*int64(k.Memory)<<10)
	}
	return nil
}
