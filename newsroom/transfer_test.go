package newsroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// TestTransferRefused: a transfer that is interrupted half way, or whose
// copies are wrong, or that goes to a desk the journalist may not move it
// to, changes nothing and leaves no copy behind.
func TestTransferRefused(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	alice, bob := in.Journalist("alice"), in.Journalist("bob")
	americas, americasID := in.DeskWithIdentity("americas", alice, bob)
	europe := in.Desk("europe", alice)
	in.Desk("maghreb") // nobody's
	tip := in.StoreTip(americas)
	id := tip.Conversation.ID
	rs, _ := keys.ParseRecipients(americas.Recipient)
	fb := intake.NewBatch(in.Srv.Stores.Blobs, rs, -1)
	if err := fb.AddFile(ctx, strings.NewReader("a file's bytes"), pista.FileMeta{Name: "f.txt"}); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.AddItems(ctx, id, fb.Items()); err != nil {
		t.Fatal(err)
	}
	items, _ := in.Srv.Stores.Tips.ItemsOfConversation(ctx, id)
	if len(items) != 2 {
		t.Fatalf("%d items, want a message and a file", len(items))
	}

	copyOf := func(key string, to ...string) []byte {
		obj, err := in.Srv.Stores.Blobs.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		r, err := age.Decrypt(obj, americasID)
		if err != nil {
			t.Fatal(err)
		}
		var rs []age.Recipient
		for _, s := range to {
			rc, err := age.ParseHybridRecipient(s)
			if err != nil {
				t.Fatal(err)
			}
			rs = append(rs, rc)
		}
		var buf bytes.Buffer
		w, _ := age.Encrypt(&buf, rs...)
		io.Copy(w, r)
		w.Close()
		return buf.Bytes()
	}
	type part struct {
		name string
		data []byte
	}
	body := func(to string, ids []int64, parts []part, whole bool) (*bytes.Buffer, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		m, _ := json.Marshal(map[string]any{"to": to, "items": ids})
		w, _ := mw.CreateFormField("transfer")
		w.Write(m)
		for _, p := range parts {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="`+p.name+`"; filename="x.age"`)
			w, _ := mw.CreatePart(h)
			w.Write(p.data)
		}
		if whole {
			mw.Close()
		}
		return &buf, mw.FormDataContentType()
	}
	var ids []int64
	var good []part
	for _, it := range items {
		ids = append(ids, it.ID)
		good = append(good, part{"object", copyOf(it.Object, europe.Recipient)})
		if it.Meta != "" {
			good = append(good, part{"meta", copyOf(it.Meta, europe.Recipient)})
		}
	}

	keysBefore, _ := in.Srv.Stores.Blobs.Keys(ctx)
	// One login each: a TOTP code works once.
	browsers := map[*pistatest.Journalist]*pistatest.Browser{}
	tokens := map[*pistatest.Journalist]string{}
	for _, j := range []*pistatest.Journalist{alice, bob} {
		br := in.Browser()
		br.LoginJournalist(j)
		browsers[j], tokens[j] = br, br.Get("/newsroom/c/"+id).CSRF(t)
	}
	post := func(j *pistatest.Journalist, buf *bytes.Buffer, ct string) *pistatest.Response {
		req := browsers[j].Request(http.MethodPost, "/newsroom/c/"+id+"/transfer", buf, ct)
		req.Header.Set("X-CSRF-Token", tokens[j])
		return browsers[j].Do(req)
	}
	cases := []struct {
		name   string
		who    *pistatest.Journalist
		to     string
		ids    []int64
		parts  []part
		whole  bool
		status int
	}{
		{"interrupted after one copy", alice, "europe", ids, good[:1], false, http.StatusBadRequest},
		{"interrupted in the middle of a copy", alice, "europe", ids, append(slices.Clone(good[:1]), part{"object", good[1].data[:len(good[1].data)/2]}), false, http.StatusBadRequest},
		{"a meta missing", alice, "europe", ids, good[:2], true, http.StatusBadRequest},
		{"a copy for the wrong keys", alice, "europe", ids, append([]part{{"object", copyOf(items[0].Object, europe.Recipient, americas.Recipient)}}, good[1:]...), true, http.StatusBadRequest},
		{"not age", alice, "europe", ids, append([]part{{"object", []byte("plain text")}}, good[1:]...), true, http.StatusBadRequest},
		{"an item missing", alice, "europe", ids[:len(ids)-1], good, true, http.StatusConflict},
		{"a desk bob is not on", bob, "europe", ids, good, true, http.StatusForbidden},
		{"a desk alice is not on", alice, "maghreb", ids, good, true, http.StatusForbidden},
		{"the same desk", alice, "americas", ids, good, true, http.StatusBadRequest},
		{"an unknown desk", alice, "nowhere", ids, good, true, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf, ct := body(c.to, c.ids, c.parts, c.whole)
			if r := post(c.who, buf, ct); r.Status != c.status {
				t.Errorf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			conv, err := in.Srv.Stores.Tips.ConversationFor(ctx, bob.ID, id)
			if err != nil || conv.DeskID != americas.ID {
				t.Fatalf("the conversation moved: %+v, %v", conv, err)
			}
			now, _ := in.Srv.Stores.Tips.ItemsOfConversation(ctx, id)
			if !slices.EqualFunc(now, items, func(a, b pista.Item) bool { return a.ID == b.ID && a.Object == b.Object }) {
				t.Fatal("the items changed")
			}
			keys, _ := in.Srv.Stores.Blobs.Keys(ctx)
			slices.Sort(keys)
			slices.Sort(keysBefore)
			if !slices.Equal(keys, keysBefore) {
				t.Fatalf("%d objects stored, want the %d of before: a copy was left behind", len(keys), len(keysBefore))
			}
		})
	}

	// The right body moves it: bob, made the desk's coordinator, may
	// send it to a desk he is not on (maghreb, copies for its key), and
	// is sent back to his inbox, where it no longer is.
	if err := in.Srv.Stores.Team.SetRole(ctx, americas.ID, bob.ID, pista.RoleCoordinator); err != nil {
		t.Fatal(err)
	}
	maghreb, _ := in.Srv.Stores.Desks.DeskBySlug(ctx, "maghreb")
	var toMaghreb []part
	for _, it := range items {
		toMaghreb = append(toMaghreb, part{"object", copyOf(it.Object, maghreb.Recipient)})
		if it.Meta != "" {
			toMaghreb = append(toMaghreb, part{"meta", copyOf(it.Meta, maghreb.Recipient)})
		}
	}
	buf, ct := body("maghreb", ids, toMaghreb, true)
	if r := post(bob, buf, ct); r.Status != http.StatusOK || !strings.Contains(r.Body, `"/newsroom/?done=transferred"`) {
		t.Fatalf("transfer: %d %s", r.Status, r.Body)
	}
	for _, j := range []*pistatest.Journalist{alice, bob} {
		if _, err := in.Srv.Stores.Tips.ConversationFor(ctx, j.ID, id); err == nil {
			t.Errorf("%s still sees it", j.Name)
		}
	}
	if keys, _ := in.Srv.Stores.Blobs.Keys(ctx); len(keys) != len(keysBefore) {
		t.Errorf("%d objects after the move, want %d (copies in, originals out)", len(keys), len(keysBefore))
	}
}
