package pulled

import (
	"encoding/json"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/forward"
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

// FuzzUnsortedPage: a page of GET fs/unsorted that CheckUnsorted lets
// through is within the sorter's bounds and holds together: every item
// and preview is of a listed conversation, named as a folder, its headers
// within forward.MaxHeaderSize, sealed as the sorter knows.
func FuzzUnsortedPage(f *testing.F) {
	for _, s := range []string{
		`{"items":[{"id":7,"conversation":"mfrggzdfmztwq2lk","desk_id":1,"kind":"message","sealing":"intake","intake_key":12,"received":"fs","header":"YWdl","meta_header":null}],"conversations":[{"id":"mfrggzdfmztwq2lk","desk_id":1,"key_recipient":"","key":null,"source_recipient":"age1pq1x"}],"previews":[{"conversation":"mfrggzdfmztwq2lk","intake_key":12,"preview":"YWdl"}],"next":7}`,
		`{"items":[{"id":7,"conversation":"../x","desk_id":1,"kind":"message","sealing":"intake","intake_key":12,"header":"YWdl"}],"conversations":[{"id":"../x","desk_id":1}],"next":7}`,
		`{"items":[{"id":7,"conversation":"mfrggzdfmztwq2lk","desk_id":2,"kind":"message","sealing":"conv","header":"YWdl"}],"conversations":[{"id":"mfrggzdfmztwq2lk","desk_id":1}],"next":7}`,
		`{"items":[],"conversations":[],"previews":[],"next":0}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var page fsUnsorted
		if apiclient.DecodeJSON(b, &page) != nil || CheckUnsorted(page, sortPage) != nil {
			return
		}
		if len(page.Items) > sortPage || len(page.Previews) > maxFSPreviews {
			t.Fatalf("a page of %d items and %d previews", len(page.Items), len(page.Previews))
		}
		listed := map[string]int64{}
		for _, c := range page.Conversations {
			if !conversationDir(c.ID) {
				t.Fatalf("conversation %q", c.ID)
			}
			listed[c.ID] = c.DeskID
		}
		for _, it := range page.Items {
			if d, ok := listed[it.Conversation]; !ok || d != it.DeskID || len(it.Header) > forward.MaxHeaderSize ||
				(it.Sealing != pista.SealingDesk && it.Sealing != pista.SealingIntake) {
				t.Fatalf("item %+v", it)
			}
		}
		for _, p := range page.Previews {
			if _, ok := listed[p.Conversation]; !ok || len(p.Preview) > pista.MaxPreviewSize {
				t.Fatalf("preview %+v", p)
			}
		}
	})
}

// FuzzFSKeys: an answer of GET fs/keys that CheckFSKeys lets through asks
// for at most Ahead keys per desk, each of a day of [day, day+ahead), and
// its sealed secrets are within forward.MaxSealedSize.
func FuzzFSKeys(f *testing.F) {
	for _, s := range []string{
		`{"day":20428,"period_seconds":86400,"ahead":7,"grace":3,"desks":[{"id":1,"slug":"americas","key_id":3,"recipient":"age1pq1x","sign_key":null,"need_days":[20428,20429]}],"intake":[{"id":12,"desk_id":1,"desk_key_id":3,"day":20428,"recipient":"age1pq1y","signature":"c2ln","sealed":"YWdl"}]}`,
		`{"day":5,"ahead":7,"desks":[{"id":1,"key_id":3,"need_days":[4]}]}`,
		`{"day":5,"ahead":100000,"desks":[{"id":1,"key_id":3,"need_days":[5,5]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fk FSKeys
		if apiclient.DecodeJSON(b, &fk) != nil || CheckFSKeys(fk) != nil {
			return
		}
		for _, d := range fk.Desks {
			if len(d.NeedDays) > forward.Ahead*5 {
				t.Fatalf("%d days", len(d.NeedDays))
			}
			for _, day := range d.NeedDays {
				if day < fk.Day || day >= fk.Day+int64(fk.Ahead) {
					t.Fatalf("day %d of %d", day, fk.Day)
				}
			}
		}
		for _, k := range fk.Intake {
			if len(k.Sealed) > forward.MaxSealedSize || len(k.Sealed) == 0 {
				t.Fatalf("intake key %+v", k)
			}
		}
	})
}

// FuzzConversationKeys: the conversation_keys of an items page name
// conversation folders, at most one key per item, each within
// forward.MaxSealedSize.
func FuzzConversationKeys(f *testing.F) {
	for _, s := range []string{
		`{"mfrggzdfmztwq2lk":{"recipient":"age1pq1x","key":"YWdl"}}`, `{"mfrggzdfmztwq2lk":"YWdl"}`,
		`[{"conversation":"mfrggzdfmztwq2lk","recipient":"age1pq1x","key":"YWdl"}]`, `{"../x":{"key":"YWdl"}}`, `null`, `7`,
	} {
		f.Add([]byte(s), 1)
	}
	f.Fuzz(func(t *testing.T, b []byte, items int) {
		m, err := ParseConversationKeys(b, items)
		if err != nil {
			return
		}
		n := 0
		for c, ks := range m {
			if !conversationDir(c) {
				t.Fatalf("conversation %q", c)
			}
			for _, k := range ks {
				n++
				if len(k) == 0 || len(k) > forward.MaxSealedSize {
					t.Fatalf("a key of %d bytes", len(k))
				}
			}
		}
		if n > max(items, 1) {
			t.Fatalf("%d keys for %d items", n, items)
		}
	})
}
