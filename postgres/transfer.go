package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// TransferConversation moves a conversation to another desk with its
// items' re-encrypted copies (pista.Transferer), in one transaction.
func (s *TipStore) TransferConversation(ctx context.Context, journalistID int64, id string, from, to int64, copies []pista.ItemCopy) ([]pista.Item, error) {
	if from == to {
		return nil, fmt.Errorf("transfer: %w", pista.ErrExists)
	}
	var old []pista.Item
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM conversations c
			JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
			WHERE c.id = $2 AND c.desk_id = $3
			FOR NO KEY UPDATE OF c`, journalistID, id, from).Scan(&one); err != nil {
			return fmt.Errorf("conversation: %w", notFound(err))
		}
		if err := tx.QueryRow(ctx, `SELECT 1 FROM desks WHERE id = $1`, to).Scan(&one); err != nil {
			return fmt.Errorf("desk: %w", notFound(err))
		}
		var err error
		old, err = queryItems(ctx, tx, s.db.ids, `SELECT `+itemColumns+` FROM items i
			WHERE i.conversation_id = $1 ORDER BY i.id`, id)
		if err != nil {
			return fmt.Errorf("postgres: transfer: %w", err)
		}
		items, err := pista.CopiedItems(old, copies)
		if err != nil {
			return err
		}
		// The copies are encrypted to the new desk's key, each keeping
		// how it arrived; the new desk's sorters move them under a new
		// conversation key.
		for i := range items {
			items[i].Sealing, items[i].IntakeKey, items[i].Received = pista.SealingDesk, 0, old[i].Received
		}
		rows, _, err := itemRows(items)
		if err != nil {
			return err
		}
		oldIDs := make([]int64, len(old))
		for i, it := range old {
			oldIDs[i], _ = s.db.ids.Unseal(sealedid.Item, it.ID)
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM items WHERE id = ANY($1)`, oldIDs)
		queueItems(b, id, rows)
		b.Queue(`UPDATE conversations SET desk_id = $1, preview = NULL, preview_intake = NULL, key_recipient = '', key = NULL, key_signature = NULL,
			last_item = (SELECT max(id) FROM items WHERE conversation_id = $2),
			assignee_id = CASE WHEN EXISTS (SELECT 1 FROM desk_members m WHERE m.desk_id = $1 AND m.journalist_id = conversations.assignee_id)
				THEN assignee_id END
			WHERE id = $2`, to, id)
		b.Queue(`UPDATE conversation_tags t SET desk_id = c.desk_id, last_item = c.last_item
			FROM conversations c WHERE c.id = $1 AND t.conversation_id = $1`, id)
		b.Queue(`DELETE FROM stars s WHERE s.conversation_id = $1
			AND NOT EXISTS (SELECT 1 FROM desk_members m WHERE m.desk_id = $2 AND m.journalist_id = s.journalist_id)`, id, to)
		b.Queue(`UPDATE stars s SET desk_id = c.desk_id, last_item = c.last_item
			FROM conversations c WHERE c.id = $1 AND s.conversation_id = $1`, id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("postgres: transfer: %w", storageErr(err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}
