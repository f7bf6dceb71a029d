package web_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/web"
)

// epochZero answers every source's epoch as 0 without a database.
type epochZero struct{ pista.TipStore }

func (epochZero) SourceSessionEpoch(context.Context, int64, string) (int64, error) { return 0, nil }

// BenchmarkSessionGet is what a request with a source's session costs
// before its handler runs: opening the cookie and (sqlite) reading the
// source's epoch; and what the source page pays besides, rebuilding the
// age identity from the session's seed.
//
//	go test ./web/ -run '^$' -bench SessionGet -benchtime 2s
func BenchmarkSessionGet(b *testing.B) {
	ctx := context.Background()
	seed := make([]byte, keys.SeedSize)
	rand.Read(seed)
	id, err := keys.IdentityFromSeed(seed)
	if err != nil {
		b.Fatal(err)
	}
	d := keys.Derived{Identity: id, Seed: seed}

	st, err := server.OpenStores(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	desk := pista.Desk{Slug: "americas", Title: "Americas", Recipient: id.Recipient().String()}
	if err := st.Desks.CreateDesk(ctx, &desk, nil); err != nil {
		b.Fatal(err)
	}
	tip := &pista.NewTip{
		Source:       pista.Source{Lookup: make([]byte, 32), Recipient: id.Recipient().String()},
		Conversation: pista.Conversation{ID: pista.NewConversationID(), DeskID: desk.ID},
		Items:        []pista.Item{{Kind: pista.KindMessage, Object: "o", Size: 1}},
	}
	if err := st.Tips.CreateTip(ctx, tip); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name string
		tips pista.TipStore
	}{
		{"open", epochZero{}},
		{"open+sqlite", st.Tips},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := web.NewSessions(server.SourceSessionKeys(st.Settings), bc.tips, false)
			if err != nil {
				b.Fatal(err)
			}
			w := httptest.NewRecorder()
			if _, err := s.Start(w, httptest.NewRequest(http.MethodPost, "/login", nil), web.NewSession(tip.Source.ID, tip.Conversation.ID, d)); err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/source", nil)
			r.AddCookie(w.Result().Cookies()[0])
			if n := len(w.Result().Cookies()[0].Value); n > httpx.MaxSmallField {
				b.Fatalf("cookie of %d bytes", n)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Get(nil, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(w.Result().Cookies()[0].Value)), "cookie-bytes")
		})
	}
	b.Run("identity", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := keys.IdentityFromSeed(seed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
