package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
)

// TestQueryPlans guards the indexes the hot queries rely on: a query that
// starts scanning a whole table would still pass every other test, only
// slowly, at 100,000 conversations.
func TestQueryPlans(t *testing.T) {
	db := openTest(t)
	inbox, inboxArgs := inboxQuery(1, []int64{1, 2, 3}, 1000, 50, pista.Page{})
	byStatus, byStatusArgs := inboxQuery(1, []int64{1, 2, 3}, 1000, 50, pista.Page{Status: pista.StatusClosed})
	byTag, byTagArgs := inboxQuery(1, []int64{1, 2}, 1000, 50, pista.Page{Tag: "budget"})
	byTagStatus, byTagStatusArgs := inboxQuery(1, []int64{1, 2}, 1000, 50, pista.Page{Tag: "budget", Status: pista.StatusNew})
	byTagUnread, byTagUnreadArgs := inboxQuery(1, []int64{1, 2}, 1000, 50, pista.Page{Tag: "budget", Unread: true})
	unread, unreadArgs := inboxQuery(1, []int64{1, 2}, 1000, 50, pista.Page{Unread: true})
	plans := []struct {
		name  string
		query string
		args  []any
		want  []string // substrings of the plan
	}{
		// Each row's counts and first message (for a row without a
		// preview) read only its own items, from their index: a page
		// costs its rows.
		{"inbox", inbox, inboxArgs, []string{
			"SEARCH conversations USING INDEX conversations_desk_last (desk_id=? AND last_item<?)",
			"SEARCH i USING COVERING INDEX items_conversation (conversation_id=?)",
			"SEARCH i USING INDEX items_conversation (conversation_id=?)",
			"SEARCH i USING COVERING INDEX items_conversation (conversation_id=? AND id>?)",
		}},
		{"inbox by status", byStatus, byStatusArgs, []string{
			"SEARCH conversations USING INDEX conversations_desk_status_last (desk_id=? AND status=? AND last_item<?)",
		}},
		// By tag: each desk's tagged conversations newest first from the
		// tag's rows (migration 0008), with no sort of them all.
		{"inbox by tag", byTag, byTagArgs, []string{
			"SEARCH t USING COVERING INDEX conversation_tags_tag_desk_last (tag=? AND desk_id=? AND last_item<?)",
			"SEARCH conversations USING COVERING INDEX sqlite_autoindex_conversations_1 (id=?)",
		}},
		{"inbox by tag and status", byTagStatus, byTagStatusArgs, []string{
			"SEARCH t USING COVERING INDEX conversation_tags_tag_desk_last (tag=? AND desk_id=? AND last_item<?)",
			"SEARCH conversations USING INDEX sqlite_autoindex_conversations_1 (id=?)",
		}},
		{"inbox by tag, unread", byTagUnread, byTagUnreadArgs, []string{
			"SEARCH t USING COVERING INDEX conversation_tags_tag_desk_last (tag=? AND desk_id=? AND last_item<?)",
			"SEARCH r USING PRIMARY KEY (journalist_id=? AND conversation_id=?)",
		}},
		// Unread: each desk's unread conversations of the journalist,
		// newest first, from the unread pairs (migration 0013), however
		// few or many are read.
		{"inbox unread", unread, unreadArgs, []string{
			"SEARCH u USING COVERING INDEX unread_journalist_desk_last (journalist_id=? AND desk_id=? AND last_item<?)",
		}},
		{"pull", itemsForQuery, []any{1, 0, 10}, []string{
			"SEARCH i USING INTEGER PRIMARY KEY (rowid>?)",
		}},
		{"new source items", newSourceItemsQuery, []any{1, 1000, "reply", "note"}, []string{
			"SEARCH m USING PRIMARY KEY (journalist_id=?)",
			"SEARCH c USING INDEX conversations_desk_last (desk_id=? AND last_item>?)",
			"SEARCH i USING INDEX items_conversation (conversation_id=? AND id>?)",
		}},
		{"desk by address", deskByAddressQuery, []any{"tips"}, []string{
			"SEARCH d USING INDEX sqlite_autoindex_desks_1 (slug=?)",
			"SEARCH a USING PRIMARY KEY (alias=?)",
		}},
		{"source session", sourceSessionQuery, []any{"x", 1}, []string{
			"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)",
			"SEARCH s USING INTEGER PRIMARY KEY (rowid=?)",
		}},
		{"conversation", conversationForQuery, []any{1, "x"}, []string{
			"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)",
		}},
		// Forward secrecy (migration 0016): what sorters still have to
		// do comes from partial indexes, which hold only that.
		{"unsorted", unsortedQuery, []any{1, 0, 10}, []string{
			"SEARCH i USING INDEX items_unsorted (id>?)",
			"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)",
			"SEARCH m USING COVERING INDEX desk_members_desk (desk_id=? AND journalist_id=?)",
		}},
		{"unsorted previews", unsortedPreviewsQuery, []any{1, "", 10}, []string{
			"SEARCH c USING INDEX conversations_unsorted_preview (id>?)",
		}},
		{"destroy intake keys", destroyIntakeQuery, []any{100}, []string{
			"SEARCH intake_keys USING INDEX intake_keys_live_day (day<?)",
			"SEARCH i USING INDEX items_intake (intake_key=?)",
			"SEARCH c USING COVERING INDEX conversations_preview_intake (preview_intake=?)",
		}},
		{"intake for", intakeForQuery, []any{1, 100}, []string{
			"SEARCH d USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH k USING INDEX sqlite_autoindex_intake_keys_1 (desk_key_id=? AND day=?)",
		}},
		{"intake keys for", intakeKeysForQuery, []any{1}, []string{
			"SEARCH m USING PRIMARY KEY (journalist_id=?)",
			"SEARCH k USING INDEX intake_keys_live (desk_id=?)",
		}},
		{"sort", sortQuery, []any{"n", 1, "", 0, 7, "o", "", 1}, []string{
			"SEARCH items USING INTEGER PRIMARY KEY (rowid=?)",
			"SEARCH c USING INDEX sqlite_autoindex_conversations_1 (id=?)",
		}},
	}
	for _, p := range plans {
		t.Run(p.name, func(t *testing.T) {
			rows, err := db.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+p.query, p.args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			text := strings.Join(plan, "\n")
			for _, w := range p.want {
				if !strings.Contains(text, w) {
					t.Errorf("plan lacks %q:\n%s", w, text)
				}
			}
			walk := false // in an inbox query's walk of one desk
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") && !strings.HasPrefix(line, "SCAN (subquery") && line != "SCAN p" {
					t.Errorf("plan scans a table: %q\n%s", line, text)
				}
				// A desk's walk reads its page in index order: sorting
				// there would sort every match, say every conversation
				// with a common tag.
				switch {
				case strings.HasPrefix(line, "CO-ROUTINE (subquery"):
					walk = true
				case strings.HasPrefix(line, "SCAN (subquery"):
					walk = false
				case walk && strings.HasPrefix(line, "USE TEMP B-TREE"):
					t.Errorf("a desk's walk sorts: %q\n%s", line, text)
				}
			}
		})
	}
}
