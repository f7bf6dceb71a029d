package newsroom_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// fsEnv is a server with an archive key, a desk and a member signed in
// to the inbox, whose sorter the tests play.
type fsEnv struct {
	t       *testing.T
	in      *pistatest.Instance
	j       *pistatest.Journalist
	desk    pista.Desk
	deskID  *age.HybridIdentity
	archive *age.HybridIdentity
	b       *pistatest.Browser
	tok     string // the inbox's CSRF token
}

func newFSEnv(t *testing.T, cfg server.Config) *fsEnv {
	t.Helper()
	archive, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Archive = []string{archive.Recipient().String()}
	in := pistatest.New(t, cfg)
	j := in.Journalist("ana")
	desk, deskID := in.DeskWithIdentity("americas", j)
	b := in.Browser()
	b.LoginJournalist(j)
	return &fsEnv{t: t, in: in, j: j, desk: desk, deskID: deskID, archive: archive, b: b, tok: newsroomCSRF(b)}
}

// call sends a request of the inbox's script: JSON, with the CSRF header
// on a POST. It decodes a 200's answer into out.
func (e *fsEnv) call(method, path string, body, out any) *pistatest.Response {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(b), "application/json"
	}
	req := e.b.Request(method, path, rd, ct)
	if method == http.MethodPost {
		req.Header.Set(newsroom.CSRFHeader, e.tok)
	}
	r := e.b.Do(req)
	if r.Status == http.StatusOK && out != nil {
		if err := json.Unmarshal([]byte(r.Body), out); err != nil {
			e.t.Fatalf("%s %s: %v\n%s", method, path, err, r.Body)
		}
	}
	return r
}

// keys answers GET /newsroom/fs/keys.
func (e *fsEnv) keys() newsroom.FSKeys {
	e.t.Helper()
	var ks newsroom.FSKeys
	if r := e.call(http.MethodGet, "/newsroom/fs/keys", nil, &ks); r.Status != http.StatusOK {
		e.t.Fatalf("GET fs/keys: %d %s", r.Status, r.Body)
	}
	return ks
}

// makeKeys makes intake keys of the desk's key for days, as a member's
// client does.
func (e *fsEnv) makeKeys(days ...int64) []newsroom.FSNewKey {
	e.t.Helper()
	var out []newsroom.FSNewKey
	for _, d := range days {
		k, err := forward.MakeIntakeKey(e.deskID, d)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, newsroom.FSNewKey{Day: k.Day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed})
	}
	return out
}

func (e *fsEnv) addKeys(ks []newsroom.FSNewKey) *pistatest.Response {
	e.t.Helper()
	return e.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID,
		SignKey: forward.SignPublic(e.deskID.String()), Keys: ks}, nil)
}

// errorCode is the code of a JSON error answer.
func errorCode(t testing.TB, r *pistatest.Response) string {
	t.Helper()
	var e struct{ Error, Message string }
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error == "" || e.Message == "" {
		t.Fatalf("not a JSON error {error, message}: %d %s", r.Status, r.Body)
	}
	return e.Error
}

// intakeTip stores, as a channel does with today's intake key k, a tip
// with a message, a file and a preview under k (and the archive key),
// and a reply under the desk's, the source's and the archive's keys.
func (e *fsEnv) intakeTip(k newsroom.FSIntakeKey, message string) (pista.Conversation, *age.HybridIdentity) {
	t := e.t
	t.Helper()
	ctx := context.Background()
	rs, err := keys.ParseRecipients(k.Recipient, e.archive.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(e.in.Srv.Stores.Blobs, rs, -1)
	if err := b.AddText(ctx, pista.KindMessage, message); err != nil {
		t.Fatal(err)
	}
	if err := b.AddFile(ctx, strings.NewReader("%PDF-1.7 "+message), pista.FileMeta{Name: "leak.pdf", Type: "application/pdf"}); err != nil {
		t.Fatal(err)
	}
	items := b.Items()
	for i := range items {
		items[i].Sealing, items[i].IntakeKey, items[i].Received = pista.SealingIntake, k.ID, pista.ReceivedForward
	}
	preview, err := intake.SealPreview(message, rs)
	if err != nil {
		t.Fatal(err)
	}
	src, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	lookup := make([]byte, 32)
	rand.Read(lookup)
	tip := &pista.NewTip{
		Source:       pista.Source{Lookup: lookup, Recipient: src.Recipient().String()},
		Conversation: pista.Conversation{ID: pista.NewConversationID(), Channel: pista.ChannelWeb, DeskID: e.desk.ID, Preview: preview, PreviewIntake: k.ID},
		Items:        items,
	}
	if err := e.in.Srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatalf("CreateTip: %v", err)
	}
	// A reply, as the newsroom writes it: to the source, the desk and
	// the archive.
	rs, err = keys.ParseRecipients(src.Recipient().String(), e.desk.Recipient, e.archive.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	rb := intake.NewBatch(e.in.Srv.Stores.Blobs, rs, -1)
	if err := rb.AddText(ctx, pista.KindReply, "thanks"); err != nil {
		t.Fatal(err)
	}
	reply := rb.Items()
	reply[0].AuthorID = e.j.ID
	if err := e.in.Srv.Stores.Tips.AddItems(ctx, tip.Conversation.ID, reply); err != nil {
		t.Fatal(err)
	}
	c, err := e.in.Srv.Stores.Tips.ConversationFor(ctx, e.j.ID, tip.Conversation.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c, src
}

// sorter plays a member's sorter on a page of unsorted items: a key for
// each conversation without one (made, or taken from made), each header
// rewrapped to it and the archive key (and the source's for a reply), each
// preview too.
func (e *fsEnv) sorter(ks newsroom.FSKeys, u newsroom.FSUnsorted, made map[string]*age.HybridIdentity) newsroom.FSSort {
	t := e.t
	t.Helper()
	intakeIDs := map[int64]age.Identity{}
	for _, k := range ks.Intake {
		id, err := forward.Open(k.Sealed, e.deskID)
		if err != nil {
			t.Fatalf("opening intake key %d: %v", k.ID, err)
		}
		intakeIDs[k.ID] = id
	}
	req := newsroom.FSSort{Keys: []newsroom.FSConversationKey{}, Items: []newsroom.FSSortItem{}, Previews: []newsroom.FSPreview{}}
	convs := map[string]newsroom.FSConversation{}
	for _, c := range u.Conversations {
		convs[c.ID] = c
		if c.Key != nil {
			id, err := forward.Open(c.Key, e.deskID)
			if err != nil {
				t.Fatal(err)
			}
			made[c.ID] = id
			continue
		}
		if made[c.ID] == nil {
			rec, sealed, id, err := forward.MakeConversationKey(e.desk.Recipient, e.archive.Recipient().String())
			if err != nil {
				t.Fatal(err)
			}
			made[c.ID] = id
			req.Keys = append(req.Keys, newsroom.FSConversationKey{Conversation: c.ID, Recipient: rec, Key: sealed,
				Signature: forward.SignConversationKey(e.deskID, c.ID, rec)})
		}
	}
	for _, it := range u.Items {
		ids := []age.Identity{e.deskID}
		if it.Sealing == pista.SealingIntake {
			ids = []age.Identity{intakeIDs[it.IntakeKey]}
		}
		to := []string{made[it.Conversation].Recipient().String(), e.archive.Recipient().String()}
		if it.Kind == pista.KindReply || (it.Kind == pista.KindFile && it.Author != 0) {
			to = append(to, convs[it.Conversation].SourceRecipient)
		}
		rs, err := keys.ParseRecipients(to...)
		if err != nil {
			t.Fatal(err)
		}
		si := newsroom.FSSortItem{ID: it.ID}
		if si.Header, err = forward.Rewrap(it.Header, ids, rs); err != nil {
			t.Fatalf("rewrapping item %d: %v", it.ID, err)
		}
		if it.MetaHeader != nil {
			if si.MetaHeader, err = forward.Rewrap(it.MetaHeader, ids, rs); err != nil {
				t.Fatalf("rewrapping item %d's meta: %v", it.ID, err)
			}
		}
		req.Items = append(req.Items, si)
	}
	for _, p := range u.Previews {
		plain := decrypt(t, p.Preview, intakeIDs[p.IntakeKey])
		rs, err := keys.ParseRecipients(made[p.Conversation].Recipient().String(), e.archive.Recipient().String())
		if err != nil {
			t.Fatal(err)
		}
		req.Previews = append(req.Previews, newsroom.FSPreview{Conversation: p.Conversation, IntakeKey: p.IntakeKey, Preview: encrypt(t, plain, rs)})
	}
	return req
}

func (e *fsEnv) unsorted() newsroom.FSUnsorted {
	e.t.Helper()
	var u newsroom.FSUnsorted
	if r := e.call(http.MethodGet, "/newsroom/fs/unsorted", nil, &u); r.Status != http.StatusOK {
		e.t.Fatalf("GET fs/unsorted: %d %s", r.Status, r.Body)
	}
	return u
}

func decrypt(t testing.TB, file []byte, ids ...age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(file), ids...)
	if err != nil {
		t.Fatalf("decrypting: %v", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encrypt(t testing.TB, plain []byte, rs []age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// object reads a stored object whole.
func (e *fsEnv) object(key string) ([]byte, error) {
	r, err := e.in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestForwardKeys posts intake keys as a member's client does: refused
// whole when one is wrong, listed once stored, the days that need one
// shrinking; the same through the API's token.
func TestForwardKeys(t *testing.T) {
	e := newFSEnv(t, server.Config{})
	ks := e.keys()
	clock := forward.Clock{}
	if now := clock.Day(time.Now()); ks.Day < now-1 || ks.Day > now || ks.PeriodSeconds != 86400 || ks.Ahead != forward.Ahead || ks.Grace != forward.Grace {
		t.Fatalf("GET fs/keys: day %d (now %d), period %d, ahead %d, grace %d", ks.Day, now, ks.PeriodSeconds, ks.Ahead, ks.Grace)
	}
	if len(ks.Desks) != 1 || ks.Desks[0].ID != e.desk.ID || ks.Desks[0].KeyID != e.desk.KeyID || ks.Desks[0].Recipient != e.desk.Recipient ||
		ks.Desks[0].SignKey != nil || len(ks.Desks[0].NeedDays) != forward.Ahead || ks.Desks[0].NeedDays[0] != ks.Day || len(ks.Intake) != 0 {
		t.Fatalf("GET fs/keys before any key: %+v", ks)
	}
	day := ks.Day

	otherDesk, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	twoStanzas := func() []newsroom.FSNewKey {
		k := e.makeKeys(day)
		id, _ := age.GenerateHybridIdentity()
		sealed, err := forward.Seal(id, e.desk.Recipient, e.archive.Recipient().String())
		if err != nil {
			t.Fatal(err)
		}
		k[0].Recipient = id.Recipient().String()
		k[0].Signature = ed25519.Sign(forward.SignKey(e.deskID.String()), forward.Statement(e.desk.Recipient, day, k[0].Recipient))
		k[0].Sealed = sealed
		return k
	}
	refused := []struct {
		name   string
		body   func() any
		status int
		code   string
	}{
		{"a bad signature", func() any {
			ks := e.makeKeys(day, day+1)
			ks[1].Signature[0] ^= 1
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: ks}
		}, 400, "bad_signature"},
		{"signed for another day", func() any {
			ks := e.makeKeys(day)
			ks[0].Day = day + 1
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: ks}
		}, 400, "bad_signature"},
		{"signed by another desk's key", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(otherDesk.String()), Keys: e.makeKeys(day)}
		}, 400, "bad_signature"},
		{"a sealed secret of two stanzas", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: twoStanzas()}
		}, 400, "malformed_key"},
		{"a sealed secret that is not age", func() any {
			ks := e.makeKeys(day)
			ks[0].Sealed = []byte("AGE-SECRET-KEY-PQ-1 in the clear")
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: ks}
		}, 400, "malformed_key"},
		{"a day too far ahead", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day + forward.Ahead + 1)}
		}, 400, "bad_request"},
		{"a day past", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day - 2)}
		}, 400, "bad_request"},
		{"a day twice", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day, day)}
		}, 400, "bad_request"},
		{"no keys", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: nil}
		}, 400, "bad_request"},
		{"too many keys", func() any {
			ks := e.makeKeys(day)
			for len(ks) <= pista.MaxIntakeKeys {
				ks = append(ks, ks[0])
			}
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: ks}
		}, 400, "bad_request"},
		{"a desk key that is none of the journalist's", func() any {
			return newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID + 1000, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day)}
		}, 404, "not_found"},
		{"not JSON", func() any { return "keys" }, 400, "bad_request"},
		{"unknown fields", func() any { return map[string]any{"desk_key_id": e.desk.KeyID, "keyz": []int{}} }, 400, "bad_request"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(http.MethodPost, "/newsroom/fs/keys", c.body(), nil)
			if r.Status != c.status || errorCode(t, r) != c.code {
				t.Fatalf("status %d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if ks := e.keys(); len(ks.Intake) != 0 || ks.Desks[0].SignKey != nil {
				t.Fatalf("a refused post stored something: %+v", ks)
			}
		})
	}
	// Without the CSRF header, a session's POST is refused.
	body, _ := json.Marshal(newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day)})
	if r := e.b.Do(e.b.Request(http.MethodPost, "/newsroom/fs/keys", bytes.NewReader(body), "application/json")); r.Status != http.StatusForbidden {
		t.Fatalf("a POST without the CSRF header: %d", r.Status)
	}

	// Four days stored; the days that need a key shrink to the rest.
	made := e.makeKeys(day, day+1, day+2, day+3)
	var added newsroom.FSAdded
	if r := e.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID,
		SignKey: forward.SignPublic(e.deskID.String()), Keys: made}, &added); r.Status != 200 || added.Added != 4 {
		t.Fatalf("posting four keys: %d %s", r.Status, r.Body)
	}
	ks = e.keys()
	if want := []int64{day + 4, day + 5, day + 6}; !slices.Equal(ks.Desks[0].NeedDays, want) {
		t.Errorf("need_days %v, want %v", ks.Desks[0].NeedDays, want)
	}
	if !bytes.Equal(ks.Desks[0].SignKey, forward.SignPublic(e.deskID.String())) {
		t.Errorf("sign_key %x, want the desk key's", ks.Desks[0].SignKey)
	}
	if len(ks.Intake) != 4 {
		t.Fatalf("intake keys listed: %+v", ks.Intake)
	}
	for i, k := range ks.Intake {
		if k.DeskID != e.desk.ID || k.DeskKeyID != e.desk.KeyID || k.Day != made[i].Day || k.Recipient != made[i].Recipient ||
			forward.Verify(ks.Desks[0].SignKey, e.desk.Recipient, k.Day, k.Recipient, k.Signature) != nil {
			t.Errorf("intake key %d listed as %+v", i, k)
		}
		id, err := forward.Open(k.Sealed, e.deskID)
		if err != nil || id.Recipient().String() != k.Recipient {
			t.Errorf("intake key %d: its sealed secret does not open to its recipient with the desk key: %v", i, err)
		}
	}
	// Posting again adds nothing; a day that has a key keeps it.
	if r := e.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID,
		SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day + 3)}, &added); r.Status != 200 || added.Added != 0 {
		t.Fatalf("posting a day again: %d %s", r.Status, r.Body)
	}
	// Another signing key for the same generation: refused, nothing stored.
	other := e.makeKeys(day + 4)
	other[0].Signature = ed25519.Sign(forward.SignKey(otherDesk.String()), forward.Statement(e.desk.Recipient, day+4, other[0].Recipient))
	r := e.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(otherDesk.String()), Keys: other}, nil)
	if r.Status != http.StatusConflict || errorCode(t, r) != "sign_key" {
		t.Fatalf("another signing key: %d %s", r.Status, r.Body)
	}
	if after := e.keys(); len(after.Intake) != 4 || !bytes.Equal(after.Desks[0].SignKey, ks.Desks[0].SignKey) {
		t.Fatalf("another signing key changed the keys: %+v", after)
	}

	// The same through the API, with a token.
	token := apiToken(t, e.in, e.j)
	var viaAPI newsroom.FSKeys
	ar := e.b.Do(bearer(e.b.Request(http.MethodGet, "/api/v1/journalist/fs/keys", nil, ""), token))
	if ar.Status != 200 || json.Unmarshal([]byte(ar.Body), &viaAPI) != nil || len(viaAPI.Intake) != 4 || !slices.Equal(viaAPI.Desks[0].NeedDays, ks.Desks[0].NeedDays) {
		t.Fatalf("GET /api/v1/journalist/fs/keys: %d %s", ar.Status, ar.Body)
	}
	body, _ = json.Marshal(newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day + 4)})
	ar = e.b.Do(bearer(e.b.Request(http.MethodPost, "/api/v1/journalist/fs/keys", bytes.NewReader(body), "application/json"), token))
	if ar.Status != 200 || !strings.Contains(ar.Body, `"added":1`) {
		t.Fatalf("POST /api/v1/journalist/fs/keys: %d %s", ar.Status, ar.Body)
	}

	// A journalist of another desk sees none of it, and cannot post.
	bo := e.in.Journalist("bilal")
	e.in.Desk("maghreb", bo)
	ob := e.in.Browser()
	ob.LoginJournalist(bo)
	oe := &fsEnv{t: t, in: e.in, j: bo, b: ob, tok: newsroomCSRF(ob)}
	if oks := oe.keys(); len(oks.Intake) != 0 || len(oks.Desks) != 1 || oks.Desks[0].ID == e.desk.ID {
		t.Errorf("another desk's member sees %+v", oks)
	}
	r = oe.call(http.MethodPost, "/newsroom/fs/keys", newsroom.FSAddKeys{DeskKeyID: e.desk.KeyID, SignKey: forward.SignPublic(e.deskID.String()), Keys: e.makeKeys(day + 5)}, nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("another desk's member posting keys: %d %s", r.Status, r.Body)
	}
}

// onBothStores runs test on SQLite, then on PostgreSQL (skipped without
// a server, see pgtest).
func onBothStores(t *testing.T, test func(*testing.T, server.Config)) {
	t.Run("sqlite", func(t *testing.T) { test(t, server.Config{}) })
	t.Run("postgres", func(t *testing.T) { test(t, server.Config{Database: pgtest.URL(t)}) })
}

// apiToken logs j in to the API.
func apiToken(t testing.TB, in *pistatest.Instance, j *pistatest.Journalist) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": j.Name, "auth": j.Keys.Auth, "totp": j.Code(t)})
	b := in.Browser()
	r := b.Do(b.Request(http.MethodPost, "/api/v1/journalist/login", bytes.NewReader(body), "application/json"))
	var lr struct{ Token string }
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &lr) != nil || lr.Token == "" {
		t.Fatalf("API login: %d %s", r.Status, r.Body)
	}
	return lr.Token
}

func bearer(req *http.Request, token string) *http.Request {
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

// TestForwardSort sorts a conversation as a member's sorter does: what
// is under an intake key or the desk's moves under the conversation's
// own key, opens with it and no longer with the intake key; a malformed
// sort changes nothing; a second sorter racing the first is skipped.
func TestForwardSort(t *testing.T) { onBothStores(t, testForwardSort) }

func testForwardSort(t *testing.T, cfg server.Config) {
	e := newFSEnv(t, cfg)
	ctx := context.Background()
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day-1, day, day+1)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	ks := e.keys()
	var today newsroom.FSIntakeKey
	for _, k := range ks.Intake {
		if k.Day == day {
			today = k
		}
	}
	intakeID, err := forward.Open(today.Sealed, e.deskID)
	if err != nil {
		t.Fatal(err)
	}
	c, src := e.intakeTip(today, "the mayor's contracts")
	stored, err := e.in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil || len(stored) != 3 {
		t.Fatalf("the tip's items: %v %+v", err, stored)
	}

	// The conversation page says which items are not sorted yet, and
	// gives the script their keys.
	page := e.b.Get("/newsroom/c/" + c.ID)
	if n := strings.Count(page.Text(), pistatest.En("forward-routes.unsorted")); page.Status != 200 || n != 2 {
		t.Errorf("the conversation page shows %q %d times, want 2 (message and file)", pistatest.En("forward-routes.unsorted"), n)
	}
	if !strings.Contains(page.Body, `data-sealing="intake" data-intake-key="`+strconv.FormatInt(today.ID, 10)+`"`) || strings.Contains(page.Body, "data-conv-key") {
		t.Errorf("the conversation page's items do not carry their sealing and intake key, or it has a key already")
	}

	// The sorter lists what to sort, with the objects' headers.
	u := e.unsorted()
	if len(u.Items) != 3 || u.Next != u.Items[2].ID {
		t.Fatalf("GET fs/unsorted: %+v", u)
	}
	for i, it := range u.Items {
		obj, err := e.object(stored[i].Object)
		if err != nil {
			t.Fatal(err)
		}
		if it.ID != stored[i].ID || it.Conversation != c.ID || it.DeskID != e.desk.ID || !bytes.HasPrefix(obj, it.Header) ||
			!bytes.HasSuffix(it.Header, []byte("\n")) || len(it.Header) >= len(obj) {
			t.Errorf("unsorted item %d: %+v", i, it)
		}
		if (it.MetaHeader != nil) != (stored[i].Meta != "") {
			t.Errorf("unsorted item %d: meta header %q for meta %q", i, it.MetaHeader, stored[i].Meta)
		}
	}
	if it := u.Items[0]; it.Sealing != pista.SealingIntake || it.IntakeKey != today.ID || it.Received != pista.ReceivedForward || it.Kind != pista.KindMessage {
		t.Errorf("the message is listed as %+v", it)
	}
	if it := u.Items[2]; it.Sealing != pista.SealingDesk || it.Kind != pista.KindReply || it.Author != e.j.ID {
		t.Errorf("the reply is listed as %+v", it)
	}
	if len(u.Conversations) != 1 || u.Conversations[0].ID != c.ID || u.Conversations[0].Key != nil ||
		u.Conversations[0].KeyRecipient != "" || u.Conversations[0].SourceRecipient != src.Recipient().String() {
		t.Errorf("unsorted conversations: %+v", u.Conversations)
	}
	if len(u.Previews) != 1 || u.Previews[0].Conversation != c.ID || u.Previews[0].IntakeKey != today.ID {
		t.Fatalf("unsorted previews: %+v", u.Previews)
	}
	if r := e.call(http.MethodGet, "/newsroom/fs/unsorted?after="+strconv.FormatInt(u.Next, 10), nil, nil); r.Status != 200 || !strings.Contains(r.Body, `"items":[]`) || !strings.Contains(r.Body, `"next":0`) {
		t.Errorf("the page after the last: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?after=-1", "?after=x"} {
		if r := e.call(http.MethodGet, "/newsroom/fs/unsorted"+q, nil, nil); r.Status != 400 {
			t.Errorf("GET fs/unsorted%s: %d", q, r.Status)
		}
	}

	// Two sorters read the same page; each makes its own key.
	first := map[string]*age.HybridIdentity{}
	second := map[string]*age.HybridIdentity{}
	sort1 := e.sorter(ks, u, first)
	sort2 := e.sorter(ks, u, second)

	// Malformed sorts are refused whole: nothing changes.
	before := e.in.Snapshot(e.j)
	malformed := []struct {
		name string
		edit func(s *newsroom.FSSort)
		code string
	}{
		{"a header of one stanza too few", func(s *newsroom.FSSort) {
			rs, _ := keys.ParseRecipients(first[c.ID].Recipient().String())
			s.Items[0].Header, _ = forward.Rewrap(u.Items[0].Header, []age.Identity{intakeID}, rs)
		}, "malformed_header"},
		{"a reply without the source's stanza", func(s *newsroom.FSSort) {
			rs, _ := keys.ParseRecipients(first[c.ID].Recipient().String(), e.archive.Recipient().String())
			s.Items[2].Header, _ = forward.Rewrap(u.Items[2].Header, []age.Identity{e.deskID}, rs)
		}, "malformed_header"},
		{"a header with bytes after it", func(s *newsroom.FSSort) { s.Items[0].Header = append(slices.Clip(s.Items[0].Header), "payload"...) }, "malformed_header"},
		{"a header cut short", func(s *newsroom.FSSort) { s.Items[0].Header = s.Items[0].Header[:len(s.Items[0].Header)-10] }, "malformed_header"},
		{"a file without its meta header", func(s *newsroom.FSSort) { s.Items[1].MetaHeader = nil }, "malformed_header"},
		{"a meta header for a message", func(s *newsroom.FSSort) { s.Items[0].MetaHeader = s.Items[1].MetaHeader }, "malformed_header"},
		{"an item twice", func(s *newsroom.FSSort) { s.Items = append(s.Items, s.Items[0]) }, "bad_request"},
		{"a key sealed to the desk only", func(s *newsroom.FSSort) {
			s.Keys[0].Key, _ = forward.Seal(first[c.ID], e.desk.Recipient)
		}, "malformed_key"},
		{"a key's recipient that is not one", func(s *newsroom.FSSort) { s.Keys[0].Recipient = "age1notakey" }, "bad_request"},
		{"a key without a signature", func(s *newsroom.FSSort) { s.Keys[0].Signature = nil }, "bad_request"},
		{"a preview to the conversation key only", func(s *newsroom.FSSort) {
			rs, _ := keys.ParseRecipients(first[c.ID].Recipient().String())
			s.Previews[0].Preview = encrypt(t, make([]byte, pista.PreviewBytes), rs)
		}, "malformed_preview"},
	}
	for _, m := range malformed {
		t.Run(m.name, func(t *testing.T) {
			s := sort1
			s.Keys = slices.Clone(sort1.Keys)
			s.Items = slices.Clone(sort1.Items)
			s.Previews = slices.Clone(sort1.Previews)
			m.edit(&s)
			r := e.call(http.MethodPost, "/newsroom/fs/sort", s, nil)
			if r.Status != 400 || errorCode(t, r) != m.code {
				t.Fatalf("status %d %s, want 400 %s", r.Status, r.Body, m.code)
			}
			e.in.CheckUnchanged(t, before, e.j)
			cv, err := e.in.Srv.Stores.Tips.ConversationFor(ctx, e.j.ID, c.ID)
			if err != nil || cv.KeyRecipient != "" || cv.Key != nil || cv.PreviewIntake != today.ID {
				t.Fatalf("a refused sort changed the conversation: %v %+v", err, cv)
			}
			now, err := e.in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)
			if err != nil || !slices.EqualFunc(now, stored, func(a, b pista.Item) bool { return a.Object == b.Object && a.Sealing == b.Sealing }) {
				t.Fatalf("a refused sort changed the items: %v", err)
			}
		})
	}

	// A key whose signature is not the desk's over it (signed for another
	// conversation or by another key; or the conversation moved since it
	// was listed) is a conflict: nothing of the conversation changes,
	// and the sorter loads it again.
	other, _ := age.GenerateHybridIdentity()
	for name, sig := range map[string][]byte{
		"signed for another conversation": forward.SignConversationKey(e.deskID, "another", sort1.Keys[0].Recipient),
		"signed by another desk key":      forward.SignConversationKey(other, c.ID, sort1.Keys[0].Recipient),
	} {
		s := sort1
		s.Keys = slices.Clone(sort1.Keys)
		s.Keys[0].Signature = sig
		var res newsroom.FSSorted
		if r := e.call(http.MethodPost, "/newsroom/fs/sort", s, &res); r.Status != 200 || res.Sorted != 0 || !slices.Equal(res.Conflicts, []string{c.ID}) {
			t.Fatalf("a key %s: %d %s, want 200, nothing sorted and a conflict", name, r.Status, r.Body)
		}
		e.in.CheckUnchanged(t, before, e.j)
		if cv, err := e.in.Srv.Stores.Tips.ConversationFor(ctx, e.j.ID, c.ID); err != nil || cv.KeyRecipient != "" {
			t.Fatalf("a key %s was set: %v %+v", name, err, cv)
		}
	}

	// The first sorter's sort.
	var res newsroom.FSSorted
	if r := e.call(http.MethodPost, "/newsroom/fs/sort", sort1, &res); r.Status != 200 {
		t.Fatalf("POST fs/sort: %d %s", r.Status, r.Body)
	}
	if res.Sorted != 3 || res.Skipped != 0 || res.Previews != 1 || len(res.Conflicts) != 0 {
		t.Fatalf("POST fs/sort answered %+v", res)
	}
	K := first[c.ID]
	cv, err := e.in.Srv.Stores.Tips.ConversationFor(ctx, e.j.ID, c.ID)
	if err != nil || cv.KeyRecipient != K.Recipient().String() || cv.PreviewIntake != 0 {
		t.Fatalf("the sorted conversation: %v %+v", err, cv)
	}
	if got := decrypt(t, cv.Preview, K); !bytes.HasPrefix(got, []byte("the mayor's contracts")) {
		t.Errorf("the sorted preview opens to %q", got)
	}
	sorted, err := e.in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)
	if err != nil || len(sorted) != 3 {
		t.Fatal(err)
	}
	want := []string{"the mayor's contracts", "%PDF-1.7 the mayor's contracts", "thanks"}
	for i, it := range sorted {
		if it.Sealing != pista.SealingConversation || it.IntakeKey != 0 || it.Object == stored[i].Object {
			t.Errorf("item %d after the sort: %+v", i, it)
		}
		obj, err := e.object(it.Object)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(obj)) != it.Size {
			t.Errorf("item %d: size %d recorded, %d stored", i, it.Size, len(obj))
		}
		if got := string(decrypt(t, obj, K)); !strings.HasPrefix(got, want[i]) {
			t.Errorf("item %d opens with the conversation key to %q", i, got)
		}
		if got := string(decrypt(t, obj, e.archive)); !strings.HasPrefix(got, want[i]) {
			t.Errorf("item %d opens with the archive key to %q", i, got)
		}
		if _, err := age.Decrypt(bytes.NewReader(obj), intakeID, e.deskID); err == nil {
			t.Errorf("item %d still opens with the intake or the desk key", i)
		}
		if _, err := e.object(stored[i].Object); !errors.Is(err, pista.ErrNotFound) {
			t.Errorf("item %d's old object is still there: %v", i, err)
		}
		if it.Meta != "" {
			meta, err := e.object(it.Meta)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(decrypt(t, meta, K)); !strings.Contains(got, `"leak.pdf"`) {
				t.Errorf("item %d's meta opens to %q", i, got)
			}
			if _, err := e.object(stored[i].Meta); !errors.Is(err, pista.ErrNotFound) {
				t.Errorf("item %d's old meta object is still there: %v", i, err)
			}
		}
	}
	if got := string(decrypt(t, must(e.object(sorted[2].Object)), src)); got != "thanks" {
		t.Errorf("the sorted reply opens with the source's key to %q", got)
	}
	if u := e.unsorted(); len(u.Items) != 0 || len(u.Previews) != 0 || u.Next != 0 {
		t.Errorf("unsorted after the sort: %+v", u)
	}
	page = e.b.Get("/newsroom/c/" + c.ID)
	if strings.Contains(page.Text(), pistatest.En("forward-routes.unsorted")) ||
		!strings.Contains(page.Text(), `data-conv-recipient="`+K.Recipient().String()+`" data-conv-key="`+base64.StdEncoding.EncodeToString(cv.Key)+`"`) ||
		strings.Count(page.Body, `data-sealing="conv"`) != 3 {
		t.Errorf("the conversation page after the sort does not carry its key, or still says it is not sorted")
	}
	if inbox := e.b.Get("/newsroom/"); !strings.Contains(inbox.Body, `data-conversation-row="`+c.ID+`" data-conv-recipient="`+K.Recipient().String()+`"`) {
		t.Errorf("the inbox's row does not carry the conversation's key")
	}

	// The second sorter comes late with its own key: a conflict, its
	// items skipped, the objects it made deleted.
	before = e.in.Snapshot(e.j)
	if r := e.call(http.MethodPost, "/newsroom/fs/sort", sort2, &res); r.Status != 200 {
		t.Fatalf("the second sort: %d %s", r.Status, r.Body)
	}
	if res.Sorted != 0 || res.Skipped != 3 || res.Previews != 0 || !slices.Equal(res.Conflicts, []string{c.ID}) {
		t.Fatalf("the second sort answered %+v", res)
	}
	e.in.CheckUnchanged(t, before, e.j)
	if cv2, _ := e.in.Srv.Stores.Tips.ConversationFor(ctx, e.j.ID, c.ID); cv2.KeyRecipient != K.Recipient().String() {
		t.Errorf("the second sort replaced the conversation's key")
	}
	// The first sorter's request again (say, retried): already sorted,
	// skipped, nothing left behind.
	sort1.Keys = nil
	if r := e.call(http.MethodPost, "/newsroom/fs/sort", sort1, &res); r.Status != 200 || res.Sorted != 0 || res.Skipped != 3 {
		t.Fatalf("the sort again: %d %s", r.Status, r.Body)
	}
	e.in.CheckUnchanged(t, before, e.j)
	for i, it := range must(e.in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)) {
		if it.Object != sorted[i].Object {
			t.Errorf("item %d changed by a skipped sort", i)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestForwardRaceItems has two sorters that use the same conversation key
// (the second loaded it after the first made it) race over the same
// items: one of them swaps each item, the other is skipped, and no object
// is left behind.
func TestForwardRaceItems(t *testing.T) { onBothStores(t, testForwardRaceItems) }

func testForwardRaceItems(t *testing.T, cfg server.Config) {
	e := newFSEnv(t, cfg)
	ctx := context.Background()
	day := e.keys().Day
	if r := e.addKeys(e.makeKeys(day)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	ks := e.keys()
	c, _ := e.intakeTip(ks.Intake[0], "a tip")
	u := e.unsorted()
	made := map[string]*age.HybridIdentity{}
	req := e.sorter(ks, u, made)
	// Give the conversation its key alone first, as a sort whose items
	// all failed would.
	var res newsroom.FSSorted
	if r := e.call(http.MethodPost, "/newsroom/fs/sort", newsroom.FSSort{Keys: req.Keys}, &res); r.Status != 200 || len(res.Conflicts) != 0 {
		t.Fatalf("a sort of a key only: %d %s", r.Status, r.Body)
	}
	req.Keys = nil
	before := e.in.Snapshot(e.j)
	results := make(chan newsroom.FSSorted, 2)
	for range 2 {
		go func() {
			var res newsroom.FSSorted
			body, _ := json.Marshal(req)
			b := e.b.Request(http.MethodPost, "/newsroom/fs/sort", bytes.NewReader(body), "application/json")
			b.Header.Set(newsroom.CSRFHeader, e.tok)
			resp, err := e.b.Client.Do(b)
			if err == nil {
				json.NewDecoder(resp.Body).Decode(&res)
				resp.Body.Close()
			}
			results <- res
		}()
	}
	r1, r2 := <-results, <-results
	if r1.Sorted+r2.Sorted != 3 || r1.Skipped+r2.Skipped != 3 {
		t.Fatalf("two racing sorts answered %+v and %+v", r1, r2)
	}
	after := e.in.Snapshot(e.j)
	if len(after.Objects) != len(before.Objects) {
		t.Errorf("objects before the sorts: %d, after: %d (one new object per sorted one, none left over)", len(before.Objects), len(after.Objects))
	}
	for _, it := range must(e.in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)) {
		if it.Sealing != pista.SealingConversation {
			t.Errorf("item %d not sorted: %+v", it.ID, it)
		}
		if _, err := age.Decrypt(bytes.NewReader(must(e.object(it.Object))), made[c.ID]); err != nil {
			t.Errorf("item %d does not open with the conversation key: %v", it.ID, err)
		}
	}
}

// TestForwardDestroyLoop runs a server whose intake days last a moment:
// an intake key whose items were sorted is destroyed once its day is
// Grace days past; one with an item still under it stays.
func TestForwardDestroyLoop(t *testing.T) {
	const period = time.Second // pista serve --intake-day's least
	e := newFSEnv(t, server.Config{IntakeDay: period})
	ks := e.keys()
	if ks.PeriodSeconds != 1 {
		t.Errorf("period_seconds %d for a period of %v", ks.PeriodSeconds, period)
	}
	day := ks.Day
	if r := e.addKeys(e.makeKeys(day, day+1)); r.Status != 200 {
		t.Fatalf("posting keys: %d %s", r.Status, r.Body)
	}
	ks = e.keys()
	sortedKey, waitingKey := ks.Intake[0], ks.Intake[1]
	e.intakeTip(sortedKey, "sorted")
	u := e.unsorted()
	if r := e.call(http.MethodPost, "/newsroom/fs/sort", e.sorter(ks, u, map[string]*age.HybridIdentity{}), nil); r.Status != 200 {
		t.Fatalf("sorting: %d %s", r.Status, r.Body)
	}
	e.intakeTip(waitingKey, "waiting")

	// Days go by; the loop runs every period.
	deadline := time.Now().Add(3 * period * (forward.Grace + 2))
	for {
		live, err := e.in.Srv.Stores.Tips.IntakeKeysFor(context.Background(), e.j.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids := []int64{}
		for _, k := range live {
			ids = append(ids, k.ID)
		}
		if !slices.Contains(ids, sortedKey.ID) {
			if !slices.Contains(ids, waitingKey.ID) {
				t.Fatalf("the key with an item still under it was destroyed too")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sorted intake key of day %d still lives on day %d", sortedKey.Day, forward.Clock{Period: period}.Day(time.Now()))
		}
		time.Sleep(period / 4)
	}
	if _, err := e.in.Srv.Stores.Tips.IntakeKeyByID(context.Background(), sortedKey.ID); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("the destroyed key is still found: %v", err)
	}
	if !strings.Contains(e.in.Log.String(), "intake keys expired") {
		t.Errorf("the log does not say that intake keys expired")
	}
}

// TestForwardLabels checks the label each item of a conversation page
// gets, server-rendered: sent before forward secrecy, received without
// it, not sorted yet; none once sorted.
func TestForwardLabels(t *testing.T) {
	e := newFSEnv(t, server.Config{})
	ctx := context.Background()
	tip := e.in.StoreTip(e.desk)
	rs, err := keys.ParseRecipients(e.desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(e.in.Srv.Stores.Blobs, rs, -1)
	for _, text := range []string{"old", "without"} {
		if err := b.AddText(ctx, pista.KindMessage, text); err != nil {
			t.Fatal(err)
		}
	}
	items := b.Items()
	items[0].Received, items[1].Received = pista.ReceivedLegacy, pista.ReceivedNoForward
	if err := e.in.Srv.Stores.Tips.AddItems(ctx, tip.Conversation.ID, items); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "es", "fr", "ar"} {
		page := e.b.Get("/newsroom/c/" + tip.Conversation.ID + "?lang=" + lang)
		if page.Status != 200 {
			t.Fatalf("%s: %d", lang, page.Status)
		}
		for _, k := range []string{"forward-routes.legacy", "forward-routes.nofs"} {
			if n := strings.Count(page.Text(), tr(lang, k)); n != 1 {
				t.Errorf("%s: the page shows %q %d times, want once", lang, tr(lang, k), n)
			}
		}
		if strings.Contains(page.Text(), tr(lang, "forward-routes.unsorted")) {
			t.Errorf("%s: the page says an item is not sorted yet; none is under an intake key", lang)
		}
	}
	page := e.b.Get("/newsroom/c/" + tip.Conversation.ID)
	for _, want := range []string{`data-sealing="desk" data-received="fs"`, `data-sealing="desk" data-received="legacy"`, `data-sealing="desk" data-received="nofs"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("no item with %s", want)
		}
	}
}

// tr is the text of key in lang.
func tr(lang, key string) string {
	l, _ := i18n.Get(lang)
	return l.T(key)
}
