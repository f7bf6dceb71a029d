package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pista-tips/pista"
)

// Settings implements pista.Settings.
type Settings struct{ db *DB }

var _ pista.Settings = (*Settings)(nil)

// NewSettings returns the settings of db.
func NewSettings(db *DB) *Settings { return &Settings{db: db} }

// DeleteSecrets deletes the secrets named from from to to (not included).
func (s *Settings) DeleteSecrets(ctx context.Context, from, to string) error {
	if _, err := s.db.write.ExecContext(ctx, `DELETE FROM settings WHERE name >= ? AND name < ?`, from, to); err != nil {
		return fmt.Errorf("sqlite: delete secrets: %w", err)
	}
	return nil
}

// Secret returns the named secret, creating it with n bytes from
// crypto/rand the first time. Creation is INSERT OR IGNORE then SELECT in
// one write transaction, so concurrent first callers, in this process or
// another, all get the value that was stored. A secret already stored is
// returned as it is, whatever n.
func (s *Settings) Secret(ctx context.Context, name string, n int) ([]byte, error) {
	if name == "" || n <= 0 {
		return nil, errors.New("sqlite: a secret needs a name and a positive size")
	}
	var value []byte
	err := s.db.read.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&value)
	if err == nil {
		return value, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
	}

	fresh := make([]byte, n)
	rand.Read(fresh) // never fails (Go 1.24+)

	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)`, name, fresh); err != nil {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&value); err != nil {
		return nil, fmt.Errorf("sqlite: secret: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return value, nil
}
