package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// ChangeConversations applies a bulk action of the inbox to each of ids,
// in one transaction: the first conversation that is not the journalist's
// to change (or whose desk the assignee is not on, or that would have
// too many tags) rolls back every change.
func (s *TipStore) ChangeConversations(ctx context.Context, journalistID int64, ids []string, ch pista.BulkChange) error {
	if err := ch.Check(len(ids)); err != nil {
		return fmt.Errorf("postgres: bulk change: %w", err)
	}
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
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
				if _, err := tx.Exec(ctx, `UPDATE conversations SET status = $1 WHERE id = $2`, string(ch.Status), id); err != nil {
					return fmt.Errorf("postgres: bulk status: %w", err)
				}
			}
			if ch.Assign {
				query, args := `UPDATE conversations SET assignee_id = NULL WHERE id = $1`, []any{id}
				if ch.Assignee != 0 {
					query, args = `UPDATE conversations SET assignee_id = $1 WHERE id = $2
						AND EXISTS (SELECT 1 FROM desk_members m WHERE m.journalist_id = $1 AND m.desk_id = conversations.desk_id)`,
						[]any{ch.Assignee, id}
				}
				tag, err := tx.Exec(ctx, query, args...)
				if err := affected(tag, err, "bulk assign"); err != nil {
					return err
				}
			}
			if len(ch.RemoveTags) > 0 {
				if _, err := tx.Exec(ctx, `DELETE FROM conversation_tags WHERE conversation_id = $1 AND tag = ANY($2::text[])`,
					id, ch.RemoveTags); err != nil {
					return fmt.Errorf("postgres: bulk tags: %w", err)
				}
			}
			if len(ch.AddTags) > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
					SELECT c.id, t, c.desk_id, c.last_item FROM conversations c, unnest($2::text[]) AS t
					WHERE c.id = $1 ON CONFLICT DO NOTHING`, id, ch.AddTags); err != nil {
					return fmt.Errorf("postgres: bulk tags: %w", err)
				}
				var n int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM conversation_tags WHERE conversation_id = $1`, id).Scan(&n); err != nil {
					return err
				}
				if n > pista.MaxTags {
					return pista.ErrTooManyTags
				}
			}
		}
		return nil
	})
}
