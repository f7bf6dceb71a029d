package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/postgres"
)

// planFixture fills a schema with enough rows (three desks, 30,000
// conversations and items, reads for half, stars and tags) and statistics that the
// planner chooses as it would on a real instance: on empty tables any
// plan is cheap, and a sequential scan often the cheapest.
const planFixture = `
INSERT INTO journalists (name, recipient, totp_secret, created) VALUES ('alice', 'r', 's', 0);
INSERT INTO desks (slug, title, created) SELECT 'desk' || g, 'Desk', 0 FROM generate_series(1, 3) g;
INSERT INTO desk_keys (desk_id, recipient, created) SELECT id, 'r', 0 FROM desks;
UPDATE desks SET key_id = k.id FROM desk_keys k WHERE k.desk_id = desks.id;
INSERT INTO desk_members (desk_id, journalist_id) SELECT id, 1 FROM desks;
INSERT INTO sources (lookup, recipient, created) SELECT int8send(g), 'r', 0 FROM generate_series(1, 30000) g;
INSERT INTO conversations (id, desk_id, source_id, created, updated, last_item, status)
	SELECT 'c' || g, g % 3 + 1, g, 0, 0, g, CASE WHEN g % 10 = 0 THEN 'closed' ELSE 'new' END
	FROM generate_series(1, 30000) g;
INSERT INTO items (conversation_id, kind, object, size, created)
	SELECT 'c' || g, 'message', 'o' || g, 1, 0 FROM generate_series(1, 30000) g;
INSERT INTO reads (journalist_id, conversation_id, seen_item) SELECT 1, 'c' || g, g FROM generate_series(1, 30000, 2) g;
INSERT INTO stars (journalist_id, conversation_id, desk_id, last_item) SELECT 1, 'c' || g, g % 3 + 1, g FROM generate_series(1, 30000, 7) g;
INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item) SELECT 'c' || g, 'budget', g % 3 + 1, g FROM generate_series(1, 30000, 3) g;
INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item) SELECT 'c' || g, 'urgent', g % 3 + 1, g FROM generate_series(1, 30000, 5) g;
INSERT INTO intake_keys (desk_id, desk_key_id, day, recipient, signature, sealed, created)
	SELECT d.id, d.key_id, g, 'r', '\x00', CASE WHEN g > 2990 THEN '\x00'::bytea END, 0 FROM desks d, generate_series(1, 3000) g;
UPDATE items SET received = 'fs', sealing = CASE WHEN id % 200 = 0 THEN 'intake' ELSE 'conv' END,
	intake_key = CASE WHEN id % 200 = 0 THEN (SELECT max(id) FROM intake_keys) END
	WHERE id > 25000;
UPDATE conversations SET preview_intake = (SELECT max(id) FROM intake_keys) WHERE last_item % 500 = 0;
ANALYZE;
`

// TestQueryPlans guards the indexes the hot queries rely on, as
// sqlite's TestQueryPlans does: the inbox is a walk of each desk's index
// from the cursor, never a scan of the desk's conversations and a sort.
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.Pool().Exec(ctx, planFixture); err != nil {
		t.Fatal(err)
	}
	desks := []int64{1, 2, 3}
	inbox, inboxArgs := postgres.InboxQuery(1, desks, 20000, 50, pista.Page{})
	deep, deepArgs := postgres.InboxQuery(1, desks, 300, 50, pista.Page{})
	byStatus, byStatusArgs := postgres.InboxQuery(1, desks, 20000, 50, pista.Page{Status: pista.StatusClosed})
	byTag, byTagArgs := postgres.InboxQuery(1, desks, 20000, 50, pista.Page{Tag: "budget"})
	unread, unreadArgs := postgres.InboxQuery(1, desks, 20000, 50, pista.Page{Unread: true})
	plans := []struct {
		name  string
		query string
		args  []any
		want  []string // substrings of the plan
	}{
		{"inbox", inbox, inboxArgs, []string{
			"Index Scan Backward using conversations_desk_last on conversations c",
			"Index Cond: ((desk_id = k.desk_id) AND (last_item < ",
			"Index Only Scan using items_conversation on items i",
			// A row's items since the journalist's read mark, from the
			// items' index: a page costs its rows.
			"Index Cond: ((conversation_id = c.id) AND (id > COALESCE(r.seen_item",
		}},
		{"inbox deep page", deep, deepArgs, []string{
			"Index Scan Backward using conversations_desk_last on conversations c",
		}},
		{"inbox by status", byStatus, byStatusArgs, []string{
			"Index Scan Backward using conversations_desk_status_last on conversations c",
		}},
		// By tag: each desk's tagged conversations, newest first, from
		// the tag's index (migration 0002), however common the tag.
		{"inbox by tag", byTag, byTagArgs, []string{
			"Index Scan Backward using conversation_tags_tag_desk_last on conversation_tags t",
			"Index Cond: ((tag = 'budget'::text) AND (desk_id = k.desk_id) AND (last_item < ",
		}},
		// Unread: each desk's unread conversations of the journalist,
		// newest first, from the unread pairs (migration 0007), however
		// few or many are read.
		{"inbox unread", unread, unreadArgs, []string{
			"Index Scan Backward using unread_journalist_desk_last on unread u",
		}},
		{"pull", postgres.ItemsForQuery, []any{1, 0, 10}, []string{
			"Index Scan using items_pkey on items i",
		}},
		// Notifications ask what is new since the last one: a few items.
		{"new source items", postgres.NewSourceItemsQuery, []any{1, 29990, "reply", "note"}, []string{
			"conversations_desk_last",
		}},
		// Either index of conversations finds the one row.
		{"source session", postgres.SourceSessionQuery, []any{"c1", 1}, []string{
			"Index Scan using conversations_",
			"sources_pkey",
		}},
		{"conversation", postgres.ConversationForQuery, []any{1, "c1"}, []string{
			"conversations_pkey",
		}},
		// Forward secrecy (migration 0010): what sorters still have to
		// do comes from partial indexes, which hold only that.
		{"unsorted", postgres.UnsortedQuery, []any{1, 0, 200}, []string{
			"items_unsorted",
		}},
		// Either partial index of previews under intake keys.
		{"unsorted previews", postgres.UnsortedPreviewsQuery, []any{1, "", 100}, []string{
			"Index Scan using conversations_", "preview",
		}},
		{"destroy intake keys", postgres.DestroyIntakeQuery, []any{[]int64{2991, 2992, 2993}}, []string{
			"Index Scan using intake_keys_",
			"items_intake",
			"conversations_preview_intake",
		}},
		{"intake for", postgres.IntakeForQuery, []any{1, 2995}, []string{
			"Index Scan using intake_keys_",
		}},
		{"intake keys for", postgres.IntakeKeysForQuery, []any{1}, []string{
			"intake_keys_live",
		}},
		{"sort", postgres.SortQuery, []any{[]int64{25200}, []string{"o25200"}, []string{""}, []string{"n"}, []int64{1}, []string{""}, []int64{0}, 1}, []string{
			"Index Cond: (id = x.id)",
			"conversations_pkey",
		}},
	}
	for _, p := range plans {
		t.Run(p.name, func(t *testing.T) {
			rows, err := db.Pool().Query(ctx, "EXPLAIN "+p.query, p.args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			for _, w := range p.want {
				if !strings.Contains(text, w) {
					t.Errorf("plan lacks %q:\n%s", w, text)
				}
			}
			for _, table := range []string{"conversations", "items", "reads", "stars", "conversation_tags", "sources", "intake_keys"} {
				if strings.Contains(text, "Seq Scan on "+table+" ") {
					t.Errorf("plan scans %s:\n%s", table, text)
				}
			}
		})
	}
}
