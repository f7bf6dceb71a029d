package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pista-tips/pista"
)

// JournalistStore implements pista.JournalistStore.
type JournalistStore struct{ db *DB }

var _ pista.JournalistStore = (*JournalistStore)(nil)

// NewJournalistStore returns the journalists of db.
func NewJournalistStore(db *DB) *JournalistStore { return &JournalistStore{db: db} }

// CreateJournalist stores j and sets j.ID and j.Created. It answers
// pista.ErrExists if the name is taken.
func (s *JournalistStore) CreateJournalist(ctx context.Context, j *pista.Journalist) (err error) {
	defer func() { err = storageErr(err) }()
	if j.Name == "" {
		return errors.New("sqlite: journalist needs a name")
	}
	created := stamp(j.Created)

	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// password_hash (migration 0001) is read no more: passphrases are
	// checked through Auth.
	res, err := tx.ExecContext(ctx, `INSERT INTO journalists
		(name, recipient, password_hash, totp_secret,
		 notify_email, notify_webhook, notified_item,
		 auth_salt, auth_kdf, auth_hash, wrapped_identity, admin, suspended, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.Name, j.Recipient, "", j.TOTPSecret,
		j.NotifyEmail, j.NotifyWebhook, j.NotifiedItem,
		blob(j.Auth.Salt), j.Auth.KDF, blob(j.Auth.Hash), blob(j.Auth.WrappedIdentity), j.Admin, j.Suspended, created.Unix())
	if isUnique(err) {
		return fmt.Errorf("journalist %q: %w", j.Name, pista.ErrExists)
	} else if err != nil {
		return fmt.Errorf("sqlite: create journalist: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	j.ID, j.Created = id, created
	return nil
}

const journalistColumns = `id, name, recipient, totp_secret,
	notify_email, notify_webhook, notified_item,
	auth_salt, auth_kdf, auth_hash, wrapped_identity, admin, suspended,
	session_epoch, last_login, created`

func scanJournalist(row interface{ Scan(...any) error }) (pista.Journalist, error) {
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
	j, err := scanJournalist(s.db.read.QueryRowContext(ctx,
		`SELECT `+journalistColumns+` FROM journalists WHERE name = ?`, name))
	if err != nil {
		return pista.Journalist{}, fmt.Errorf("journalist: %w", notFound(err))
	}
	return j, nil
}

// JournalistByID answers pista.ErrNotFound for an unknown ID.
func (s *JournalistStore) JournalistByID(ctx context.Context, id int64) (pista.Journalist, error) {
	j, err := scanJournalist(s.db.read.QueryRowContext(ctx,
		`SELECT `+journalistColumns+` FROM journalists WHERE id = ?`, id))
	if err != nil {
		return pista.Journalist{}, fmt.Errorf("journalist %d: %w", id, notFound(err))
	}
	return j, nil
}

// RecordLogin sets the journalist's last login to the hour of at. It
// writes only when the hour changes, so that most logins write nothing
// (and work on a full disk). It answers pista.ErrNotFound for an unknown
// journalist.
func (s *JournalistStore) RecordLogin(ctx context.Context, journalistID int64, at time.Time) (err error) {
	defer func() { err = storageErr(err) }()
	hour := stamp(at).Unix()
	res, err := s.db.write.ExecContext(ctx, `UPDATE journalists SET last_login = ? WHERE id = ? AND last_login <> ?`,
		hour, journalistID, hour)
	if err != nil {
		return fmt.Errorf("sqlite: record login: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var one int
	if err := s.db.read.QueryRowContext(ctx, `SELECT 1 FROM journalists WHERE id = ?`, journalistID).Scan(&one); err != nil {
		return fmt.Errorf("journalist %d: %w", journalistID, notFound(err))
	}
	return nil
}

// SetNotify sets where the journalist is told of new tips ("" for none).
// It answers pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetNotify(ctx context.Context, journalistID int64, email, webhook string) error {
	return s.update(ctx, "set notify", `UPDATE journalists SET notify_email = ?, notify_webhook = ? WHERE id = ?`,
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
	return s.update(ctx, "set notified", `UPDATE journalists SET notified_item = ? WHERE id = ?`,
		journalistID, item, journalistID)
}

// SetAuth replaces the journalist's passphrase check and wrapped identity,
// and moves the session epoch on, which ends every session and token the
// account has (the caller keeps its own by moving it to the new epoch).
// It answers pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetAuth(ctx context.Context, journalistID int64, a pista.JournalistAuth) error {
	return s.update(ctx, "set auth", `UPDATE journalists
		SET auth_salt = ?, auth_kdf = ?, auth_hash = ?, wrapped_identity = ?,
			session_epoch = session_epoch + 1 WHERE id = ?`,
		journalistID, blob(a.Salt), a.KDF, blob(a.Hash), blob(a.WrappedIdentity), journalistID)
}

// SetTOTP replaces the journalist's TOTP secret. It answers
// pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetTOTP(ctx context.Context, journalistID int64, secret string) error {
	return s.update(ctx, "set TOTP", `UPDATE journalists SET totp_secret = ? WHERE id = ?`,
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
		SET suspended = ?1, session_epoch = session_epoch + (CASE WHEN ?1 THEN 1 ELSE 0 END) WHERE id = ?2`,
		journalistID, suspended, journalistID)
}

// SetAdmin makes an account an instance admin or takes it back. It answers
// pista.ErrNotFound for an unknown journalist.
func (s *JournalistStore) SetAdmin(ctx context.Context, journalistID int64, admin bool) error {
	return s.update(ctx, "set admin", `UPDATE journalists SET admin = ? WHERE id = ?`,
		journalistID, admin, journalistID)
}

func (s *JournalistStore) list(ctx context.Context, query string, args ...any) ([]pista.Journalist, error) {
	rows, err := s.db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var js []pista.Journalist
	for rows.Next() {
		j, err := scanJournalist(rows)
		if err != nil {
			return nil, err
		}
		js = append(js, j)
	}
	return js, rows.Err()
}

// blob makes a nil slice an empty one, for NOT NULL BLOB columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// update runs an UPDATE of one journalist's row, answering
// pista.ErrNotFound if there is no such row.
func (s *JournalistStore) update(ctx context.Context, what, query string, journalistID int64, args ...any) (err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("journalist %d: %w", journalistID, pista.ErrNotFound)
	}
	return nil
}
