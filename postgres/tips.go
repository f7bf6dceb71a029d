package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// maxMergedDesks is how many desks one inbox query walks (an array
// parameter, one indexed walk per desk); a journalist in more desks
// takes a query per maxMergedDesks desks, merged in Go. A variable so
// that tests can make it small.
var maxMergedDesks = 1000

// TipStore implements pista.TipStore.
type TipStore struct{ db *DB }

var _ pista.TipStore = (*TipStore)(nil)

// NewTipStore returns the sources, conversations and items of db.
func NewTipStore(db *DB) *TipStore { return &TipStore{db: db} }

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CreateTip stores a new source, its conversation with a desk and the
// conversation's first items, in one transaction; a failure leaves none of
// them. t.Conversation.ID is chosen by the caller, and there must be at
// least one item. On success it sets t.Source.ID and Created;
// t.Conversation's Channel (pista.ChannelWeb if empty), SourceID, Created,
// Updated, LastItem and Items; and each item's ID, ConversationID and
// Created.
//
// It answers pista.ErrExists if the conversation ID or the source's lookup
// is taken, and pista.ErrNotFound for an unknown desk.
func (s *TipStore) CreateTip(ctx context.Context, t *pista.NewTip) error {
	c := &t.Conversation
	switch {
	case c.ID == "":
		return errors.New("postgres: tip without a conversation ID")
	case len(t.Source.Lookup) == 0:
		return errors.New("postgres: tip without a source lookup")
	case len(t.Items) == 0:
		return errors.New("postgres: tip without items")
	}
	channel := c.Channel
	if channel == "" {
		channel = pista.ChannelWeb
	}
	if !channel.Valid() {
		return fmt.Errorf("postgres: tip from unknown channel %q", channel)
	}
	if len(c.Preview) > pista.MaxPreviewSize {
		return fmt.Errorf("postgres: a preview of %d bytes, at most %d", len(c.Preview), pista.MaxPreviewSize)
	}
	var preview []byte // NULL without one
	if len(c.Preview) > 0 {
		preview = c.Preview
	}
	if c.PreviewIntake != 0 && preview == nil {
		return errors.New("postgres: a preview's intake key without a preview")
	}
	rows, times, err := itemRows(t.Items)
	if err != nil {
		return err
	}
	sourceCreated, created := stamp(t.Source.Created), stamp(c.Created)
	updated := latest(created, times)

	// One batch, one round trip, one implicit transaction: a failure
	// leaves nothing. The items lock is held only from its statement to
	// the commit.
	b := &pgx.Batch{}
	var sourceID int64
	b.Queue(`WITH s AS (INSERT INTO sources (lookup, recipient, created) VALUES ($1, $2, $3) RETURNING id)
		INSERT INTO conversations (id, channel, desk_id, source_id, created, updated, preview, preview_intake)
		SELECT $4, $5, $6, s.id, $7, $7, $8, $9 FROM s RETURNING source_id`,
		t.Source.Lookup, t.Source.Recipient, sourceCreated.Unix(), c.ID, string(channel), c.DeskID, created.Unix(), preview,
		nullID(c.PreviewIntake)).
		QueryRow(func(r pgx.Row) error {
			err := r.Scan(&sourceID)
			switch {
			case isUnique(err) && constraint(err) == "sources_lookup_key":
				return fmt.Errorf("source: %w", pista.ErrExists)
			case isUnique(err):
				return fmt.Errorf("conversation: %w", pista.ErrExists)
			case isForeignKey(err):
				return fmt.Errorf("desk %d: %w", c.DeskID, pista.ErrNotFound)
			case err != nil:
				return fmt.Errorf("postgres: create tip: %w", err)
			}
			return nil
		})
	ids := queueItems(b, c.ID, rows)
	b.Queue(`UPDATE conversations SET last_item = (SELECT max(id) FROM items WHERE conversation_id = $1), updated = $2
		WHERE id = $1`, c.ID, updated.Unix())
	if intake := intakeKeysOf(rows, c.PreviewIntake); len(intake) > 0 {
		// In a transaction that holds the intake keys it checked.
		err := s.db.inTx(ctx, func(tx pgx.Tx) error {
			if err := checkIntake(ctx, tx, c.DeskID, intake); err != nil {
				return err
			}
			return tx.SendBatch(ctx, b).Close()
		})
		if err != nil {
			return storageErr(err)
		}
	} else if err := s.db.pool.SendBatch(ctx, b).Close(); err != nil {
		return storageErr(err)
	}
	t.Source.ID, t.Source.Created = sourceID, sourceCreated
	c.Channel, c.SourceID, c.Created, c.Updated, c.LastItem, c.Items = channel, sourceID, created, updated, s.db.ids.Seal(sealedid.Item, (*ids)[len(*ids)-1]), len(*ids)
	setItems(s.db.ids, t.Items, c.ID, *ids, times)
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
// any desk). The check shares the conversation's row lock with the
// items' insert, in one transaction: a transfer (which locks the row for
// update) waits for it, or it waits for the transfer and sees the new
// desk.
func (s *TipStore) AddItemsFor(ctx context.Context, conversationID string, deskID int64, items []pista.Item) error {
	rows, times, err := itemRows(items)
	if err != nil {
		return err
	}
	intake := intakeKeysOf(rows, 0)
	if len(items) == 0 || deskID != 0 || len(intake) > 0 {
		tx, err := s.db.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("postgres: add items: %w", storageErr(err))
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		var desk int64
		if err := tx.QueryRow(ctx, `SELECT desk_id FROM conversations WHERE id = $1 FOR SHARE`, conversationID).Scan(&desk); err != nil {
			return fmt.Errorf("conversation: %w", notFound(err))
		}
		if deskID != 0 && desk != deskID {
			return pista.ErrMoved
		}
		if len(items) == 0 {
			return nil
		}
		if err := checkIntake(ctx, tx, desk, intake); err != nil {
			return err
		}
		b := &pgx.Batch{}
		ids := s.queueAdd(b, conversationID, rows, times)
		if err := tx.SendBatch(ctx, b).Close(); isForeignKey(err) {
			return fmt.Errorf("conversation: %w", pista.ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("postgres: add items: %w", storageErr(err))
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: add items: %w", storageErr(err))
		}
		setItems(s.db.ids, items, conversationID, *ids, times)
		return nil
	}
	// One batch, as CreateTip's. An unknown (or deleted) conversation
	// fails the items' foreign key.
	b := &pgx.Batch{}
	ids := s.queueAdd(b, conversationID, rows, times)
	if err := s.db.pool.SendBatch(ctx, b).Close(); isForeignKey(err) {
		return fmt.Errorf("conversation: %w", pista.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("postgres: add items: %w", storageErr(err))
	}
	setItems(s.db.ids, items, conversationID, *ids, times)
	return nil
}

// queueAdd queues the insert of a conversation's new items and what
// follows them (last item, tags, stars).
func (s *TipStore) queueAdd(b *pgx.Batch, conversationID string, rows itemColumnsIn, times []time.Time) *[]int64 {
	ids := queueItems(b, conversationID, rows)
	b.Queue(`UPDATE conversations SET last_item = (SELECT max(id) FROM items WHERE conversation_id = $1),
		updated = greatest(updated, $2) WHERE id = $1`, conversationID, latest(time.Time{}, times).Unix())
	b.Queue(tagsFollowQuery, conversationID)
	b.Queue(starsFollowQuery, conversationID)
	return ids
}

// tagsFollowQuery copies a conversation's last_item to its tags' rows
// (migration 0002), in the transaction that moved it.
const tagsFollowQuery = `UPDATE conversation_tags t SET last_item = c.last_item
	FROM conversations c WHERE c.id = $1 AND t.conversation_id = $1 AND t.last_item <> c.last_item`

// starsFollowQuery does the same for the conversation's stars (0006).
const starsFollowQuery = `UPDATE stars s SET last_item = c.last_item
	FROM conversations c WHERE c.id = $1 AND s.conversation_id = $1 AND s.last_item <> c.last_item`

// itemColumnsIn are the columns of items, as arrays, that queueItems
// inserts.
type itemColumnsIn struct {
	kind, object, meta, by  []string
	size, metaSize, created []int64
	author                  []*int64
	sealing, received       []string
	intake                  []*int64
}

// itemRows checks items and returns them as columns, with the times
// each will be recorded with.
func itemRows(items []pista.Item) (itemColumnsIn, []time.Time, error) {
	var r itemColumnsIn
	times := make([]time.Time, len(items))
	for i, it := range items {
		if !it.Kind.Valid() {
			return r, nil, fmt.Errorf("postgres: item of unknown kind %q", it.Kind)
		}
		if it.Object == "" {
			return r, nil, errors.New("postgres: item without an object")
		}
		by := it.EncryptedBy
		if by == "" {
			by = "server"
		}
		sealing, received, err := it.StoredSealing()
		if err != nil {
			return r, nil, fmt.Errorf("postgres: %w", err)
		}
		r.sealing, r.received, r.intake = append(r.sealing, sealing), append(r.received, received), append(r.intake, nullID(it.IntakeKey))
		times[i] = stamp(it.Created)
		r.kind, r.object, r.meta, r.by = append(r.kind, string(it.Kind)), append(r.object, it.Object), append(r.meta, it.Meta), append(r.by, by)
		r.size, r.metaSize, r.created = append(r.size, it.Size), append(r.metaSize, it.MetaSize), append(r.created, times[i].Unix())
		r.author = append(r.author, nullID(it.AuthorID))
	}
	return r, times, nil
}

// queueItems queues, in b, lockItems and the insertion of rows into a
// conversation, in order; the returned slice holds their IDs, in order,
// once the batch has run. The lock, held until the batch's transaction
// ends, makes item IDs visible in their order.
func queueItems(b *pgx.Batch, conversationID string, r itemColumnsIn) *[]int64 {
	ids := new([]int64)
	b.Queue(`SELECT pg_advisory_xact_lock($1, $2)`, lockSpace, int32(lockItems))
	b.Queue(`INSERT INTO items (conversation_id, kind, object, meta, size, meta_size, author_id, created, encrypted_by,
			sealing, received, intake_key)
		SELECT $1, x.kind, x.object, x.meta, x.size, x.meta_size, x.author_id, x.created, x.by, x.sealing, x.received, x.intake_key
		FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[],
				$10::text[], $11::text[], $12::bigint[])
			WITH ORDINALITY AS x (kind, object, meta, size, meta_size, author_id, created, by, sealing, received, intake_key, n)
		ORDER BY x.n
		RETURNING id`,
		conversationID, r.kind, r.object, r.meta, r.size, r.metaSize, r.author, r.created, r.by, r.sealing, r.received, r.intake).
		Query(func(rows pgx.Rows) error {
			got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			// IDs are taken as the rows are inserted, in the order of n.
			slices.Sort(got)
			*ids = got
			return nil
		})
	return ids
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
	return s.source(ctx, `lookup = $1`, lookup)
}

// SourceByID answers pista.ErrNotFound for an unknown ID.
func (s *TipStore) SourceByID(ctx context.Context, id int64) (pista.Source, error) {
	return s.source(ctx, `id = $1`, id)
}

func (s *TipStore) source(ctx context.Context, where string, arg any) (pista.Source, error) {
	var src pista.Source
	var created int64
	err := s.db.pool.QueryRow(ctx, `SELECT id, lookup, recipient, created FROM sources WHERE `+where,
		arg).Scan(&src.ID, &src.Lookup, &src.Recipient, &created)
	if err != nil {
		return pista.Source{}, fmt.Errorf("source: %w", notFound(err))
	}
	src.Created = unix(created)
	return src, nil
}

// sourceSessionQuery is run on every request of a logged-in source.
const sourceSessionQuery = `SELECT s.session_epoch FROM conversations c
	JOIN sources s ON s.id = c.source_id WHERE c.id = $1 AND c.source_id = $2`

// SourceSessionEpoch answers pista.ErrNotFound unless the conversation
// is the source's: one read by primary key of each table.
func (s *TipStore) SourceSessionEpoch(ctx context.Context, sourceID int64, conversationID string) (int64, error) {
	var epoch int64
	if err := s.db.pool.QueryRow(ctx, sourceSessionQuery, conversationID, sourceID).Scan(&epoch); err != nil {
		return 0, fmt.Errorf("source session: %w", notFound(err))
	}
	return epoch, nil
}

// EndSourceSessions answers pista.ErrNotFound for an unknown source.
func (s *TipStore) EndSourceSessions(ctx context.Context, sourceID int64) error {
	tag, err := s.db.pool.Exec(ctx, `UPDATE sources SET session_epoch = session_epoch + 1 WHERE id = $1`, sourceID)
	if err != nil {
		return fmt.Errorf("postgres: end source sessions: %w", storageErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("source: %w", pista.ErrNotFound)
	}
	return nil
}

// conversationColumns are read by scanConversation; c is conversations, d
// desks, and for a journalist's view r and s their reads and stars rows.
const conversationColumns = `c.id, c.channel, c.desk_id, d.slug, c.source_id, c.created, c.updated, c.last_item,
	(SELECT count(*) FROM items i WHERE i.conversation_id = c.id),
	c.status, coalesce(c.assignee_id, 0),
	coalesce((SELECT a.name FROM journalists a WHERE a.id = c.assignee_id), ''),
	coalesce((SELECT string_agg(t.tag, ' ' ORDER BY t.tag) FROM conversation_tags t WHERE t.conversation_id = c.id), ''),
	c.held`

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

func scanConversation(row pgx.Row, seal *sealedid.Sealer, view bool) (pista.Conversation, error) {
	var c pista.Conversation
	var created, updated, items, newItems int64
	var tags string
	dest := []any{&c.ID, &c.Channel, &c.DeskID, &c.DeskSlug, &c.SourceID, &created, &updated, &c.LastItem, &items,
		&c.Status, &c.Assignee, &c.AssigneeName, &tags, &c.Held}
	if view {
		dest = append(dest, &c.Unread, &c.Starred, &c.Preview, &c.FirstMessage, &newItems,
			&c.KeyRecipient, &c.Key, &c.PreviewIntake)
	}
	err := row.Scan(dest...)
	c.Created, c.Updated, c.LastItem, c.Items = unix(created), unix(updated), seal.Seal(sealedid.Item, c.LastItem), int(items)
	c.NewItems = int(newItems)
	if c.FirstMessage != 0 {
		c.FirstMessage = seal.Seal(sealedid.Item, c.FirstMessage)
	}
	if tags != "" {
		c.Tags = strings.Fields(tags)
		slices.Sort(c.Tags)
	}
	return c, err
}

func queryConversations(ctx context.Context, q querier, seal *sealedid.Sealer, view bool, query string, args ...any) ([]pista.Conversation, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Conversation, error) { return scanConversation(r, seal, view) })
}

// ConversationsOfSource lists a source's conversations, oldest first.
func (s *TipStore) ConversationsOfSource(ctx context.Context, sourceID int64) ([]pista.Conversation, error) {
	return queryConversations(ctx, s.db.pool, s.db.ids, false, `SELECT `+conversationColumns+`
		FROM conversations c JOIN desks d ON d.id = c.desk_id
		WHERE c.source_id = $1
		ORDER BY c.created, c.seq`, sourceID)
}

const itemColumns = `i.id, i.conversation_id, i.kind, i.object, i.meta, i.size, i.meta_size,
	coalesce(i.author_id, 0), i.created, i.encrypted_by, i.sealing, coalesce(i.intake_key, 0), i.received`

func scanItem(row pgx.Row, seal *sealedid.Sealer) (pista.Item, error) {
	var it pista.Item
	var created int64
	err := row.Scan(&it.ID, &it.ConversationID, &it.Kind, &it.Object, &it.Meta, &it.Size, &it.MetaSize,
		&it.AuthorID, &created, &it.EncryptedBy, &it.Sealing, &it.IntakeKey, &it.Received)
	it.Created, it.ID = unix(created), seal.Seal(sealedid.Item, it.ID)
	return it, err
}

func queryItems(ctx context.Context, q querier, seal *sealedid.Sealer, query string, args ...any) ([]pista.Item, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r pgx.CollectableRow) (pista.Item, error) { return scanItem(r, seal) })
}

// ItemsOfConversation lists a conversation's items, oldest first; none
// for an unknown conversation.
func (s *TipStore) ItemsOfConversation(ctx context.Context, conversationID string) ([]pista.Item, error) {
	return queryItems(ctx, s.db.pool, s.db.ids, `SELECT `+itemColumns+` FROM items i
		WHERE i.conversation_id = $1 ORDER BY i.id`, conversationID)
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
	var it pista.Item
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM conversations WHERE id = $1 FOR NO KEY UPDATE`, conversationID); err != nil {
			return err
		}
		var err error
		it, err = scanItem(tx.QueryRow(ctx, `DELETE FROM items i
			WHERE i.id = $1 AND i.conversation_id = $2 AND i.kind = $3
			RETURNING `+itemColumns, itemID, conversationID, string(pista.KindReply)), s.db.ids)
		if err != nil {
			return fmt.Errorf("reply: %w", notFound(err))
		}
		if _, err := tx.Exec(ctx, `UPDATE conversations
			SET last_item = coalesce((SELECT max(id) FROM items WHERE conversation_id = $1), 0)
			WHERE id = $1`, conversationID); err != nil {
			return fmt.Errorf("postgres: delete reply: %w", err)
		}
		if _, err := tx.Exec(ctx, tagsFollowQuery, conversationID); err != nil {
			return fmt.Errorf("postgres: delete reply: %w", err)
		}
		if _, err := tx.Exec(ctx, starsFollowQuery, conversationID); err != nil {
			return fmt.Errorf("postgres: delete reply: %w", err)
		}
		return nil
	})
	if err != nil {
		return pista.Item{}, err
	}
	return it, nil
}

// ConversationsFor returns a page of a journalist's inbox: conversations of
// the desks they are a member of (of p.DeskID only, if set), newest item
// first, with LastItem < p.Before if p.Before is set.
//
// Each desk's conversations are read newest first from the index on
// (desk_id, last_item) (or (desk_id, status, last_item)), at most one page
// per desk, in a LATERAL join over the array of the journalist's desks,
// and merged; only the page's rows are then joined with their desk, reads,
// stars and item counts. A page thus costs the same whatever its position
// and however many conversations the desks hold.
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

	// One snapshot: the desks and the page agree.
	tx, err := s.db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT desk_id FROM desk_members
		WHERE journalist_id = $1 AND ($2 = 0 OR desk_id = $2) ORDER BY desk_id`, journalistID, p.DeskID)
	if err != nil {
		return nil, err
	}
	desks, err := collect(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var cs []pista.Conversation
	for chunk := range slices.Chunk(desks, maxMergedDesks) {
		query, args := inboxQuery(journalistID, chunk, before, limit, p)
		page, err := queryConversations(ctx, tx, s.db.ids, true, query, args...)
		if err != nil {
			return nil, fmt.Errorf("postgres: inbox: %w", err)
		}
		cs = append(cs, page...)
	}
	if len(desks) > maxMergedDesks {
		// Newest first: by the numbers behind the sealed IDs.
		last := func(c pista.Conversation) int64 { n, _ := s.db.ids.Unseal(sealedid.Item, c.LastItem); return n }
		slices.SortFunc(cs, func(a, b pista.Conversation) int { return cmp.Compare(last(b), last(a)) })
		cs = cs[:min(len(cs), limit)]
	}
	return cs, tx.Commit(ctx)
}

// inboxQuery returns the query of up to limit conversations of desks with
// LastItem < before that pass p's filters, newest first: for each desk, a
// walk of its index from before, merged.
func inboxQuery(journalistID int64, desks []int64, before int64, limit int, p pista.Page) (string, []any) {
	args := []any{desks, before, limit, journalistID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	var where strings.Builder
	if p.Status != "" {
		where.WriteString(` AND c.status = ` + arg(string(p.Status)))
	}
	if p.Assignee != 0 {
		where.WriteString(` AND c.assignee_id = ` + arg(p.Assignee))
	}
	if p.Unread && (p.Tag != "" || p.Starred) {
		where.WriteString(` AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.journalist_id = $4
			AND r.conversation_id = c.id AND r.seen_item >= c.last_item)`)
	}
	if p.Starred && p.Tag != "" {
		where.WriteString(` AND EXISTS (SELECT 1 FROM stars s WHERE s.journalist_id = $4 AND s.conversation_id = c.id)`)
	}
	// Each desk's walk: its conversations newest first, or, with a tag,
	// its conversations with the tag newest first (migration 0002).
	walk := `SELECT c.id, c.last_item FROM conversations c
			WHERE c.desk_id = k.desk_id AND c.last_item < $2` + where.String() + `
			ORDER BY c.last_item DESC LIMIT $3`
	switch {
	case p.Starred && p.Tag == "":
		// From the journalist's stars of the desk (migration 0006).
		walk = `SELECT c.id, c.last_item FROM stars s
			JOIN conversations c ON c.id = s.conversation_id
			WHERE s.journalist_id = $4 AND s.desk_id = k.desk_id AND s.last_item < $2` + where.String() + `
			ORDER BY s.last_item DESC LIMIT $3`
	case p.Unread && p.Tag == "":
		// From the journalist's unread conversations of the desk (0007).
		walk = `SELECT c.id, c.last_item FROM unread u
			JOIN conversations c ON c.id = u.conversation_id
			WHERE u.journalist_id = $4 AND u.desk_id = k.desk_id AND u.last_item < $2` + where.String() + `
			ORDER BY u.last_item DESC LIMIT $3`
	case p.Tag != "":
		walk = `SELECT c.id, c.last_item FROM conversation_tags t
			JOIN conversations c ON c.id = t.conversation_id
			WHERE t.tag = ` + arg(p.Tag) + ` AND t.desk_id = k.desk_id AND t.last_item < $2` + where.String() + `
			ORDER BY t.last_item DESC LIMIT $3`
	}
	return `WITH page AS (
		SELECT w.id, w.last_item
		FROM unnest($1::bigint[]) AS k (desk_id)
		CROSS JOIN LATERAL (` + walk + `) w
		ORDER BY w.last_item DESC LIMIT $3)
	SELECT ` + journalistViewColumns + `
	FROM page p
	JOIN conversations c ON c.id = p.id
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $4` + journalistViewJoins + `
	ORDER BY c.last_item DESC`, args
}

// ConversationFor answers pista.ErrNotFound unless the journalist is a
// member of the conversation's desk.
func (s *TipStore) ConversationFor(ctx context.Context, journalistID int64, id string) (pista.Conversation, error) {
	c, err := scanConversation(s.db.pool.QueryRow(ctx, conversationForQuery, journalistID, id), s.db.ids, true)
	if err != nil {
		return pista.Conversation{}, fmt.Errorf("conversation: %w", notFound(err))
	}
	return c, nil
}

// conversationForQuery takes a journalist and a conversation ID.
const conversationForQuery = `SELECT ` + journalistViewColumns + `
	FROM conversations c
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1` + journalistViewJoins + `
	WHERE c.id = $2`

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
	return queryItems(ctx, s.db.pool, s.db.ids, itemsForQuery, journalistID, n, limit)
}

// itemsForQuery takes a journalist, an item ID and a limit.
const itemsForQuery = `SELECT ` + itemColumns + `
	FROM items i
	JOIN conversations c ON c.id = i.conversation_id
	JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
	WHERE i.id > $2
	ORDER BY i.id LIMIT $3`

// NewSourceItems answers how many conversations of the journalist's desks
// have items from sources (anything but replies and notes) with ID > after, and the
// newest such item's ID, or after if there is none: what a notification
// says. after is a sealed item ID, as it returns newest.
func (s *TipStore) NewSourceItems(ctx context.Context, journalistID, after int64) (int, int64, error) {
	from, ok := s.db.ids.Cursor(sealedid.Item, after)
	if !ok && after > 0 && after < sealedid.Base {
		// A watermark from before SQLite's migration 0006 (never shown),
		// in a database moved here: the row number it then was.
		from, ok = after, true
	}
	if !ok {
		return 0, 0, fmt.Errorf("postgres: new source items after %d: not an item ID", after)
	}
	var n int
	var newest int64
	if err := s.db.pool.QueryRow(ctx, newSourceItemsQuery, journalistID, from, string(pista.KindReply), string(pista.KindNote)).
		Scan(&n, &newest); err != nil {
		return 0, 0, fmt.Errorf("postgres: new source items: %w", err)
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
// ID: its cost is what is new, not the history.
const newSourceItemsQuery = `SELECT count(DISTINCT c.id), coalesce(max(i.id), $2)
	FROM desk_members m
	JOIN conversations c ON c.desk_id = m.desk_id AND c.last_item > $2
	JOIN items i ON i.conversation_id = c.id AND i.id > $2
	WHERE m.journalist_id = $1 AND i.kind <> $3 AND i.kind <> $4 AND i.author_id IS NULL`

// ItemFor answers pista.ErrNotFound unless the item is in one of the
// journalist's desks.
func (s *TipStore) ItemFor(ctx context.Context, journalistID, public int64) (pista.Item, error) {
	itemID, ok := s.db.ids.Unseal(sealedid.Item, public)
	if !ok {
		return pista.Item{}, fmt.Errorf("item: %w", pista.ErrNotFound)
	}
	it, err := scanItem(s.db.pool.QueryRow(ctx, `SELECT `+itemColumns+`
		FROM items i
		JOIN conversations c ON c.id = i.conversation_id
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
		WHERE i.id = $2`, journalistID, itemID), s.db.ids)
	if err != nil {
		return pista.Item{}, fmt.Errorf("item: %w", notFound(err))
	}
	return it, nil
}

// visible locks, for the rest of the transaction, a conversation the
// journalist may see, and returns its source and last item;
// pista.ErrNotFound for any other.
func visible(ctx context.Context, tx pgx.Tx, journalistID int64, id string) (sourceID, lastItem int64, err error) {
	err = tx.QueryRow(ctx, `SELECT c.source_id, c.last_item
		FROM conversations c
		JOIN desk_members m ON m.desk_id = c.desk_id AND m.journalist_id = $1
		WHERE c.id = $2
		FOR NO KEY UPDATE OF c`, journalistID, id).Scan(&sourceID, &lastItem)
	if err != nil {
		return 0, 0, fmt.Errorf("conversation: %w", notFound(err))
	}
	return sourceID, lastItem, nil
}

// SetStatus sets the status of a conversation the journalist may see.
func (s *TipStore) SetStatus(ctx context.Context, journalistID int64, id string, st pista.Status) error {
	if !st.Valid() {
		return fmt.Errorf("postgres: status %q is not one of new, in_progress, closed", st)
	}
	return s.change(ctx, journalistID, id, "set status", `UPDATE conversations SET status = $1 WHERE id = $2`, string(st), id)
}

// SetAssignee assigns a conversation the journalist may see to a member of
// its desk, or to nobody (0).
func (s *TipStore) SetAssignee(ctx context.Context, journalistID int64, id string, assignee int64) error {
	if assignee == 0 {
		return s.change(ctx, journalistID, id, "assign", `UPDATE conversations SET assignee_id = NULL WHERE id = $1`, id)
	}
	return s.change(ctx, journalistID, id, "assign", `UPDATE conversations SET assignee_id = $1 WHERE id = $2
		AND EXISTS (SELECT 1 FROM desk_members m WHERE m.journalist_id = $1 AND m.desk_id = conversations.desk_id)`,
		assignee, id)
}

// SetTags replaces the tags of a conversation the journalist may see.
func (s *TipStore) SetTags(ctx context.Context, journalistID int64, id string, tags []string) error {
	if len(tags) > pista.MaxTags {
		return fmt.Errorf("postgres: %d tags, at most %d", len(tags), pista.MaxTags)
	}
	for _, t := range tags {
		if !pista.ValidTag(t) {
			return fmt.Errorf("postgres: %q is not a valid tag", t)
		}
	}
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM conversation_tags WHERE conversation_id = $1`, id); err != nil {
			return fmt.Errorf("postgres: set tags: %w", err)
		}
		if len(tags) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
			SELECT c.id, t, c.desk_id, c.last_item FROM conversations c, unnest($2::text[]) AS t
			WHERE c.id = $1 ON CONFLICT DO NOTHING`, id, tags); err != nil {
			return fmt.Errorf("postgres: set tags: %w", err)
		}
		return nil
	})
}

// change runs an UPDATE of a conversation the journalist may see; it
// answers pista.ErrNotFound if the conversation is not visible or the
// update matched no row.
func (s *TipStore) change(ctx context.Context, journalistID int64, id, what, query string, args ...any) error {
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, query, args...)
		return affected(tag, err, what)
	})
}

// MarkRead records that the journalist has seen the conversation up to its
// newest item; it is unread again when an item is added.
func (s *TipStore) MarkRead(ctx context.Context, journalistID int64, id string) error {
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		_, last, err := visible(ctx, tx, journalistID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO reads (journalist_id, conversation_id, seen_item) VALUES ($1, $2, $3)
			ON CONFLICT (journalist_id, conversation_id) DO UPDATE SET seen_item = excluded.seen_item`,
			journalistID, id, last); err != nil {
			return fmt.Errorf("postgres: mark read: %w", err)
		}
		return nil
	})
}

// MarkUnread forgets that the journalist has read the conversation.
func (s *TipStore) MarkUnread(ctx context.Context, journalistID int64, id string) error {
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM reads WHERE journalist_id = $1 AND conversation_id = $2`,
			journalistID, id); err != nil {
			return fmt.Errorf("postgres: mark unread: %w", err)
		}
		return nil
	})
}

// SetStar stars or unstars a conversation for the journalist.
func (s *TipStore) SetStar(ctx context.Context, journalistID int64, id string, starred bool) error {
	return s.db.inTx(ctx, func(tx pgx.Tx) error {
		if _, _, err := visible(ctx, tx, journalistID, id); err != nil {
			return err
		}
		query := `DELETE FROM stars WHERE journalist_id = $1 AND conversation_id = $2`
		if starred {
			query = `INSERT INTO stars (journalist_id, conversation_id, desk_id, last_item)
				SELECT $1, id, desk_id, last_item FROM conversations WHERE id = $2 ON CONFLICT DO NOTHING`
		}
		if _, err := tx.Exec(ctx, query, journalistID, id); err != nil {
			return fmt.Errorf("postgres: star: %w", err)
		}
		return nil
	})
}

// DeleteConversation removes a conversation the journalist may see, with
// its items, reads and stars, and its source if the source has no other
// conversation. It returns the items, oldest first, so that the caller can
// delete their objects once the rows are gone.
func (s *TipStore) DeleteConversation(ctx context.Context, journalistID int64, id string) ([]pista.Item, error) {
	var items []pista.Item
	err := s.db.inTx(ctx, func(tx pgx.Tx) error {
		sourceID, _, err := visible(ctx, tx, journalistID, id)
		if err != nil {
			return err
		}
		items, err = deleteConversationRows(ctx, tx, s.db.ids, id, sourceID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// ObjectKeys lists every object key referenced by an item (objects and
// file metadata) or by a search index segment.
func (s *TipStore) ObjectKeys(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.pool.Query(ctx, ObjectKeysQuery)
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
