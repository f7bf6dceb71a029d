package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// SetRetention sets how many days the desk keeps a conversation after its
// last activity (0: until deleted).
func (s *DeskStore) SetRetention(ctx context.Context, deskID int64, days int) (err error) {
	defer func() { err = storageErr(err) }()
	if !pista.ValidRetention(days) {
		return fmt.Errorf("sqlite: a retention of %d days is not 0 to %d", days, pista.MaxRetentionDays)
	}
	res, err := s.db.write.ExecContext(ctx, `UPDATE desks SET retention_days = ? WHERE id = ?`, days, deskID)
	if err != nil {
		return fmt.Errorf("sqlite: set retention: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	}
	return nil
}

// SetHold holds or releases a conversation the journalist may see.
func (s *TipStore) SetHold(ctx context.Context, journalistID int64, id string, held bool) error {
	return s.change(ctx, journalistID, id, "hold", `UPDATE conversations SET held = ? WHERE id = ?`, held, id)
}

// doomed is a conversation a deletion chose, before its rows go.
type doomed struct {
	id       string
	deskID   int64
	deskSlug string
	sourceID int64
}

func queryDoomed(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]doomed, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
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
func deleteConversationRows(ctx context.Context, tx *sql.Tx, seal *sealedid.Sealer, id string, sourceID int64) ([]pista.Item, error) {
	items, err := queryItems(ctx, tx, seal, `SELECT `+itemColumns+` FROM items i
		WHERE i.conversation_id = ? ORDER BY i.id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: delete conversation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM conversations WHERE id = ?`, id); err != nil {
		return nil, fmt.Errorf("sqlite: delete conversation: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sources WHERE id = ?1
		AND NOT EXISTS (SELECT 1 FROM conversations WHERE source_id = ?1)`, sourceID); err != nil {
		return nil, fmt.Errorf("sqlite: delete source: %w", err)
	}
	return items, nil
}

// deleteDoomed deletes the rows of ds in one transaction.
func (s *TipStore) deleteDoomed(ctx context.Context, choose func(tx *sql.Tx) ([]doomed, error)) (_ []pista.DeletedConversation, err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	ds, err := choose(tx)
	if err != nil {
		return nil, err
	}
	out := make([]pista.DeletedConversation, 0, len(ds))
	for _, d := range ds {
		items, err := deleteConversationRows(ctx, tx, s.db.ids, d.id, d.sourceID)
		if err != nil {
			return nil, err
		}
		out = append(out, pista.DeletedConversation{ID: d.id, DeskID: d.deskID, DeskSlug: d.deskSlug, Items: items})
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteExpired deletes up to limit conversations expired at now. The
// query walks each desk with a retention through conversations_desk_updated,
// from its oldest activity.
func (s *TipStore) DeleteExpired(ctx context.Context, now time.Time, limit int) ([]pista.DeletedConversation, error) {
	if limit <= 0 || limit > pista.MaxBulkDelete {
		limit = pista.MaxBulkDelete
	}
	return s.deleteDoomed(ctx, func(tx *sql.Tx) ([]doomed, error) {
		ds, err := queryDoomed(ctx, tx, `SELECT c.id, c.desk_id, d.slug, c.source_id
			FROM desks d JOIN conversations c ON c.desk_id = d.id
			WHERE d.retention_days > 0 AND c.updated <= ?1 - d.retention_days * ?2 AND c.held = 0
			LIMIT ?3`, now.Unix(), int64(pista.RetentionDay/time.Second), limit)
		if err != nil {
			return nil, fmt.Errorf("sqlite: expired conversations: %w", err)
		}
		return ds, nil
	})
}

// DeleteConversations deletes those of ids that are conversations of
// desks the journalist coordinates.
func (s *TipStore) DeleteConversations(ctx context.Context, journalistID int64, ids []string) ([]pista.DeletedConversation, error) {
	if len(ids) > pista.MaxBulkDelete {
		return nil, fmt.Errorf("sqlite: delete %d conversations: %w", len(ids), pista.ErrTooMany)
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil, nil
	}
	return s.deleteDoomed(ctx, func(tx *sql.Tx) ([]doomed, error) {
		args := []any{journalistID, string(pista.RoleCoordinator)}
		for _, id := range ids {
			args = append(args, id)
		}
		ds, err := queryDoomed(ctx, tx, `SELECT c.id, c.desk_id, d.slug, c.source_id
			FROM conversations c
			JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ? AND m.role = ?
			JOIN desks d ON d.id = c.desk_id
			WHERE c.id IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)
			ORDER BY c.id`, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: delete conversations: %w", err)
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
	err := s.db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, auditRetentionSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return pista.DefaultAuditRetentionDays, nil
	} else if err != nil {
		return 0, fmt.Errorf("sqlite: audit retention: %w", err)
	}
	days, err := strconv.Atoi(string(v))
	if err != nil || !pista.ValidRetention(days) {
		return 0, fmt.Errorf("sqlite: audit retention: %q is not a number of days", v)
	}
	return days, nil
}

// SetAuditRetention sets how many days audit entries are kept.
func (s *TeamStore) SetAuditRetention(ctx context.Context, days int) (err error) {
	defer func() { err = storageErr(err) }()
	if !pista.ValidRetention(days) {
		return fmt.Errorf("sqlite: a retention of %d days is not 0 to %d", days, pista.MaxRetentionDays)
	}
	_, err = s.db.write.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, auditRetentionSetting, []byte(strconv.Itoa(days)))
	if err != nil {
		return fmt.Errorf("sqlite: set audit retention: %w", err)
	}
	return nil
}

// DeleteAuditBefore deletes the audit entries created before before.
func (s *TeamStore) DeleteAuditBefore(ctx context.Context, before time.Time) (_ int, err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM audit WHERE created < ?`, before.Unix())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete audit: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
