package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
)

// # Intake keys' expiry
//
// Every server destroys the sealed secrets of the intake keys whose day
// is more than forward.Grace days past and under which nothing waits
// (pista.Forwarder.DestroyIntakeKeys): once an hour, or once an intake
// day if days are shorter (pista serve --intake-day, for tests). A sort
// does it too, as soon as it has moved the last items away. With several
// servers on one database each runs it; destroying is idempotent.

// DestroyIntakeEvery is how often the server destroys expired intake
// keys, at most.
const DestroyIntakeEvery = time.Hour

// DestroyIntake destroys the intake keys that have expired at now under
// clock, and answers how many.
func DestroyIntake(ctx context.Context, tips pista.TipStore, clock forward.Clock, now time.Time) (int, error) {
	return tips.DestroyIntakeKeys(ctx, clock.Day(now)-forward.Grace)
}

// destroyIntake runs DestroyIntake a minute after start (sooner if
// intake days are shorter), then every DestroyIntakeEvery, or every
// intake day if that is shorter, until ctx ends.
func destroyIntake(ctx context.Context, log *slog.Logger, tips pista.TipStore, clock forward.Clock) {
	every := DestroyIntakeEvery
	if clock.Period > 0 && clock.Period < every {
		every = clock.Period
	}
	t := time.NewTimer(min(every, firstExpireAfter))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := DestroyIntake(ctx, tips, clock, now)
			if err != nil && ctx.Err() == nil {
				log.Error("destroying expired intake keys", "err", err)
			}
			if n > 0 {
				log.Info("intake keys expired: their secrets are destroyed", "keys", n)
			}
		}
		t.Reset(every)
	}
}
