package sqlite

import (
	"context"
	"fmt"

	"github.com/pista-tips/pista"
)

// ChangeConversations applies a bulk action of the inbox to each of ids,
// in one transaction: the first conversation that is not the journalist's
// to change (or whose desk the assignee is not on, or that would have
// too many tags) rolls back every change.
func (s *TipStore) ChangeConversations(ctx context.Context, journalistID int64, ids []string, ch pista.BulkChange) (err error) {
	defer func() { err = storageErr(err) }()
	if err := ch.Check(len(ids)); err != nil {
		return fmt.Errorf("sqlite: bulk change: %w", err)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
			return err
		}
		if ch.Status != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = ? WHERE id = ?`, string(ch.Status), id); err != nil {
				return fmt.Errorf("sqlite: bulk status: %w", err)
			}
		}
		if ch.Assign {
			query, args := `UPDATE conversations SET assignee_id = NULL WHERE id = ?`, []any{id}
			if ch.Assignee != 0 {
				query, args = `UPDATE conversations SET assignee_id = ?1 WHERE id = ?2
					AND EXISTS (SELECT 1 FROM desk_members m WHERE m.journalist_id = ?1 AND m.desk_id = conversations.desk_id)`,
					[]any{ch.Assignee, id}
			}
			res, err := tx.ExecContext(ctx, query, args...)
			if err != nil {
				return fmt.Errorf("sqlite: bulk assign: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return fmt.Errorf("assignee: %w", pista.ErrNotFound)
			}
		}
		for _, t := range ch.RemoveTags {
			if _, err := tx.ExecContext(ctx, `DELETE FROM conversation_tags WHERE conversation_id = ? AND tag = ?`, id, t); err != nil {
				return fmt.Errorf("sqlite: bulk tags: %w", err)
			}
		}
		for _, t := range ch.AddTags {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO conversation_tags (conversation_id, tag, desk_id, last_item)
				SELECT id, ?, desk_id, last_item FROM conversations WHERE id = ?`, t, id); err != nil {
				return fmt.Errorf("sqlite: bulk tags: %w", err)
			}
		}
		if len(ch.AddTags) > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM conversation_tags WHERE conversation_id = ?`, id).Scan(&n); err != nil {
				return err
			}
			if n > pista.MaxTags {
				return pista.ErrTooManyTags
			}
		}
	}
	return tx.Commit()
}
