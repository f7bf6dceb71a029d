package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// DeskStore implements pista.DeskStore.
type DeskStore struct{ db *DB }

var _ pista.DeskStore = (*DeskStore)(nil)

// NewDeskStore returns the desks of db.
func NewDeskStore(db *DB) *DeskStore { return &DeskStore{db: db} }

// CreateDesk stores d, its first key (d.Recipient) and that key's wraps,
// and makes each wrap's journalist a member. On success it sets d.ID,
// d.KeyID and d.Created, and each wrap's DeskKeyID and DeskSlug. It
// answers pista.ErrExists if the slug is a desk's slug or alias.
func (s *DeskStore) CreateDesk(ctx context.Context, d *pista.Desk, wraps []pista.KeyWrap) error {
	if d.Slug == "" || d.Recipient == "" {
		return errors.New("postgres: desk needs a slug and a recipient")
	}
	for _, w := range wraps {
		if role := w.Role; role != "" && !role.Valid() {
			return fmt.Errorf("postgres: role %q is not journalist or coordinator", role)
		}
	}
	created := stamp(d.Created)
	var deskID, keyID int64
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if err := xactLock(ctx, tx, lockAddresses); err != nil {
			return err
		}
		// A slug is also a mail address: it may not be another desk's alias.
		var aliased bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM desk_aliases WHERE alias = $1)`,
			strings.ToLower(d.Slug)).Scan(&aliased); err != nil {
			return fmt.Errorf("postgres: create desk: %w", err)
		}
		if aliased {
			return fmt.Errorf("desk %q: %w", d.Slug, pista.ErrExists)
		}
		err := tx.QueryRow(ctx, `INSERT INTO desks (slug, title, description, created) VALUES ($1, $2, $3, $4) RETURNING id`,
			d.Slug, d.Title, d.Description, created.Unix()).Scan(&deskID)
		if isUnique(err) {
			return fmt.Errorf("desk %q: %w", d.Slug, pista.ErrExists)
		} else if err != nil {
			return fmt.Errorf("postgres: create desk: %w", err)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO desk_keys (desk_id, recipient, created) VALUES ($1, $2, $3) RETURNING id`,
			deskID, d.Recipient, created.Unix()).Scan(&keyID); err != nil {
			return fmt.Errorf("postgres: create desk key: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE desks SET key_id = $1 WHERE id = $2`, keyID, deskID); err != nil {
			return fmt.Errorf("postgres: create desk: %w", err)
		}
		for _, w := range wraps {
			if _, err := tx.Exec(ctx, `INSERT INTO key_wraps (desk_key_id, journalist_id, wrapped) VALUES ($1, $2, $3)`,
				keyID, w.JournalistID, w.Wrapped); err != nil {
				return fmt.Errorf("postgres: wrap desk key for journalist %d: %w", w.JournalistID, err)
			}
			role := w.Role
			if role == "" {
				role = pista.RoleJournalist
			}
			if _, err := tx.Exec(ctx, `INSERT INTO desk_members (desk_id, journalist_id, role) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, deskID, w.JournalistID, string(role)); err != nil {
				return fmt.Errorf("postgres: add desk member %d: %w", w.JournalistID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.ID, d.KeyID, d.Created = deskID, keyID, created
	for i := range wraps {
		wraps[i].DeskKeyID, wraps[i].DeskSlug = keyID, d.Slug
	}
	return nil
}

const deskColumns = `d.id, d.slug, d.title, d.description, k.recipient, d.key_id, d.created, d.retention_days`

func scanDesk(row pgx.Row) (pista.Desk, error) {
	var d pista.Desk
	var created int64
	err := row.Scan(&d.ID, &d.Slug, &d.Title, &d.Description, &d.Recipient, &d.KeyID, &created, &d.RetentionDays)
	d.Created = unix(created)
	return d, err
}

func (s *DeskStore) queryDesks(ctx context.Context, query string, args ...any) ([]pista.Desk, error) {
	rows, err := s.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Desk, error) { return scanDesk(r) })
}

// Desks lists every desk, by slug.
func (s *DeskStore) Desks(ctx context.Context) ([]pista.Desk, error) {
	return s.queryDesks(ctx, `SELECT `+deskColumns+`
		FROM desks d JOIN desk_keys k ON k.id = d.key_id
		ORDER BY d.slug`)
}

// DeskBySlug answers pista.ErrNotFound for an unknown slug.
func (s *DeskStore) DeskBySlug(ctx context.Context, slug string) (pista.Desk, error) {
	d, err := scanDesk(s.db.pool.QueryRow(ctx, `SELECT `+deskColumns+`
		FROM desks d JOIN desk_keys k ON k.id = d.key_id
		WHERE d.slug = $1`, slug))
	if err != nil {
		return pista.Desk{}, fmt.Errorf("desk %q: %w", slug, notFound(err))
	}
	return d, nil
}

// DeskByID answers pista.ErrNotFound for an unknown ID.
func (s *DeskStore) DeskByID(ctx context.Context, id int64) (pista.Desk, error) {
	d, err := scanDesk(s.db.pool.QueryRow(ctx, `SELECT `+deskColumns+`
		FROM desks d JOIN desk_keys k ON k.id = d.key_id
		WHERE d.id = $1`, id))
	if err != nil {
		return pista.Desk{}, fmt.Errorf("desk %d: %w", id, notFound(err))
	}
	return d, nil
}

// DeskByAddress finds the desk whose slug or alias is local, compared
// lowercase, and answers pista.ErrNotFound if there is none.
func (s *DeskStore) DeskByAddress(ctx context.Context, local string) (pista.Desk, error) {
	d, err := scanDesk(s.db.pool.QueryRow(ctx, deskByAddressQuery, strings.ToLower(local)))
	if err != nil {
		return pista.Desk{}, fmt.Errorf("desk address %q: %w", local, notFound(err))
	}
	return d, nil
}

// deskByAddressQuery takes a lowercase address.
const deskByAddressQuery = `(SELECT ` + deskColumns + `
	FROM desks d JOIN desk_keys k ON k.id = d.key_id
	WHERE d.slug = $1)
	UNION ALL
	(SELECT ` + deskColumns + `
	FROM desk_aliases a
	JOIN desks d ON d.id = a.desk_id
	JOIN desk_keys k ON k.id = d.key_id
	WHERE a.alias = $1)
	LIMIT 1`

// AddAlias gives a desk another mail address, stored lowercase. It answers
// pista.ErrExists if local, lowercase, is already a desk's slug or alias,
// and pista.ErrNotFound for an unknown desk.
func (s *DeskStore) AddAlias(ctx context.Context, deskID int64, local string) error {
	alias := strings.ToLower(local)
	if alias == "" {
		return errors.New("postgres: empty desk alias")
	}
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		if err := xactLock(ctx, tx, lockAddresses); err != nil {
			return err
		}
		var desk, taken bool
		if err := tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM desks WHERE id = $1),
			EXISTS (SELECT 1 FROM desks WHERE lower(slug) = $2) OR EXISTS (SELECT 1 FROM desk_aliases WHERE alias = $2)`,
			deskID, alias).Scan(&desk, &taken); err != nil {
			return fmt.Errorf("postgres: add alias: %w", err)
		}
		switch {
		case !desk:
			return fmt.Errorf("desk %d: %w", deskID, pista.ErrNotFound)
		case taken:
			return fmt.Errorf("desk address %q: %w", alias, pista.ErrExists)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO desk_aliases (alias, desk_id) VALUES ($1, $2)`, alias, deskID); err != nil {
			return fmt.Errorf("postgres: add alias: %w", err)
		}
		return nil
	})
}

// Aliases lists a desk's aliases, sorted; none for an unknown desk.
func (s *DeskStore) Aliases(ctx context.Context, deskID int64) ([]string, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT alias FROM desk_aliases WHERE desk_id = $1 ORDER BY alias`, deskID)
	if err != nil {
		return nil, err
	}
	return collect(rows, pgx.RowTo[string])
}

// DesksOf lists, by slug, the desks a journalist is a member of.
func (s *DeskStore) DesksOf(ctx context.Context, journalistID int64) ([]pista.Desk, error) {
	return s.queryDesks(ctx, `SELECT `+deskColumns+`
		FROM desk_members m
		JOIN desks d ON d.id = m.desk_id
		JOIN desk_keys k ON k.id = d.key_id
		WHERE m.journalist_id = $1
		ORDER BY d.slug`, journalistID)
}

// WrapsFor lists every desk key generation wrapped to a journalist, by desk
// slug and then oldest key first.
func (s *DeskStore) WrapsFor(ctx context.Context, journalistID int64) ([]pista.KeyWrap, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT w.desk_key_id, d.slug, w.journalist_id, w.wrapped
		FROM key_wraps w
		JOIN desk_keys k ON k.id = w.desk_key_id
		JOIN desks d ON d.id = k.desk_id
		WHERE w.journalist_id = $1
		ORDER BY d.slug, w.desk_key_id`, journalistID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.KeyWrap, error) {
		var w pista.KeyWrap
		err := r.Scan(&w.DeskKeyID, &w.DeskSlug, &w.JournalistID, &w.Wrapped)
		return w, err
	})
}
