package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// TeamStore implements pista.TeamStore.
type TeamStore struct{ db *DB }

var _ pista.TeamStore = (*TeamStore)(nil)

// NewTeamStore returns the team tables of db.
func NewTeamStore(db *DB) *TeamStore { return &TeamStore{db: db} }

// Members lists a desk's active and pending members, by name.
func (s *TeamStore) Members(ctx context.Context, deskID int64) ([]pista.Member, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT m.desk_id, j.id, j.name, j.recipient, m.role, false, j.suspended
		FROM desk_members m JOIN journalists j ON j.id = m.journalist_id WHERE m.desk_id = $1
		UNION ALL
		SELECT p.desk_id, j.id, j.name, j.recipient, p.role, true, j.suspended
		FROM pending_members p JOIN journalists j ON j.id = p.journalist_id WHERE p.desk_id = $1
		ORDER BY 3`, deskID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Member, error) {
		var m pista.Member
		err := r.Scan(&m.DeskID, &m.JournalistID, &m.Name, &m.Recipient, &m.Role, &m.Pending, &m.Suspended)
		return m, err
	})
}

// Membership answers pista.ErrNotFound unless the journalist is an active
// member of the desk.
func (s *TeamStore) Membership(ctx context.Context, deskID, journalistID int64) (pista.Member, error) {
	var m pista.Member
	err := s.db.pool.QueryRow(ctx, `SELECT m.desk_id, j.id, j.name, j.recipient, m.role, j.suspended
		FROM desk_members m JOIN journalists j ON j.id = m.journalist_id
		WHERE m.desk_id = $1 AND m.journalist_id = $2`, deskID, journalistID).
		Scan(&m.DeskID, &m.JournalistID, &m.Name, &m.Recipient, &m.Role, &m.Suspended)
	if err != nil {
		return pista.Member{}, fmt.Errorf("membership: %w", notFound(err))
	}
	return m, nil
}

// SetRole changes an active member's role.
func (s *TeamStore) SetRole(ctx context.Context, deskID, journalistID int64, r pista.Role) error {
	if !r.Valid() {
		return fmt.Errorf("postgres: role %q is not journalist or coordinator", r)
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE desk_members SET role = $1 WHERE desk_id = $2 AND journalist_id = $3`,
		string(r), deskID, journalistID)
	return affected(tag, err, "set role")
}

// AddMember makes an existing account an active member with its wraps.
func (s *TeamStore) AddMember(ctx context.Context, deskID, journalistID int64, r pista.Role, wraps []pista.KeyWrap) error {
	if !r.Valid() {
		return fmt.Errorf("postgres: role %q is not journalist or coordinator", r)
	}
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertWraps(ctx, tx, deskID, journalistID, wraps); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM pending_members WHERE desk_id = $1 AND journalist_id = $2`, deskID, journalistID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO desk_members (desk_id, journalist_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (journalist_id, desk_id) DO UPDATE SET role = excluded.role`, deskID, journalistID, string(r))
		return err
	})
}

// lockDesk locks a desk's row for the rest of the transaction and returns
// its current key: membership changes and key rotations of one desk take
// turns, as SQLite's single writer made them, so a rotation's check that
// its wraps match the members holds until it commits.
func lockDesk(ctx context.Context, tx pgx.Tx, deskID int64) (key int64, err error) {
	if err := tx.QueryRow(ctx, `SELECT key_id FROM desks WHERE id = $1 FOR NO KEY UPDATE`, deskID).Scan(&key); err != nil {
		return 0, fmt.Errorf("desk %d: %w", deskID, notFound(err))
	}
	return key, nil
}

// insertWraps stores wraps of the desk's key generations for one
// journalist; they must include the desk's current generation, and each
// must be a generation of that desk.
func insertWraps(ctx context.Context, tx pgx.Tx, deskID, journalistID int64, wraps []pista.KeyWrap) error {
	current, err := lockDesk(ctx, tx, deskID)
	if err != nil {
		return err
	}
	hasCurrent := false
	for _, w := range wraps {
		if len(w.Wrapped) == 0 {
			return errors.New("postgres: an empty key wrap")
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM desk_keys WHERE id = $1 AND desk_id = $2)`,
			w.DeskKeyID, deskID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("key %d is not a key of desk %d: %w", w.DeskKeyID, deskID, pista.ErrNotFound)
		}
		hasCurrent = hasCurrent || w.DeskKeyID == current
		if _, err := tx.Exec(ctx, `INSERT INTO key_wraps (desk_key_id, journalist_id, wrapped) VALUES ($1, $2, $3)
			ON CONFLICT (desk_key_id, journalist_id) DO UPDATE SET wrapped = excluded.wrapped`,
			w.DeskKeyID, journalistID, w.Wrapped); err != nil {
			return fmt.Errorf("postgres: wrap: %w", err)
		}
	}
	if !hasCurrent {
		return fmt.Errorf("the wraps lack the desk's current key %d: %w", current, pista.ErrMembersChanged)
	}
	return nil
}

// CreateInvitation stores inv and sets its ID and Created.
func (s *TeamStore) CreateInvitation(ctx context.Context, inv *pista.Invitation) error {
	if len(inv.TokenHash) == 0 || (inv.DeskID == 0 && !inv.Admin) || !inv.Role.Valid() {
		return errors.New("postgres: an invitation needs a token hash, a role, and a desk unless it makes an admin")
	}
	created := stamp(inv.Created)
	// A random ID (invitations need no order), and the expiry at the
	// hour, rounded down: an invitation never lasts longer than given.
	expires := inv.Expires.UTC().Truncate(pista.TimeGranularity)
	for {
		id := sealedid.Random()
		tag, err := s.db.pool.Exec(ctx, `INSERT INTO invitations (id, token_hash, desk_id, role, admin, created_by, created, expires)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			id, inv.TokenHash, nullID(inv.DeskID), string(inv.Role), inv.Admin, nullID(inv.CreatedBy), created.Unix(), expires.Unix())
		if err != nil {
			return fmt.Errorf("postgres: create invitation: %w", storageErr(err))
		}
		if tag.RowsAffected() == 0 {
			continue // the ID was taken: one chance in 2^52 per invitation
		}
		inv.ID, inv.Created, inv.Expires = id, created, expires
		return nil
	}
}

const invitationColumns = `id, token_hash, coalesce(desk_id, 0), role, admin, coalesce(created_by, 0), created, expires`

func scanInvitation(row pgx.Row) (pista.Invitation, error) {
	var inv pista.Invitation
	var created, expires int64
	err := row.Scan(&inv.ID, &inv.TokenHash, &inv.DeskID, &inv.Role, &inv.Admin, &inv.CreatedBy, &created, &expires)
	inv.Created, inv.Expires = unix(created), unix(expires)
	return inv, err
}

// Invitation finds an unexpired invitation by its token's hash.
func (s *TeamStore) Invitation(ctx context.Context, tokenHash []byte, now time.Time) (pista.Invitation, error) {
	inv, err := scanInvitation(s.db.pool.QueryRow(ctx, `SELECT `+invitationColumns+`
		FROM invitations WHERE token_hash = $1 AND expires > $2`, tokenHash, now.Unix()))
	if err != nil {
		return pista.Invitation{}, fmt.Errorf("invitation: %w", notFound(err))
	}
	return inv, nil
}

// AcceptInvitation creates j from the invitation and spends it. The
// invitation's row is locked first: of two people accepting one link at
// once, one gets the account and the other pista.ErrNotFound.
func (s *TeamStore) AcceptInvitation(ctx context.Context, tokenHash []byte, now time.Time, j *pista.Journalist) error {
	if j.Name == "" || j.Recipient == "" {
		return errors.New("postgres: a new journalist needs a name and a recipient")
	}
	created := stamp(j.Created)
	var id int64
	var admin bool
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		inv, err := scanInvitation(tx.QueryRow(ctx, `SELECT `+invitationColumns+`
			FROM invitations WHERE token_hash = $1 AND expires > $2 FOR UPDATE`, tokenHash, now.Unix()))
		if err != nil {
			return fmt.Errorf("invitation: %w", notFound(err))
		}
		err = tx.QueryRow(ctx, `INSERT INTO journalists
			(name, recipient, totp_secret, auth_salt, auth_kdf, auth_hash, wrapped_identity, admin, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			j.Name, j.Recipient, j.TOTPSecret, blob(j.Auth.Salt), j.Auth.KDF, blob(j.Auth.Hash),
			blob(j.Auth.WrappedIdentity), inv.Admin, created.Unix()).Scan(&id)
		if isUnique(err) {
			return fmt.Errorf("journalist %q: %w", j.Name, pista.ErrExists)
		} else if err != nil {
			return fmt.Errorf("postgres: accept invitation: %w", err)
		}
		if inv.DeskID != 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO pending_members (desk_id, journalist_id, role, created)
				VALUES ($1, $2, $3, $4)`, inv.DeskID, id, string(inv.Role), created.Unix()); err != nil {
				return fmt.Errorf("postgres: accept invitation: %w", err)
			}
		}
		admin = inv.Admin
		_, err = tx.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, inv.ID)
		return err
	})
	if err != nil {
		return err
	}
	j.ID, j.Created, j.Admin = id, created, admin
	return nil
}

// Invitations lists a desk's unspent, unexpired invitations (deskID 0:
// every invitation), newest first.
func (s *TeamStore) Invitations(ctx context.Context, deskID int64, now time.Time) ([]pista.Invitation, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE ($1 = 0 OR desk_id = $1) AND expires > $2 ORDER BY id DESC`, deskID, now.Unix())
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Invitation, error) { return scanInvitation(r) })
}

// DeleteInvitation withdraws an invitation.
func (s *TeamStore) DeleteInvitation(ctx context.Context, id int64) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM invitations WHERE id = $1`, id)
	return affected(tag, err, "delete invitation")
}

// ApproveMember makes a pending member active with their wraps.
func (s *TeamStore) ApproveMember(ctx context.Context, deskID, journalistID int64, wraps []pista.KeyWrap) error {
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		var role string
		err := tx.QueryRow(ctx, `DELETE FROM pending_members WHERE desk_id = $1 AND journalist_id = $2 RETURNING role`,
			deskID, journalistID).Scan(&role)
		if err != nil {
			return fmt.Errorf("pending member: %w", notFound(err))
		}
		if err := insertWraps(ctx, tx, deskID, journalistID, wraps); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO desk_members (desk_id, journalist_id, role) VALUES ($1, $2, $3)`,
			deskID, journalistID, role)
		return err
	})
}

// RejectMember forgets a pending member.
func (s *TeamStore) RejectMember(ctx context.Context, deskID, journalistID int64) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM pending_members WHERE desk_id = $1 AND journalist_id = $2`,
		deskID, journalistID)
	return affected(tag, err, "reject member")
}

// RotateDeskKey removes a member (if remove is not 0) and gives the desk a
// new key generation wrapped to exactly the remaining members.
func (s *TeamStore) RotateDeskKey(ctx context.Context, deskID, remove int64, key *pista.DeskKey, wraps []pista.KeyWrap) error {
	if key.Recipient == "" {
		return errors.New("postgres: a desk key needs a recipient")
	}
	for _, w := range wraps {
		if len(w.Wrapped) == 0 {
			return errors.New("postgres: an empty key wrap")
		}
	}
	created := stamp(key.Created)
	var keyID int64
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := lockDesk(ctx, tx, deskID); err != nil {
			return fmt.Errorf("postgres: rotate: %w", err)
		}
		if remove != 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM desk_members WHERE desk_id = $1 AND journalist_id = $2`, deskID, remove)
			if err := affected(tag, err, "remove member"); err != nil {
				return err
			}
			// The removed member's wraps of this desk's keys go too: they
			// may have copies, but the server hands them out no more.
			if _, err := tx.Exec(ctx, `DELETE FROM key_wraps WHERE journalist_id = $1
				AND desk_key_id IN (SELECT id FROM desk_keys WHERE desk_id = $2)`, remove, deskID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE conversations SET assignee_id = NULL
				WHERE desk_id = $1 AND assignee_id = $2`, deskID, remove); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT journalist_id FROM desk_members WHERE desk_id = $1 ORDER BY journalist_id`, deskID)
		if err != nil {
			return err
		}
		members, err := collect(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		var wrapped []int64
		for _, w := range wraps {
			wrapped = append(wrapped, w.JournalistID)
		}
		slices.Sort(wrapped)
		if len(members) == 0 || !slices.Equal(members, wrapped) {
			return pista.ErrMembersChanged
		}
		if err := tx.QueryRow(ctx, `INSERT INTO desk_keys (desk_id, recipient, created) VALUES ($1, $2, $3) RETURNING id`,
			deskID, key.Recipient, created.Unix()).Scan(&keyID); err != nil {
			return fmt.Errorf("postgres: rotate: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE desks SET key_id = $1 WHERE id = $2`, keyID, deskID)
		if err := affected(tag, err, "rotate"); err != nil {
			return err
		}
		for _, w := range wraps {
			if _, err := tx.Exec(ctx, `INSERT INTO key_wraps (desk_key_id, journalist_id, wrapped) VALUES ($1, $2, $3)`,
				keyID, w.JournalistID, w.Wrapped); err != nil {
				return fmt.Errorf("postgres: rotate: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	key.ID, key.DeskID, key.Created = keyID, deskID, created
	return nil
}

// DeskKeys lists a desk's key generations, oldest first.
func (s *TeamStore) DeskKeys(ctx context.Context, deskID int64) ([]pista.DeskKey, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT id, desk_id, recipient, created FROM desk_keys
		WHERE desk_id = $1 ORDER BY id`, deskID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.DeskKey, error) {
		var k pista.DeskKey
		var created int64
		err := r.Scan(&k.ID, &k.DeskID, &k.Recipient, &created)
		k.Created = unix(created)
		return k, err
	})
}

// AddCredential stores a WebAuthn credential; pista.ErrExists if its ID is
// already registered.
func (s *TeamStore) AddCredential(ctx context.Context, c *pista.WebAuthnCredential) error {
	if len(c.ID) == 0 || len(c.Data) == 0 {
		return errors.New("postgres: a credential needs an ID and data")
	}
	created := stamp(c.Created)
	_, err := s.db.pool.Exec(ctx, `INSERT INTO webauthn_credentials (id, journalist_id, name, data, created)
		VALUES ($1, $2, $3, $4, $5)`, c.ID, c.JournalistID, c.Name, c.Data, created.Unix())
	if isUnique(err) {
		return fmt.Errorf("credential: %w", pista.ErrExists)
	} else if err != nil {
		return fmt.Errorf("postgres: add credential: %w", storageErr(err))
	}
	c.Created = created
	return nil
}

// Credentials lists a journalist's WebAuthn credentials, oldest first.
func (s *TeamStore) Credentials(ctx context.Context, journalistID int64) ([]pista.WebAuthnCredential, error) {
	rows, err := s.db.pool.Query(ctx, `SELECT id, journalist_id, name, data, created FROM webauthn_credentials
		WHERE journalist_id = $1 ORDER BY created, name COLLATE "C"`, journalistID)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.WebAuthnCredential, error) {
		var c pista.WebAuthnCredential
		var created int64
		err := r.Scan(&c.ID, &c.JournalistID, &c.Name, &c.Data, &created)
		c.Created = unix(created)
		return c, err
	})
}

// UpdateCredential replaces a credential's data.
func (s *TeamStore) UpdateCredential(ctx context.Context, c pista.WebAuthnCredential) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE webauthn_credentials SET data = $1 WHERE id = $2 AND journalist_id = $3`,
		c.Data, c.ID, c.JournalistID)
	return affected(tag, err, "update credential")
}

// DeleteCredential removes one of a journalist's credentials.
func (s *TeamStore) DeleteCredential(ctx context.Context, journalistID int64, id []byte) error {
	tag, err := s.db.pool.Exec(ctx, `DELETE FROM webauthn_credentials WHERE id = $1 AND journalist_id = $2`,
		id, journalistID)
	return affected(tag, err, "delete credential")
}

// AddAudit appends entries to the audit log, in one transaction.
func (s *TeamStore) AddAudit(ctx context.Context, entries ...pista.AuditEntry) error {
	for _, e := range entries {
		if e.ActorName == "" || e.Action == "" {
			return errors.New("postgres: an audit entry needs an actor and an action")
		}
	}
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		for _, e := range entries {
			_, err := tx.Exec(ctx, `INSERT INTO audit (created, actor_id, actor_name, action, desk_id, conversation_id, subject)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, stamp(e.Created).Unix(), nullID(e.ActorID), e.ActorName, string(e.Action),
				nullID(e.DeskID), e.ConversationID, e.Subject)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: audit: %w", err)
	}
	return nil
}

// MaxAuditLimit bounds one page of the audit log.
const MaxAuditLimit = 500

// Audit returns a page of the audit log, newest first.
func (s *TeamStore) Audit(ctx context.Context, q pista.AuditQuery) ([]pista.AuditEntry, error) {
	limit := q.Limit
	if limit <= 0 || limit > MaxAuditLimit {
		limit = 100
	}
	before, ok := s.db.ids.Cursor(sealedid.Audit, q.Before)
	if !ok {
		return nil, nil // not a cursor this store made: no page
	}
	if before == 0 {
		before = 1<<63 - 1
	}
	var where strings.Builder
	args := []any{before, limit}
	where.WriteString(`a.id < $1`)
	if q.DeskIDs != nil {
		if len(q.DeskIDs) == 0 {
			return nil, nil
		}
		where.WriteString(` AND a.desk_id = ANY ($3)`)
		args = append(args, q.DeskIDs)
	}
	rows, err := s.db.pool.Query(ctx, `SELECT a.id, a.created, coalesce(a.actor_id, 0), a.actor_name, a.action,
		coalesce(a.desk_id, 0), coalesce(d.slug, ''), a.conversation_id, a.subject
		FROM audit a LEFT JOIN desks d ON d.id = a.desk_id
		WHERE `+where.String()+` ORDER BY a.id DESC LIMIT $2`, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.AuditEntry, error) {
		var e pista.AuditEntry
		var created int64
		err := r.Scan(&e.ID, &created, &e.ActorID, &e.ActorName, &e.Action, &e.DeskID, &e.DeskSlug,
			&e.ConversationID, &e.Subject)
		e.Created, e.ID = unix(created), s.db.ids.Seal(sealedid.Audit, e.ID)
		return e, err
	})
}

// affected turns an UPDATE or DELETE that matched no row into
// pista.ErrNotFound.
func affected(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", what, storageErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: %s: %w", what, pista.ErrNotFound)
	}
	return nil
}
