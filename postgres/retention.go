package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// SetRetention sets how many days the desk keeps a conversation after its
// last activity (0: until deleted).
func (s *DeskStore) SetRetention(ctx context.Context, deskID int64, days int) error {
	if !pista.ValidRetention(days) {
		return fmt.Errorf("postgres: a retention of %d days is not 0 to %d", days, pista.MaxRetentionDays)
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE desks SET retention_days = $1 WHERE id = $2`, days, deskID)
	if err != nil {
		return fmt.Errorf("postgres: set retention: %w", storageErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	}
	return nil
}

// SetHold holds or releases a conversation the journalist may see.
func (s *TipStore) SetHold(ctx context.Context, journalistID int64, id string, held bool) error {
	return s.change(ctx, journalistID, id, "hold", `UPDATE conversations SET held = $1 WHERE id = $2`, held, id)
}

// doomed is a conversation a deletion chose, before its rows go.
type doomed struct {
	id       string
	deskID   int64
	deskSlug string
	sourceID int64
}

func queryDoomed(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]doomed, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ds []doomed
	for rows.Next() {
		var d doomed
		if err := rows.Scan(&d.id, &d.deskID, &d.deskSlug, &d.sourceID); err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return ds, rows.Err()
}

// deleteConversationRows deletes a conversation's rows in tx: the
// conversation, its items, reads, stars and tags (ON DELETE CASCADE),
// and its source if the source has no other conversation. It returns the
// items, oldest first, whose objects the caller deletes after the commit.
func deleteConversationRows(ctx context.Context, tx pgx.Tx, seal *sealedid.Sealer, id string, sourceID int64) ([]pista.Item, error) {
	items, err := queryItems(ctx, tx, seal, `SELECT `+itemColumns+` FROM items i
		WHERE i.conversation_id = $1 ORDER BY i.id`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: delete conversation: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM conversations WHERE id = $1`, id); err != nil {
		return nil, fmt.Errorf("postgres: delete conversation: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sources WHERE id = $1
		AND NOT EXISTS (SELECT 1 FROM conversations WHERE source_id = $1)`, sourceID); err != nil {
		return nil, fmt.Errorf("postgres: delete source: %w", err)
	}
	return items, nil
}

// deleteDoomed deletes, in one transaction, the conversations choose
// picks in it.
func (s *TipStore) deleteDoomed(ctx context.Context, choose func(tx pgx.Tx) ([]doomed, error)) ([]pista.DeletedConversation, error) {
	var out []pista.DeletedConversation
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		ds, err := choose(tx)
		if err != nil {
			return err
		}
		out = make([]pista.DeletedConversation, 0, len(ds))
		for _, d := range ds {
			items, err := deleteConversationRows(ctx, tx, s.db.ids, d.id, d.sourceID)
			if err != nil {
				return err
			}
			out = append(out, pista.DeletedConversation{ID: d.id, DeskID: d.deskID, DeskSlug: d.deskSlug, Items: items})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteExpired deletes up to limit conversations expired at now. Rows
// another instance's expiry (or a writer) holds are skipped: that one
// deletes them, or they are no longer expired.
func (s *TipStore) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]pista.DeletedConversation, error) {
	if limit <= 0 || limit > pista.MaxBulkDelete {
		limit = pista.MaxBulkDelete
	}
	return s.deleteDoomed(ctx, func(tx pgx.Tx) ([]doomed, error) {
		ds, err := queryDoomed(ctx, tx, `SELECT c.id, c.desk_id, d.slug, c.source_id
			FROM desks d JOIN conversations c ON c.desk_id = d.id
			WHERE d.retention_days > 0 AND c.updated <= $1 - d.retention_days * $2::bigint AND NOT c.held
			LIMIT $3
			FOR UPDATE OF c SKIP LOCKED`, now.Unix(), int64(pista.RetentionDay/time.Second), limit)
		if err != nil {
			return nil, fmt.Errorf("postgres: expired conversations: %w", err)
		}
		return ds, nil
	})
}

// DeleteConversations deletes those of ids that are conversations of
// desks the journalist coordinates.
func (s *TipStore) DeleteConversations(ctx context.Context, journalistID int64, ids []string) ([]pista.DeletedConversation, error) {
	if len(ids) > pista.MaxBulkDelete {
		return nil, fmt.Errorf("postgres: delete %d conversations: %w", len(ids), pista.ErrTooMany)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil, nil
	}
	return s.deleteDoomed(ctx, func(tx pgx.Tx) ([]doomed, error) {
		ds, err := queryDoomed(ctx, tx, `SELECT c.id, c.desk_id, d.slug, c.source_id
			FROM conversations c
			JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1 AND m.role = $2
			JOIN desks d ON d.id = c.desk_id
			WHERE c.id = ANY($3::text[])
			ORDER BY c.id
			FOR UPDATE OF c`, journalistID, string(pista.RoleCoordinator), ids)
		if err != nil {
			return nil, fmt.Errorf("postgres: delete conversations: %w", err)
		}
		return ds, nil
	})
}

// auditRetentionSetting names the audit log's retention in settings: the
// days, in decimal.
const auditRetentionSetting = "audit-retention-days"

// AuditRetention is how many days audit entries are kept.
func (s *TeamStore) AuditRetention(ctx context.Context) (int, error) {
	var v []byte
	err := s.db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, auditRetentionSetting).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return pista.DefaultAuditRetentionDays, nil
	} else if err != nil {
		return 0, fmt.Errorf("postgres: audit retention: %w", err)
	}
	days, err := strconv.Atoi(string(v))
	if err != nil || !pista.ValidRetention(days) {
		return 0, fmt.Errorf("postgres: audit retention: %q is not a number of days", v)
	}
	return days, nil
}

// SetAuditRetention sets how many days audit entries are kept.
func (s *TeamStore) SetAuditRetention(ctx context.Context, days int) error {
	if !pista.ValidRetention(days) {
		return fmt.Errorf("postgres: a retention of %d days is not 0 to %d", days, pista.MaxRetentionDays)
	}
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, auditRetentionSetting, []byte(strconv.Itoa(days))); err != nil {
		return fmt.Errorf("postgres: set audit retention: %w", storageErr(err))
	}
	return nil
}

// DeleteAuditBefore deletes the audit entries created before before.
func (s *TeamStore) DeleteAuditBefore(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM audit WHERE created < $1`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("postgres: delete audit: %w", storageErr(err))
	}
	return int(tag.RowsAffected()), nil
}
