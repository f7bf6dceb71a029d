package postgres

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// The store of forward secrecy (pista.Forwarder, migration 0010): intake
// keys, conversation keys, and the swap of sorted items' objects.
//
// An intake key's secret is destroyed only while no transaction that
// seals something to it is running: those take the key's row FOR SHARE
// as they check it (checkIntake), and DestroyIntakeKeys takes the rows
// FOR UPDATE before it looks for what waits under them.

// Bounds of what the Forwarder stores; the migration's CHECKs say the same.
const (
	maxIntakeRecipient = pista.MaxKeyRecipient
	maxIntakeSignature = 256
	maxSealedKey       = pista.MaxSealedKey
)

// intakeKeysOf lists the intake keys items (and a preview) are sealed to.
func intakeKeysOf(r itemColumnsIn, preview int64) []int64 {
	var ks []int64
	for _, k := range r.intake {
		if k != nil {
			ks = append(ks, *k)
		}
	}
	if preview != 0 {
		ks = append(ks, preview)
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}

// checkIntake answers pista.ErrMoved unless every key of intake (sorted,
// without duplicates) is a live intake key of desk deskID: what is
// encrypted to it could not be read by the desk. It holds the keys' rows
// until tx ends, so that none is destroyed meanwhile.
func checkIntake(ctx context.Context, tx pgx.Tx, deskID int64, intake []int64) error {
	if len(intake) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `SELECT id FROM intake_keys
		WHERE id = ANY($1) AND desk_id = $2 AND sealed IS NOT NULL
		ORDER BY id FOR SHARE`, intake, deskID)
	if err != nil {
		return fmt.Errorf("postgres: intake keys: %w", err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("postgres: intake keys: %w", err)
	}
	if len(live) != len(intake) {
		return fmt.Errorf("intake key: %w", pista.ErrMoved)
	}
	return nil
}

// SignKey answers the signing key recorded for a desk key generation, nil
// if none yet; pista.ErrNotFound for an unknown generation.
func (s *TipStore) SignKey(ctx context.Context, deskKeyID int64) ([]byte, error) {
	var key []byte
	if err := s.db.pool.QueryRow(ctx, `SELECT sign_key FROM desk_keys WHERE id = $1`, deskKeyID).Scan(&key); err != nil {
		return nil, fmt.Errorf("desk key: %w", notFound(err))
	}
	return key, nil
}

// AddIntakeKeys stores intake keys of the journalist's desk's current key
// generation, in one transaction.
func (s *TipStore) AddIntakeKeys(ctx context.Context, journalistID, deskKeyID int64, signKey []byte, keys []pista.IntakeKey) (int, error) {
	if len(keys) > pista.MaxIntakeKeys {
		return 0, fmt.Errorf("postgres: %d intake keys, at most %d: %w", len(keys), pista.MaxIntakeKeys, pista.ErrTooMany)
	}
	if len(signKey) != ed25519.PublicKeySize {
		return 0, fmt.Errorf("postgres: a signing key of %d bytes, not %d", len(signKey), ed25519.PublicKeySize)
	}
	days := make([]int64, len(keys))
	recipients := make([]string, len(keys))
	signatures := make([][]byte, len(keys))
	sealed := make([][]byte, len(keys))
	for i, k := range keys {
		switch {
		case k.Recipient == "" || len(k.Recipient) > maxIntakeRecipient:
			return 0, fmt.Errorf("postgres: intake key of day %d: a recipient of %d bytes", k.Day, len(k.Recipient))
		case len(k.Signature) == 0 || len(k.Signature) > maxIntakeSignature:
			return 0, fmt.Errorf("postgres: intake key of day %d: a signature of %d bytes", k.Day, len(k.Signature))
		case len(k.Sealed) == 0 || len(k.Sealed) > maxSealedKey:
			return 0, fmt.Errorf("postgres: intake key of day %d: a sealed secret of %d bytes", k.Day, len(k.Sealed))
		}
		days[i], recipients[i], signatures[i], sealed[i] = k.Day, k.Recipient, k.Signature, k.Sealed
	}
	var added int
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		// The generation's row, locked: two first posts with different
		// signing keys are one after the other.
		var deskID, current int64
		var have []byte
		err := tx.QueryRow(ctx, `SELECT k.desk_id, d.key_id, k.sign_key FROM desk_keys k
			JOIN desks d ON d.id = k.desk_id
			JOIN desk_members m ON m.desk_id = k.desk_id AND m.journalist_id = $1
			WHERE k.id = $2
			FOR UPDATE OF k`, journalistID, deskKeyID).Scan(&deskID, &current, &have)
		if err != nil {
			return fmt.Errorf("desk key: %w", notFound(err))
		}
		if current != deskKeyID {
			return pista.ErrNotCurrent
		}
		if have == nil {
			if _, err := tx.Exec(ctx, `UPDATE desk_keys SET sign_key = $1 WHERE id = $2`, signKey, deskKeyID); err != nil {
				return fmt.Errorf("postgres: sign key: %w", err)
			}
		} else if !bytes.Equal(have, signKey) {
			return pista.ErrSignKey
		}
		if len(keys) == 0 {
			return nil
		}
		// A day whose key was destroyed early (an instance whose clock ran
		// ahead) gets a new one, under a new ID: the old row goes, if
		// nothing refers to it.
		if _, err := tx.Exec(ctx, replaceDestroyedQuery, deskKeyID, days); err != nil {
			return fmt.Errorf("postgres: add intake keys: %w", err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO intake_keys (desk_id, desk_key_id, day, recipient, signature, sealed, created)
			SELECT $1, $2, x.day, x.recipient, x.signature, x.sealed, $3
			FROM unnest($4::bigint[], $5::text[], $6::bytea[], $7::bytea[]) WITH ORDINALITY AS x (day, recipient, signature, sealed, n)
			ORDER BY x.n
			ON CONFLICT (desk_key_id, day) DO NOTHING`,
			deskID, deskKeyID, pista.Now().Unix(), days, recipients, signatures, sealed)
		if err != nil {
			return fmt.Errorf("postgres: add intake keys: %w", err)
		}
		added = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, err
	}
	return added, nil
}

// replaceDestroyedQuery takes a generation and days: it deletes their
// destroyed intake keys that nothing refers to.
const replaceDestroyedQuery = `DELETE FROM intake_keys k
	WHERE k.desk_key_id = $1 AND k.day = ANY($2::bigint[]) AND k.sealed IS NULL
	AND NOT EXISTS (SELECT 1 FROM items i WHERE i.intake_key = k.id)
	AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.preview_intake = k.id)`

// intakeColumns are read by scanIntake; k is intake_keys. The sealed
// secret is read only where the caller asks for it (IntakeKeysFor): the
// server has no use for it, and what it does not hold it cannot leak.
const intakeColumns = `k.id, k.desk_id, k.desk_key_id, k.day, k.recipient, k.signature, k.created`

func scanIntake(row pgx.Row, more ...any) (pista.IntakeKey, error) {
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
	k, err := scanIntake(s.db.pool.QueryRow(ctx, intakeForQuery, deskID, day), &sign)
	if err != nil {
		return pista.IntakeKey{}, nil, fmt.Errorf("intake key: %w", notFound(err))
	}
	return k, sign, nil
}

// intakeForQuery takes a desk and a day.
const intakeForQuery = `SELECT ` + intakeColumns + `, g.sign_key
	FROM desks d
	JOIN desk_keys g ON g.id = d.key_id
	JOIN intake_keys k ON k.desk_key_id = d.key_id AND k.day = $2
	WHERE d.id = $1 AND k.sealed IS NOT NULL`

// IntakeKeyByID answers a live intake key; its Sealed is not filled.
func (s *TipStore) IntakeKeyByID(ctx context.Context, id int64) (pista.IntakeKey, error) {
	k, err := scanIntake(s.db.pool.QueryRow(ctx, `SELECT `+intakeColumns+`
		FROM intake_keys k WHERE k.id = $1 AND k.sealed IS NOT NULL`, id))
	if err != nil {
		return pista.IntakeKey{}, fmt.Errorf("intake key: %w", notFound(err))
	}
	return k, nil
}

// IntakeKeysFor lists the live intake keys of the journalist's desks,
// sealed secrets included, by desk, day and generation.
func (s *TipStore) IntakeKeysFor(ctx context.Context, journalistID int64) ([]pista.IntakeKey, error) {
	rows, err := s.db.pool.Query(ctx, intakeKeysForQuery, journalistID)
	if err != nil {
		return nil, fmt.Errorf("postgres: intake keys: %w", err)
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.IntakeKey, error) {
		var sealed []byte
		k, err := scanIntake(r, &sealed)
		k.Sealed = sealed
		return k, err
	})
}

// intakeKeysForQuery takes a journalist.
const intakeKeysForQuery = `SELECT ` + intakeColumns + `, k.sealed
	FROM desk_members m
	JOIN intake_keys k ON k.desk_id = m.desk_id AND k.sealed IS NOT NULL
	WHERE m.journalist_id = $1
	ORDER BY k.desk_id, k.day, k.desk_key_id`

// DestroyIntakeKeys destroys the sealed secrets of the intake keys of
// days before before under which nothing waits.
//
// PostgreSQL keeps a replaced row's old version until VACUUM reclaims
// it, and does not overwrite the space it frees: the old bytes stay in
// the table's files until the space is used again.
func (s *TipStore) DestroyIntakeKeys(ctx context.Context, before int64) (int, error) {
	var n int
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		ids, err := lockLiveIntakeKeys(ctx, tx, before)
		if err != nil || len(ids) == 0 {
			return err
		}
		tag, err := tx.Exec(ctx, destroyIntakeQuery, ids)
		if err != nil {
			return fmt.Errorf("postgres: destroy intake keys: %w", err)
		}
		n = int(tag.RowsAffected())
		return nil
	})
	return n, err
}

// ExpireIntakeKeys destroys the secrets of the keys of days before
// before, whatever waits under them, and drops their previews. The keys
// are locked first, as DestroyIntakeKeys does: a tip being sealed to one
// commits before.
func (s *TipStore) ExpireIntakeKeys(ctx context.Context, before int64) (int, error) {
	var n int
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		ids, err := lockLiveIntakeKeys(ctx, tx, before)
		if err != nil || len(ids) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations SET preview = NULL, preview_intake = NULL
			WHERE preview_intake = ANY($1)`, ids); err != nil {
			return fmt.Errorf("postgres: expire intake keys: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE intake_keys SET sealed = NULL WHERE id = ANY($1) AND sealed IS NOT NULL`, ids)
		if err != nil {
			return fmt.Errorf("postgres: expire intake keys: %w", err)
		}
		n = int(tag.RowsAffected())
		return nil
	})
	return n, err
}

// lockLiveIntakeKeys locks, for the rest of tx, the live intake keys of
// days before before, and answers their IDs: whoever is sealing a tip to
// one of them commits first, so the statements after it (each with a
// snapshot of its own) see what waits.
func lockLiveIntakeKeys(ctx context.Context, tx pgx.Tx, before int64) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM intake_keys
		WHERE sealed IS NOT NULL AND day < $1 ORDER BY id FOR UPDATE`, before)
	if err != nil {
		return nil, fmt.Errorf("postgres: locking intake keys: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: locking intake keys: %w", err)
	}
	return ids, nil
}

// destroyIntakeQuery takes the IDs of the keys to destroy if nothing
// waits under them.
const destroyIntakeQuery = `UPDATE intake_keys k SET sealed = NULL
	WHERE k.id = ANY($1) AND k.sealed IS NOT NULL
	AND NOT EXISTS (SELECT 1 FROM items i WHERE i.intake_key = k.id AND i.sealing = 'intake')
	AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.preview_intake = k.id)`

// Unsorted lists, oldest first, the items of the journalist's desks that
// a sorter should rewrap, after the item after.
func (s *TipStore) Unsorted(ctx context.Context, journalistID, after int64, limit int) ([]pista.Item, error) {
	limit = sortLimit(limit)
	n, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok {
		return nil, nil // not a cursor this store made: nothing after it
	}
	return queryItems(ctx, s.db.pool, s.db.ids, unsortedQuery, journalistID, n, limit)
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
	FROM items i
	JOIN conversations c ON c.id = i.conversation_id
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
	WHERE i.sealing <> 'conv' AND i.received <> 'legacy' AND i.id > $2
	AND (i.sealing <> 'intake' OR EXISTS (SELECT 1 FROM intake_keys k WHERE k.id = i.intake_key AND k.sealed IS NOT NULL))
	ORDER BY i.id LIMIT $3`

// UnsortedPreviews lists the conversations of the journalist's desks whose
// preview is under an intake key, by ID, after after: each with its
// preview and key (not the journalist's view of it: unread, starred…).
func (s *TipStore) UnsortedPreviews(ctx context.Context, journalistID int64, after string, limit int) ([]pista.Conversation, error) {
	rows, err := s.db.pool.Query(ctx, unsortedPreviewsQuery, journalistID, after, sortLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: unsorted previews: %w", err)
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Conversation, error) {
		var more pista.Conversation
		c, err := scanConversation(withMore{r, []any{&more.Preview, &more.KeyRecipient, &more.Key, &more.PreviewIntake}}, s.db.ids, false)
		c.Preview, c.KeyRecipient, c.Key, c.PreviewIntake = more.Preview, more.KeyRecipient, more.Key, more.PreviewIntake
		return c, err
	})
}

// withMore scans a row's columns, then more.
type withMore struct {
	pgx.Row
	more []any
}

func (w withMore) Scan(dest ...any) error { return w.Row.Scan(append(dest, w.more...)...) }

// unsortedPreviewsQuery takes a journalist, a conversation ID and a limit.
const unsortedPreviewsQuery = `SELECT ` + conversationColumns + `, c.preview, c.key_recipient, c.key, coalesce(c.preview_intake, 0)
	FROM conversations c
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
	JOIN desks d ON d.id = c.desk_id
	WHERE c.preview_intake IS NOT NULL AND c.id > $2
	ORDER BY c.id LIMIT $3`

// SetConversationKeys gives conversations of the journalist's desks
// their keys, in one transaction; each unless it has one (pista.ErrExists).
func (s *TipStore) SetConversationKeys(ctx context.Context, journalistID int64, keys []pista.ConversationKey) ([]error, error) {
	if err := pista.CheckConversationKeys(keys); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	errs := make([]error, len(keys))
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		for i, k := range keys {
			tag, err := tx.Exec(ctx, `UPDATE conversations SET key_recipient = $1, key = $2, key_signature = $5
				WHERE id = $3 AND key IS NULL AND desk_id = $6
				AND desk_id IN (SELECT desk_id FROM desk_members WHERE journalist_id = $4)`,
				k.Recipient, k.Sealed, k.Conversation, journalistID, k.Signature, k.DeskID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				continue
			}
			// Not set: one of theirs that has a key or moved, or none of
			// theirs.
			var deskID int64
			var hasKey bool
			err = tx.QueryRow(ctx, `SELECT c.desk_id, c.key IS NOT NULL FROM conversations c
				JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
				WHERE c.id = $2`, journalistID, k.Conversation).Scan(&deskID, &hasKey)
			switch {
			case err != nil && !errors.Is(err, pgx.ErrNoRows):
				return err
			case err != nil:
				errs[i] = fmt.Errorf("conversation: %w", pista.ErrNotFound)
			case deskID != k.DeskID:
				errs[i] = fmt.Errorf("conversation key: %w", pista.ErrMoved)
			case hasKey:
				errs[i] = fmt.Errorf("conversation key: %w", pista.ErrExists)
			default:
				errs[i] = fmt.Errorf("conversation key: %w", pista.ErrNotFound)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: conversation keys: %w", err)
	}
	return errs, nil
}

// SortItems answers those of the items ids in the journalist's desks.
func (s *TipStore) SortItems(ctx context.Context, journalistID int64, ids []int64) ([]pista.Item, error) {
	if len(ids) > pista.MaxSortBatch {
		return nil, fmt.Errorf("postgres: %d items, at most %d: %w", len(ids), pista.MaxSortBatch, pista.ErrTooMany)
	}
	numbers := s.db.ids.UnsealAll(sealedid.Item, ids)
	if len(numbers) == 0 {
		return nil, nil
	}
	items, err := queryItems(ctx, s.db.pool, s.db.ids, `SELECT `+itemColumns+`
		FROM items i
		JOIN conversations c ON c.id = i.conversation_id
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
		WHERE i.id = ANY($2)`, journalistID, numbers)
	if err != nil {
		return nil, fmt.Errorf("postgres: sort items: %w", storageErr(err))
	}
	return items, nil
}

// SortConversations answers the ID, desk and key recipient of those of
// the conversations ids in the journalist's desks.
func (s *TipStore) SortConversations(ctx context.Context, journalistID int64, ids []string) ([]pista.SortConversation, error) {
	if len(ids) > pista.MaxSortBatch {
		return nil, fmt.Errorf("postgres: %d conversations, at most %d: %w", len(ids), pista.MaxSortBatch, pista.ErrTooMany)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.pool.Query(ctx, `SELECT c.id, c.desk_id, d.slug, coalesce(c.key_recipient, ''), c.key, c.key_signature, coalesce(src.recipient, '')
		FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
		JOIN desks d ON d.id = c.desk_id
		LEFT JOIN sources src ON src.id = c.source_id
		WHERE c.id = ANY($2)`, journalistID, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: sort conversations: %w", storageErr(err))
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pista.SortConversation, error) {
		var c pista.SortConversation
		err := row.Scan(&c.ID, &c.DeskID, &c.DeskSlug, &c.KeyRecipient, &c.Key, &c.KeySignature, &c.SourceRecipient)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: sort conversations: %w", storageErr(err))
	}
	return cs, nil
}

// Sort swaps, in one statement, the objects of the items of batch that
// are still as the sorter saw them, and answers those it swapped. A
// sorter racing another waits for its row and then finds the object
// changed.
func (s *TipStore) Sort(ctx context.Context, journalistID int64, batch []pista.Sorted) ([]pista.Sorted, error) {
	if len(batch) > pista.MaxSortBatch {
		return nil, fmt.Errorf("postgres: sort %d items, at most %d: %w", len(batch), pista.MaxSortBatch, pista.ErrTooMany)
	}
	var (
		ids, newSize, newMetaSize              []int64
		oldObject, oldMeta, newObject, newMeta []string
		at                                     = map[int64]int{} // item number → index in batch
	)
	for i, b := range batch {
		n, ok := s.db.ids.Unseal(sealedid.Item, b.Item)
		if !ok || b.OldObject == "" || b.NewObject == "" || (b.OldMeta == "") != (b.NewMeta == "") {
			continue
		}
		if _, dup := at[n]; dup {
			continue // once: the first
		}
		at[n] = i
		ids, oldObject, oldMeta = append(ids, n), append(oldObject, b.OldObject), append(oldMeta, b.OldMeta)
		newObject, newSize, newMeta, newMetaSize = append(newObject, b.NewObject), append(newSize, b.NewSize), append(newMeta, b.NewMeta), append(newMetaSize, b.NewMetaSize)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.db.pool.Query(ctx, sortQuery, ids, oldObject, oldMeta, newObject, newSize, newMeta, newMetaSize, journalistID)
	if err != nil {
		return nil, fmt.Errorf("postgres: sort: %w", storageErr(err))
	}
	swapped, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("postgres: sort: %w", storageErr(err))
	}
	idx := make([]int, len(swapped))
	for i, n := range swapped {
		idx[i] = at[n]
	}
	slices.Sort(idx)
	var done []pista.Sorted
	for _, i := range idx {
		done = append(done, batch[i])
	}
	return done, nil
}

// sortQuery takes the items' numbers, old objects and metas, new objects,
// sizes, metas and meta sizes, as arrays, and the journalist.
const sortQuery = `UPDATE items i SET object = x.new_object, size = x.new_size, meta = x.new_meta, meta_size = x.new_meta_size,
		sealing = 'conv', intake_key = NULL
	FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[])
		AS x (id, old_object, old_meta, new_object, new_size, new_meta, new_meta_size)
	WHERE i.id = x.id AND i.object = x.old_object AND i.meta = x.old_meta
	AND i.sealing <> 'conv' AND i.received <> 'legacy'
	AND EXISTS (SELECT 1 FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $8
		WHERE c.id = i.conversation_id AND c.key IS NOT NULL)
	RETURNING i.id`

// SortPreviews replaces, in one transaction, conversations' previews
// still under an intake key by ones under the conversations' keys.
func (s *TipStore) SortPreviews(ctx context.Context, journalistID int64, previews []pista.PreviewSort) ([]error, error) {
	if err := pista.CheckPreviewSorts(previews); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	errs := make([]error, len(previews))
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		for i, p := range previews {
			tag, err := tx.Exec(ctx, `UPDATE conversations SET preview = $1, preview_intake = NULL
				WHERE id = $2 AND preview_intake = $3 AND key IS NOT NULL
				AND desk_id IN (SELECT desk_id FROM desk_members WHERE journalist_id = $4)`,
				p.Preview, p.Conversation, p.From, journalistID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				errs[i] = fmt.Errorf("preview: %w", pista.ErrNotFound)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: sort previews: %w", err)
	}
	return errs, nil
}
