package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
	rows, err := s.db.read.QueryContext(ctx, `SELECT m.desk_id, j.id, j.name, j.recipient, m.role, 0, j.suspended
		FROM desk_members m JOIN journalists j ON j.id = m.journalist_id WHERE m.desk_id = ?1
		UNION ALL
		SELECT p.desk_id, j.id, j.name, j.recipient, p.role, 1, j.suspended
		FROM pending_members p JOIN journalists j ON j.id = p.journalist_id WHERE p.desk_id = ?1
		ORDER BY 3`, deskID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []pista.Member
	for rows.Next() {
		var m pista.Member
		if err := rows.Scan(&m.DeskID, &m.JournalistID, &m.Name, &m.Recipient, &m.Role, &m.Pending, &m.Suspended); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// Membership answers pista.ErrNotFound unless the journalist is an active
// member of the desk.
func (s *TeamStore) Membership(ctx context.Context, deskID, journalistID int64) (pista.Member, error) {
	var m pista.Member
	err := s.db.read.QueryRowContext(ctx, `SELECT m.desk_id, j.id, j.name, j.recipient, m.role, j.suspended
		FROM desk_members m JOIN journalists j ON j.id = m.journalist_id
		WHERE m.desk_id = ? AND m.journalist_id = ?`, deskID, journalistID).
		Scan(&m.DeskID, &m.JournalistID, &m.Name, &m.Recipient, &m.Role, &m.Suspended)
	if err != nil {
		return pista.Member{}, fmt.Errorf("membership: %w", notFound(err))
	}
	return m, nil
}

// SetRole changes an active member's role.
func (s *TeamStore) SetRole(ctx context.Context, deskID, journalistID int64, r pista.Role) (err error) {
	defer func() { err = storageErr(err) }()
	if !r.Valid() {
		return fmt.Errorf("sqlite: role %q is not journalist or coordinator", r)
	}
	res, err := s.db.write.ExecContext(ctx, `UPDATE desk_members SET role = ? WHERE desk_id = ? AND journalist_id = ?`,
		string(r), deskID, journalistID)
	return affected(res, err, "set role")
}

// AddMember makes an existing account an active member with its wraps.
func (s *TeamStore) AddMember(ctx context.Context, deskID, journalistID int64, r pista.Role, wraps []pista.KeyWrap) error {
	if !r.Valid() {
		return fmt.Errorf("sqlite: role %q is not journalist or coordinator", r)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertWraps(ctx, tx, deskID, journalistID, wraps); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM pending_members WHERE desk_id = ? AND journalist_id = ?`, deskID, journalistID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO desk_members (desk_id, journalist_id, role) VALUES (?, ?, ?)
			ON CONFLICT (journalist_id, desk_id) DO UPDATE SET role = excluded.role`, deskID, journalistID, string(r))
		return err
	})
}

// insertWraps stores wraps of the desk's key generations for one
// journalist; they must include the desk's current generation, and each
// must be a generation of that desk.
func insertWraps(ctx context.Context, tx *sql.Tx, deskID, journalistID int64, wraps []pista.KeyWrap) error {
	var current int64
	if err := tx.QueryRowContext(ctx, `SELECT key_id FROM desks WHERE id = ?`, deskID).Scan(&current); err != nil {
		return fmt.Errorf("desk %d: %w", deskID, notFound(err))
	}
	hasCurrent := false
	for _, w := range wraps {
		if len(w.Wrapped) == 0 {
			return errors.New("sqlite: an empty key wrap")
		}
		var ok bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM desk_keys WHERE id = ? AND desk_id = ?)`,
			w.DeskKeyID, deskID).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("key %d is not a key of desk %d: %w", w.DeskKeyID, deskID, pista.ErrNotFound)
		}
		hasCurrent = hasCurrent || w.DeskKeyID == current
		if _, err := tx.ExecContext(ctx, `INSERT INTO key_wraps (desk_key_id, journalist_id, wrapped) VALUES (?, ?, ?)
			ON CONFLICT (desk_key_id, journalist_id) DO UPDATE SET wrapped = excluded.wrapped`,
			w.DeskKeyID, journalistID, w.Wrapped); err != nil {
			return fmt.Errorf("sqlite: wrap: %w", err)
		}
	}
	if !hasCurrent {
		return fmt.Errorf("the wraps lack the desk's current key %d: %w", current, pista.ErrMembersChanged)
	}
	return nil
}

// CreateInvitation stores inv and sets its ID and Created.
func (s *TeamStore) CreateInvitation(ctx context.Context, inv *pista.Invitation) (err error) {
	defer func() { err = storageErr(err) }()
	if len(inv.TokenHash) == 0 || (inv.DeskID == 0 && !inv.Admin) || !inv.Role.Valid() {
		return errors.New("sqlite: an invitation needs a token hash, a role, and a desk unless it makes an admin")
	}
	created := stamp(inv.Created)
	var desk, by any
	if inv.DeskID != 0 {
		desk = inv.DeskID
	}
	if inv.CreatedBy != 0 {
		by = inv.CreatedBy
	}
	// A random ID (invitations need no order), and the expiry at the
	// hour, rounded down: an invitation never lasts longer than given.
	expires := inv.Expires.UTC().Truncate(pista.TimeGranularity)
	for {
		id := sealedid.Random()
		_, err := s.db.write.ExecContext(ctx, `INSERT INTO invitations (id, token_hash, desk_id, role, admin, created_by, created, expires)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, inv.TokenHash, desk, string(inv.Role), inv.Admin, by, created.Unix(), expires.Unix())
		if isUnique(err) && !s.tokenTaken(ctx, inv.TokenHash) {
			continue // the ID was taken: one chance in 2^52 per invitation
		}
		if err != nil {
			return fmt.Errorf("sqlite: create invitation: %w", err)
		}
		inv.ID, inv.Created, inv.Expires = id, created, expires
		return nil
	}
}

// tokenTaken reports whether an invitation has this token hash.
func (s *TeamStore) tokenTaken(ctx context.Context, hash []byte) bool {
	var n int
	s.db.write.QueryRowContext(ctx, `SELECT count(*) FROM invitations WHERE token_hash = ?`, hash).Scan(&n)
	return n > 0
}

const invitationColumns = `id, token_hash, coalesce(desk_id, 0), role, admin, coalesce(created_by, 0), created, expires`

func scanInvitation(row interface{ Scan(...any) error }) (pista.Invitation, error) {
	var inv pista.Invitation
	var created, expires int64
	err := row.Scan(&inv.ID, &inv.TokenHash, &inv.DeskID, &inv.Role, &inv.Admin, &inv.CreatedBy, &created, &expires)
	inv.Created, inv.Expires = unix(created), unix(expires)
	return inv, err
}

// Invitation finds an unexpired invitation by its token's hash.
func (s *TeamStore) Invitation(ctx context.Context, tokenHash []byte, now time.Time) (pista.Invitation, error) {
	inv, err := scanInvitation(s.db.read.QueryRowContext(ctx, `SELECT `+invitationColumns+`
		FROM invitations WHERE token_hash = ? AND expires > ?`, tokenHash, now.Unix()))
	if err != nil {
		return pista.Invitation{}, fmt.Errorf("invitation: %w", notFound(err))
	}
	return inv, nil
}

// AcceptInvitation creates j from the invitation and spends it.
func (s *TeamStore) AcceptInvitation(ctx context.Context, tokenHash []byte, now time.Time, j *pista.Journalist) error {
	if j.Name == "" || j.Recipient == "" {
		return errors.New("sqlite: a new journalist needs a name and a recipient")
	}
	created := stamp(j.Created)
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		inv, err := scanInvitation(tx.QueryRowContext(ctx, `SELECT `+invitationColumns+`
			FROM invitations WHERE token_hash = ? AND expires > ?`, tokenHash, now.Unix()))
		if err != nil {
			return fmt.Errorf("invitation: %w", notFound(err))
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO journalists
			(name, recipient, password_hash, totp_secret, auth_salt, auth_kdf, auth_hash, wrapped_identity, admin, created)
			VALUES (?, ?, '', ?, ?, ?, ?, ?, ?, ?)`,
			j.Name, j.Recipient, j.TOTPSecret, blob(j.Auth.Salt), j.Auth.KDF, blob(j.Auth.Hash),
			blob(j.Auth.WrappedIdentity), inv.Admin, created.Unix())
		if isUnique(err) {
			return fmt.Errorf("journalist %q: %w", j.Name, pista.ErrExists)
		} else if err != nil {
			return fmt.Errorf("sqlite: accept invitation: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if inv.DeskID != 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO pending_members (desk_id, journalist_id, role, created)
				VALUES (?, ?, ?, ?)`, inv.DeskID, id, string(inv.Role), created.Unix()); err != nil {
				return fmt.Errorf("sqlite: accept invitation: %w", err)
			}
		}
		j.Admin = inv.Admin
		_, err = tx.ExecContext(ctx, `DELETE FROM invitations WHERE id = ?`, inv.ID)
		return err
	})
	if err != nil {
		return err
	}
	j.ID, j.Created = id, created
	return nil
}

// Invitations lists a desk's unspent, unexpired invitations (deskID 0:
// every invitation), newest first.
func (s *TeamStore) Invitations(ctx context.Context, deskID int64, now time.Time) ([]pista.Invitation, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE (?1 = 0 OR desk_id = ?1) AND expires > ?2 ORDER BY id DESC`, deskID, now.Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var invs []pista.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		invs = append(invs, inv)
	}
	return invs, rows.Err()
}

// DeleteInvitation withdraws an invitation.
func (s *TeamStore) DeleteInvitation(ctx context.Context, id int64) (err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM invitations WHERE id = ?`, id)
	return affected(res, err, "delete invitation")
}

// ApproveMember makes a pending member active with their wraps.
func (s *TeamStore) ApproveMember(ctx context.Context, deskID, journalistID int64, wraps []pista.KeyWrap) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var role string
		err := tx.QueryRowContext(ctx, `DELETE FROM pending_members WHERE desk_id = ? AND journalist_id = ? RETURNING role`,
			deskID, journalistID).Scan(&role)
		if err != nil {
			return fmt.Errorf("pending member: %w", notFound(err))
		}
		if err := insertWraps(ctx, tx, deskID, journalistID, wraps); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO desk_members (desk_id, journalist_id, role) VALUES (?, ?, ?)`,
			deskID, journalistID, role)
		return err
	})
}

// RejectMember forgets a pending member.
func (s *TeamStore) RejectMember(ctx context.Context, deskID, journalistID int64) (err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM pending_members WHERE desk_id = ? AND journalist_id = ?`,
		deskID, journalistID)
	return affected(res, err, "reject member")
}

// RotateDeskKey removes a member (if remove is not 0) and gives the desk a
// new key generation wrapped to exactly the remaining members.
func (s *TeamStore) RotateDeskKey(ctx context.Context, deskID, remove int64, key *pista.DeskKey, wraps []pista.KeyWrap) error {
	if key.Recipient == "" {
		return errors.New("sqlite: a desk key needs a recipient")
	}
	created := stamp(key.Created)
	var keyID int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if remove != 0 {
			res, err := tx.ExecContext(ctx, `DELETE FROM desk_members WHERE desk_id = ? AND journalist_id = ?`, deskID, remove)
			if err := affected(res, err, "remove member"); err != nil {
				return err
			}
			// The removed member's wraps of this desk's keys go too: they
			// may have copies, but the server hands them out no more.
			if _, err := tx.ExecContext(ctx, `DELETE FROM key_wraps WHERE journalist_id = ?
				AND desk_key_id IN (SELECT id FROM desk_keys WHERE desk_id = ?)`, remove, deskID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET assignee_id = NULL
				WHERE desk_id = ? AND assignee_id = ?`, deskID, remove); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT journalist_id FROM desk_members WHERE desk_id = ? ORDER BY journalist_id`, deskID)
		if err != nil {
			return err
		}
		var members []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			members = append(members, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var wrapped []int64
		for _, w := range wraps {
			if len(w.Wrapped) == 0 {
				return errors.New("sqlite: an empty key wrap")
			}
			wrapped = append(wrapped, w.JournalistID)
		}
		slices.Sort(wrapped)
		if len(members) == 0 || !slices.Equal(members, wrapped) {
			return pista.ErrMembersChanged
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO desk_keys (desk_id, recipient, created) VALUES (?, ?, ?)`,
			deskID, key.Recipient, created.Unix())
		if err != nil {
			return fmt.Errorf("sqlite: rotate: %w", err)
		}
		if keyID, err = res.LastInsertId(); err != nil {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE desks SET key_id = ? WHERE id = ?`, keyID, deskID)
		if err := affected(res, err, "rotate"); err != nil {
			return err
		}
		for _, w := range wraps {
			if _, err := tx.ExecContext(ctx, `INSERT INTO key_wraps (desk_key_id, journalist_id, wrapped) VALUES (?, ?, ?)`,
				keyID, w.JournalistID, w.Wrapped); err != nil {
				return fmt.Errorf("sqlite: rotate: %w", err)
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
	rows, err := s.db.read.QueryContext(ctx, `SELECT id, desk_id, recipient, created FROM desk_keys
		WHERE desk_id = ? ORDER BY id`, deskID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ks []pista.DeskKey
	for rows.Next() {
		var k pista.DeskKey
		var created int64
		if err := rows.Scan(&k.ID, &k.DeskID, &k.Recipient, &created); err != nil {
			return nil, err
		}
		k.Created = unix(created)
		ks = append(ks, k)
	}
	return ks, rows.Err()
}

// AddCredential stores a WebAuthn credential; pista.ErrExists if its ID is
// already registered.
func (s *TeamStore) AddCredential(ctx context.Context, c *pista.WebAuthnCredential) (err error) {
	defer func() { err = storageErr(err) }()
	if len(c.ID) == 0 || len(c.Data) == 0 {
		return errors.New("sqlite: a credential needs an ID and data")
	}
	created := stamp(c.Created)
	_, err = s.db.write.ExecContext(ctx, `INSERT INTO webauthn_credentials (id, journalist_id, name, data, created)
		VALUES (?, ?, ?, ?, ?)`, c.ID, c.JournalistID, c.Name, c.Data, created.Unix())
	if isUnique(err) {
		return fmt.Errorf("credential: %w", pista.ErrExists)
	} else if err != nil {
		return fmt.Errorf("sqlite: add credential: %w", err)
	}
	c.Created = created
	return nil
}

// Credentials lists a journalist's WebAuthn credentials, oldest first.
func (s *TeamStore) Credentials(ctx context.Context, journalistID int64) ([]pista.WebAuthnCredential, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT id, journalist_id, name, data, created FROM webauthn_credentials
		WHERE journalist_id = ? ORDER BY created, name`, journalistID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []pista.WebAuthnCredential
	for rows.Next() {
		var c pista.WebAuthnCredential
		var created int64
		if err := rows.Scan(&c.ID, &c.JournalistID, &c.Name, &c.Data, &created); err != nil {
			return nil, err
		}
		c.Created = unix(created)
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// UpdateCredential replaces a credential's data.
func (s *TeamStore) UpdateCredential(ctx context.Context, c pista.WebAuthnCredential) (err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, `UPDATE webauthn_credentials SET data = ? WHERE id = ? AND journalist_id = ?`,
		c.Data, c.ID, c.JournalistID)
	return affected(res, err, "update credential")
}

// DeleteCredential removes one of a journalist's credentials.
func (s *TeamStore) DeleteCredential(ctx context.Context, journalistID int64, id []byte) (err error) {
	defer func() { err = storageErr(err) }()
	res, err := s.db.write.ExecContext(ctx, `DELETE FROM webauthn_credentials WHERE id = ? AND journalist_id = ?`,
		id, journalistID)
	return affected(res, err, "delete credential")
}

// AddAudit appends entries to the audit log, in one transaction.
func (s *TeamStore) AddAudit(ctx context.Context, entries ...pista.AuditEntry) (err error) {
	defer func() { err = storageErr(err) }()
	for _, e := range entries {
		if e.ActorName == "" || e.Action == "" {
			return errors.New("sqlite: an audit entry needs an actor and an action")
		}
	}
	const add = `INSERT INTO audit (created, actor_id, actor_name, action, desk_id, conversation_id, subject)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
	if len(entries) == 1 {
		_, err := s.db.write.ExecContext(ctx, add, auditArgs(entries[0])...)
		if err != nil {
			return fmt.Errorf("sqlite: audit: %w", err)
		}
		return nil
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, add, auditArgs(e)...); err != nil {
			return fmt.Errorf("sqlite: audit: %w", err)
		}
	}
	return tx.Commit()
}

// auditArgs are an audit entry's columns, in AddAudit's order.
func auditArgs(e pista.AuditEntry) []any {
	var actor, desk any
	if e.ActorID != 0 {
		actor = e.ActorID
	}
	if e.DeskID != 0 {
		desk = e.DeskID
	}
	return []any{stamp(e.Created).Unix(), actor, e.ActorName, string(e.Action), desk, e.ConversationID, e.Subject}
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
	args := []any{before}
	where.WriteString(`a.id < ?`)
	if q.DeskIDs != nil {
		if len(q.DeskIDs) == 0 {
			return nil, nil
		}
		where.WriteString(` AND a.desk_id IN (?` + strings.Repeat(`, ?`, len(q.DeskIDs)-1) + `)`)
		for _, id := range q.DeskIDs {
			args = append(args, id)
		}
	}
	args = append(args, limit)
	rows, err := s.db.read.QueryContext(ctx, `SELECT a.id, a.created, coalesce(a.actor_id, 0), a.actor_name, a.action,
		coalesce(a.desk_id, 0), coalesce(d.slug, ''), a.conversation_id, a.subject
		FROM audit a LEFT JOIN desks d ON d.id = a.desk_id
		WHERE `+where.String()+` ORDER BY a.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []pista.AuditEntry
	for rows.Next() {
		var e pista.AuditEntry
		var created int64
		if err := rows.Scan(&e.ID, &created, &e.ActorID, &e.ActorName, &e.Action, &e.DeskID, &e.DeskSlug,
			&e.ConversationID, &e.Subject); err != nil {
			return nil, err
		}
		e.Created, e.ID = unix(created), s.db.ids.Seal(sealedid.Audit, e.ID)
		es = append(es, e)
	}
	return es, rows.Err()
}

func (s *TeamStore) inTx(ctx context.Context, f func(*sql.Tx) error) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// affected turns an UPDATE or DELETE that matched no row into
// pista.ErrNotFound.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", what, pista.ErrNotFound)
	}
	return nil
}
