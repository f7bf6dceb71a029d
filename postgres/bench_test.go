package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/sqlite"
)

// benchInbox is sqlite's BenchmarkInboxPage fixture on PostgreSQL:
// 100,000 conversations, one item each: 60% on americas (desk 1), 30% on
// europe (2), 10% on maghreb (3); alice (1) is on americas and europe. A
// conversation in five is closed, one in seven read; one in seventeen
// has the tag budget, one in 997 the tag rare.
const benchInbox = `
INSERT INTO journalists (name, recipient, totp_secret, created) VALUES ('alice', 'r', 's', 0);
INSERT INTO desks (slug, title, created) VALUES ('americas', '', 0), ('europe', '', 0), ('maghreb', '', 0);
INSERT INTO desk_keys (desk_id, recipient, created) SELECT id, 'r', 0 FROM desks;
UPDATE desks SET key_id = k.id FROM desk_keys k WHERE k.desk_id = desks.id;
INSERT INTO desk_members (desk_id, journalist_id) VALUES (1, 1), (2, 1);
INSERT INTO sources (lookup, recipient, created) SELECT int8send(g), 'r', 0 FROM generate_series(1, 100000) g;
INSERT INTO conversations (id, desk_id, source_id, created, updated, last_item, status)
	SELECT 'conv-' || g, CASE WHEN g % 10 = 0 THEN 3 WHEN g % 10 >= 7 THEN 2 ELSE 1 END, g, 0, 0, g,
		CASE WHEN g % 5 = 1 THEN 'closed' ELSE 'new' END
	FROM generate_series(1, 100000) g;
INSERT INTO items (conversation_id, kind, object, size, created)
	SELECT 'conv-' || g, 'message', 'conv-' || g, 1, 0 FROM generate_series(1, 100000) g;
INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
	SELECT 'conv-' || g, 'budget', CASE WHEN g % 10 = 0 THEN 3 WHEN g % 10 >= 7 THEN 2 ELSE 1 END, g FROM generate_series(1, 100000, 17) g;
INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
	SELECT 'conv-' || g, 'rare', CASE WHEN g % 10 = 0 THEN 3 WHEN g % 10 >= 7 THEN 2 ELSE 1 END, g FROM generate_series(1, 100000, 997) g;
INSERT INTO reads (journalist_id, conversation_id, seen_item) SELECT 1, 'conv-' || g, g FROM generate_series(1, 100000, 7) g;
ANALYZE;
`

// BenchmarkInboxPage measures an inbox page of 50 among 100,000
// conversations on PostgreSQL, first and deep pages (keyset), as sqlite's
// BenchmarkInboxPage does.
//
//	go test ./postgres/ -run '^$' -bench BenchmarkInboxPage -benchtime 500x
func BenchmarkInboxPage(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	if _, err := db.Pool().Exec(ctx, benchInbox); err != nil {
		b.Fatal(err)
	}
	tips := postgres.NewTipStore(db)
	// before is the cursor of page n of limit, found the slow way.
	before := func(n int, where string) int64 {
		var last int64
		if err := db.Pool().QueryRow(ctx, `SELECT last_item FROM conversations c WHERE desk_id IN (1, 2) `+where+`
			ORDER BY last_item DESC LIMIT 1 OFFSET $1`, (n-1)*50-1).Scan(&last); err != nil {
			b.Fatal(err)
		}
		return db.SealItem(last)
	}
	cases := []struct {
		name  string
		split bool
		page  pista.Page
	}{
		{"all desks/first page", false, pista.Page{}},
		{"all desks/page 1000", false, pista.Page{Before: before(1000, "")}},
		{"one desk/page 1000", false, pista.Page{DeskID: 1, Before: before(1000, "")}},
		{"closed/first page", false, pista.Page{Status: pista.StatusClosed}},
		{"closed/page 250", false, pista.Page{Status: pista.StatusClosed, Before: before(250, "AND status = 'closed'")}},
		{"unread/page 1000", false, pista.Page{Unread: true, Before: before(1000, "AND NOT EXISTS (SELECT 1 FROM reads r WHERE r.conversation_id = c.id)")}},
		{"tagged/first page", false, pista.Page{Tag: "budget"}},
		{"tagged/page 60", false, pista.Page{Tag: "budget", Before: before(60, "AND id IN (SELECT conversation_id FROM conversation_tags WHERE tag = 'budget')")}},
		{"rare tag/first page", false, pista.Page{Tag: "rare", Limit: 50}},
		{"query per desk/page 1000", true, pista.Page{Before: before(1000, "")}},
	}
	for _, tt := range cases {
		b.Run(tt.name, func(b *testing.B) {
			if tt.split {
				postgres.SetMaxMergedDesks(b, 1)
			}
			for b.Loop() {
				cs, err := tips.ConversationsFor(ctx, 1, tt.page)
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

// BenchmarkCreateTip stores new sources' tips (a message and a file) from
// eight goroutines, on SQLite and on PostgreSQL in the same run: the
// ratio of their tips/s is the "≥ 0.8".
//
//	go test ./postgres/ -run '^$' -bench BenchmarkCreateTip -benchtime 2000x
func BenchmarkCreateTip(b *testing.B) {
	ctx := context.Background()
	backends := []struct {
		name string
		open func(b *testing.B) (pista.DeskStore, pista.TipStore)
	}{
		{"sqlite", func(b *testing.B) (pista.DeskStore, pista.TipStore) {
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "pista.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			return sqlite.NewDeskStore(db), sqlite.NewTipStore(db)
		}},
		{"postgres", func(b *testing.B) (pista.DeskStore, pista.TipStore) {
			db := openTest(b)
			return postgres.NewDeskStore(db), postgres.NewTipStore(db)
		}},
	}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			desks, tips := be.open(b)
			d := pista.Desk{Slug: "americas", Recipient: "r"}
			if err := desks.CreateDesk(ctx, &d, nil); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(4) // 4 × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprintf("tip-%d", n.Add(1))
					tip := &pista.NewTip{
						Conversation: pista.Conversation{ID: id, DeskID: d.ID},
						Source:       pista.Source{Lookup: []byte(id), Recipient: "r"},
						Items: []pista.Item{
							{Kind: pista.KindMessage, Object: id + "m", Size: 1},
							{Kind: pista.KindFile, Object: id + "f", Meta: id + "fm", Size: 1, MetaSize: 1},
						},
					}
					if err := tips.CreateTip(ctx, tip); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tips/s")
		})
	}
}
