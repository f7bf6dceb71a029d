package newsroom_test

// Red-team tests of forward secrecy (issue 16): attacks by a desk's
// member, a source, or bad luck, each against a real server's stores.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
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

// TestForwardSortWrongFileKeyAudited: a hostile member sorts a tip with a
// header that has the right form (the conversation key's and the
// archive's stanzas) but wraps another file key. The server cannot check
// a MAC under a file key it never sees, so the item stops opening for
// the desk, as if deleted. A deletion is in the audit log; so must this
// be: who sorted which conversation.
func TestForwardSortWrongFileKeyAudited(t *testing.T) {
	e := newFSEnv(t, server.Config{})
	ctx := context.Background()
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	ks := e.keys()
	c, _ := e.intakeTip(ks.Intake[0], "the port's ledger")
	made := map[string]*age.HybridIdentity{}
	req := e.sorter(ks, e.unsorted(), made)
	k := made[c.ID]
	rs, err := keys.ParseRecipients(k.Recipient().String(), e.archive.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forward.Header(bytes.NewReader(encrypt(t, []byte("x"), rs)))
	if err != nil {
		t.Fatal(err)
	}
	req.Items[0].Header = forged
	var res newsroom.FSSorted
	if r := e.call(http.MethodPost, "/newsroom/fs/sort", req, &res); r.Status != 200 || res.Sorted != 3 {
		t.Fatalf("sort: %d %s", r.Status, r.Body)
	}
	items, err := e.in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.object(items[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := age.Decrypt(bytes.NewReader(obj), k); err == nil {
		if _, err := io.ReadAll(r); err == nil {
			t.Fatalf("the forged header opened the message")
		}
	}
	log, err := e.in.Srv.Stores.Team.Audit(ctx, pista.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range log {
		if a.Action == pista.AuditSort && a.ActorID == e.j.ID && a.ConversationID == c.ID && a.DeskID == e.desk.ID && a.Subject == "3" {
			found = true
		}
	}
	if !found {
		t.Errorf("the audit log does not say who sorted conversation %s: %+v", c.ID, log)
	}
	if pistatest.En("audit.sort") == "audit.sort" {
		t.Errorf("the audit page has no words for a sort")
	}
}

// TestForwardSignKeyFrontRunAudited: a hostile member of the desk is the
// first to post intake keys for the desk key's generation, under a
// signing key of their own (and with secrets sealed to whatever they
// like). The server cannot tell (the signing key derives from the desk
// key's secret), so it keeps that key: the honest member's client is
// refused (409 sign_key) from then on, and sources' items go to keys the
// desk may not open. Who did it must be in the audit log.
func TestForwardSignKeyFrontRunAudited(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	ana, eve := in.Journalist("ana"), in.Journalist("eve")
	desk, deskID := in.DeskWithIdentity("americas", ana, eve)
	env := func(j *pistatest.Journalist) *fsEnv {
		b := in.Browser()
		b.LoginJournalist(j)
		return &fsEnv{t: t, in: in, j: j, desk: desk, deskID: deskID, b: b, tok: newsroomCSRF(b)}
	}
	honest, hostile := env(ana), env(eve)
	day := honest.keys().Day

	// Eve's keys: signed by a key of her own, sealed to her own key.
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mine, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := forward.Seal(id, mine.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	rec := id.Recipient().String()
	bad := newsroom.FSNewKey{Day: day, Recipient: rec, Sealed: sealed,
		Signature: ed25519.Sign(priv, forward.Statement(desk.Recipient, day, rec))}
	if r := hostile.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: desk.KeyID, SignKey: pub,
		Keys: []newsroom.FSNewKey{bad}}, nil); r.Status != 200 {
		t.Fatalf("eve's keys: %d %s", r.Status, r.Body)
	}
	if r := honest.addKeys(honest.makeKeys(day + 1)); r.Status != http.StatusConflict || errorCode(t, r) != "sign_key" {
		t.Fatalf("ana's keys after eve's: %d %s", r.Status, r.Body)
	}

	log, err := in.Srv.Stores.Team.Audit(context.Background(), pista.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got := map[pista.AuditAction]string{}
	for _, a := range log {
		if a.ActorID == eve.ID && a.DeskID == desk.ID {
			got[a.Action] = a.Subject
		}
		if a.ActorID == ana.ID && (a.Action == pista.AuditSignKey || a.Action == pista.AuditIntakeKeys) {
			t.Errorf("ana's refused keys are in the audit log: %+v", a)
		}
	}
	if s, ok := got[pista.AuditSignKey]; !ok {
		t.Errorf("the audit log does not say eve gave the desk key its signing key: %+v", log)
	} else if s != "" {
		t.Errorf("sign_key entry's subject %q", s)
	}
	if got[pista.AuditIntakeKeys] != "1" {
		t.Errorf("the audit log does not say eve made 1 intake key: %+v", log)
	}
	for _, k := range []string{"audit.sign_key", "audit.intake_keys"} {
		if pistatest.En(k) == k {
			t.Errorf("the audit page has no words for %s", k)
		}
	}
}

// TestForwardHeldKeysListed: a source sends, under the day's intake key,
// an item that does not open with it (its stanzas are to keys of its
// own: the server cannot tell). No sorter can move it, so the intake
// key's secret is never destroyed: forward secrecy is gone for every tip
// of that day. The server cannot fix that alone, but GET fs/keys must
// say which days are held past their time, for the newsroom to see.
func TestForwardHeldKeysListed(t *testing.T) {
	e := newFSEnv(t, server.Config{})
	ctx := context.Background()
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	ks := e.keys()
	if len(ks.Desks) != 1 || len(ks.Desks[0].HeldDays) != 0 {
		t.Fatalf("held days before anything: %+v", ks.Desks)
	}
	key := ks.Intake[0]
	// The hostile source's item: under the intake key by its marks,
	// encrypted to keys nobody has.
	junk := *e
	junk.archive, _ = age.GenerateHybridIdentity()
	other, _ := age.GenerateHybridIdentity()
	key.Recipient = other.Recipient().String()
	junk.intakeTip(key, "unsortable")
	if _, err := e.in.Srv.Stores.Tips.DestroyIntakeKeys(ctx, day+forward.Grace+10); err != nil {
		t.Fatal(err)
	}

	later := time.Now().Add(time.Duration(forward.Grace+2) * forward.DefaultPeriod)
	fw := &newsroom.Forward{Desks: e.in.Srv.Stores.Desks, Tips: e.in.Srv.Stores.Tips, Blobs: e.in.Srv.Stores.Blobs,
		Archive: []string{e.archive.Recipient().String()}, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return later }}
	w := httptest.NewRecorder()
	fw.ListKeys(w, httptest.NewRequest(http.MethodGet, "/newsroom/fs/keys", nil), pista.Journalist{ID: e.j.ID, Name: "ana"})
	var out newsroom.FSKeys
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		t.Fatalf("GET fs/keys: %d %s", w.Code, w.Body)
	}
	if len(out.Desks) != 1 || !slices.Equal(out.Desks[0].HeldDays, []int64{day}) {
		t.Errorf("GET fs/keys %d days later: held days %v, want [%d]", forward.Grace+2, out.Desks[0].HeldDays, day)
	}
}

// TestForwardSkewedClockKeysRemade: one of several instances on one
// database has a clock days ahead; its expiry destroys the desk's intake
// keys of today and the next days (nothing waits under them yet). The
// members' clients see those days need keys again: the keys they post
// must be taken (under new IDs), not skipped as days that already have
// one, or the desk receives without forward secrecy for a week.
func TestForwardSkewedClockKeysRemade(t *testing.T) {
	onBothStores(t, testForwardSkewedClockKeysRemade)
}

func testForwardSkewedClockKeysRemade(t *testing.T, cfg server.Config) {
	e := newFSEnv(t, cfg)
	ctx := context.Background()
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day, day+1)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	old := e.keys().Intake
	if n, err := e.in.Srv.Stores.Tips.DestroyIntakeKeys(ctx, day+5); err != nil || n != 2 {
		t.Fatalf("the skewed instance's expiry: %d %v", n, err)
	}
	ks := e.keys()
	if len(ks.Intake) != 0 || !slices.Contains(ks.Desks[0].NeedDays, day) {
		t.Fatalf("after the early expiry: %+v", ks)
	}
	var added newsroom.FSAdded
	if r := e.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID,
		SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day, day+1)}, &added); r.Status != 200 || added.Added != 2 {
		t.Fatalf("posting the keys again: %d %s", r.Status, r.Body)
	}
	k, _, err := e.in.Srv.Stores.Tips.IntakeFor(ctx, e.desk.ID, day)
	if err != nil {
		t.Fatalf("no intake key of today after it was made again: %v", err)
	}
	for _, o := range old {
		if k.ID == o.ID {
			t.Errorf("the new key of day %d took the destroyed key's ID %d", day, o.ID)
		}
		if _, err := e.in.Srv.Stores.Tips.IntakeKeyByID(ctx, o.ID); err == nil {
			t.Errorf("the destroyed key %d is live again", o.ID)
		}
	}
}
