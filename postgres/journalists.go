package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
)

// JournalistStore implements pista.JournalistStore.
type JournalistStore struct{ db *DB }

var _ pista.JournalistStore = (*JournalistStore)(nil)

// NewJournalistStore returns the journalists of db.
func NewJournalistStore(db *DB) *JournalistStore { return &JournalistStore{db: db} }

// CreateJournalist stores j and sets j.ID and j.Created. It answers
// pista.ErrExists if the name is taken.
func (s *JournalistStore) CreateJournalist(ctx context.Context, j *pista.Journalist) error {
	if j.Name == "" {
		return errors.New("postgres: journalist needs a name")
	}
	created := stamp(j.Created)
	var id int64
	err := s.db.pool.QueryRow(ctx, `INSERT INTO journalists
		(name, recipient, totp_secret,
		 notify_email, notify_webhook, notified_item,
		 auth_salt, auth_kdf, auth_hash, wrapped_identity, admin, suspended, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		j.Name, j.Recipient, j.TOTPSecret,
		j.NotifyEmail, j.NotifyWebhook, j.NotifiedItem,
		blob(j.Auth.Salt), j.Auth.KDF, blob(j.Auth.Hash), blob(j.Auth.WrappedIdentity), j.Admin, j.Suspended, created.Unix()).Scan(&id)
	if isUnique(err) {
		return fmt.Errorf("journalist %q: %w", j.Name, pista.ErrExists)
	} else if err != nil {
		return fmt.Errorf("postgres: create journalist: %w", storageErr(err))
	}
	j.ID, j.Created = id, created
	return nil
}

const journalistColumns = `id, name, recipient, totp_secret,
	notify_email, notify_webhook, notified_item,
	auth_salt, auth_kdf, auth_hash, wrapped_identity, admin, suspended,
	session_epoch, last_login, created`

func scanJournalist(row pgx.Row) (pista.Journalist, error) {
	var j pista.Journalist
	var created, lastLogin int64
	err := row.Scan(&j.ID, &j.Name, &j.Recipient, &j.TOTPSecret,
		&j.NotifyEmail, &j.NotifyWebhook, &j.NotifiedItem,
		&j.Auth.Salt, &j.Auth.KDF, &j.Auth.Hash, &j.Auth.WrappedIdentity, &j.Admin, &j.Suspended,
		&j.SessionEpoch, &lastLogin, &created)
	j.Created = unix(created)
	if lastLogin != 0 {
		j.LastLogin = unix(lastLogin)
	}
	for _, b := range []*[]byte{&j.Auth.Salt, &j.Auth.Hash, &j.Auth.WrappedIdentity} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	return j, err
}

// JournalistByName answers pista.ErrNotFound for an unknown name.
func (s *JournalistStore) JournalistByName(ctx context.Context, name string) (pista.Journalist, error) {
	j, err := scanJournalist(s.db.pool.QueryRow(ctx,
		`SELECT `+journalistColumns+` FROM journalists WHERE name = $1`, name))
	if err != nil {
		return pista.Journalist{}, fmt.Errorf("journalist: %w", notFound(err))
	}
	return j, nil
}

// JournalistByID answers pista.ErrNotFound for an unknown ID.
func (s *JournalistStore) JournalistByID(ctx context.Context, id int64) (pista.Journalist, error) {
	j, err := scanJournalist(s.db.pool.QueryRow(ctx,
		`SELECT `+journalistColumns+` FROM journalists WHERE id = $1`, id))
	if err != nil {
		return pista.Journalist{}, fmt.Errorf("journalist %d: %w", id, notFound(err))
	}
	return j, nil
}

// RecordLogin sets the journalist's last login to the hour of at. It
// writes only when the hour changes, so that most logins write nothing.
// It answers pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) RecordLogin(ctx context.Context, journalistID int64, at time.Time) error {
	hour := stamp(at).Unix()
	tag, err := s.db.pool.Exec(ctx, `UPDATE journalists SET last_login = $1 WHERE id = $2 AND last_login <> $1`,
		hour, journalistID)
	if err != nil {
		return fmt.Errorf("postgres: record login: %w", storageErr(err))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	if err := s.db.pool.QueryRow(ctx, `SELECT 1 FROM journalists WHERE id = $1`, journalistID).Scan(&one); err != nil {
		return fmt.Errorf("journalist %d: %w", journalistID, notFound(err))
	}
	return nil
}

// SetNotify sets where the journalist is told of new tips ("" for none).
// It answers pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetNotify(ctx context.Context, journalistID int64, email, webhook string) error {
	return s.update(ctx, "set notify", `UPDATE journalists SET notify_email = $1, notify_webhook = $2 WHERE id = $3`,
		journalistID, email, webhook, journalistID)
}

// JournalistsToNotify lists, by ID, the journalists with an e-mail
// address or a webhook to notify.
func (s *JournalistStore) JournalistsToNotify(ctx context.Context) ([]pista.Journalist, error) {
	return s.list(ctx, `SELECT `+journalistColumns+` FROM journalists
		WHERE notify_email <> '' OR notify_webhook <> '' ORDER BY id`)
}

// SetNotified records the newest item a notification of the journalist
// covered. It answers pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetNotified(ctx context.Context, journalistID, item int64) error {
	return s.update(ctx, "set notified", `UPDATE journalists SET notified_item = $1 WHERE id = $2`,
		journalistID, item, journalistID)
}

// SetAuth replaces the journalist's passphrase check and wrapped identity,
// and moves the session epoch on, which ends every session and token the
// account has. It answers pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetAuth(ctx context.Context, journalistID int64, a pista.JournalistAuth) error {
	return s.update(ctx, "set auth", `UPDATE journalists
		SET auth_salt = $1, auth_kdf = $2, auth_hash = $3, wrapped_identity = $4,
			session_epoch = session_epoch + 1 WHERE id = $5`,
		journalistID, blob(a.Salt), a.KDF, blob(a.Hash), blob(a.WrappedIdentity), journalistID)
}

// SetTOTP replaces the journalist's TOTP secret. It answers
// pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetTOTP(ctx context.Context, journalistID int64, secret string) error {
	return s.update(ctx, "set TOTP", `UPDATE journalists SET totp_secret = $1 WHERE id = $2`,
		journalistID, secret, journalistID)
}

// Journalists lists every account, by name.
func (s *JournalistStore) Journalists(ctx context.Context) ([]pista.Journalist, error) {
	return s.list(ctx, `SELECT `+journalistColumns+` FROM journalists ORDER BY name`)
}

// SetSuspended suspends or restores an account; suspending also moves its
// session epoch on, which ends every session and token it has. It answers
// pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetSuspended(ctx context.Context, journalistID int64, suspended bool) error {
	return s.update(ctx, "set suspended", `UPDATE journalists
		SET suspended = $1, session_epoch = session_epoch + (CASE WHEN $1 THEN 1 ELSE 0 END) WHERE id = $2`,
		journalistID, suspended, journalistID)
}

// SetAdmin makes an account an instance admin or takes it back. It answers
// pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetAdmin(ctx context.Context, journalistID int64, admin bool) error {
	return s.update(ctx, "set admin", `UPDATE journalists SET admin = $1 WHERE id = $2`,
		journalistID, admin, journalistID)
}

func (s *JournalistStore) list(ctx context.Context, query string, args ...any) ([]pista.Journalist, error) {
	rows, err := s.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Journalist, error) { return scanJournalist(r) })
}

// blob makes a nil slice an empty one, for NOT NULL bytea columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// update runs an UPDATE of one journalist's row, answering
// pista.ErrNotFound if there is no such row.
func (s *JournalistStore) update(ctx context.Context, what, query string, journalistID int64, args ...any) error {
	tag, err := s.db.pool.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, storageErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("journalist %d: %w", journalistID, pista.ErrNotFound)
	}
	return nil
}
