package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pista-tips/pista"
)

// Questions returns a desk's questionnaire.
func (s *DeskStore) Questions(ctx context.Context, deskID int64) (pista.Questionnaire, error) {
	var body sql.NullString
	err := s.db.read.QueryRowContext(ctx, `SELECT q.body FROM desks d
		LEFT JOIN desk_questions q ON q.desk_id = d.id WHERE d.id = ?`, deskID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return pista.Questionnaire{}, fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	} else if err != nil {
		return pista.Questionnaire{}, fmt.Errorf("sqlite: questions: %w", err)
	}
	return pista.DecodeQuestionnaire(body.String)
}

// SetQuestions replaces a desk's questionnaire.
func (s *DeskStore) SetQuestions(ctx context.Context, deskID int64, q pista.Questionnaire) (err error) {
	defer func() { err = storageErr(err) }()
	body, err := pista.EncodeQuestionnaire(q)
	if err != nil {
		return err
	}
	res, err := s.db.write.ExecContext(ctx, `INSERT INTO desk_questions (desk_id, body)
		SELECT id, ? FROM desks WHERE id = ?
		ON CONFLICT (desk_id) DO UPDATE SET body = excluded.body`, body, deskID)
	if err != nil {
		return fmt.Errorf("sqlite: set questions: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	}
	return nil
}
