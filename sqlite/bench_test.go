package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/sealedid"
)

// inbox is a database of 100,000 conversations, one item each: 60% on
// americas, 30% on europe, 10% on maghreb. alice is on americas and europe.
type inbox struct {
	db    *DB
	alice pista.Journalist
	desks map[string]pista.Desk
}

const inboxConversations = 100_000

func newInbox(b testing.TB) *inbox {
	ctx := context.Background()
	db := openTest(b)
	in := &inbox{db: db, desks: map[string]pista.Desk{}}
	in.alice = pista.Journalist{Name: "alice", Recipient: "r", TOTPSecret: "s"}
	if err := NewJournalistStore(db).CreateJournalist(ctx, &in.alice); err != nil {
		b.Fatal(err)
	}
	for _, slug := range []string{"americas", "europe", "maghreb"} {
		d := pista.Desk{Slug: slug, Recipient: "r"}
		var wraps []pista.KeyWrap
		if slug != "maghreb" {
			wraps = []pista.KeyWrap{{JournalistID: in.alice.ID, Wrapped: []byte("w")}}
		}
		if err := NewDeskStore(db).CreateDesk(ctx, &d, wraps); err != nil {
			b.Fatal(err)
		}
		in.desks[slug] = d
	}

	// Rows written directly, in one transaction: 100,000 CreateTip calls
	// would measure fsync, not the inbox.
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	now := pista.Now().Unix()
	for i := range inboxConversations {
		desk := in.desks["americas"].ID
		switch {
		case i%10 == 9:
			desk = in.desks["maghreb"].ID
		case i%10 >= 6:
			desk = in.desks["europe"].ID
		}
		id := fmt.Sprintf("conv-%06d", i)
		res, err := tx.ExecContext(ctx, `INSERT INTO sources (lookup, recipient, created) VALUES (?, 'r', ?)`, []byte(id), now)
		if err != nil {
			b.Fatal(err)
		}
		source, _ := res.LastInsertId()
		if _, err := tx.ExecContext(ctx, `INSERT INTO conversations (id, desk_id, source_id, created, updated) VALUES (?, ?, ?, ?, ?)`,
			id, desk, source, now, now); err != nil {
			b.Fatal(err)
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO items (conversation_id, kind, object, size, created) VALUES (?, 'message', ?, 1, ?)`,
			id, id, now)
		if err != nil {
			b.Fatal(err)
		}
		item, _ := res.LastInsertId()
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET last_item = ? WHERE id = ?`, item, id); err != nil {
			b.Fatal(err)
		}
		// A conversation in five is closed; one in 1,000 is tagged
		// mayor (rare), one in twenty budget, one in two port (common).
		if i%5 == 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'closed' WHERE id = ?`, id); err != nil {
				b.Fatal(err)
			}
		}
		for _, tag := range []struct {
			name  string
			every int
		}{{"mayor", 1000}, {"budget", 20}, {"port", 2}} {
			if i%tag.every != 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
				VALUES (?, ?, ?, ?)`, id, tag.name, desk, item); err != nil {
				b.Fatal(err)
			}
		}
		if i%7 == 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO reads (journalist_id, conversation_id, seen_item) VALUES (?, ?, ?)`,
				in.alice.ID, id, item); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return in
}

// before returns the Page.Before that asks for page n (from 1) of limit
// conversations, found the slow way, with OFFSET; where, if not "",
// narrows the conversations as a filter does.
func (in *inbox) before(b testing.TB, deskIDs []int64, n, limit int, where ...string) int64 {
	var before int64
	query := `SELECT last_item FROM conversations WHERE desk_id IN (?, ?)` + strings.Join(append([]string{""}, where...), " AND ") +
		` ORDER BY last_item DESC LIMIT 1 OFFSET ?`
	args := []any{deskIDs[0], deskIDs[len(deskIDs)-1], (n-1)*limit - 1}
	if err := in.db.read.QueryRow(query, args...).Scan(&before); err != nil {
		b.Fatal(err)
	}
	return in.db.ids.Seal(sealedid.Item, before) // cursors are sealed IDs (migration 0006)
}

// BenchmarkInboxPage measures an inbox page of 50 among 100,000
// conversations: the first page and page 1,000 (keyset), for all of a
// journalist's desks (two, merged) and for one desk; and filtered, by
// status (20,000 closed: page 250 is as deep as it goes), by unread and
// by tag: budget on 5,000 (page 60), mayor on 100 (rare: two pages) and
// port on 50,000 (common: 40,000 in alice's desks, page 800 is the last).
//
//	go test ./sqlite/ -run '^$' -bench BenchmarkInboxPage -benchtime 2000x
func BenchmarkInboxPage(b *testing.B) {
	ctx := context.Background()
	in := newInbox(b)
	tips := NewTipStore(in.db)
	americas, europe := in.desks["americas"].ID, in.desks["europe"].ID
	cases := []struct {
		name  string
		split bool // a query per desk, as for journalists in many desks
		page  pista.Page
	}{
		{"all desks/first page", false, pista.Page{}},
		{"all desks/page 1000", false, pista.Page{Before: in.before(b, []int64{americas, europe}, 1000, 50)}},
		{"one desk/first page", false, pista.Page{DeskID: americas}},
		{"one desk/page 1000", false, pista.Page{DeskID: americas, Before: in.before(b, []int64{americas}, 1000, 50)}},
		{"closed/first page", false, pista.Page{Status: pista.StatusClosed}},
		{"closed/page 250", false, pista.Page{Status: pista.StatusClosed, Before: in.before(b, []int64{americas, europe}, 250, 50, "status = 'closed'")}},
		{"unread/first page", false, pista.Page{Unread: true}},
		{"unread/page 1000", false, pista.Page{Unread: true, Before: in.before(b, []int64{americas, europe}, 1000, 50,
			"NOT EXISTS (SELECT 1 FROM reads r WHERE r.conversation_id = conversations.id)")}},
		{"tagged/first page", false, pista.Page{Tag: "budget"}},
		{"tagged/page 60", false, pista.Page{Tag: "budget", Before: in.before(b, []int64{americas, europe}, 60, 50,
			"id IN (SELECT conversation_id FROM conversation_tags WHERE tag = 'budget')")}},
		{"rare tag/first page", false, pista.Page{Tag: "mayor"}},
		{"common tag/first page", false, pista.Page{Tag: "port"}},
		{"common tag/page 800", false, pista.Page{Tag: "port", Before: in.before(b, []int64{americas, europe}, 800, 50,
			"id IN (SELECT conversation_id FROM conversation_tags WHERE tag = 'port')")}},
		{"query per desk/first page", true, pista.Page{}},
		{"query per desk/page 1000", true, pista.Page{Before: in.before(b, []int64{americas, europe}, 1000, 50)}},
	}
	for _, tt := range cases {
		b.Run(tt.name, func(b *testing.B) {
			if tt.split {
				saved := maxMergedDesks
				maxMergedDesks = 1
				defer func() { maxMergedDesks = saved }()
			}
			for b.Loop() {
				cs, err := tips.ConversationsFor(ctx, in.alice.ID, tt.page)
				if err != nil {
					b.Fatal(err)
				}
				if len(cs) != 50 {
					b.Fatalf("page of %d", len(cs))
				}
			}
		})
	}
}
