package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// The desks' search indexes: segments the journalists' browsers encrypt,
// kept as rows of index_segments (migration 0004) over objects of the
// BlobStore. See pista.IndexSegment.

// member answers pista.ErrNotFound unless the journalist is a member of
// the desk.
func member(ctx context.Context, q querier, journalistID, deskID int64) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM desk_members WHERE journalist_id = $1 AND desk_id = $2`,
		journalistID, deskID).Scan(&one)
	if err != nil {
		return fmt.Errorf("postgres: desk %d: %w", deskID, notFound(err))
	}
	return nil
}

// DeskItemsFor lists, oldest first, up to limit items of the desk's
// conversations newer than the item after.
func (s *TipStore) DeskItemsFor(ctx context.Context, journalistID, deskID, after int64, limit int) ([]pista.Item, error) {
	if limit <= 0 {
		limit = pista.DefaultItemsLimit
	}
	limit = min(limit, pista.MaxItemsLimit)
	if err := member(ctx, s.db.pool, journalistID, deskID); err != nil {
		return nil, err
	}
	n, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok {
		return nil, nil // not a cursor this store made: nothing after it
	}
	return queryItems(ctx, s.db.pool, s.db.ids, deskItemsForQuery, deskID, n, limit)
}

// deskItemsForQuery takes a desk, an item ID and a limit.
const deskItemsForQuery = `SELECT ` + itemColumns + `
	FROM items i
	JOIN conversations c ON c.id = i.conversation_id
	WHERE i.id > $2 AND c.desk_id = $1
	ORDER BY i.id LIMIT $3`

const segmentColumns = `id, desk_id, object, size, coalesce(author_id, 0), created`

func scanSegment(r pgx.CollectableRow) (pista.IndexSegment, error) {
	var g pista.IndexSegment
	var created int64
	err := r.Scan(&g.ID, &g.DeskID, &g.Object, &g.Size, &g.AuthorID, &created)
	g.Created = unix(created)
	return g, err
}

// IndexSegments lists a desk's segments, oldest first.
func (s *TipStore) IndexSegments(ctx context.Context, journalistID, deskID int64) ([]pista.IndexSegment, error) {
	if err := member(ctx, s.db.pool, journalistID, deskID); err != nil {
		return nil, err
	}
	rows, err := s.db.pool.Query(ctx, `SELECT `+segmentColumns+` FROM index_segments
		WHERE desk_id = $1 ORDER BY seq`, deskID)
	if err != nil {
		return nil, fmt.Errorf("postgres: index segments: %w", err)
	}
	return collect(rows, scanSegment)
}

// AddIndexSegment stores a segment, replacing those of replaces, in one
// transaction. The desk's row is locked for the rest of it (FOR NO KEY
// UPDATE, which new tips' foreign keys do not wait for), so that two
// browsers adding segments at once cannot both pass the count.
func (s *TipStore) AddIndexSegment(ctx context.Context, journalistID int64, g *pista.IndexSegment, replaces []string) ([]pista.IndexSegment, error) {
	if len(replaces) > pista.MaxIndexReplaces {
		return nil, fmt.Errorf("postgres: a segment replaces at most %d others, not %d", pista.MaxIndexReplaces, len(replaces))
	}
	var replaced []pista.IndexSegment
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		replaced = nil
		if err := member(ctx, tx, journalistID, g.DeskID); err != nil {
			return err
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM desks WHERE id = $1 FOR NO KEY UPDATE`, g.DeskID).Scan(&one); err != nil {
			return fmt.Errorf("postgres: desk %d: %w", g.DeskID, notFound(err))
		}
		seen := map[string]bool{}
		for _, id := range replaces {
			if seen[id] {
				continue
			}
			seen[id] = true
			rows, err := tx.Query(ctx, `DELETE FROM index_segments WHERE id = $1 AND desk_id = $2
				RETURNING `+segmentColumns, id, g.DeskID)
			if err != nil {
				return fmt.Errorf("postgres: replacing a segment: %w", err)
			}
			got, err := collect(rows, scanSegment)
			if err != nil {
				return fmt.Errorf("postgres: replacing a segment: %w", err)
			}
			if len(got) == 0 {
				return fmt.Errorf("postgres: segment to replace: %w", pista.ErrNotFound)
			}
			replaced = append(replaced, got...)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM index_segments WHERE desk_id = $1`, g.DeskID).Scan(&n); err != nil {
			return fmt.Errorf("postgres: counting segments: %w", err)
		}
		if n >= pista.MaxIndexSegments {
			return pista.ErrIndexFull
		}
		id := pista.NewConversationID()
		created := stamp(g.Created)
		var author any
		if g.AuthorID != 0 {
			author = g.AuthorID
		}
		if _, err := tx.Exec(ctx, `INSERT INTO index_segments (id, desk_id, object, size, author_id, created)
			VALUES ($1, $2, $3, $4, $5, $6)`, id, g.DeskID, g.Object, g.Size, author, created.Unix()); err != nil {
			if isForeignKey(err) {
				return fmt.Errorf("postgres: adding a segment: %w", errors.Join(pista.ErrNotFound, err))
			}
			return fmt.Errorf("postgres: adding a segment: %w", err)
		}
		g.ID, g.Created = id, created
		return nil
	})
	if err != nil {
		return nil, err
	}
	return replaced, nil
}
