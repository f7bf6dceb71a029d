package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// Settings implements pista.Settings.
type Settings struct{ db *DB }

var _ pista.Settings = (*Settings)(nil)

// NewSettings returns the settings of db.
func NewSettings(db *DB) *Settings { return &Settings{db: db} }

// DeleteSecrets deletes the secrets named from from to to (not included),
// names compared as bytes.
func (s *Settings) DeleteSecrets(ctx context.Context, from, to string) error {
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM settings WHERE name >= $1 AND name < $2`, from, to); err != nil {
		return fmt.Errorf("postgres: delete secrets: %w", err)
	}
	return nil
}

// Secret returns the named secret, creating it with n bytes from
// crypto/rand the first time. Creation is INSERT … ON CONFLICT DO NOTHING,
// which waits for a concurrent first caller's transaction, then a SELECT,
// so concurrent first callers on every instance all get the value that was
// stored. A secret already stored is returned as it is, whatever n.
func (s *Settings) Secret(ctx context.Context, name string, n int) ([]byte, error) {
	if name == "" || n <= 0 {
		return nil, errors.New("postgres: a secret needs a name and a positive size")
	}
	var value []byte
	err := s.db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&value)
	if err == nil {
		return value, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	fresh := make([]byte, n)
	rand.Read(fresh) // never fails (Go 1.24+)
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		name, fresh); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", storageErr(err))
	}
	if err := s.db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&value); err != nil {
		return nil, fmt.Errorf("postgres: secret: %w", err)
	}
	return value, nil
}

// NewsroomText returns the newsroom's texts in lang.
func (s *Settings) NewsroomText(ctx context.Context, lang string) (pista.NewsroomText, error) {
	t := pista.NewsroomText{Lang: lang}
	err := s.db.pool.QueryRow(ctx, `SELECT name, intro FROM newsroom_texts WHERE lang = $1`, lang).Scan(&t.Name, &t.Intro)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("postgres: newsroom text: %w", err)
	}
	return t, nil
}

// SetNewsroomText sets the newsroom's texts in one language.
func (s *Settings) SetNewsroomText(ctx context.Context, t pista.NewsroomText) error {
	if t.Lang == "" {
		return errors.New("postgres: a newsroom text needs a language")
	}
	_, err := s.db.pool.Exec(ctx, `INSERT INTO newsroom_texts (lang, name, intro) VALUES ($1, $2, $3)
		ON CONFLICT (lang) DO UPDATE SET name = excluded.name, intro = excluded.intro`, t.Lang, t.Name, t.Intro)
	if err != nil {
		return fmt.Errorf("postgres: newsroom text: %w", storageErr(err))
	}
	return nil
}

// SetDeskText sets a desk's title and description in one language.
func (s *DeskStore) SetDeskText(ctx context.Context, deskID int64, t pista.DeskText) error {
	if t.Lang == "" || t.Title == "" {
		return errors.New("postgres: a desk text needs a language and a title")
	}
	tag, err := s.db.pool.Exec(ctx, `INSERT INTO desk_texts (desk_id, lang, title, description)
		SELECT id, $1, $2, $3 FROM desks WHERE id = $4
		ON CONFLICT (desk_id, lang) DO UPDATE SET title = excluded.title, description = excluded.description`,
		t.Lang, t.Title, t.Description, deskID)
	if err != nil {
		return fmt.Errorf("postgres: desk text: %w", storageErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	}
	return nil
}

// DeskTexts returns every desk's texts in lang, by desk ID.
func (s *DeskStore) DeskTexts(ctx context.Context, lang string) (map[int64]pista.DeskText, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT desk_id, title, description FROM desk_texts WHERE lang = $1`, lang)
	if err != nil {
		return nil, fmt.Errorf("postgres: desk texts: %w", err)
	}
	defer rows.Close()
	m := map[int64]pista.DeskText{}
	for rows.Next() {
		var id int64
		t := pista.DeskText{Lang: lang}
		if err := rows.Scan(&id, &t.Title, &t.Description); err != nil {
			return nil, err
		}
		m[id] = t
	}
	return m, rows.Err()
}
