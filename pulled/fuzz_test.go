package pulled

import (
	"encoding/json"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/apiclient"
)

// FuzzParseState: whatever pista-pull.json holds, it is refused or read
// as a state whose items Pull would write (names inside the folder,
// possible sizes), and it reads back the same.
func FuzzParseState(f *testing.F) {
	for _, s := range []string{
		`{"server":"https://x","user":"alice","last_item":42}`,
		`{"server":"https://x","user":"alice","last_item":42,"missing":[{"id":7,"conversation":"mfrggzdfmztwq2lk","kind":"file","size":100,"meta_size":300,"has_meta":true,"created":"2026-01-01T00:00:00Z"}]}`,
		`{"last_item":-1}`, `{"missing":[{"id":1,"conversation":"../../x","kind":"message","size":1}],"last_item":5}`,
		`null`, `[]`, `{"last_item":1e400}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var st State
		if err := ParseState(b, &st); err != nil {
			return
		}
		if st.LastItem < 0 || len(st.Missing) > maxMissing {
			t.Fatalf("accepted %+v", st)
		}
		for _, it := range st.Missing {
			if !conversationDir(it.Conversation) || it.ID <= 0 || it.Size <= 0 { // IDs carry no order: a missing item may be past the cursor
				t.Fatalf("accepted a missing item %+v", it)
			}
			if _, _, _, ok := parseItemFile(ItemFile(it.ID, it.Kind, false)); !ok {
				t.Fatalf("accepted an item whose file Open would not read: %+v", it)
			}
		}
		again, _ := json.Marshal(st)
		var st2 State
		if err := ParseState(again, &st2); err != nil || st2.LastItem != st.LastItem || len(st2.Missing) != len(st.Missing) {
			t.Fatalf("ParseState(Marshal(%+v)) = %+v, %v", st, st2, err)
		}
	})
}

// FuzzItemsPage: a page of items as a server sends it is decoded within
// its bound, and every item checkItem lets through names a file inside
// the conversation's folder, with sizes within the total.
func FuzzItemsPage(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"id":1,"conversation":"mfrggzdfmztwq2lk","kind":"message","size":100,"created":"2026-01-01T00:00:00Z"}],"more":false}`,
		`{"items":[{"id":2,"conversation":"mfrggzdfmztwq2lk","kind":"file","size":100,"meta_size":400,"has_meta":true}],"more":true}`,
		`{"items":[{"id":1,"conversation":"..","kind":"message","size":1}]}`,
		`{"items":[]} {"items":[]}`, `{"items":[{"id":-1}]}`, `{"items":null,"more":true}`,
		`{"items":[{"id":7,"conversation":"mfrggzdfmztwq2lk","kind":"message","size":1},{"id":7,"conversation":"mfrggzdfmztwq2lk","kind":"message","size":1}]}`,
	} {
		f.Add([]byte(s), int64(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, last int64) {
		if last < 0 {
			last = -last
		}
		var page itemsPage
		if err := apiclient.DecodeJSON(b, &page); err != nil {
			return
		}
		if _, err := ParseConversationKeys(page.ConversationKeys, len(page.Items)); err != nil {
			return
		}
		// The cursor and every ID passed before are refused (seenIDs):
		// sealed IDs carry no order to check.
		seen := seenIDs{}
		if last > 0 {
			seen[last] = struct{}{}
		}
		passed := map[int64]bool{}
		for _, it := range page.Items {
			if checkItem(it) != nil || seen.add(it.ID) != nil {
				continue
			}
			if passed[it.ID] || it.ID == last {
				t.Fatalf("item %d passed twice in a page after %d", it.ID, last)
			}
			passed[it.ID] = true
			if it.ID <= 0 || it.Size <= 0 || it.Size > maxItemSize || (it.HasMeta && (it.MetaSize <= 0 || it.MetaSize > maxMetaObject)) {
				t.Fatalf("checkItem passed %+v after %d", it, last)
			}
			for _, meta := range []bool{false, it.HasMeta} {
				name := ItemFile(it.ID, it.Kind, meta)
				if id, kind, m, ok := parseItemFile(name); !ok || id != it.ID || kind != it.Kind || m != meta {
					t.Fatalf("checkItem passed %+v, whose file %q Open reads otherwise", it, name)
				}
			}
			if !conversationDir(it.Conversation) {
				t.Fatalf("checkItem passed the conversation %q", it.Conversation)
			}
		}
	})
}

func FuzzParseAnswers(f *testing.F) {
	f.Add([]byte(`{"lang":"ar","answers":[{"id":"where","kind":"text","question":"Where?","asked":"أين؟","value":"الميناء"}]}`))
	f.Add([]byte(`{"answers":[{"id":"doc","kind":"file","question":"A document","value":"a.pdf"}]} x`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswers(b)
		if err != nil {
			if len(a.Answers) != 0 {
				t.Fatalf("refused, yet answers: %+v", a)
			}
			return
		}
		if len(a.Answers) > pista.MaxQuestions {
			t.Fatalf("%d answers", len(a.Answers))
		}
		_ = FormatAnswers(a)
	})
}
