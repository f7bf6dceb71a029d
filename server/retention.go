package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/pista-tips/pista"
)

// # Expiry
//
// Once an hour (times are kept to the hour: pista.TimeGranularity) every
// server deletes the conversations their desk's retention lets go
// (pista.RetentionStore.DeleteExpired), a bounded batch per transaction:
// rows first, then the objects, so that a failure between the two leaves
// objects without rows, which the orphan sweep removes, never rows
// without objects. Each deleted conversation gets an audit entry by
// pista.AuditSystem. Then the audit entries older than the audit log's
// retention go. With several servers on one database each runs it; a
// conversation is deleted by one of them (the store skips rows another
// holds).

// ExpireEvery is how often the server runs Expire.
const ExpireEvery = time.Hour

// firstExpireAfter lets a new instance start serving before it expires.
const firstExpireAfter = time.Minute

// Expired says what one Expire deleted.
type Expired struct {
	Conversations int
	Objects       int
	Audit         int // audit entries past the audit log's retention
}

// Expire deletes what retention says is gone at now: the expired
// conversations, with their objects, and the audit entries past the audit
// log's retention. Tests pass the now they want.
func Expire(ctx context.Context, tips pista.TipStore, team pista.TeamStore, blobs pista.BlobStore, now time.Time) (Expired, error) {
	var x Expired
	var errs []error
	for {
		gone, err := tips.DeleteExpired(ctx, now, pista.MaxBulkDelete)
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, c := range gone {
			n, err := pista.DeleteObjects(ctx, blobs, c.Items)
			x.Objects += n
			if err != nil {
				errs = append(errs, err)
			}
			if err := team.AddAudit(ctx, pista.AuditEntry{Created: now, ActorName: pista.AuditSystem, Action: pista.AuditExpire,
				DeskID: c.DeskID, DeskSlug: c.DeskSlug, ConversationID: c.ID}); err != nil {
				errs = append(errs, err)
			}
		}
		x.Conversations += len(gone)
		if len(gone) < pista.MaxBulkDelete || ctx.Err() != nil {
			break
		}
	}
	days, err := team.AuditRetention(ctx)
	if err != nil {
		errs = append(errs, err)
	} else if days > 0 {
		n, err := team.DeleteAuditBefore(ctx, now.Add(-time.Duration(days)*pista.RetentionDay))
		x.Audit = n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return x, errors.Join(errs...)
}

// expire runs Expire a minute after start, then every ExpireEvery, until
// ctx ends.
func expire(ctx context.Context, log *slog.Logger, st *Stores) {
	t := time.NewTimer(firstExpireAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		x, err := Expire(ctx, st.Tips, st.Team, st.Blobs, pista.Now())
		if err != nil && ctx.Err() == nil {
			log.Error("expiring conversations and audit entries", "err", err)
		}
		if x != (Expired{}) {
			log.Info("retention deleted what its period let go", "conversations", x.Conversations, "objects", x.Objects, "audit_entries", x.Audit)
		}
		t.Reset(ExpireEvery)
	}
}
