package newsroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// movedSetup: desk americas (e.desk) and europe, ana in both, both with
// intake keys and signing keys recorded; two tips X and Y on americas
// under today's intake key, and a sorter's request for them.
func movedSetup(t *testing.T) (e *fsEnv, europe pista.Desk, x, y pista.Conversation, req newsroom.FSSort) {
	e = newFSEnv(t, server.Config{})
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day-1, day, day+1)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	europe, euID := e.in.DeskWithIdentity("europe", e.j)
	var eks []newsroom.FSNewKey
	for _, d := range []int64{day - 1, day, day + 1} {
		k, err := forward.MakeIntakeKey(euID, d)
		if err != nil {
			t.Fatal(err)
		}
		eks = append(eks, newsroom.FSNewKey{Day: k.Day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed})
	}
	if r := e.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: europe.KeyID,
		SignKey: forward.SignPublic(euID.String()), Keys: eks}, nil); r.Status != 200 {
		t.Fatalf("posting europe's keys: %d %s", r.Status, r.Body)
	}
	ks := e.keys()
	var today newsroom.FSIntakeKey
	for _, k := range ks.Intake {
		if k.Day == day && k.DeskKeyID == e.desk.KeyID {
			today = k
		}
	}
	x, _ = e.intakeTip(today, "tip x")
	y, _ = e.intakeTip(today, "tip y")
	mine := ks
	mine.Intake = nil
	for _, k := range ks.Intake {
		if k.DeskKeyID == e.desk.KeyID {
			mine.Intake = append(mine.Intake, k)
		}
	}
	req = e.sorter(mine, e.unsorted(), map[string]*age.HybridIdentity{})
	return e, europe, x, y, req
}

// transfer moves conversation id from the env's desk to desk to, as the
// browser does (copies of its items; their content does not matter here).
func (e *fsEnv) transferTo(ctx context.Context, id string, to pista.Desk) {
	t := e.t
	st := e.in.Srv.Stores
	items, err := st.Tips.ItemsOfConversation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var copies []pista.ItemCopy
	for _, it := range items {
		obj, n, err := st.Blobs.Put(ctx, strings.NewReader("copy"))
		if err != nil {
			t.Fatal(err)
		}
		c := pista.ItemCopy{Of: it.ID, Object: obj, Size: n, EncryptedBy: "browser"}
		if it.Meta != "" {
			if c.Meta, c.MetaSize, err = st.Blobs.Put(ctx, strings.NewReader("meta copy")); err != nil {
				t.Fatal(err)
			}
		}
		copies = append(copies, c)
	}
	if _, err := st.Tips.TransferConversation(ctx, e.j.ID, id, e.desk.ID, to.ID, copies); err != nil {
		t.Fatalf("transfer: %v", err)
	}
}

// A conversation moved to another desk between GET fs/unsorted and POST
// fs/sort: its key, signed for the desk it left, is a conflict (the
// sorter loads it again); the other conversations' items are sorted.
func TestForwardSortSkipsAConversationMovedMeanwhile(t *testing.T) {
	e, europe, x, y, req := movedSetup(t)
	e.transferTo(context.Background(), x.ID, europe)
	var out newsroom.FSSorted
	r := e.call(http.MethodPost, "/newsroom/fs/sort", req, &out)
	if r.Status != http.StatusOK || out.Sorted == 0 || !slices.Equal(out.Conflicts, []string{x.ID}) {
		t.Errorf("POST fs/sort after %s moved: %d %s; want %s's items sorted and %s's key a conflict", x.ID, r.Status, r.Body, y.ID, x.ID)
	}
	if cs, err := e.in.Srv.Stores.Tips.SortConversations(context.Background(), e.j.ID, []string{x.ID}); err != nil || len(cs) != 1 || cs[0].KeyRecipient != "" {
		t.Errorf("the moved conversation: %+v, %v; want it without a key", cs, err)
	}
}

// moveBeforeKeys moves a conversation to another desk just before the
// keys are set: after checkKeySignatures looked at it.
type moveBeforeKeys struct {
	pista.TipStore
	move func()
}

func (m moveBeforeKeys) SetConversationKeys(ctx context.Context, journalistID int64, keys []pista.ConversationKey) ([]error, error) {
	m.move()
	return m.TipStore.SetConversationKeys(ctx, journalistID, keys)
}

// A conversation moved between the check of its key's signature and the
// key's write does not get the key (sealed to and signed by the desk it
// left, which no sorter of its new desk could use or replace): the key
// is bound to the desk it was checked for.
func TestForwardSortSetsAKeyOnlyForTheDeskItWasCheckedFor(t *testing.T) {
	e, europe, x, _, req := movedSetup(t)
	ctx := context.Background()
	st := e.in.Srv.Stores
	body, _ := json.Marshal(req)
	fw := &newsroom.Forward{Desks: st.Desks, Tips: moveBeforeKeys{st.Tips, func() { e.transferTo(ctx, x.ID, europe) }},
		Blobs: st.Blobs, Team: st.Team, Archive: []string{e.archive.Recipient().String()}, Clock: e.in.Srv.Clock,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/newsroom/fs/sort", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	fw.Sort(w, r, e.j.Journalist)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), x.ID) {
		t.Errorf("answer: %d %s; want 200 and %s among the conflicts", w.Code, w.Body.String(), x.ID)
	}
	cs, err := st.Tips.SortConversations(ctx, e.j.ID, []string{x.ID})
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	c := cs[0]
	if c.KeyRecipient == "" {
		return
	}
	sk, err := st.Tips.SignKey(ctx, europe.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if err := forward.VerifyConversationKey(sk, europe.Recipient, c.ID, c.KeyRecipient, c.KeySignature); err != nil {
		t.Errorf("conversation %s is on desk %s with a key its desk's signing key did not sign (%v): set after the check, for the desk it left", c.ID, c.DeskSlug, err)
	}
}
