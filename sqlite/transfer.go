package sqlite

import (
	"context"
	"fmt"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// TransferConversation moves a conversation to another desk with its
// items' re-encrypted copies (pista.Transferer), in one transaction.
func (s *TipStore) TransferConversation(ctx context.Context, journalistID int64, id string, from, to int64, copies []pista.ItemCopy) (_ []pista.Item, err error) {
	defer func() { err = storageErr(err) }()
	if from == to {
		return nil, fmt.Errorf("transfer: %w", pista.ErrExists)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?
		WHERE c.id = ? AND c.desk_id = ?`, journalistID, id, from).Scan(&one); err != nil {
		return nil, fmt.Errorf("conversation: %w", notFound(err))
	}
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM desks WHERE id = ?`, to).Scan(&one); err != nil {
		return nil, fmt.Errorf("desk: %w", notFound(err))
	}
	old, err := queryItems(ctx, tx, s.db.ids, `SELECT `+itemColumns+` FROM items i
		WHERE i.conversation_id = ? ORDER BY i.id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: transfer: %w", err)
	}
	items, err := pista.CopiedItems(old, copies)
	if err != nil {
		return nil, err
	}
	for _, it := range old {
		n, _ := s.db.ids.Unseal(sealedid.Item, it.ID)
		if _, err := tx.ExecContext(ctx, `DELETE FROM items WHERE id = ?`, n); err != nil {
			return nil, fmt.Errorf("sqlite: transfer: %w", err)
		}
	}
	// The copies are encrypted to the new desk's key, each keeping how it
	// arrived; the new desk's sorters move them under a new conversation
	// key.
	for i := range items {
		items[i].Sealing, items[i].IntakeKey, items[i].Received = pista.SealingDesk, 0, old[i].Received
	}
	ids, _, err := insertItems(ctx, tx, id, to, items)
	if err != nil {
		return nil, err
	}
	last := ids[len(ids)-1]
	for _, q := range []struct {
		what, query string
		args        []any
	}{
		{"move", `UPDATE conversations SET desk_id = ?1, last_item = ?2, preview = NULL, preview_intake = NULL,
			key_recipient = '', key = NULL, key_signature = NULL,
			assignee_id = CASE WHEN EXISTS (SELECT 1 FROM desk_members m WHERE m.desk_id = ?1 AND m.journalist_id = conversations.assignee_id)
				THEN assignee_id END
			WHERE id = ?3`, []any{to, last, id}},
		{"tags", `UPDATE conversation_tags SET desk_id = ?, last_item = ? WHERE conversation_id = ?`, []any{to, last, id}},
		{"stars", `DELETE FROM stars WHERE conversation_id = ?1
			AND NOT EXISTS (SELECT 1 FROM desk_members m WHERE m.desk_id = ?2 AND m.journalist_id = stars.journalist_id)`, []any{id, to}},
		{"stars", `UPDATE stars SET desk_id = ?, last_item = ? WHERE conversation_id = ?`, []any{to, last, id}},
	} {
		if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
			return nil, fmt.Errorf("sqlite: transfer (%s): %w", q.what, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return old, nil
}
