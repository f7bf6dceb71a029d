package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// Shared implements pista.Shared in the table shared: what several
// instances on one database must see alike. Every statement is one
// atomic row operation (INSERT … ON CONFLICT, DELETE … RETURNING), so
// concurrent instances need no lock. Times are the instances' clocks,
// which must agree to within seconds (NTP): entries live minutes to
// hours.
type Shared struct{ db *DB }

var _ pista.Shared = (*Shared)(nil)

// NewShared returns the shared state of db.
func NewShared(db *DB) *Shared { return &Shared{db: db} }

func sharedErr(op string, err error) error {
	return fmt.Errorf("postgres: shared %s: %w", op, storageErr(err))
}

// Put implements pista.Shared.
func (s *Shared) Put(ctx context.Context, kind string, key, value []byte, expires time.Time) error {
	_, err := s.db.pool.Exec(ctx, `INSERT INTO shared (kind, key, value, n, expires) VALUES ($1, $2, $3, 0, $4)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, n = 0, expires = excluded.expires`,
		kind, key, nonNil(value), expires)
	if err != nil {
		return sharedErr("put", err)
	}
	return nil
}

// Add implements pista.Shared: an expired entry not yet swept counts as
// absent.
func (s *Shared) Add(ctx context.Context, kind string, key, value []byte, expires time.Time) (bool, error) {
	return s.one(ctx, "add", `INSERT INTO shared (kind, key, value, n, expires) VALUES ($1, $2, $3, 0, $4)
		ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, n = 0, expires = excluded.expires
		WHERE shared.expires <= $5 RETURNING 1`, kind, key, nonNil(value), expires, time.Now())
}

// one runs a statement that returns a row when it did what it says.
func (s *Shared) one(ctx context.Context, op, sql string, args ...any) (bool, error) {
	var one int
	err := s.db.pool.QueryRow(ctx, sql, args...).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, sharedErr(op, err)
	}
	return true, nil
}

// Replace implements pista.Shared.
func (s *Shared) Replace(ctx context.Context, kind string, key, old, value []byte, expires time.Time) (bool, error) {
	if old == nil {
		return s.one(ctx, "replace", `UPDATE shared SET value = $3, n = 0, expires = $4
			WHERE kind = $1 AND key = $2 AND expires > $5 RETURNING 1`, kind, key, nonNil(value), expires, time.Now())
	}
	return s.one(ctx, "replace", `UPDATE shared SET value = $3, n = 0, expires = $4
		WHERE kind = $1 AND key = $2 AND expires > $5 AND value = $6 RETURNING 1`, kind, key, nonNil(value), expires, time.Now(), old)
}

// Get implements pista.Shared.
func (s *Shared) Get(ctx context.Context, kind string, key []byte) ([]byte, bool, error) {
	return s.value(ctx, "get", `SELECT value FROM shared WHERE kind = $1 AND key = $2 AND expires > $3`, kind, key)
}

// Take implements pista.Shared: DELETE … RETURNING hands the row to one
// caller only.
func (s *Shared) Take(ctx context.Context, kind string, key []byte) ([]byte, bool, error) {
	return s.value(ctx, "take", `DELETE FROM shared WHERE kind = $1 AND key = $2 AND expires > $3 RETURNING value`, kind, key)
}

func (s *Shared) value(ctx context.Context, op, sql, kind string, key []byte) ([]byte, bool, error) {
	var v []byte
	err := s.db.pool.QueryRow(ctx, sql, kind, key, time.Now()).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, sharedErr(op, err)
	}
	return v, true, nil
}

// Delete implements pista.Shared.
func (s *Shared) Delete(ctx context.Context, kind string, key []byte) error {
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM shared WHERE kind = $1 AND key = $2`, kind, key); err != nil {
		return sharedErr("delete", err)
	}
	return nil
}

// DeleteIf implements pista.Shared.
func (s *Shared) DeleteIf(ctx context.Context, kind string, key, value []byte) (bool, error) {
	return s.one(ctx, "delete", `DELETE FROM shared WHERE kind = $1 AND key = $2 AND value = $3 RETURNING 1`, kind, key, nonNil(value))
}

// Count implements pista.Shared.
func (s *Shared) Count(ctx context.Context, kind string) (int, error) {
	var n int
	if err := s.db.pool.QueryRow(ctx, `SELECT count(*) FROM shared WHERE kind = $1 AND expires > $2`, kind, time.Now()).Scan(&n); err != nil {
		return 0, sharedErr("count", err)
	}
	return n, nil
}

// Keys implements pista.Shared.
func (s *Shared) Keys(ctx context.Context, kind string, limit int) ([][]byte, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT key FROM shared WHERE kind = $1 AND expires > $2 ORDER BY key LIMIT $3`, kind, time.Now(), limit)
	if err != nil {
		return nil, sharedErr("keys", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, sharedErr("keys", err)
	}
	return keys, nil
}

// Advance implements pista.Shared.
func (s *Shared) Advance(ctx context.Context, kind string, key []byte, n int64, expires time.Time) (bool, error) {
	return s.one(ctx, "advance", `INSERT INTO shared (kind, key, value, n, expires) VALUES ($1, $2, '', $3, $4)
		ON CONFLICT (kind, key) DO UPDATE SET n = excluded.n, expires = excluded.expires
		WHERE shared.n < excluded.n OR shared.expires <= $5 RETURNING 1`, kind, key, n, expires, time.Now())
}

// Spend implements pista.Shared: the row's n is GCRA's theoretical
// arrival time; the update happens only if the attempt is allowed, in
// one statement, so that parallel attempts on every instance count.
func (s *Shared) Spend(ctx context.Context, kind string, key []byte, now time.Time, interval time.Duration, burst int) (bool, error) {
	t, iv := now.UnixNano(), int64(interval)
	expires := now.Add(time.Duration(burst) * interval)
	return s.one(ctx, "spend", `INSERT INTO shared (kind, key, value, n, expires) VALUES ($1, $2, '', $3::bigint + $4::bigint, $6)
		ON CONFLICT (kind, key) DO UPDATE SET n = GREATEST(shared.n, $3::bigint) + $4::bigint, expires = $6
		WHERE GREATEST(shared.n, $3::bigint) + $4::bigint - $3::bigint <= $5::bigint * $4::bigint RETURNING 1`,
		kind, key, t, iv, int64(burst), expires)
}

// Refund implements pista.Shared.
func (s *Shared) Refund(ctx context.Context, kind string, key []byte, interval time.Duration) error {
	if _, err := s.db.pool.Exec(ctx, `UPDATE shared SET n = GREATEST(n - $3::bigint, 0) WHERE kind = $1 AND key = $2`,
		kind, key, int64(interval)); err != nil {
		return sharedErr("refund", err)
	}
	return nil
}

// Sweep implements pista.Shared.
func (s *Shared) Sweep(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM shared WHERE expires <= $1`, now)
	if err != nil {
		return 0, sharedErr("sweep", err)
	}
	return int(tag.RowsAffected()), nil
}

// nonNil stores an empty value as an empty bytea rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
