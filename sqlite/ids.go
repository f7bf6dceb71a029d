package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pista-tips/pista/internal/sealedid"
)

// Items and audit entries are shown by sealed IDs that carry no count and
// no order (package sealedid); the key is the setting "id-key", made by
// migration 0006.

// loadIDs reads the instance's ID key.
func loadIDs(ctx context.Context, db *sql.DB) (*sealedid.Sealer, error) {
	var key []byte
	if err := db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = 'id-key'`).Scan(&key); err != nil {
		return nil, fmt.Errorf("sqlite: the ID key: %w", err)
	}
	s, err := sealedid.New(key)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}
