package sqlite

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// The store of forward secrecy (pista.Forwarder, migration 0016): intake
// keys, conversation keys, and the swap of sorted items' objects.

// Bounds of what the Forwarder stores; the migration's CHECKs say the same.
const (
	maxIntakeRecipient = pista.MaxKeyRecipient
	maxIntakeSignature = 256
	maxSealedKey       = pista.MaxSealedKey
)

// checkIntake answers pista.ErrMoved unless intake is a live intake key
// of desk deskID: what is encrypted to it could not be read by the desk.
func checkIntake(ctx context.Context, tx *sql.Tx, deskID, intake int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM intake_keys WHERE id = ? AND desk_id = ? AND sealed IS NOT NULL`,
		intake, deskID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("intake key %d: %w", intake, pista.ErrMoved)
	}
	return err
}

// SignKey answers the signing key recorded for a desk key generation, nil
// if none yet; pista.ErrNotFound for an unknown generation.
func (s *TipStore) SignKey(ctx context.Context, deskKeyID int64) ([]byte, error) {
	var key []byte
	err := s.db.read.QueryRowContext(ctx, `SELECT sign_key FROM desk_keys WHERE id = ?`, deskKeyID).Scan(&key)
	if err != nil {
		return nil, fmt.Errorf("desk key: %w", notFound(err))
	}
	return key, nil
}

// AddIntakeKeys stores intake keys of the journalist's desk's current key
// generation, in one transaction.
func (s *TipStore) AddIntakeKeys(ctx context.Context, journalistID, deskKeyID int64, signKey []byte, keys []pista.IntakeKey) (_ int, err error) {
	defer func() { err = storageErr(err) }()
	if len(keys) > pista.MaxIntakeKeys {
		return 0, fmt.Errorf("sqlite: %d intake keys, at most %d: %w", len(keys), pista.MaxIntakeKeys, pista.ErrTooMany)
	}
	if len(signKey) != ed25519.PublicKeySize {
		return 0, fmt.Errorf("sqlite: a signing key of %d bytes, not %d", len(signKey), ed25519.PublicKeySize)
	}
	for _, k := range keys {
		switch {
		case k.Recipient == "" || len(k.Recipient) > maxIntakeRecipient:
			return 0, fmt.Errorf("sqlite: intake key of day %d: a recipient of %d bytes", k.Day, len(k.Recipient))
		case len(k.Signature) == 0 || len(k.Signature) > maxIntakeSignature:
			return 0, fmt.Errorf("sqlite: intake key of day %d: a signature of %d bytes", k.Day, len(k.Signature))
		case len(k.Sealed) == 0 || len(k.Sealed) > maxSealedKey:
			return 0, fmt.Errorf("sqlite: intake key of day %d: a sealed secret of %d bytes", k.Day, len(k.Sealed))
		}
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var deskID, current int64
	var have []byte
	err = tx.QueryRowContext(ctx, `SELECT k.desk_id, d.key_id, k.sign_key FROM desk_keys k
		JOIN desks d ON d.id = k.desk_id
		JOIN desk_members m ON m.desk_id = k.desk_id AND m.journalist_id = ?
		WHERE k.id = ?`, journalistID, deskKeyID).Scan(&deskID, &current, &have)
	if err != nil {
		return 0, fmt.Errorf("desk key: %w", notFound(err))
	}
	if current != deskKeyID {
		return 0, pista.ErrNotCurrent
	}
	if have == nil {
		if _, err := tx.ExecContext(ctx, `UPDATE desk_keys SET sign_key = ? WHERE id = ?`, signKey, deskKeyID); err != nil {
			return 0, fmt.Errorf("sqlite: sign key: %w", err)
		}
	} else if !bytes.Equal(have, signKey) {
		return 0, pista.ErrSignKey
	}
	created := pista.Now().Unix()
	added := 0
	for _, k := range keys {
		// A day whose key was destroyed early (a clock that ran ahead)
		// gets a new one, under a new ID: the old row goes, if nothing
		// refers to it.
		if _, err := tx.ExecContext(ctx, replaceDestroyedQuery, deskKeyID, k.Day); err != nil {
			return 0, fmt.Errorf("sqlite: add intake key: %w", err)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO intake_keys (desk_id, desk_key_id, day, recipient, signature, sealed, created)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (desk_key_id, day) DO NOTHING`,
			deskID, deskKeyID, k.Day, k.Recipient, k.Signature, k.Sealed, created)
		if err != nil {
			return 0, fmt.Errorf("sqlite: add intake key: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		added += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return added, nil
}

// replaceDestroyedQuery takes a generation and a day: it deletes its
// destroyed intake key if nothing refers to it.
const replaceDestroyedQuery = `DELETE FROM intake_keys
	WHERE desk_key_id = ? AND day = ? AND sealed IS NULL
	AND NOT EXISTS (SELECT 1 FROM items i WHERE i.intake_key = intake_keys.id)
	AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.preview_intake = intake_keys.id)`

// intakeColumns are read by scanIntake; k is intake_keys. The sealed
// secret is read only where the caller asks for it (IntakeKeysFor): the
// server has no use for it, and what it does not hold it cannot leak.
const intakeColumns = `k.id, k.desk_id, k.desk_key_id, k.day, k.recipient, k.signature, k.created`

func scanIntake(row interface{ Scan(...any) error }, more ...any) (pista.IntakeKey, error) {
	var k pista.IntakeKey
	var created int64
	err := row.Scan(append([]any{&k.ID, &k.DeskID, &k.DeskKeyID, &k.Day, &k.Recipient, &k.Signature, &created}, more...)...)
	k.Created = unix(created)
	return k, err
}

// IntakeFor answers the live intake key of day of the desk's current key
// generation, and the generation's signing key. The key's Sealed is not
// filled.
func (s *TipStore) IntakeFor(ctx context.Context, deskID, day int64) (pista.IntakeKey, []byte, error) {
	var sign []byte
	k, err := scanIntake(s.db.read.QueryRowContext(ctx, intakeForQuery, deskID, day), &sign)
	if err != nil {
		return pista.IntakeKey{}, nil, fmt.Errorf("intake key: %w", notFound(err))
	}
	return k, sign, nil
}

// intakeForQuery takes a desk and a day.
const intakeForQuery = `SELECT ` + intakeColumns + `, g.sign_key
	FROM desks d
	JOIN desk_keys g ON g.id = d.key_id
	JOIN intake_keys k ON k.desk_key_id = d.key_id AND k.day = ?2
	WHERE d.id = ?1 AND k.sealed IS NOT NULL`

// IntakeKeyByID answers a live intake key; its Sealed is not filled.
func (s *TipStore) IntakeKeyByID(ctx context.Context, id int64) (pista.IntakeKey, error) {
	k, err := scanIntake(s.db.read.QueryRowContext(ctx, `SELECT `+intakeColumns+`
		FROM intake_keys k WHERE k.id = ? AND k.sealed IS NOT NULL`, id))
	if err != nil {
		return pista.IntakeKey{}, fmt.Errorf("intake key: %w", notFound(err))
	}
	return k, nil
}

// IntakeKeysFor lists the live intake keys of the journalist's desks,
// sealed secrets included, by desk, day and generation.
func (s *TipStore) IntakeKeysFor(ctx context.Context, journalistID int64) ([]pista.IntakeKey, error) {
	rows, err := s.db.read.QueryContext(ctx, intakeKeysForQuery, journalistID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: intake keys: %w", err)
	}
	defer rows.Close()
	var out []pista.IntakeKey
	for rows.Next() {
		var sealed []byte
		k, err := scanIntake(rows, &sealed)
		if err != nil {
			return nil, err
		}
		k.Sealed = sealed
		out = append(out, k)
	}
	return out, rows.Err()
}

// intakeKeysForQuery takes a journalist.
const intakeKeysForQuery = `SELECT ` + intakeColumns + `, k.sealed
	FROM desk_members m
	CROSS JOIN intake_keys k ON k.desk_id = m.desk_id AND k.sealed IS NOT NULL
	WHERE m.journalist_id = ?
	ORDER BY k.desk_id, k.day, k.desk_key_id`

// DestroyIntakeKeys destroys the sealed secrets of the intake keys of
// days before before under which nothing waits. With secure_delete on
// (db.go), SQLite overwrites what it frees.
func (s *TipStore) DestroyIntakeKeys(ctx context.Context, before int64) (_ int, err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, destroyIntakeQuery, before)
	if err != nil {
		return 0, fmt.Errorf("sqlite: destroy intake keys: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ExpireIntakeKeys destroys the secrets of the keys of days before
// before, whatever waits under them, and drops their previews.
func (s *TipStore) ExpireIntakeKeys(ctx context.Context, before int64) (_ int, err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET preview = NULL, preview_intake = NULL
		WHERE preview_intake IN (SELECT id FROM intake_keys WHERE sealed IS NOT NULL AND day < ?)`, before); err != nil {
		return 0, fmt.Errorf("sqlite: expire intake keys: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE intake_keys SET sealed = NULL WHERE sealed IS NOT NULL AND day < ?`, before)
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire intake keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return int(n), tx.Commit()
}

// destroyIntakeQuery takes a day. It reads the live keys from
// intake_keys_live, and for each, its waiting items from items_intake
// and its previews from conversations_preview_intake.
const destroyIntakeQuery = `UPDATE intake_keys SET sealed = NULL
	WHERE sealed IS NOT NULL AND day < ?
	AND NOT EXISTS (SELECT 1 FROM items i WHERE i.intake_key = intake_keys.id AND i.sealing = 'intake')
	AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.preview_intake = intake_keys.id)`

// Unsorted lists, oldest first, the items of the journalist's desks that
// a sorter should rewrap, after the item after.
func (s *TipStore) Unsorted(ctx context.Context, journalistID, after int64, limit int) ([]pista.Item, error) {
	limit = sortLimit(limit)
	n, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok {
		return nil, nil // not a cursor this store made: nothing after it
	}
	return queryItems(ctx, s.db.read, s.db.ids, unsortedQuery, journalistID, n, limit)
}

// sortLimit bounds a page of what is unsorted.
func sortLimit(limit int) int {
	if limit <= 0 {
		return 200
	}
	return min(limit, pista.MaxSortBatch)
}

// unsortedQuery takes a journalist, an item ID and a limit. It walks
// items_unsorted in ID order from the given ID: the items that are not
// yet sorted, of every desk, which sorters keep few.
const unsortedQuery = `SELECT ` + itemColumns + `
	FROM items i INDEXED BY items_unsorted
	CROSS JOIN conversations c ON c.id = i.conversation_id
	CROSS JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?
	WHERE i.sealing <> 'conv' AND i.received <> 'legacy' AND i.id > ?
	AND (i.sealing <> 'intake' OR EXISTS (SELECT 1 FROM intake_keys k WHERE k.id = i.intake_key AND k.sealed IS NOT NULL))
	ORDER BY i.id LIMIT ?`

// UnsortedPreviews lists the conversations of the journalist's desks whose
// preview is under an intake key, by ID, after after: each with its
// preview and key (not the journalist's view of it: unread, starred…).
func (s *TipStore) UnsortedPreviews(ctx context.Context, journalistID int64, after string, limit int) ([]pista.Conversation, error) {
	rows, err := s.db.read.QueryContext(ctx, unsortedPreviewsQuery, journalistID, after, sortLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: unsorted previews: %w", err)
	}
	defer rows.Close()
	var cs []pista.Conversation
	for rows.Next() {
		var more pista.Conversation
		c, err := scanConversation(withMore{rows, []any{&more.Preview, &more.KeyRecipient, &more.Key, &more.PreviewIntake}}, s.db.ids, false)
		if err != nil {
			return nil, err
		}
		c.Preview, c.KeyRecipient, c.Key, c.PreviewIntake = more.Preview, more.KeyRecipient, more.Key, more.PreviewIntake
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// withMore scans a row's columns, then more.
type withMore struct {
	row  interface{ Scan(...any) error }
	more []any
}

func (w withMore) Scan(dest ...any) error { return w.row.Scan(append(dest, w.more...)...) }

// unsortedPreviewsQuery takes a journalist, a conversation ID and a limit.
const unsortedPreviewsQuery = `SELECT ` + conversationColumns + `, c.preview, c.key_recipient, c.key, coalesce(c.preview_intake, 0)
	FROM conversations c INDEXED BY conversations_unsorted_preview
	CROSS JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?1
	JOIN desks d ON d.id = c.desk_id
	WHERE c.preview_intake IS NOT NULL AND c.id > ?2
	ORDER BY c.id LIMIT ?3`

// SetConversationKeys gives conversations of the journalist's desks
// their keys, in one transaction; each unless it has one
// (pista.ErrExists).
func (s *TipStore) SetConversationKeys(ctx context.Context, journalistID int64, keys []pista.ConversationKey) (_ []error, err error) {
	defer func() { err = storageErr(err) }()
	if err := pista.CheckConversationKeys(keys); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	set, err := tx.PrepareContext(ctx, `UPDATE conversations SET key_recipient = ?1, key = ?2, key_signature = ?5
		WHERE id = ?3 AND key IS NULL AND desk_id = ?6
		AND desk_id IN (SELECT desk_id FROM desk_members WHERE journalist_id = ?4)`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversation keys: %w", err)
	}
	defer set.Close()
	errs := make([]error, len(keys))
	for i, k := range keys {
		res, err := set.ExecContext(ctx, k.Recipient, k.Sealed, k.Conversation, journalistID, k.Signature, k.DeskID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: conversation key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 1 {
			continue
		}
		errs[i] = keyNotSet(ctx, tx, journalistID, k)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return errs, nil
}

// keyNotSet says why SetConversationKeys did not set k: the
// conversation has a key (pista.ErrExists), moved to another desk
// (pista.ErrMoved), or is none of the journalist's (pista.ErrNotFound).
func keyNotSet(ctx context.Context, tx *sql.Tx, journalistID int64, k pista.ConversationKey) error {
	var deskID int64
	var hasKey bool
	err := tx.QueryRowContext(ctx, `SELECT c.desk_id, c.key IS NOT NULL FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?
		WHERE c.id = ?`, journalistID, k.Conversation).Scan(&deskID, &hasKey)
	switch {
	case err != nil:
		return fmt.Errorf("conversation: %w", notFound(err))
	case deskID != k.DeskID:
		return fmt.Errorf("conversation key: %w", pista.ErrMoved)
	case hasKey:
		return fmt.Errorf("conversation key: %w", pista.ErrExists)
	}
	return fmt.Errorf("conversation key: %w", pista.ErrNotFound)
}

// SortItems answers those of the items ids in the journalist's desks.
func (s *TipStore) SortItems(ctx context.Context, journalistID int64, ids []int64) ([]pista.Item, error) {
	if len(ids) > pista.MaxSortBatch {
		return nil, fmt.Errorf("sqlite: %d items, at most %d: %w", len(ids), pista.MaxSortBatch, pista.ErrTooMany)
	}
	numbers := s.db.ids.UnsealAll(sealedid.Item, ids)
	if len(numbers) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(numbers)
	if err != nil {
		return nil, err
	}
	items, err := queryItems(ctx, s.db.read, s.db.ids, `SELECT `+itemColumns+`
		FROM json_each(?2) AS x
		CROSS JOIN items i ON i.id = x.value
		JOIN conversations c ON c.id = i.conversation_id
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?1`, journalistID, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: sort items: %w", storageErr(err))
	}
	return items, nil
}

// SortConversations answers the ID, desk and key recipient of those of
// the conversations ids in the journalist's desks.
func (s *TipStore) SortConversations(ctx context.Context, journalistID int64, ids []string) ([]pista.SortConversation, error) {
	if len(ids) > pista.MaxSortBatch {
		return nil, fmt.Errorf("sqlite: %d conversations, at most %d: %w", len(ids), pista.MaxSortBatch, pista.ErrTooMany)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT c.id, c.desk_id, d.slug, coalesce(c.key_recipient, ''), c.key, c.key_signature, coalesce(src.recipient, '')
		FROM json_each(?2) AS x
		CROSS JOIN conversations c ON c.id = x.value
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?1
		JOIN desks d ON d.id = c.desk_id
		LEFT JOIN sources src ON src.id = c.source_id`, journalistID, string(list))
	if err != nil {
		return nil, fmt.Errorf("sqlite: sort conversations: %w", storageErr(err))
	}
	defer rows.Close()
	var cs []pista.SortConversation
	for rows.Next() {
		var c pista.SortConversation
		if err := rows.Scan(&c.ID, &c.DeskID, &c.DeskSlug, &c.KeyRecipient, &c.Key, &c.KeySignature, &c.SourceRecipient); err != nil {
			return nil, fmt.Errorf("sqlite: sort conversations: %w", storageErr(err))
		}
		cs = append(cs, c)
	}
	return cs, storageErr(rows.Err())
}

// Sort swaps, in one transaction, the objects of the items of batch that
// are still as the sorter saw them, and answers those it swapped.
func (s *TipStore) Sort(ctx context.Context, journalistID int64, batch []pista.Sorted) (_ []pista.Sorted, err error) {
	defer func() { err = storageErr(err) }()
	if len(batch) > pista.MaxSortBatch {
		return nil, fmt.Errorf("sqlite: sort %d items, at most %d: %w", len(batch), pista.MaxSortBatch, pista.ErrTooMany)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	swap, err := tx.PrepareContext(ctx, sortQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sort: %w", err)
	}
	defer swap.Close()
	var done []pista.Sorted
	for _, b := range batch {
		n, ok := s.db.ids.Unseal(sealedid.Item, b.Item)
		if !ok || b.OldObject == "" || b.NewObject == "" || (b.OldMeta == "") != (b.NewMeta == "") {
			continue
		}
		res, err := swap.ExecContext(ctx, b.NewObject, b.NewSize, b.NewMeta, b.NewMetaSize,
			n, b.OldObject, b.OldMeta, journalistID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: sort: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if k == 1 {
			done = append(done, b)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return done, nil
}

// sortQuery takes the new object, size, meta and meta size, then the
// item's number, its old object and meta, and the journalist.
const sortQuery = `UPDATE items SET object = ?1, size = ?2, meta = ?3, meta_size = ?4,
		sealing = 'conv', intake_key = NULL
	WHERE id = ?5 AND object = ?6 AND meta = ?7 AND sealing <> 'conv' AND received <> 'legacy'
	AND EXISTS (SELECT 1 FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?8
		WHERE c.id = items.conversation_id AND c.key IS NOT NULL)`

// SortPreviews replaces, in one transaction, conversations' previews
// still under an intake key by ones under the conversations' keys.
func (s *TipStore) SortPreviews(ctx context.Context, journalistID int64, previews []pista.PreviewSort) (_ []error, err error) {
	defer func() { err = storageErr(err) }()
	if err := pista.CheckPreviewSorts(previews); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	set, err := tx.PrepareContext(ctx, `UPDATE conversations SET preview = ?1, preview_intake = NULL
		WHERE id = ?2 AND preview_intake = ?3 AND key IS NOT NULL
		AND desk_id IN (SELECT desk_id FROM desk_members WHERE journalist_id = ?4)`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sort previews: %w", err)
	}
	defer set.Close()
	errs := make([]error, len(previews))
	for i, p := range previews {
		if p.From == 0 {
			errs[i] = fmt.Errorf("preview: %w", pista.ErrNotFound)
			continue
		}
		res, err := set.ExecContext(ctx, p.Preview, p.Conversation, p.From, journalistID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: sort preview: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			errs[i] = fmt.Errorf("preview: %w", pista.ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return errs, nil
}
