package notify

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/server"
)

// Three instances on one database run the same rounds: a journalist is
// told once a round, by whichever instance claimed it.
func TestOneNotificationPerRoundAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	st, err := server.OpenStoresOn(ctx, t.TempDir(), server.Database{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := setUpOn(t, st)
	h := &hook{}
	ws := httptest.NewServer(h)
	defer ws.Close()
	if err := f.st.Journalists.SetNotify(ctx, f.alice.ID, "", ws.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	f.tip(t, f.desk, "MARKER-cluster")
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 3 {
		// Each instance with its own connections to the database.
		st, err := server.OpenStoresOn(ctx, t.TempDir(), server.Database{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		n := &Notifier{Journalists: st.Journalists, Tips: st.Tips, Shared: st.Shared, InboxURL: "https://tips.example.org/newsroom/",
			Interval: time.Second, Log: slog.New(slog.DiscardHandler), Backoff: 10 * time.Millisecond}
		wg.Go(func() { n.Run(rctx) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(h.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2500 * time.Millisecond) // two more rounds, with nothing new
	if got := len(h.received()); got != 1 {
		t.Errorf("three instances sent %d notifications for one new tip; want 1", got)
	}
	f.tip(t, f.desk, "MARKER-cluster-2")
	time.Sleep(2500 * time.Millisecond)
	cancel()
	wg.Wait()
	if got := len(h.received()); got != 2 {
		t.Errorf("after a second tip, %d notifications in all; want 2", got)
	}
}
