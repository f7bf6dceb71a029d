package sqlite

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// TestMigration0002 applies 0002 to a database of 0001 with data in it:
// rows survive the rebuild of items, the new columns take their defaults,
// and item IDs carry on after the highest ever given, even one deleted.
func TestMigration0002(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	old, err := sql.Open("sqlite", path+"?"+url.Values{"_pragma": pragmas}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if err := applyMigration(ctx, old, 1, "migrations/0001_init.sql"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO journalists (id, name, recipient, password_hash, totp_secret, created) VALUES (1, 'alice', 'r', 'h', 's', 0)`,
		`INSERT INTO desks (id, slug, title, created) VALUES (1, 'americas', 'Americas', 0)`,
		`INSERT INTO desk_keys (id, desk_id, recipient, created) VALUES (1, 1, 'r', 0)`,
		`UPDATE desks SET key_id = 1`,
		`INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1)`,
		`INSERT INTO sources (id, lookup, recipient, created) VALUES (1, x'01', 'r', 0)`,
		`INSERT INTO conversations (id, desk_id, source_id, created, updated, last_item) VALUES ('c', 1, 1, 0, 0, 3)`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES ('c', 'message', 'o1', 1, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, author_id, created) VALUES ('c', 'reply', 'o2', 2, 1, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, author_id, created) VALUES ('c', 'reply', 'o3', 3, 1, 0)`,
		`DELETE FROM items WHERE id = 3`, // the newest: its ID must not come back
		`UPDATE conversations SET last_item = 2`,
		`INSERT INTO reads (journalist_id, conversation_id, seen_item) VALUES (1, 'c', 2)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tips := NewTipStore(db)

	items, err := tips.ItemsOfConversation(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	seal := func(n int64) int64 { return db.ids.Seal(sealedid.Item, n) }
	if len(items) != 2 || items[0].ID != seal(1) || items[0].Object != "o1" || items[1].ID != seal(2) ||
		items[1].Kind != pista.KindReply || items[1].AuthorID != 1 || items[1].Size != 2 {
		t.Errorf("items after the migration: %+v", items)
	}
	c, err := tips.ConversationFor(ctx, 1, "c")
	if err != nil {
		t.Fatal(err)
	}
	if c.Channel != pista.ChannelWeb || c.LastItem != seal(2) || c.Items != 2 || c.Unread {
		t.Errorf("conversation after the migration: %+v", c)
	}
	j, err := NewJournalistStore(db).JournalistByID(ctx, 1)
	if err != nil || j.NotifyEmail != "" || j.NotifyWebhook != "" || j.NotifiedItem != 0 {
		t.Errorf("journalist after the migration: %+v, %v", j, err)
	}

	added := []pista.Item{{Kind: pista.KindEmail, Object: "o4", Size: 4}, {Kind: pista.KindMessage, Object: "o5", Size: 5}}
	if err := tips.AddItems(ctx, "c", added); err != nil {
		t.Fatal(err)
	}
	if added[0].ID != seal(4) || added[1].ID != seal(5) {
		t.Errorf("item IDs after the migration: %d, %d; want 4, 5 (3 was given before)", added[0].ID, added[1].ID)
	}

	var seqs int
	var seq int64
	if err := db.read.QueryRowContext(ctx, `SELECT count(*), max(seq) FROM sqlite_sequence WHERE name LIKE 'items%'`).
		Scan(&seqs, &seq); err != nil {
		t.Fatal(err)
	}
	if seqs != 1 || seq != 5 {
		t.Errorf("sqlite_sequence: %d items rows, seq %d; want one, 5", seqs, seq)
	}
	var index int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema
		WHERE type = 'index' AND name = 'items_conversation' AND tbl_name = 'items'`).Scan(&index); err != nil || index != 1 {
		t.Errorf("index items_conversation: %d, %v", index, err)
	}
	rows, err := db.read.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Error("foreign key violations after the migration")
	}
	rows.Close()
	var ok string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %s, %v", ok, err)
	}

	// The rebuilt table's foreign keys still cascade.
	gone, err := tips.DeleteConversation(ctx, 1, "c")
	if err != nil || len(gone) != 4 {
		t.Fatalf("DeleteConversation = %d items, %v", len(gone), err)
	}
	var left int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM items`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d items left after deleting their conversation (%v)", left, err)
	}
}

// TestMigration0002Empty applies the migrations to a new file: the items
// counter starts from nothing, so the first item is 1.
func TestMigration0002Empty(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	rows, err := db.read.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var seq int64
		if err := rows.Scan(&name, &seq); err != nil {
			t.Fatal(err)
		}
		if name != "items" || seq != 0 {
			t.Errorf("sqlite_sequence row %s = %d, want only items = 0", name, seq)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestMigration0006 applies 0006 to a database with invitations and a
// journalist's notification watermark from before: invitations get random
// IDs and an expiry at the hour (never later than given), items sealed
// IDs, and the old watermark still works.
func TestMigration0006(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	old, err := sql.Open("sqlite", path+"?"+url.Values{"_pragma": pragmas}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob("migrations/000[1-4]_*.sql")
	for i, name := range names {
		if err := applyMigration(ctx, old, int64(i+1), "migrations/"+filepath.Base(name)); err != nil {
			t.Fatal(err)
		}
	}
	expires := int64(1_800_000_000 + 1234) // not at the hour
	for _, q := range []string{
		`INSERT INTO journalists (id, name, recipient, password_hash, totp_secret, created, notified_item) VALUES (1, 'alice', 'r', 'h', 's', 0, 1)`,
		`INSERT INTO desks (id, slug, title, created) VALUES (1, 'americas', 'Americas', 0)`,
		`INSERT INTO desk_keys (id, desk_id, recipient, created) VALUES (1, 1, 'r', 0)`,
		`UPDATE desks SET key_id = 1`,
		`INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1)`,
		`INSERT INTO sources (id, lookup, recipient, created) VALUES (1, x'01', 'r', 0)`,
		`INSERT INTO conversations (id, desk_id, source_id, created, updated, last_item) VALUES ('c', 1, 1, 0, 0, 2)`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES ('c', 'message', 'o1', 1, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES ('c', 'message', 'o2', 2, 0)`,
		`INSERT INTO invitations (id, token_hash, desk_id, role, created, expires) VALUES (1, x'01', 1, 'journalist', 0, ` + strconv.FormatInt(expires, 10) + `)`,
		`INSERT INTO invitations (id, token_hash, desk_id, role, created, expires) VALUES (2, x'02', 1, 'journalist', 0, ` + strconv.FormatInt(expires, 10) + `)`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	invs, err := NewTeamStore(db).Invitations(ctx, 1, time.Unix(0, 0))
	if err != nil || len(invs) != 2 {
		t.Fatalf("Invitations = %+v, %v", invs, err)
	}
	for _, inv := range invs {
		if inv.ID < sealedid.Base || inv.ID >= 2*sealedid.Base {
			t.Errorf("invitation ID %d after the migration, want a random one in [2^52, 2^53)", inv.ID)
		}
		if inv.Expires.Unix() != expires-expires%3600 {
			t.Errorf("invitation expires at %d, want %d", inv.Expires.Unix(), expires-expires%3600)
		}
	}
	tips := NewTipStore(db)
	items, err := tips.ItemsOfConversation(ctx, "c")
	if err != nil || len(items) != 2 {
		t.Fatalf("items = %+v, %v", items, err)
	}
	for _, it := range items {
		if it.ID < sealedid.Base {
			t.Errorf("item ID %d after the migration: not sealed", it.ID)
		}
	}
	// alice was told of item 1 before: item 2 is new to her.
	n, newest, err := tips.NewSourceItems(ctx, 1, 1)
	if err != nil || n != 1 || newest != items[1].ID {
		t.Errorf("NewSourceItems(old watermark) = %d, %d, %v; want 1, %d", n, newest, err, items[1].ID)
	}
}

// TestMigration0008 applies 0008 to a database of 0007 with tagged
// conversations on two desks: the tags' rows take their conversations'
// desk and last item, the tag's old index gives way to the new one, and
// the inbox by tag lists them newest first, each desk's apart.
func TestMigration0008(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	old, err := sql.Open("sqlite", path+"?"+url.Values{"_pragma": pragmas}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob("migrations/000[1-7]_*.sql")
	if len(names) != 7 {
		t.Fatalf("migrations 0001 to 0007: %v", names)
	}
	for i, name := range names {
		if err := applyMigration(ctx, old, int64(i+1), "migrations/"+filepath.Base(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO journalists (id, name, recipient, password_hash, totp_secret, created) VALUES (1, 'alice', 'r', 'h', 's', 0)`,
		`INSERT INTO desks (id, slug, title, created) VALUES (1, 'americas', 'Americas', 0), (2, 'europe', 'Europe', 0)`,
		`INSERT INTO desk_keys (id, desk_id, recipient, created) VALUES (1, 1, 'r', 0), (2, 2, 'r', 0)`,
		`UPDATE desks SET key_id = id`,
		`INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1), (2, 1)`,
		`INSERT INTO sources (id, lookup, recipient, created) VALUES (1, x'01', 'r', 0), (2, x'02', 'r', 0), (3, x'03', 'r', 0)`,
		`INSERT INTO conversations (id, desk_id, source_id, created, updated) VALUES
			('old', 1, 1, 0, 0), ('new', 1, 2, 0, 0), ('far', 2, 3, 0, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES
			('old', 'message', 'o1', 1, 0), ('far', 'message', 'o2', 1, 0), ('new', 'message', 'o3', 1, 0),
			('old', 'message', 'o4', 1, 0)`,
		`DELETE FROM items WHERE object = 'o4'`, // old's last item goes back to o1
		`UPDATE conversations SET last_item = (SELECT max(id) FROM items i WHERE i.conversation_id = conversations.id)`,
		`INSERT INTO conversation_tags (conversation_id, tag) VALUES
			('old', 'mayor'), ('new', 'mayor'), ('new', 'port'), ('far', 'mayor')`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.read.QueryContext(ctx, `SELECT t.conversation_id, t.tag, t.desk_id, t.last_item, c.desk_id, c.last_item
		FROM conversation_tags t JOIN conversations c ON c.id = t.conversation_id ORDER BY t.conversation_id, t.tag`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, tag string
		var desk, last, cDesk, cLast int64
		if err := rows.Scan(&id, &tag, &desk, &last, &cDesk, &cLast); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+" "+tag)
		if desk != cDesk || last != cLast || last == 0 {
			t.Errorf("tag %s of %s: desk %d, last item %d; its conversation's are %d, %d", tag, id, desk, last, cDesk, cLast)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if want := []string{"far mayor", "new mayor", "new port", "old mayor"}; !slices.Equal(got, want) {
		t.Errorf("tags after 0008: %v, want %v", got, want)
	}

	var indexes []string
	rows, err = db.read.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'index' AND tbl_name = 'conversation_tags' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, name)
	}
	rows.Close()
	if want := []string{"conversation_tags_tag_desk_last"}; !slices.Equal(indexes, want) {
		t.Errorf("indexes of conversation_tags: %v, want %v", indexes, want)
	}
	var ok string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %s, %v", ok, err)
	}
	fk, err := db.read.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if fk.Next() {
		t.Error("foreign key violations after the migration")
	}
	fk.Close()

	tips := NewTipStore(db)
	inbox := func(p pista.Page) []string {
		t.Helper()
		cs, err := tips.ConversationsFor(ctx, 1, p)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if got, want := inbox(pista.Page{Tag: "mayor"}), []string{"new", "far", "old"}; !slices.Equal(got, want) {
		t.Errorf("tag mayor after 0008: %v, want %v", got, want)
	}
	if got, want := inbox(pista.Page{Tag: "mayor", DeskID: 1}), []string{"new", "old"}; !slices.Equal(got, want) {
		t.Errorf("tag mayor on americas after 0008: %v, want %v", got, want)
	}
	// The copied rows follow their conversation as new ones do.
	if err := tips.AddItems(ctx, "old", []pista.Item{{Kind: pista.KindMessage, Object: "o5", Size: 1}}); err != nil {
		t.Fatal(err)
	}
	if got, want := inbox(pista.Page{Tag: "mayor"}), []string{"old", "new", "far"}; !slices.Equal(got, want) {
		t.Errorf("tag mayor after an item on old: %v, want %v", got, want)
	}
	// The rebuilt table's foreign key still cascades.
	if _, err := tips.DeleteConversation(ctx, 1, "new"); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM conversation_tags WHERE conversation_id = 'new'`).
		Scan(&left); err != nil || left != 0 {
		t.Errorf("%d tags left after deleting their conversation (%v)", left, err)
	}
}

// TestMigration0016 applies 0016 (forward secrecy) to a database of 0015
// with items in it: every item from before is legacy, under the desk's
// key, and never listed for sorting; conversations have no key; items
// written after it get the stores' values, not the defaults.
func TestMigration0016(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pista.db")
	old, err := sql.Open("sqlite", path+"?"+url.Values{"_pragma": pragmas}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	old.SetMaxOpenConns(1)
	if _, err := old.ExecContext(ctx, `CREATE TABLE schema_migrations (
		version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob("migrations/00*.sql")
	for _, name := range names {
		v, _ := strconv.ParseInt(filepath.Base(name)[:4], 10, 64)
		if v >= 16 {
			continue
		}
		if err := applyMigration(ctx, old, v, "migrations/"+filepath.Base(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO journalists (id, name, recipient, password_hash, totp_secret, created) VALUES (1, 'alice', 'r', 'h', 's', 0)`,
		`INSERT INTO desks (id, slug, title, created) VALUES (1, 'americas', 'Americas', 0)`,
		`INSERT INTO desk_keys (id, desk_id, recipient, created) VALUES (1, 1, 'r', 0)`,
		`UPDATE desks SET key_id = 1`,
		`INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1)`,
		`INSERT INTO sources (id, lookup, recipient, created) VALUES (1, x'01', 'r', 0)`,
		`INSERT INTO conversations (id, desk_id, source_id, created, updated, preview) VALUES ('c', 1, 1, 0, 0, x'00')`,
		`INSERT INTO items (conversation_id, kind, object, size, created) VALUES ('c', 'message', 'o1', 1, 0)`,
		`INSERT INTO items (conversation_id, kind, object, size, author_id, created) VALUES ('c', 'reply', 'o2', 2, 1, 0)`,
		`UPDATE conversations SET last_item = 2`,
	} {
		if _, err := old.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tips := NewTipStore(db)
	items, err := tips.ItemsOfConversation(ctx, "c")
	if err != nil || len(items) != 2 {
		t.Fatalf("items after 0016: %+v, %v", items, err)
	}
	for _, it := range items {
		if it.Sealing != pista.SealingDesk || it.Received != pista.ReceivedLegacy || it.IntakeKey != 0 {
			t.Errorf("item %s after 0016: sealing %q, received %q, intake key %d; want desk, legacy, 0", it.Object, it.Sealing, it.Received, it.IntakeKey)
		}
	}
	if un, err := tips.Unsorted(ctx, 1, 0, 100); err != nil || len(un) != 0 {
		t.Errorf("Unsorted after 0016 = %+v, %v; want no legacy item", un, err)
	}
	c, err := tips.ConversationFor(ctx, 1, "c")
	if err != nil || c.KeyRecipient != "" || c.Key != nil || c.PreviewIntake != 0 {
		t.Errorf("conversation after 0016: %+v, %v", c, err)
	}
	if k, err := tips.SignKey(ctx, 1); err != nil || k != nil {
		t.Errorf("SignKey after 0016 = %x, %v", k, err)
	}
	added := []pista.Item{{Kind: pista.KindMessage, Object: "o3", Size: 3}}
	if err := tips.AddItems(ctx, "c", added); err != nil {
		t.Fatal(err)
	}
	if un, err := tips.Unsorted(ctx, 1, 0, 100); err != nil || len(un) != 1 || un[0].Object != "o3" ||
		un[0].Sealing != pista.SealingDesk || un[0].Received != pista.ReceivedForward {
		t.Errorf("Unsorted after a new item = %+v, %v; want it, desk, fs", un, err)
	}
	var ok string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %s, %v", ok, err)
	}
	fk, err := db.read.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	if fk.Next() {
		t.Error("foreign key violations after the migration")
	}
	fk.Close()
}
