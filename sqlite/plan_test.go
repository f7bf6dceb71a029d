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
	unread, unreadArgs := inboxQuery(1, []int64{1, 2}, 1000, 50, pista.Page{Unread: true})
	plans := []struct {
		name  string
		query string
		args  []any
		want  []string // substrings of the plan
	}{
		{"inbox", inbox, inboxArgs, []string{
			"SEARCH conversations USING INDEX conversations_desk_last (desk_id=? AND last_item<?)",
			"SEARCH i USING COVERING INDEX items_conversation (conversation_id=?)",
		}},
		{"inbox by status", byStatus, byStatusArgs, []string{
			"SEARCH conversations USING INDEX conversations_desk_status_last (desk_id=? AND status=? AND last_item<?)",
		}},
		// By tag: from the tag's index to each tagged conversation.
		{"inbox by tag", byTag, byTagArgs, []string{
			"SEARCH t USING COVERING INDEX conversation_tags_tag (tag=?)",
			"SEARCH conversations USING INDEX sqlite_autoindex_conversations_1 (id=?)",
		}},
		{"inbox unread", unread, unreadArgs, []string{
			"SEARCH conversations USING INDEX conversations_desk_last (desk_id=? AND last_item<?)",
			"SEARCH r USING PRIMARY KEY (journalist_id=? AND conversation_id=?)",
		}},
		{"pull", itemsForQuery, []any{1, 0, 10}, []string{
			"SEARCH i USING INTEGER PRIMARY KEY (rowid>?)",
		}},
		{"new source items", newSourceItemsQuery, []any{1, 1000, "reply"}, []string{
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
			for _, line := range plan {
				if strings.HasPrefix(line, "SCAN ") && !strings.HasPrefix(line, "SCAN (subquery") && line != "SCAN p" {
					t.Errorf("plan scans a table: %q\n%s", line, text)
				}
			}
		})
	}
}
