package newsroom_test

// Red-team tests of forward secrecy (issue 16): attacks by a desk's
// member, a source, or bad luck, each against a real server's stores.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// countingBlobs counts the objects written.
type countingBlobs struct {
	pista.BlobStore
	puts atomic.Int64
}

func (c *countingBlobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	c.puts.Add(1)
	return c.BlobStore.Put(ctx, r)
}

// TestForwardSortUnkeyedCopiesNothing: a member posts, again and again,
// rewrapped headers of a conversation's items without giving the
// conversation a key (nor has it one). The store skips every item; the
// server must not first copy each item's whole payload (up to a file's
// size) into a new object only to delete it: a flood of disk writes
// (filling the disk) for an 8 MiB request.
func TestForwardSortUnkeyedCopiesNothing(t *testing.T) {
	e := newFSEnv(t, server.Config{})
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	ks := e.keys()
	c, _ := e.intakeTip(ks.Intake[0], "the port's ledger")
	req := e.sorter(ks, e.unsorted(), map[string]*age.HybridIdentity{})
	req.Keys = nil // the conversation gets no key
	req.Previews = nil
	if len(req.Items) != 3 {
		t.Fatalf("%d items to sort", len(req.Items))
	}
	blobs := &countingBlobs{BlobStore: e.in.Srv.Stores.Blobs}
	fw := &newsroom.Forward{Desks: e.in.Srv.Stores.Desks, Tips: e.in.Srv.Stores.Tips, Blobs: blobs,
		Archive: []string{e.archive.Recipient().String()}, Log: slog.New(slog.DiscardHandler)}
	body, _ := json.Marshal(req)
	w := httptest.NewRecorder()
	fw.Sort(w, httptest.NewRequest(http.MethodPost, "/newsroom/fs/sort", bytes.NewReader(body)), pista.Journalist{ID: e.j.ID, Name: "ana"})
	var out newsroom.FSSorted
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &out) != nil || out.Sorted != 0 || out.Skipped != 3 {
		t.Fatalf("sort without a key: %d %s", w.Code, w.Body)
	}
	if n := blobs.puts.Load(); n != 0 {
		t.Errorf("the server wrote %d objects for items it could not sort (conversation %s has no key)", n, c.ID)
	}
}
