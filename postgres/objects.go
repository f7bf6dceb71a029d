package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// objectsBatch bounds the keys one query of ObjectsInUse checks.
const objectsBatch = 10000

// ObjectsInUse says which of keys an item refers to. There is no index
// on the keys of items (writes would pay for it; only the orphan sweep
// asks): each batch of keys is one scan of items, hashed against the
// batch, whose memory is the batch's, not the table's.
func (s *TipStore) ObjectsInUse(ctx context.Context, keys []string) (map[string]bool, error) {
	used := map[string]bool{}
	for len(keys) > 0 {
		batch := keys[:min(len(keys), objectsBatch)]
		keys = keys[len(batch):]
		rows, err := s.db.pool.Query(ctx, `SELECT i.object FROM items i JOIN unnest($1::text[]) k(key) ON i.object = k.key
			UNION SELECT i.meta FROM items i JOIN unnest($1::text[]) k(key) ON i.meta = k.key
			UNION SELECT s.object FROM index_segments s JOIN unnest($1::text[]) k(key) ON s.object = k.key`, batch)
		if err != nil {
			return nil, fmt.Errorf("postgres: objects in use: %w", err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			used[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("postgres: objects in use: %w", err)
		}
	}
	return used, nil
}

// DoomedObjects lists up to limit keys the triggers of migration 0011
// recorded.
func (s *TipStore) DoomedObjects(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT key FROM doomed_objects ORDER BY key LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: doomed objects: %w", storageErr(err))
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: doomed objects: %w", storageErr(err))
	}
	return keys, nil
}

// ForgetDoomed drops keys from the record of doomed objects.
func (s *TipStore) ForgetDoomed(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		batch := keys[:min(len(keys), objectsBatch)]
		keys = keys[len(batch):]
		if _, err := s.db.pool.Exec(ctx, `DELETE FROM doomed_objects WHERE key = ANY($1)`, batch); err != nil {
			return fmt.Errorf("postgres: forget doomed objects: %w", storageErr(err))
		}
	}
	return nil
}
