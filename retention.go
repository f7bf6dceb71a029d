package pista

import (
	"context"
	"errors"
	"time"
)

// # Retention
//
// Each desk has a retention period in days (Desk.RetentionDays). A
// conversation of the desk with no activity for that long is deleted,
// rows first (in one transaction: the conversation, its items, reads,
// stars, tags, and its source if the source has no other conversation),
// then its objects. Activity is the newest item, the source's or a
// journalist's reply (Conversation.Updated, at TimeGranularity); reading,
// tagging or assigning is not activity. 0 days keeps conversations until
// someone deletes them: the default, so that no desk of before retention
// existed loses anything at an upgrade.
//
// A journalist of the desk may hold a conversation (Conversation.Held):
// held, it is kept whatever its age until released; released, it goes at
// the next expiry if it is past its period. Holding and releasing are in
// the audit log.
//
// The audit log has its own retention, newsroom-wide
// (TeamStore.AuditRetention): DefaultAuditRetentionDays unless set.

// RetentionDay is the unit of retention periods.
const RetentionDay = 24 * time.Hour

// MaxRetentionDays bounds a retention period (about a hundred years):
// longer is keeping forever, which is 0.
const MaxRetentionDays = 36500

// DefaultAuditRetentionDays is how long audit entries are kept when the
// newsroom has not said: a year, long enough to look back on a season's
// work, short enough that the log of who read what does not grow forever.
const DefaultAuditRetentionDays = 365

// MaxBulkDelete bounds the conversations of one bulk deletion: a form of
// that many IDs stays small (httpx.MaxFormBody), and one transaction of
// that many conversations holds the database's writer for well under a
// second.
const MaxBulkDelete = 500

// ErrTooMany: a bulk deletion names more than MaxBulkDelete conversations.
var ErrTooMany = errors.New("too many conversations at once")

// ValidRetention reports whether days is a retention period: 0 (keep) to
// MaxRetentionDays.
func ValidRetention(days int) bool { return days >= 0 && days <= MaxRetentionDays }

// ExpiresAt is when a conversation last active at updated is deleted under
// a retention of days; the zero time if never (days 0).
func ExpiresAt(updated time.Time, days int) time.Time {
	if days <= 0 {
		return time.Time{}
	}
	return updated.Add(time.Duration(days) * RetentionDay)
}

// DaysLeft is how many whole days are left, at now, before expires: 0 on
// its last day or after it. Rounded up, so that "deleted in 1 day" is
// said until the day it goes.
func DaysLeft(expires, now time.Time) int {
	d := expires.Sub(now)
	if d <= 0 {
		return 0
	}
	return int((d + RetentionDay - 1) / RetentionDay)
}

// DeletedConversation is a conversation a deletion removed: what the
// caller needs to delete its objects and to write the audit log.
type DeletedConversation struct {
	ID       string
	DeskID   int64
	DeskSlug string
	Items    []Item
}

// RetentionStore keeps what retention needs of the stores: the sqlite and
// postgres TipStores implement it.
type RetentionStore interface {
	// SetHold holds (or releases) a conversation of one of the
	// journalist's desks: held, expiry keeps it. ErrNotFound otherwise.
	SetHold(ctx context.Context, journalistID int64, id string, held bool) error
	// DeleteExpired deletes, in one transaction, up to limit conversations
	// that are expired at now (their desk's retention is not 0, they are
	// not held, and ExpiresAt(Updated, days) is not after now), with what
	// DeleteConversation deletes, and returns them. Several servers may
	// run it at once: each conversation is returned by one of them.
	DeleteExpired(ctx context.Context, now time.Time, limit int) ([]DeletedConversation, error)
	// DeleteConversations deletes, in one transaction, those of ids that
	// are conversations of desks where the journalist is an active
	// coordinator, and returns them; the others are left alone (not
	// found, or not theirs). ErrTooMany for more than MaxBulkDelete IDs.
	DeleteConversations(ctx context.Context, journalistID int64, ids []string) ([]DeletedConversation, error)
}

// DeleteObjects deletes the objects of items (contents and file metadata)
// once their rows are gone, and answers how many it deleted and the
// errors of the others: an object left behind has no row and is swept
// at the next start, whereas a row without its object would be a broken
// conversation, hence this order.
func DeleteObjects(ctx context.Context, blobs BlobStore, items []Item) (int, error) {
	n := 0
	var errs []error
	for _, it := range items {
		for _, k := range []string{it.Object, it.Meta} {
			if k == "" {
				continue
			}
			if err := blobs.Delete(ctx, k); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}
