package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
)

// objectsBatch bounds the keys one query of ObjectsInUse checks: a few
// hundred KiB of JSON.
const objectsBatch = 10000

// ObjectsInUse says which of keys an item refers to. There is no index
// on the keys of items (writes would pay for it; only the orphan sweep
// asks): each batch of keys is one scan of items, whose memory is the
// batch's, not the table's.
func (s *TipStore) ObjectsInUse(ctx context.Context, keys []string) (map[string]bool, error) {
	used := map[string]bool{}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), objectsBatch)]
		keys = keys[len(batch):]
		list, err := json.Marshal(batch)
		if err != nil {
			return nil, err
		}
		rows, err := s.db.read.QueryContext(ctx, `WITH k(key) AS (SELECT value FROM json_each(?1))
			SELECT i.object, i.meta FROM items i
			WHERE i.object IN (SELECT key FROM k) OR i.meta IN (SELECT key FROM k)
			UNION ALL SELECT s.object, '' FROM index_segments s WHERE s.object IN (SELECT key FROM k)`, string(list))
		if err != nil {
			return nil, fmt.Errorf("sqlite: objects in use: %w", err)
		}
		in := make(map[string]bool, len(batch))
		for _, k := range batch {
			in[k] = true
		}
		for rows.Next() {
			var object, meta string
			if err := rows.Scan(&object, &meta); err != nil {
				rows.Close()
				return nil, err
			}
			for _, k := range []string{object, meta} {
				if in[k] {
					used[k] = true
				}
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("sqlite: objects in use: %w", err)
		}
	}
	return used, nil
}

// DoomedObjects lists up to limit keys the triggers of migration 0017
// recorded.
func (s *TipStore) DoomedObjects(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT key FROM doomed_objects ORDER BY key LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: doomed objects: %w", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("sqlite: doomed objects: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// ForgetDoomed drops keys from the record of doomed objects.
func (s *TipStore) ForgetDoomed(ctx context.Context, keys []string) (err error) {
	defer func() { err = storageErr(err) }()
	for len(keys) > 0 {
		batch := keys[:min(len(keys), objectsBatch)]
		keys = keys[len(batch):]
		list, err := json.Marshal(batch)
		if err != nil {
			return err
		}
		if _, err := s.db.write.ExecContext(ctx, `DELETE FROM doomed_objects WHERE key IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
			return fmt.Errorf("sqlite: forget doomed objects: %w", err)
		}
	}
	return nil
}
