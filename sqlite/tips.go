package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// maxMergedDesks is how many desks one inbox query merges, with one
// indexed branch per desk (SQLite allows 500 branches in a compound
// SELECT). The inbox of a journalist in more desks takes a query per
// maxMergedDesks desks, merged in Go. A variable so that tests can make it
// small.
var maxMergedDesks = 64

// TipStore implements pista.TipStore.
type TipStore struct{ db *DB }

var _ pista.TipStore = (*TipStore)(nil)

// NewTipStore returns the sources, conversations and items of db.
func NewTipStore(db *DB) *TipStore { return &TipStore{db: db} }

// CreateTip stores a new source, its conversation with a desk and the
// conversation's first items, in one transaction; a failure leaves none of
// them. t.Conversation.ID is chosen by the caller, and there must be at
// least one item (a conversation's LastItem is always an item's ID, which
// keyset pagination of the inbox relies on). On success it sets
// t.Source.ID and Created; t.Conversation's Channel (pista.ChannelWeb if
// empty), SourceID, Created, Updated,
// LastItem and Items; and each item's ID, ConversationID and Created.
//
// It answers pista.ErrExists if the conversation ID or the source's lookup
// is taken, and pista.ErrNotFound for an unknown desk.
func (s *TipStore) CreateTip(ctx context.Context, t *pista.NewTip) (err error) {
	defer func() { err = storageErr(err) }()
	c := &t.Conversation
	switch {
	case c.ID == "":
		return errors.New("sqlite: tip without a conversation ID")
	case len(t.Source.Lookup) == 0:
		return errors.New("sqlite: tip without a source lookup")
	case len(t.Items) == 0:
		return errors.New("sqlite: tip without items")
	}
	channel := c.Channel
	if channel == "" {
		channel = pista.ChannelWeb
	}
	if !channel.Valid() {
		return fmt.Errorf("sqlite: tip from unknown channel %q", channel)
	}
	if len(c.Preview) > pista.MaxPreviewSize {
		return fmt.Errorf("sqlite: a preview of %d bytes, at most %d", len(c.Preview), pista.MaxPreviewSize)
	}
	sourceCreated, created := stamp(t.Source.Created), stamp(c.Created)

	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	res, err := tx.ExecContext(ctx, `INSERT INTO sources (lookup, recipient, created) VALUES (?, ?, ?)`,
		t.Source.Lookup, t.Source.Recipient, sourceCreated.Unix())
	if isUnique(err) {
		return fmt.Errorf("source: %w", pista.ErrExists)
	} else if err != nil {
		return fmt.Errorf("sqlite: create source: %w", err)
	}
	sourceID, err := res.LastInsertId()
	if err != nil {
		return err
	}
	var preview any // NULL without one
	if len(c.Preview) > 0 {
		preview = c.Preview
	}
	if c.PreviewIntake != 0 {
		if preview == nil {
			return errors.New("sqlite: a preview's intake key without a preview")
		}
		if err := checkIntake(ctx, tx, c.DeskID, c.PreviewIntake); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO conversations (id, channel, desk_id, source_id, created, updated, preview, preview_intake)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, string(channel), c.DeskID, sourceID, created.Unix(), created.Unix(), preview, nullID(c.PreviewIntake))
	switch {
	case isUnique(err):
		return fmt.Errorf("conversation: %w", pista.ErrExists)
	case isForeignKey(err):
		return fmt.Errorf("desk %d: %w", c.DeskID, pista.ErrNotFound)
	case err != nil:
		return fmt.Errorf("sqlite: create conversation: %w", err)
	}
	ids, times, err := insertItems(ctx, tx, c.ID, c.DeskID, t.Items)
	if err != nil {
		return err
	}
	last, updated := ids[len(ids)-1], latest(created, times)
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET last_item = ?, updated = ? WHERE id = ?`,
		last, updated.Unix(), c.ID); err != nil {
		return fmt.Errorf("sqlite: create conversation: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	t.Source.ID, t.Source.Created = sourceID, sourceCreated
	c.Channel, c.SourceID, c.Created, c.Updated, c.LastItem, c.Items = channel, sourceID, created, updated, s.db.ids.Seal(sealedid.Item, last), len(ids)
	setItems(s.db.ids, t.Items, c.ID, ids, times)
	return nil
}

// AddItems appends items to a conversation in one transaction and moves
// the conversation to the top of its desk's inbox. It sets each item's ID,
// ConversationID and Created, and answers pista.ErrNotFound for an unknown
// conversation.
func (s *TipStore) AddItems(ctx context.Context, conversationID string, items []pista.Item) error {
	return s.AddItemsFor(ctx, conversationID, 0, items)
}

// AddItemsFor is AddItems, only while the conversation is on deskID (0:
// any desk).
func (s *TipStore) AddItemsFor(ctx context.Context, conversationID string, deskID int64, items []pista.Item) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var updated, desk int64
	err = tx.QueryRowContext(ctx, `SELECT updated, desk_id FROM conversations WHERE id = ?`, conversationID).Scan(&updated, &desk)
	if err != nil {
		return fmt.Errorf("conversation: %w", notFound(err))
	}
	if deskID != 0 && desk != deskID {
		return pista.ErrMoved
	}
	if len(items) == 0 {
		return tx.Commit()
	}
	ids, times, err := insertItems(ctx, tx, conversationID, desk, items)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET last_item = ?, updated = ? WHERE id = ?`,
		ids[len(ids)-1], latest(unix(updated), times).Unix(), conversationID); err != nil {
		return fmt.Errorf("sqlite: add items: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tagsFollowQuery, conversationID); err != nil {
		return fmt.Errorf("sqlite: add items: %w", err)
	}
	if _, err := tx.ExecContext(ctx, starsFollowQuery, conversationID); err != nil {
		return fmt.Errorf("sqlite: add items: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	setItems(s.db.ids, items, conversationID, ids, times)
	return nil
}

// tagsFollowQuery copies a conversation's last_item to its tags' rows
// (migration 0008), in the transaction that moved it.
const tagsFollowQuery = `UPDATE conversation_tags AS t SET last_item = c.last_item
	FROM conversations c WHERE c.id = ?1 AND t.conversation_id = ?1 AND t.last_item <> c.last_item`

// starsFollowQuery does the same for the conversation's stars (0012).
const starsFollowQuery = `UPDATE stars AS s SET last_item = c.last_item
	FROM conversations c WHERE c.id = ?1 AND s.conversation_id = ?1 AND s.last_item <> c.last_item`

// insertItems inserts items into a conversation of desk deskID, in
// order, and returns their IDs and recorded times. It leaves items
// unchanged, so that a transaction that fails later does not leave IDs
// behind in them. An item sealed to an intake key needs a live intake
// key of the desk: pista.ErrMoved otherwise (sent again, it goes to the
// desk's key of now).
func insertItems(ctx context.Context, tx *sql.Tx, conversationID string, deskID int64, items []pista.Item) ([]int64, []time.Time, error) {
	ids := make([]int64, len(items))
	times := make([]time.Time, len(items))
	for i, it := range items {
		if !it.Kind.Valid() {
			return nil, nil, fmt.Errorf("sqlite: item of unknown kind %q", it.Kind)
		}
		if it.Object == "" {
			return nil, nil, errors.New("sqlite: item without an object")
		}
		sealing, received, err := it.StoredSealing()
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: %w", err)
		}
		if it.IntakeKey != 0 {
			if err := checkIntake(ctx, tx, deskID, it.IntakeKey); err != nil {
				return nil, nil, err
			}
		}
		times[i] = stamp(it.Created)
		by := it.EncryptedBy
		if by == "" {
			by = "server"
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO items
			(conversation_id, kind, object, meta, size, meta_size, author_id, created, encrypted_by, sealing, intake_key, received)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			conversationID, string(it.Kind), it.Object, it.Meta, it.Size, it.MetaSize, nullID(it.AuthorID), times[i].Unix(), by,
			sealing, nullID(it.IntakeKey), received)
		if err != nil {
			return nil, nil, fmt.Errorf("sqlite: insert item: %w", err)
		}
		if ids[i], err = res.LastInsertId(); err != nil {
			return nil, nil, err
		}
	}
	return ids, times, nil
}

// setItems sets the stored items' sealed IDs, conversation and times.
func setItems(seal *sealedid.Sealer, items []pista.Item, conversationID string, ids []int64, times []time.Time) {
	for i := range items {
		items[i].ID, items[i].ConversationID, items[i].Created = seal.Seal(sealedid.Item, ids[i]), conversationID, times[i]
		if items[i].EncryptedBy == "" {
			items[i].EncryptedBy = "server"
		}
		items[i].Sealing, items[i].Received, _ = items[i].StoredSealing()
	}
}

// latest returns the latest of t and times.
func latest(t time.Time, times []time.Time) time.Time {
	for _, u := range times {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// SourceByLookup answers pista.ErrNotFound for an unknown lookup.
func (s *TipStore) SourceByLookup(ctx context.Context, lookup []byte) (pista.Source, error) {
	return s.source(ctx, `lookup = ?`, lookup)
}

// SourceByID answers pista.ErrNotFound for an unknown ID.
func (s *TipStore) SourceByID(ctx context.Context, id int64) (pista.Source, error) {
	return s.source(ctx, `id = ?`, id)
}

// sourceSessionQuery is run on every request of a logged-in source.
const sourceSessionQuery = `SELECT s.session_epoch FROM conversations c
	JOIN sources s ON s.id = c.source_id WHERE c.id = ? AND c.source_id = ?`

// SourceSessionEpoch answers pista.ErrNotFound unless the conversation
// is the source's: one read by primary key of each table.
func (s *TipStore) SourceSessionEpoch(ctx context.Context, sourceID int64, conversationID string) (int64, error) {
	var epoch int64
	err := s.db.read.QueryRowContext(ctx, sourceSessionQuery, conversationID, sourceID).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("source session: %w", notFound(err))
	}
	return epoch, nil
}

// EndSourceSessions answers pista.ErrNotFound for an unknown source.
func (s *TipStore) EndSourceSessions(ctx context.Context, sourceID int64) error {
	res, err := s.db.write.ExecContext(ctx, `UPDATE sources SET session_epoch = session_epoch + 1 WHERE id = ?`, sourceID)
	if err != nil {
		return fmt.Errorf("sqlite: end source sessions: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("source: %w", pista.ErrNotFound)
	}
	return nil
}

func (s *TipStore) source(ctx context.Context, where string, arg any) (pista.Source, error) {
	var src pista.Source
	var created int64
	err := s.db.read.QueryRowContext(ctx, `SELECT id, lookup, recipient, created FROM sources WHERE `+where,
		arg).Scan(&src.ID, &src.Lookup, &src.Recipient, &created)
	if err != nil {
		return pista.Source{}, fmt.Errorf("source: %w", notFound(err))
	}
	src.Created = unix(created)
	return src, nil
}

// conversationColumns are read by scanConversation; c is conversations, d
// desks, and for a journalist's view r and s their reads and stars rows.
const conversationColumns = `c.id, c.channel, c.desk_id, d.slug, c.source_id, c.created, c.updated, c.last_item,
	(SELECT count(*) FROM items i WHERE i.conversation_id = c.id),
	c.status, coalesce(c.assignee_id, 0),
	coalesce((SELECT a.name FROM journalists a WHERE a.id = c.assignee_id), ''),
	coalesce((SELECT group_concat(t.tag, ' ') FROM conversation_tags t WHERE t.conversation_id = c.id), ''),
	c.held <> 0`

// The view's preview columns: the preview, or, without one, the first
// message's ID; and the count of items after the journalist's read mark.
// Each reads only the row's conversation's items, from items_conversation:
// a page costs its rows, not the desk.
const journalistViewColumns = conversationColumns + `,
	r.seen_item IS NULL OR r.seen_item < c.last_item,
	s.journalist_id IS NOT NULL,
	c.preview,
	CASE WHEN c.preview IS NULL THEN coalesce((SELECT min(i.id) FROM items i
		WHERE i.conversation_id = c.id AND i.kind = 'message'), 0) ELSE 0 END,
	(SELECT count(*) FROM items i WHERE i.conversation_id = c.id AND i.id > coalesce(r.seen_item, 0)),
	c.key_recipient, c.key, coalesce(c.preview_intake, 0)`

// journalistViewJoins follows "FROM conversations c" and the membership
// join m; it needs no argument.
const journalistViewJoins = `
	JOIN desks d ON d.id = c.desk_id
	LEFT JOIN reads r ON r.journalist_id = m.journalist_id AND r.conversation_id = c.id
	LEFT JOIN stars s ON s.journalist_id = m.journalist_id AND s.conversation_id = c.id`

func scanConversation(row interface{ Scan(...any) error }, seal *sealedid.Sealer, view bool) (pista.Conversation, error) {
	var c pista.Conversation
	var created, updated int64
	var tags string
	dest := []any{&c.ID, &c.Channel, &c.DeskID, &c.DeskSlug, &c.SourceID, &created, &updated, &c.LastItem, &c.Items,
		&c.Status, &c.Assignee, &c.AssigneeName, &tags, &c.Held}
	if view {
		dest = append(dest, &c.Unread, &c.Starred, &c.Preview, &c.FirstMessage, &c.NewItems,
			&c.KeyRecipient, &c.Key, &c.PreviewIntake)
	}
	err := row.Scan(dest...)
	c.Created, c.Updated, c.LastItem = unix(created), unix(updated), seal.Seal(sealedid.Item, c.LastItem)
	if c.FirstMessage != 0 {
		c.FirstMessage = seal.Seal(sealedid.Item, c.FirstMessage)
	}
	if tags != "" {
		c.Tags = strings.Fields(tags)
		slices.Sort(c.Tags)
	}
	return c, err
}

func queryConversations(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, seal *sealedid.Sealer, view bool, query string, args ...any) ([]pista.Conversation, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cs []pista.Conversation
	for rows.Next() {
		c, err := scanConversation(rows, seal, view)
		if err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, rows.Err()
}

// ConversationsOfSource lists a source's conversations, oldest first.
func (s *TipStore) ConversationsOfSource(ctx context.Context, sourceID int64) ([]pista.Conversation, error) {
	return queryConversations(ctx, s.db.read, s.db.ids, false, `SELECT `+conversationColumns+`
		FROM conversations c JOIN desks d ON d.id = c.desk_id
		WHERE c.source_id = ?
		ORDER BY c.created, c.rowid`, sourceID)
}

const itemColumns = `i.id, i.conversation_id, i.kind, i.object, i.meta, i.size, i.meta_size,
	coalesce(i.author_id, 0), i.created, i.encrypted_by, i.sealing, coalesce(i.intake_key, 0), i.received`

func scanItem(row interface{ Scan(...any) error }, seal *sealedid.Sealer) (pista.Item, error) {
	var it pista.Item
	var created int64
	err := row.Scan(&it.ID, &it.ConversationID, &it.Kind, &it.Object, &it.Meta, &it.Size, &it.MetaSize,
		&it.AuthorID, &created, &it.EncryptedBy, &it.Sealing, &it.IntakeKey, &it.Received)
	it.Created, it.ID = unix(created), seal.Seal(sealedid.Item, it.ID)
	return it, err
}

func queryItems(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, seal *sealedid.Sealer, query string, args ...any) ([]pista.Item, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var items []pista.Item
	for rows.Next() {
		it, err := scanItem(rows, seal)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// ItemsOfConversation lists a conversation's items, oldest first; none
// for an unknown conversation.
func (s *TipStore) ItemsOfConversation(ctx context.Context, conversationID string) ([]pista.Item, error) {
	return queryItems(ctx, s.db.read, s.db.ids, `SELECT `+itemColumns+` FROM items i
		WHERE i.conversation_id = ? ORDER BY i.id`, conversationID)
}

// DeleteReply removes a reply from a conversation and returns it. It
// answers pista.ErrNotFound unless itemID is a reply in that conversation.
// The conversation's LastItem goes back to its newest remaining item; item
// IDs are never reused.
func (s *TipStore) DeleteReply(ctx context.Context, conversationID string, public int64) (pista.Item, error) {
	itemID, ok := s.db.ids.Unseal(sealedid.Item, public)
	if !ok {
		return pista.Item{}, fmt.Errorf("reply: %w", pista.ErrNotFound)
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return pista.Item{}, err
	}
	defer tx.Rollback()

	it, err := scanItem(tx.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM items i
		WHERE i.id = ? AND i.conversation_id = ? AND i.kind = ?`, itemID, conversationID, string(pista.KindReply)), s.db.ids)
	if err != nil {
		return pista.Item{}, fmt.Errorf("reply: %w", notFound(err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM items WHERE id = ?`, itemID); err != nil {
		return pista.Item{}, fmt.Errorf("sqlite: delete reply: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE conversations
		SET last_item = coalesce((SELECT max(id) FROM items WHERE conversation_id = ?1), 0)
		WHERE id = ?1`, conversationID); err != nil {
		return pista.Item{}, fmt.Errorf("sqlite: delete reply: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tagsFollowQuery, conversationID); err != nil {
		return pista.Item{}, fmt.Errorf("sqlite: delete reply: %w", err)
	}
	if _, err := tx.ExecContext(ctx, starsFollowQuery, conversationID); err != nil {
		return pista.Item{}, fmt.Errorf("sqlite: delete reply: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return pista.Item{}, err
	}
	return it, nil
}

// ConversationsFor returns a page of a journalist's inbox: conversations of
// the desks they are a member of (of p.DeskID only, if set), newest item
// first, with LastItem < p.Before if p.Before is set.
//
// Each desk's conversations are read newest first from the index on
// (desk_id, last_item) (or (desk_id, status, last_item), or, by tag,
// conversation_tags' on (tag, desk_id, last_item)), at most one page per
// desk, and merged; only the page's rows are then joined with their desk,
// reads, stars and item counts. A page thus costs the same whatever its
// position and however many conversations the desks hold.
func (s *TipStore) ConversationsFor(ctx context.Context, journalistID int64, p pista.Page) ([]pista.Conversation, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = pista.DefaultInboxLimit
	}
	limit = min(limit, pista.MaxInboxLimit)
	before, ok := s.db.ids.Cursor(sealedid.Item, p.Before)
	if !ok {
		return nil, nil // not a cursor this store made: no page
	}
	if before == 0 {
		before = math.MaxInt64
	}

	// One read transaction: the desks and the page come from one snapshot.
	tx, err := s.db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	desks, err := memberDesks(ctx, tx, journalistID, p.DeskID)
	if err != nil {
		return nil, err
	}
	if len(desks) == 0 {
		return nil, tx.Commit()
	}

	var cs []pista.Conversation
	for chunk := range slices.Chunk(desks, maxMergedDesks) {
		query, args := inboxQuery(journalistID, chunk, before, limit, p)
		page, err := queryConversations(ctx, tx, s.db.ids, true, query, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlite: inbox: %w", err)
		}
		cs = append(cs, page...)
	}
	if len(desks) > maxMergedDesks {
		// Newest first: by the numbers behind the sealed IDs.
		last := func(c pista.Conversation) int64 { n, _ := s.db.ids.Unseal(sealedid.Item, c.LastItem); return n }
		slices.SortFunc(cs, func(a, b pista.Conversation) int { return cmp.Compare(last(b), last(a)) })
		cs = cs[:min(len(cs), limit)]
	}
	return cs, tx.Commit()
}

// inboxQuery returns the query of up to limit conversations of desks with
// LastItem < before that pass p's filters, newest first: one indexed
// branch per desk, merged.
func inboxQuery(journalistID int64, desks []int64, before int64, limit int, p pista.Page) (string, []any) {
	var query strings.Builder
	var args []any
	query.WriteString(`WITH page (id, last_item) AS (`)
	for i, desk := range desks {
		if i > 0 {
			query.WriteString(` UNION ALL `)
		}
		// The desk's walk: its conversations newest first, or, with a
		// tag, its conversations with the tag newest first, from the
		// tag's rows (migration 0008), whether the tag is rare or
		// common. last is the column walked.
		last := "conversations.last_item"
		switch {
		case p.Starred && p.Tag == "":
			// From the journalist's stars of the desk (migration 0012).
			last = "s.last_item"
			query.WriteString(`SELECT id, last_item FROM (SELECT s.conversation_id AS id, s.last_item
				FROM stars s CROSS JOIN conversations ON conversations.id = s.conversation_id
				WHERE s.journalist_id = ? AND s.desk_id = ?`)
			args = append(args, journalistID, desk)
		case p.Tag != "":
			last = "t.last_item"
			query.WriteString(`SELECT id, last_item FROM (SELECT t.conversation_id AS id, t.last_item
				FROM conversation_tags t CROSS JOIN conversations ON conversations.id = t.conversation_id
				WHERE t.tag = ? AND t.desk_id = ?`)
			args = append(args, p.Tag, desk)
		case p.Unread:
			// From the journalist's unread conversations of the desk
			// (migration 0013).
			last = "u.last_item"
			query.WriteString(`SELECT id, last_item FROM (SELECT u.conversation_id AS id, u.last_item
				FROM unread u CROSS JOIN conversations ON conversations.id = u.conversation_id
				WHERE u.journalist_id = ? AND u.desk_id = ?`)
			args = append(args, journalistID, desk)
		case p.Assignee != 0:
			// From the assignee's conversations of the desk (0012).
			query.WriteString(`SELECT id, last_item FROM (SELECT id, last_item FROM conversations INDEXED BY conversations_assignee_desk_last
				WHERE assignee_id = ? AND desk_id = ?`)
			args = append(args, p.Assignee, desk)
		default:
			query.WriteString(`SELECT id, last_item FROM (SELECT id, last_item FROM conversations
				WHERE desk_id = ?`)
			args = append(args, desk)
		}
		if p.Status != "" {
			query.WriteString(` AND conversations.status = ?`)
			args = append(args, string(p.Status))
		}
		query.WriteString(` AND ` + last + ` < ?`)
		args = append(args, before)
		if p.Assignee != 0 {
			query.WriteString(` AND assignee_id = ?`)
			args = append(args, p.Assignee)
		}
		if p.Unread && (p.Tag != "" || p.Starred) {
			query.WriteString(` AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = ?
				AND r.conversation_id = conversations.id AND r.seen_item >= conversations.last_item)`)
			args = append(args, journalistID)
		}
		if p.Starred && p.Tag != "" {
			query.WriteString(` AND EXISTS (SELECT 1 FROM stars s WHERE s.journalist_id = ?
				AND s.conversation_id = conversations.id)`)
			args = append(args, journalistID)
		}
		query.WriteString(` ORDER BY ` + last + ` DESC LIMIT ?)`)
		args = append(args, limit)
	}
	query.WriteString(` ORDER BY last_item DESC LIMIT ?)
		SELECT ` + journalistViewColumns + `
		FROM page p
		CROSS JOIN conversations c ON c.id = p.id
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?` + journalistViewJoins + `
		ORDER BY c.last_item DESC`)
	args = append(args, limit, journalistID)
	return query.String(), args
}

// memberDesks lists the desks of a journalist, or only deskID if it is not
// 0 and they are a member of it.
func memberDesks(ctx context.Context, tx *sql.Tx, journalistID, deskID int64) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT desk_id FROM desk_members
		WHERE journalist_id = ?1 AND (?2 = 0 OR desk_id = ?2) ORDER BY desk_id`, journalistID, deskID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var desks []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		desks = append(desks, id)
	}
	return desks, rows.Err()
}

// ConversationFor answers pista.ErrNotFound unless the journalist is a
// member of the conversation's desk.
func (s *TipStore) ConversationFor(ctx context.Context, journalistID int64, id string) (pista.Conversation, error) {
	c, err := scanConversation(s.db.read.QueryRowContext(ctx, conversationForQuery, journalistID, id), s.db.ids, true)
	if err != nil {
		return pista.Conversation{}, fmt.Errorf("conversation: %w", notFound(err))
	}
	return c, nil
}

// conversationForQuery takes a journalist and a conversation ID.
const conversationForQuery = `SELECT ` + journalistViewColumns + `
	FROM conversations c
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?` + journalistViewJoins + `
	WHERE c.id = ?`

// ItemsFor lists, oldest first, up to limit (at most pista.MaxItemsLimit) items
// with ID > after in the conversations of the journalist's desks. It walks
// items in ID order from after, so an incremental pull costs what is new.
func (s *TipStore) ItemsFor(ctx context.Context, journalistID int64, after int64, limit int) ([]pista.Item, error) {
	if limit <= 0 {
		limit = pista.DefaultItemsLimit
	}
	limit = min(limit, pista.MaxItemsLimit)
	n, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok {
		return nil, nil // not a cursor this store made: nothing after it
	}
	return queryItems(ctx, s.db.read, s.db.ids, itemsForQuery, journalistID, n, limit)
}

// itemsForQuery takes a journalist, an item ID and a limit. CROSS JOIN
// keeps items the outer loop, read in ID order from the given ID.
const itemsForQuery = `SELECT ` + itemColumns + `
	FROM items i
	CROSS JOIN conversations c ON c.id = i.conversation_id
	CROSS JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?
	WHERE i.id > ?
	ORDER BY i.id LIMIT ?`

// NewSourceItems answers how many conversations of the journalist's desks
// have items from sources (anything but replies and notes) with ID > after, and the
// newest such item's ID, or after if there is none: what a notification
// says.
//
// after is a sealed item ID, as it returns newest; a smaller number is a
// watermark stored before migration 0006 (Journalist.NotifiedItem, never
// shown), taken as the row number it then was.
func (s *TipStore) NewSourceItems(ctx context.Context, journalistID, after int64) (int, int64, error) {
	from, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok && after > 0 && after < sealedid.Base {
		from, ok = after, true
	}
	if !ok {
		return 0, 0, fmt.Errorf("sqlite: new source items after %d: not an item ID", after)
	}
	var n int
	var newest int64
	if err := s.db.read.QueryRowContext(ctx, newSourceItemsQuery, journalistID, from, string(pista.KindReply), string(pista.KindNote)).
		Scan(&n, &newest); err != nil {
		return 0, 0, fmt.Errorf("sqlite: new source items: %w", err)
	}
	if newest == from {
		return n, after, nil
	}
	return n, s.db.ids.Seal(sealedid.Item, newest), nil
}

// newSourceItemsQuery takes a journalist, an item ID, and the reply and
// note kinds (what journalists write).
// It walks the journalist's desks, their conversations whose last item is
// after the ID (a conversation's last_item is its newest item's ID, so no
// other can have a newer item) and those conversations' items after the
// ID: its cost is what is new, not the history. CROSS JOIN keeps that
// order.
const newSourceItemsQuery = `SELECT count(DISTINCT c.id), coalesce(max(i.id), ?2)
	FROM desk_members m
	CROSS JOIN conversations c ON c.desk_id = m.desk_id AND c.last_item > ?2
	CROSS JOIN items i ON i.conversation_id = c.id AND i.id > ?2
	WHERE m.journalist_id = ?1 AND i.kind <> ?3 AND i.kind <> ?4 AND i.author_id IS NULL`

// ItemFor answers pista.ErrNotFound unless the item is in one of the
// journalist's desks.
func (s *TipStore) ItemFor(ctx context.Context, journalistID, public int64) (pista.Item, error) {
	itemID, ok := s.db.ids.Unseal(sealedid.Item, public)
	if !ok {
		return pista.Item{}, fmt.Errorf("item: %w", pista.ErrNotFound)
	}
	it, err := scanItem(s.db.read.QueryRowContext(ctx, `SELECT `+itemColumns+`
		FROM items i
		JOIN conversations c ON c.id = i.conversation_id
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?
		WHERE i.id = ?`, journalistID, itemID), s.db.ids)
	if err != nil {
		return pista.Item{}, fmt.Errorf("item: %w", notFound(err))
	}
	return it, nil
}

// visible returns the source and last item of a conversation the
// journalist may see, and pista.ErrNotFound for any other.
func visible(ctx context.Context, tx *sql.Tx, journalistID int64, id string) (sourceID, lastItem int64, err error) {
	err = tx.QueryRowContext(ctx, `SELECT c.source_id, c.last_item
		FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = ?
		WHERE c.id = ?`, journalistID, id).Scan(&sourceID, &lastItem)
	if err != nil {
		return 0, 0, fmt.Errorf("conversation: %w", notFound(err))
	}
	return sourceID, lastItem, nil
}

// SetStatus sets the status of a conversation the journalist may see.
func (s *TipStore) SetStatus(ctx context.Context, journalistID int64, id string, st pista.Status) error {
	if !st.Valid() {
		return fmt.Errorf("sqlite: status %q is not one of new, in_progress, closed", st)
	}
	return s.change(ctx, journalistID, id, "set status", `UPDATE conversations SET status = ? WHERE id = ?`, string(st), id)
}

// SetAssignee assigns a conversation the journalist may see to a member of
// its desk, or to nobody (0).
func (s *TipStore) SetAssignee(ctx context.Context, journalistID int64, id string, assignee int64) error {
	if assignee == 0 {
		return s.change(ctx, journalistID, id, "assign", `UPDATE conversations SET assignee_id = NULL WHERE id = ?`, id)
	}
	return s.change(ctx, journalistID, id, "assign", `UPDATE conversations SET assignee_id = ?1 WHERE id = ?2
		AND EXISTS (SELECT 1 FROM desk_members m WHERE m.journalist_id = ?1 AND m.desk_id = conversations.desk_id)`,
		assignee, id)
}

// SetTags replaces the tags of a conversation the journalist may see.
func (s *TipStore) SetTags(ctx context.Context, journalistID int64, id string, tags []string) (err error) {
	defer func() { err = storageErr(err) }()
	if len(tags) > pista.MaxTags {
		return fmt.Errorf("sqlite: %d tags, at most %d", len(tags), pista.MaxTags)
	}
	for _, t := range tags {
		if !pista.ValidTag(t) {
			return fmt.Errorf("sqlite: %q is not a valid tag", t)
		}
	}
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM conversation_tags WHERE conversation_id = ?`, id); err != nil {
		return fmt.Errorf("sqlite: set tags: %w", err)
	}
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO conversation_tags (conversation_id, tag, desk_id, last_item)
			SELECT id, ?, desk_id, last_item FROM conversations WHERE id = ?`, t, id); err != nil {
			return fmt.Errorf("sqlite: set tags: %w", err)
		}
	}
	return tx.Commit()
}

// change runs an UPDATE of a conversation the journalist may see; it
// answers pista.ErrNotFound if the conversation is not visible or the
// update matched no row.
func (s *TipStore) change(ctx context.Context, journalistID int64, id, what, query string, args ...any) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", what, pista.ErrNotFound)
	}
	return tx.Commit()
}

// MarkRead records that the journalist has seen the conversation up to its
// newest item; it is unread again when an item is added.
func (s *TipStore) MarkRead(ctx context.Context, journalistID int64, id string) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, last, err := visible(ctx, tx, journalistID, id)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reads (journalist_id, conversation_id, seen_item) VALUES (?, ?, ?)
		ON CONFLICT (journalist_id, conversation_id) DO UPDATE SET seen_item = excluded.seen_item`,
		journalistID, id, last); err != nil {
		return fmt.Errorf("sqlite: mark read: %w", err)
	}
	return tx.Commit()
}

// MarkUnread forgets that the journalist has read the conversation.
func (s *TipStore) MarkUnread(ctx context.Context, journalistID int64, id string) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM reads WHERE journalist_id = ? AND conversation_id = ?`,
		journalistID, id); err != nil {
		return fmt.Errorf("sqlite: mark unread: %w", err)
	}
	return tx.Commit()
}

// SetStar stars or unstars a conversation for the journalist.
func (s *TipStore) SetStar(ctx context.Context, journalistID int64, id string, starred bool) (err error) {
	defer func() { err = storageErr(err) }()
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
		return err
	}
	query := `DELETE FROM stars WHERE journalist_id = ? AND conversation_id = ?`
	if starred {
		query = `INSERT OR IGNORE INTO stars (journalist_id, conversation_id, desk_id, last_item)
			SELECT ?1, id, desk_id, last_item FROM conversations WHERE id = ?2`
	}
	if _, err := tx.ExecContext(ctx, query, journalistID, id); err != nil {
		return fmt.Errorf("sqlite: star: %w", err)
	}
	return tx.Commit()
}

// DeleteConversation removes a conversation the journalist may see, with
// its items, reads and stars, and its source if the source has no other
// conversation. It returns the items, oldest first, so that the caller can
// delete their objects once the rows are gone.
func (s *TipStore) DeleteConversation(ctx context.Context, journalistID int64, id string) ([]pista.Item, error) {
	tx, err := s.db.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	sourceID, _, err := visible(ctx, tx, journalistID, id)
	if err != nil {
		return nil, err
	}
	items, err := deleteConversationRows(ctx, tx, s.db.ids, id, sourceID)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return items, nil
}

// ObjectKeysQuery selects every object key a row names: what ObjectKeys
// lists, and what a backup (package backup) must carry with the rows. A
// table that comes to name objects belongs in it.
const ObjectKeysQuery = `SELECT object FROM items UNION SELECT meta FROM items WHERE meta <> ''
		UNION SELECT object FROM index_segments`

// ObjectKeys lists every object key referenced by an item (objects and
// file metadata) or by a search index segment.
func (s *TipStore) ObjectKeys(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.read.QueryContext(ctx, ObjectKeysQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		keys[k] = true
	}
	return keys, rows.Err()
}
