package pulled

import (
	"bytes"
	"context"
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

// sortLiar is a server that lists a desk's forward secrecy keys as fsKeys
// says, and counts the sorter's posts.
type sortLiar struct {
	wrapped   []byte
	recipient string
	fsKeys    func(desk *age.HybridIdentity) FSKeys
	desk      *age.HybridIdentity
	posts     atomic.Int64
}

func (l *sortLiar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/api/v1/journalist/keys":
		writeJSONTo(w, api.KeysResponse{Keys: []api.DeskKey{{Desk: "americas", KeyID: 3, Recipient: l.recipient, Wrapped: l.wrapped}}})
	case r.URL.Path == "/api/v1/desks":
		writeJSONTo(w, api.DesksResponse{Desks: []api.Desk{{Slug: "americas", Recipients: []string{l.recipient}}}})
	case r.URL.Path == fsKeysPath && r.Method == http.MethodGet:
		writeJSONTo(w, l.fsKeys(l.desk))
	case r.Method == http.MethodPost:
		l.posts.Add(1)
		writeJSONTo(w, fsAdded{Added: 0})
	case r.URL.Path == fsUnsortedPath:
		writeJSONTo(w, fsUnsorted{Items: []fsItem{}, Conversations: []fsConv{}, Previews: []fsPreview{}})
	default:
		http.NotFound(w, r)
	}
}

// sortWith runs a sort, as the journalist me, against a server that
// answers as h does.
func sortWith(t *testing.T, h http.Handler, me *age.HybridIdentity) error {
	t.Helper()
	ts := httptest.NewServer(h)
	defer ts.Close()
	c, err := NewClient(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Sort(context.Background(), []age.Identity{me})
	return err
}

// A server that lists a desk's signing key other than the one the desk
// key derives is lying (someone without the desk key made its intake
// keys): the sorter stops, says so, and posts nothing.
func TestSortRefusesAnotherSigningKey(t *testing.T) {
	me, _ := age.GenerateHybridIdentity()
	desk, _ := age.GenerateHybridIdentity()
	wrapped, err := keys.Wrap(desk, me.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateHybridIdentity()
	for _, tc := range []struct {
		name string
		sign func(desk *age.HybridIdentity) []byte
		lies bool
	}{
		{"its own", func(d *age.HybridIdentity) []byte { return forward.SignPublic(d.String()) }, false},
		{"none yet", func(*age.HybridIdentity) []byte { return nil }, false},
		{"another desk's", func(*age.HybridIdentity) []byte { return forward.SignPublic(other.String()) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &sortLiar{wrapped: wrapped, recipient: desk.Recipient().String(), desk: desk,
				fsKeys: func(d *age.HybridIdentity) FSKeys {
					return FSKeys{Day: 100, Ahead: forward.Ahead, Grace: forward.Grace, Desks: []FSDesk{{ID: 1, Slug: "americas", KeyID: 3,
						Recipient: d.Recipient().String(), SignKey: tc.sign(d), NeedDays: []int64{100, 101}}}, Intake: []FSIntake{}}
				}}
			err := sortWith(t, l, me)
			if tc.lies {
				if !errors.Is(err, ErrServerLies) || l.posts.Load() != 0 {
					t.Fatalf("Sort: %v after %d posts; want ErrServerLies and nothing posted", err, l.posts.Load())
				}
				return
			}
			if err != nil || l.posts.Load() != 1 {
				t.Fatalf("Sort: %v after %d posts; want the desk's intake keys posted", err, l.posts.Load())
			}
		})
	}
}

// A listing that does not hold together is refused before anything is
// rewrapped.
func TestCheckUnsortedRefuses(t *testing.T) {
	conv := fsConv{ID: liarConv, DeskID: 1}
	item := fsItem{ID: 7, Conversation: liarConv, DeskID: 1, Kind: "message", Sealing: "intake", IntakeKey: 12, Header: []byte("age")}
	for name, page := range map[string]fsUnsorted{
		"an unlisted conversation": {Items: []fsItem{item}, Next: 7},
		"another desk":             {Items: []fsItem{{ID: 7, Conversation: liarConv, DeskID: 2, Kind: "message", Sealing: "desk", Header: []byte("x")}}, Conversations: []fsConv{conv}, Next: 7},
		"an item already sorted":   {Items: []fsItem{{ID: 7, Conversation: liarConv, DeskID: 1, Kind: "message", Sealing: "conv", Header: []byte("x")}}, Conversations: []fsConv{conv}, Next: 7},
		"a cursor elsewhere":       {Items: []fsItem{item}, Conversations: []fsConv{conv}, Next: 3},
		"too many items":           {Items: make([]fsItem, sortPage+1), Conversations: []fsConv{conv}},
		"a huge header":            {Items: []fsItem{{ID: 7, Conversation: liarConv, DeskID: 1, Kind: "message", Sealing: "desk", Header: make([]byte, forward.MaxHeaderSize+1)}}, Conversations: []fsConv{conv}, Next: 7},
		"a key without recipient":  {Items: []fsItem{item}, Conversations: []fsConv{{ID: liarConv, DeskID: 1, Key: []byte("k")}}, Next: 7},
	} {
		if err := CheckUnsorted(page, sortPage); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if err := CheckUnsorted(fsUnsorted{Items: []fsItem{item}, Conversations: []fsConv{conv}, Next: 7}, sortPage); err != nil {
		t.Errorf("a good page: %v", err)
	}
}

// A lying server cannot make the sorter wrap a source's item to a key it
// names as the source's: an item under an intake key is the source's
// own, and one under the desk key must already carry a stanza besides
// the desk's and the archive's.
func TestForSourceTrustsTheHeaderNotTheServer(t *testing.T) {
	desk, _ := age.GenerateHybridIdentity()
	source, _ := age.GenerateHybridIdentity()
	archive, _ := age.GenerateHybridIdentity()
	header := func(rs ...age.Recipient) []byte {
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, rs...)
		w.Write([]byte("x"))
		w.Close()
		h, err := forward.Header(&buf)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	reply := header(source.Recipient(), desk.Recipient())
	message := header(desk.Recipient())
	for _, c := range []struct {
		name    string
		it      fsItem
		archive int
		want    bool
	}{
		{"a reply under the desk key", fsItem{Kind: "reply", Sealing: pista.SealingDesk, Header: reply}, 0, true},
		{"a source's message called a reply", fsItem{Kind: "reply", Sealing: pista.SealingDesk, Header: message}, 0, false},
		{"an item under an intake key called a reply", fsItem{Kind: "reply", Sealing: pista.SealingIntake, Header: reply}, 0, false},
		{"a reply without the archive's stanza", fsItem{Kind: "reply", Sealing: pista.SealingDesk, Header: reply}, 1, false},
		{"a reply with the archive's", fsItem{Kind: "reply", Sealing: pista.SealingDesk, Header: header(source.Recipient(), desk.Recipient(), archive.Recipient())}, 1, true},
	} {
		if got := forSource(&c.it, c.archive); got != c.want {
			t.Errorf("%s: forSource = %v, want %v", c.name, got, c.want)
		}
	}
}

// A server can seal a key of its own to a desk's public key, and name it
// a conversation's key; it cannot sign it with the desk's signing key.
// The sorter wraps to a conversation's key only if one of the desk's keys
// signed it: otherwise it stops, says so, and sorts nothing.
func TestSortRefusesAnUnsignedConversationKey(t *testing.T) {
	me, _ := age.GenerateHybridIdentity()
	desk, _ := age.GenerateHybridIdentity()
	wrapped, err := keys.Wrap(desk, me.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, desk.Recipient())
	w.Write([]byte("a tip received without forward secrecy"))
	w.Close()
	header, err := forward.Header(&buf)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateHybridIdentity()
	for _, tc := range []struct {
		name string
		sign func(rec string) []byte
		lies bool
	}{
		{"signed by the desk", func(rec string) []byte { return forward.SignConversationKey(desk, liarConv, rec) }, false},
		{"not signed", func(string) []byte { return nil }, true},
		{"signed by another key", func(rec string) []byte { return forward.SignConversationKey(other, liarConv, rec) }, true},
		{"signed for another conversation", func(rec string) []byte { return forward.SignConversationKey(desk, "another", rec) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The server's own key, sealed to the desk's public key.
			rec, sealed, _, err := forward.MakeConversationKey(desk.Recipient().String())
			if err != nil {
				t.Fatal(err)
			}
			var listed, sorts atomic.Int64
			l := &sortLiar{wrapped: wrapped, recipient: desk.Recipient().String(), desk: desk,
				fsKeys: func(d *age.HybridIdentity) FSKeys {
					return FSKeys{Day: 100, Ahead: forward.Ahead, Grace: forward.Grace, Desks: []FSDesk{{ID: 1, Slug: "americas", KeyID: 3,
						Recipient: d.Recipient().String(), SignKey: forward.SignPublic(d.String())}}, Intake: []FSIntake{}}
				}}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == fsUnsortedPath && listed.Add(1) == 1:
					writeJSONTo(w, fsUnsorted{
						Items: []fsItem{{ID: 7, Conversation: liarConv, DeskID: 1, Kind: pista.KindMessage, Sealing: pista.SealingDesk,
							Received: pista.ReceivedNoForward, Header: header}},
						Conversations: []fsConv{{ID: liarConv, DeskID: 1, KeyRecipient: rec, Key: sealed, KeySignature: tc.sign(rec)}},
						Previews:      []fsPreview{}, Next: 7})
				case r.URL.Path == fsSortPath:
					sorts.Add(1)
					writeJSONTo(w, fsSortResponse{Sorted: 1, Conflicts: []string{}})
				default:
					l.ServeHTTP(w, r)
				}
			})
			err = sortWith(t, h, me)
			if tc.lies {
				if !errors.Is(err, ErrServerLies) || sorts.Load() != 0 {
					t.Fatalf("Sort: %v after %d sort posts; want ErrServerLies and nothing sorted", err, sorts.Load())
				}
				return
			}
			if err != nil || sorts.Load() != 1 {
				t.Fatalf("Sort: %v after %d sort posts; want the item sorted to the signed key", err, sorts.Load())
			}
		})
	}
}
