package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// The desks' search indexes: segments the journalists' browsers encrypt,
// kept as rows of index_segments (migration 0010) over objects of the
// BlobStore. See pista.IndexSegment.

// member answers pista.ErrNotFound unless the journalist is a member of
// the desk.
func member(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, journalistID, deskID int64) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM desk_members WHERE journalist_id = ? AND desk_id = ?`,
		journalistID, deskID).Scan(&one)
	if err != nil {
		return fmt.Errorf("sqlite: desk %d: %w", deskID, notFound(err))
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
	if err := member(ctx, s.db.read, journalistID, deskID); err != nil {
		return nil, err
	}
	n, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok {
		return nil, nil // not a cursor this store made: nothing after it
	}
	return queryItems(ctx, s.db.read, s.db.ids, deskItemsForQuery, deskID, n, limit)
}

// deskItemsForQuery takes a desk, an item ID and a limit. It reads items
// in ID order from the given ID, keeping the desk's.
const deskItemsForQuery = `SELECT ` + itemColumns + `
	FROM items i
	CROSS JOIN conversations c ON c.id = i.conversation_id
	WHERE i.id > ?2 AND c.desk_id = ?1
	ORDER BY i.id LIMIT ?3`

const segmentColumns = `id, desk_id, object, size, coalesce(author_id, 0), created`

func scanSegments(rows *sql.Rows) ([]pista.IndexSegment, error) {
	defer rows.Close()
	var out []pista.IndexSegment
	for rows.Next() {
		var g pista.IndexSegment
		var created int64
		if err := rows.Scan(&g.ID, &g.DeskID, &g.Object, &g.Size, &g.AuthorID, &created); err != nil {
			return nil, err
		}
		g.Created = unix(created)
		out = append(out, g)
	}
	return out, rows.Err()
}

// IndexSegments lists a desk's segments, oldest first.
func (s *TipStore) IndexSegments(ctx context.Context, journalistID, deskID int64) ([]pista.IndexSegment, error) {
	if err := member(ctx, s.db.read, journalistID, deskID); err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+segmentColumns+` FROM index_segments
		WHERE desk_id = ? ORDER BY seq`, deskID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: index segments: %w", err)
	}
	return scanSegments(rows)
}

// AddIndexSegment stores a segment, replacing those of replaces, in one
// transaction.
func (s *TipStore) AddIndexSegment(ctx context.Context, journalistID int64, g *pista.IndexSegment, replaces []string) (_ []pista.IndexSegment, err error) {
	defer func() { err = storageErr(err) }()
	if len(replaces) > pista.MaxIndexReplaces {
		return nil, fmt.Errorf("sqlite: a segment replaces at most %d others, not %d", pista.MaxIndexReplaces, len(replaces))
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if err := member(ctx, tx, journalistID, g.DeskID); err != nil {
		return nil, err
	}
	var replaced []pista.IndexSegment
	seen := map[string]bool{}
	for _, id := range replaces {
		if seen[id] {
			continue
		}
		seen[id] = true
		rows, err := tx.QueryContext(ctx, `DELETE FROM index_segments WHERE id = ? AND desk_id = ?
			RETURNING `+segmentColumns, id, g.DeskID)
		if err != nil {
			return nil, fmt.Errorf("sqlite: replacing a segment: %w", err)
		}
		got, err := scanSegments(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: replacing a segment: %w", err)
		}
		if len(got) == 0 {
			return nil, fmt.Errorf("sqlite: segment to replace: %w", pista.ErrNotFound)
		}
		replaced = append(replaced, got...)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM index_segments WHERE desk_id = ?`, g.DeskID).Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlite: counting segments: %w", err)
	}
	if n >= pista.MaxIndexSegments {
		return nil, pista.ErrIndexFull
	}
	g.ID = pista.NewConversationID()
	g.Created = stamp(g.Created)
	var author any
	if g.AuthorID != 0 {
		author = g.AuthorID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO index_segments (id, desk_id, object, size, author_id, created)
		VALUES (?, ?, ?, ?, ?, ?)`, g.ID, g.DeskID, g.Object, g.Size, author, g.Created.Unix()); err != nil {
		if isForeignKey(err) {
			return nil, fmt.Errorf("sqlite: adding a segment: %w", errors.Join(pista.ErrNotFound, err))
		}
		return nil, fmt.Errorf("sqlite: adding a segment: %w", err)
	}
	return replaced, tx.Commit()
}
