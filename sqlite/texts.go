package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pista-tips/pista"
)

// SetDeskText sets a desk's title and description in one language.
func (s *DeskStore) SetDeskText(ctx context.Context, deskID int64, t pista.DeskText) (err error) {
	defer func() { err = storageErr(err) }()
	if t.Lang == "" || t.Title == "" {
		return errors.New("sqlite: a desk text needs a language and a title")
	}
	res, err := s.db.write.ExecContext(ctx, `INSERT INTO desk_texts (desk_id, lang, title, description)
		SELECT id, ?, ?, ? FROM desks WHERE id = ?
		ON CONFLICT (desk_id, lang) DO UPDATE SET title = excluded.title, description = excluded.description`,
		t.Lang, t.Title, t.Description, deskID)
	if err != nil {
		return fmt.Errorf("sqlite: desk text: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	}
	return nil
}

// DeskTexts returns every desk's texts in lang, by desk ID.
func (s *DeskStore) DeskTexts(ctx context.Context, lang string) (map[int64]pista.DeskText, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT desk_id, title, description FROM desk_texts WHERE lang = ?`, lang)
	if err != nil {
		return nil, fmt.Errorf("sqlite: desk texts: %w", err)
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

// NewsroomText returns the newsroom's texts in lang.
func (s *Settings) NewsroomText(ctx context.Context, lang string) (pista.NewsroomText, error) {
	t := pista.NewsroomText{Lang: lang}
	err := s.db.read.QueryRowContext(ctx, `SELECT name, intro FROM newsroom_texts WHERE lang = ?`, lang).Scan(&t.Name, &t.Intro)
	if errors.Is(err, sql.ErrNoRows) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("sqlite: newsroom text: %w", err)
	}
	return t, nil
}

// SetNewsroomText sets the newsroom's texts in one language.
func (s *Settings) SetNewsroomText(ctx context.Context, t pista.NewsroomText) (err error) {
	defer func() { err = storageErr(err) }()
	if t.Lang == "" {
		return errors.New("sqlite: a newsroom text needs a language")
	}
	_, err = s.db.write.ExecContext(ctx, `INSERT INTO newsroom_texts (lang, name, intro) VALUES (?, ?, ?)
		ON CONFLICT (lang) DO UPDATE SET name = excluded.name, intro = excluded.intro`, t.Lang, t.Name, t.Intro)
	if err != nil {
		return fmt.Errorf("sqlite: newsroom text: %w", err)
	}
	return nil
}
