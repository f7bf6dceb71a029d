package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// Questions returns a desk's questionnaire.
func (s *DeskStore) Questions(ctx context.Context, deskID int64) (pista.Questionnaire, error) {
	var body *string
	err := s.db.pool.QueryRow(ctx, `SELECT q.body FROM desks d
		LEFT JOIN desk_questions q ON q.desk_id = d.id WHERE d.id = $1`, deskID).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return pista.Questionnaire{}, fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	} else if err != nil {
		return pista.Questionnaire{}, fmt.Errorf("postgres: questions: %w", err)
	}
	if body == nil {
		return pista.Questionnaire{Questions: []pista.Question{}}, nil
	}
	return pista.DecodeQuestionnaire(*body)
}

// SetQuestions replaces a desk's questionnaire.
func (s *DeskStore) SetQuestions(ctx context.Context, deskID int64, q pista.Questionnaire) error {
	body, err := pista.EncodeQuestionnaire(q)
	if err != nil {
		return err
	}
	tag, err := s.db.pool.Exec(ctx, `INSERT INTO desk_questions (desk_id, body)
		SELECT id, $1 FROM desks WHERE id = $2
		ON CONFLICT (desk_id) DO UPDATE SET body = excluded.body`, body, deskID)
	if err != nil {
		return fmt.Errorf("postgres: set questions: %w", storageErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
	}
	return nil
}
