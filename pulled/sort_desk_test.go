package pulled

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
)

// The signature binds a conversation key to a conversation and a desk
// generation; the sorter binds an item's intake key to the item's desk.
// A lying server that lists a tip received on europe (under europe's
// intake key) as an item of a conversation of americas whose key
// americas really signed gets nothing rewrapped: the sorter, a member of
// both, stops with ErrServerLies.
func TestSortRefusesAnIntakeKeyOfAnotherDesk(t *testing.T) {
	me, _ := age.GenerateHybridIdentity()
	americas, _ := age.GenerateHybridIdentity()
	europe, _ := age.GenerateHybridIdentity()
	wa, _ := keys.Wrap(americas, me.Recipient().String())
	we, _ := keys.Wrap(europe, me.Recipient().String())
	ik, err := forward.MakeIntakeKey(europe, 100)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	ir, err := age.ParseHybridRecipient(ik.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := age.Encrypt(&buf, ir)
	w.Write([]byte("a tip for europe only"))
	w.Close()
	header, err := forward.Header(&buf)
	if err != nil {
		t.Fatal(err)
	}
	// americas' own, signed, key of the conversation.
	rec, sealed, _, err := forward.MakeConversationKey(americas.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	sig := forward.SignConversationKey(americas, liarConv, rec)
	var listed, sortedItems atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/journalist/keys":
			writeJSONTo(w, api.KeysResponse{Keys: []api.DeskKey{
				{Desk: "americas", KeyID: 3, Recipient: americas.Recipient().String(), Wrapped: wa},
				{Desk: "europe", KeyID: 4, Recipient: europe.Recipient().String(), Wrapped: we}}})
		case r.URL.Path == "/api/v1/desks":
			writeJSONTo(w, api.DesksResponse{Desks: []api.Desk{
				{Slug: "americas", Recipients: []string{americas.Recipient().String()}},
				{Slug: "europe", Recipients: []string{europe.Recipient().String()}}}})
		case r.URL.Path == fsKeysPath && r.Method == http.MethodGet:
			writeJSONTo(w, FSKeys{Day: 100, Ahead: forward.Ahead, Grace: forward.Grace, Desks: []FSDesk{
				{ID: 1, Slug: "americas", KeyID: 3, Recipient: americas.Recipient().String(), SignKey: forward.SignPublic(americas.String())},
				{ID: 2, Slug: "europe", KeyID: 4, Recipient: europe.Recipient().String(), SignKey: forward.SignPublic(europe.String())}},
				Intake: []FSIntake{{ID: 9, DeskID: 2, DeskKeyID: 4, Day: 100, Recipient: ik.Recipient, Signature: ik.Signature, Sealed: ik.Sealed}}})
		case r.URL.Path == fsUnsortedPath && listed.Add(1) == 1:
			writeJSONTo(w, fsUnsorted{
				Items: []fsItem{{ID: 7, Conversation: liarConv, DeskID: 1, Kind: pista.KindMessage, Sealing: pista.SealingIntake,
					IntakeKey: 9, Received: pista.ReceivedForward, Header: header}},
				Conversations: []fsConv{{ID: liarConv, DeskID: 1, KeyRecipient: rec, Key: sealed, KeySignature: sig}},
				Previews:      []fsPreview{}, Next: 7})
		case r.URL.Path == fsUnsortedPath:
			writeJSONTo(w, fsUnsorted{Items: []fsItem{}, Conversations: []fsConv{}, Previews: []fsPreview{}})
		case r.URL.Path == fsSortPath:
			var req fsSortRequest
			json.NewDecoder(r.Body).Decode(&req)
			sortedItems.Add(int64(len(req.Items)))
			writeJSONTo(w, fsSortResponse{Sorted: len(req.Items), Conflicts: []string{}})
		case r.Method == http.MethodPost:
			writeJSONTo(w, fsAdded{Added: 0})
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	c, err := NewClient(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sort(context.Background(), []age.Identity{me})
	if n := sortedItems.Load(); n != 0 || !errors.Is(err, ErrServerLies) {
		t.Errorf("Sort: %v; posted %d item(s) of europe's intake key rewrapped to americas' conversation key; want ErrServerLies and none", err, n)
	}
}
