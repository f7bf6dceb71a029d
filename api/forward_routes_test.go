package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// fsCall sends a JSON request to a forward secrecy route with the token,
// and decodes a 200's answer into out.
func fsCall(t testing.TB, b *pistatest.Browser, method, path, token string, body, out any) *pistatest.Response {
	t.Helper()
	s := ""
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		s = string(j)
	}
	r := call(b, method, path, token, s)
	if r.Status == http.StatusOK && out != nil {
		if err := json.Unmarshal([]byte(r.Body), out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, r.Body)
		}
	}
	return r
}

// makeIntakeKeys makes intake keys of desk for days, as a client does.
func makeIntakeKeys(t testing.TB, desk *age.HybridIdentity, days ...int64) []newsroom.FSNewKey {
	t.Helper()
	var out []newsroom.FSNewKey
	for _, d := range days {
		k, err := forward.MakeIntakeKey(desk, d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, newsroom.FSNewKey{Day: k.Day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed})
	}
	return out
}

// sortOverAPI is a member's sorter through the API: it makes the intake
// keys the desk needs, then sorts the first page of what is unsorted,
// making each conversation's key (kept in convKeys). It answers the sort.
func sortOverAPI(t testing.TB, b *pistatest.Browser, token string, deskKeyID int64, desk, archive *age.HybridIdentity, convKeys map[string]*age.HybridIdentity) newsroom.FSSorted {
	t.Helper()
	var ks newsroom.FSKeys
	if r := fsCall(t, b, http.MethodGet, "/api/v1/journalist/fs/keys", token, nil, &ks); r.Status != 200 {
		t.Fatalf("GET fs/keys: %d %s", r.Status, r.Body)
	}
	for _, d := range ks.Desks {
		if d.KeyID == deskKeyID && len(d.NeedDays) > 0 {
			body := newsroom.FSAddKeys{DeskKeyID: deskKeyID, SignKey: forward.SignPublic(desk.String()), Keys: makeIntakeKeys(t, desk, d.NeedDays...)}
			if r := fsCall(t, b, http.MethodPost, "/api/v1/journalist/fs/keys", token, body, nil); r.Status != 200 {
				t.Fatalf("POST fs/keys: %d %s", r.Status, r.Body)
			}
			fsCall(t, b, http.MethodGet, "/api/v1/journalist/fs/keys", token, nil, &ks)
		}
	}
	intakeIDs := map[int64]age.Identity{}
	for _, k := range ks.Intake {
		id, err := forward.Open(k.Sealed, desk)
		if err != nil {
			t.Fatal(err)
		}
		intakeIDs[k.ID] = id
	}
	var u newsroom.FSUnsorted
	if r := fsCall(t, b, http.MethodGet, "/api/v1/journalist/fs/unsorted?limit=500", token, nil, &u); r.Status != 200 {
		t.Fatalf("GET fs/unsorted: %d %s", r.Status, r.Body)
	}
	var req newsroom.FSSort
	sources := map[string]string{}
	for _, c := range u.Conversations {
		sources[c.ID] = c.SourceRecipient
		switch {
		case c.Key != nil:
			id, err := forward.Open(c.Key, desk)
			if err != nil {
				t.Fatal(err)
			}
			convKeys[c.ID] = id
		case convKeys[c.ID] == nil:
			rec, sealed, id, err := forward.MakeConversationKey(desk.Recipient().String(), archive.Recipient().String())
			if err != nil {
				t.Fatal(err)
			}
			convKeys[c.ID] = id
			req.Keys = append(req.Keys, newsroom.FSConversationKey{Conversation: c.ID, Recipient: rec, Key: sealed,
				Signature: forward.SignConversationKey(desk, c.ID, rec)})
		}
	}
	for _, it := range u.Items {
		ids := []age.Identity{desk}
		if it.Sealing == pista.SealingIntake {
			ids = []age.Identity{intakeIDs[it.IntakeKey]}
		}
		to := []string{convKeys[it.Conversation].Recipient().String(), archive.Recipient().String()}
		if it.Kind == pista.KindReply || (it.Kind == pista.KindFile && it.Author != 0) {
			to = append(to, sources[it.Conversation])
		}
		rs, err := keys.ParseRecipients(to...)
		if err != nil {
			t.Fatal(err)
		}
		si := newsroom.FSSortItem{ID: it.ID}
		if si.Header, err = forward.Rewrap(it.Header, ids, rs); err != nil {
			t.Fatal(err)
		}
		if it.MetaHeader != nil {
			if si.MetaHeader, err = forward.Rewrap(it.MetaHeader, ids, rs); err != nil {
				t.Fatal(err)
			}
		}
		req.Items = append(req.Items, si)
	}
	for _, p := range u.Previews {
		plain := open(t, p.Preview, intakeIDs[p.IntakeKey])
		rs, err := keys.ParseRecipients(convKeys[p.Conversation].Recipient().String(), archive.Recipient().String())
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, rs...)
		w.Write(plain)
		w.Close()
		req.Previews = append(req.Previews, newsroom.FSPreview{Conversation: p.Conversation, IntakeKey: p.IntakeKey, Preview: buf.Bytes()})
	}
	var res newsroom.FSSorted
	if r := fsCall(t, b, http.MethodPost, "/api/v1/journalist/fs/sort", token, req, &res); r.Status != 200 {
		t.Fatalf("POST fs/sort: %d %s", r.Status, r.Body)
	}
	return res
}

// storeUnderIntake stores a tip whose message is under the intake key k
// (and the archive's), with its preview, as a channel does.
func storeUnderIntake(t testing.TB, in *pistatest.Instance, desk pista.Desk, k newsroom.FSIntakeKey, archive string, message string) string {
	t.Helper()
	ctx := context.Background()
	rs, err := keys.ParseRecipients(k.Recipient, archive)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(in.Srv.Stores.Blobs, rs, -1)
	if err := b.AddText(ctx, pista.KindMessage, message); err != nil {
		t.Fatal(err)
	}
	items := b.Items()
	items[0].Sealing, items[0].IntakeKey = pista.SealingIntake, k.ID
	preview, err := intake.SealPreview(message, rs)
	if err != nil {
		t.Fatal(err)
	}
	src := appSource(t)
	tip := &pista.NewTip{Source: pista.Source{Lookup: src.Lookup, Recipient: src.Recipient()},
		Conversation: pista.Conversation{ID: pista.NewConversationID(), Channel: pista.ChannelAPI, DeskID: desk.ID, Preview: preview, PreviewIntake: k.ID},
		Items:        items}
	if err := in.Srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	return tip.Conversation.ID
}

// TestItemsForwardSecrecy checks what pull learns of forward secrecy:
// each item's sealing, intake key and how it arrived, and the keys of
// the page's conversations once a sorter gave them one.
func TestItemsForwardSecrecy(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}})
	j := in.Journalist("ana")
	desk, deskID := in.DeskWithIdentity("americas", j)
	token := apiLogin(in, j)
	b := in.Browser()
	ctx := context.Background()

	legacy := in.StoreTip(desk) // under the desk's key
	var ks newsroom.FSKeys
	fsCall(t, b, http.MethodGet, "/api/v1/journalist/fs/keys", token, nil, &ks)
	body := newsroom.FSAddKeys{DeskKeyID: desk.KeyID, SignKey: forward.SignPublic(deskID.String()), Keys: makeIntakeKeys(t, deskID, ks.Day)}
	if r := fsCall(t, b, http.MethodPost, "/api/v1/journalist/fs/keys", token, body, nil); r.Status != 200 {
		t.Fatalf("POST fs/keys: %d %s", r.Status, r.Body)
	}
	fsCall(t, b, http.MethodGet, "/api/v1/journalist/fs/keys", token, nil, &ks)
	conv := storeUnderIntake(t, in, desk, ks.Intake[0], archive.Recipient().String(), "under the intake key")

	ir := items(t, b, token, "")
	if len(ir.Items) != 2 || len(ir.ConversationKeys) != 0 {
		t.Fatalf("items before sorting: %+v", ir)
	}
	if it := ir.Items[0]; it.Conversation != legacy.Conversation.ID || it.Sealing != pista.SealingDesk || it.IntakeKey != 0 || it.Received != pista.ReceivedForward {
		t.Errorf("the desk's item is listed as %+v", it)
	}
	if it := ir.Items[1]; it.Conversation != conv || it.Sealing != pista.SealingIntake || it.IntakeKey != ks.Intake[0].ID || it.Received != pista.ReceivedForward {
		t.Errorf("the intake item is listed as %+v", it)
	}

	convKeys := map[string]*age.HybridIdentity{}
	if res := sortOverAPI(t, b, token, desk.KeyID, deskID, archive, convKeys); res.Sorted != 2 || res.Previews != 1 || len(res.Conflicts) != 0 {
		t.Fatalf("the sort answered %+v", res)
	}
	ir = items(t, b, token, "")
	if len(ir.Items) != 2 || len(ir.ConversationKeys) != 2 {
		t.Fatalf("items after sorting: %+v", ir)
	}
	for _, it := range ir.Items {
		ck, ok := ir.ConversationKeys[it.Conversation]
		if it.Sealing != pista.SealingConversation || it.IntakeKey != 0 || !ok || ck.Recipient != convKeys[it.Conversation].Recipient().String() {
			t.Errorf("item %d after sorting: %+v, key %+v", it.ID, it, ck)
			continue
		}
		// pull's way: the conversation key from the listing, opened with
		// the desk key, opens the item.
		k, err := forward.Open(ck.Key, deskID)
		if err != nil {
			t.Fatal(err)
		}
		r := call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(it.ID, 10), token, "")
		if got := string(open(t, []byte(r.Body), k)); got != "a tip" && got != "under the intake key" {
			t.Errorf("item %d opens to %q", it.ID, got)
		}
	}
	// A page that holds only some conversations lists only their keys.
	if ir := items(t, b, token, "?limit=1"); len(ir.ConversationKeys) != 1 || ir.ConversationKeys[ir.Items[0].Conversation].Key == nil {
		t.Errorf("a page of one item lists keys %+v", ir.ConversationKeys)
	}
	c, err := in.Srv.Stores.Tips.ConversationFor(ctx, j.ID, conv)
	if err != nil || c.PreviewIntake != 0 {
		t.Fatalf("the preview is still under its intake key: %v %+v", err, c)
	}
	// The recipients of a reply stay the desk's and the source's.
	var rr struct{ Recipients []string }
	r := call(b, http.MethodGet, "/api/v1/journalist/conversations/"+conv+"/recipients", token, "")
	if json.Unmarshal([]byte(r.Body), &rr) != nil || len(rr.Recipients) != 3 || rr.Recipients[1] != desk.Recipient {
		t.Errorf("a sorted conversation's reply recipients: %s", r.Body)
	}
}
