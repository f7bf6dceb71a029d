package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
)

// seal encrypts plaintext with age to recipients, as a source's app does.
func seal(t testing.TB, plaintext []byte, to ...string) []byte {
	t.Helper()
	var rs []age.Recipient
	for _, s := range to {
		r, err := age.ParseRecipients(strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r...)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plaintext)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sealedPart is one part of a sealed submission.
type sealedPart struct {
	name string
	body []byte
}

// sealedBody encodes a sealed submission: the tip part (if tip is not
// nil), then parts in order.
func sealedBody(t testing.TB, tip any, parts ...sealedPart) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if tip != nil {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="tip"`)
		h.Set("Content-Type", "application/json")
		w, _ := mw.CreatePart(h)
		json.NewEncoder(w).Encode(tip)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="`+p.name+`"`)
		h.Set("Content-Type", "application/octet-stream")
		w, _ := mw.CreatePart(h)
		w.Write(p.body)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// sendSealed posts a sealed submission.
func sendSealed(b *pistatest.Browser, path, token string, tip any, parts ...sealedPart) *pistatest.Response {
	b.T.Helper()
	body, ct := sealedBody(b.T, tip, parts...)
	req := b.Request(http.MethodPost, path, body, ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	prove(b, req)
	return b.Do(req)
}

// appSource is a source's keys as an app holds them. Tests that do not
// check the derivation itself make them at random: the server cannot
// tell, and Argon2id is slow under the race detector.
func appSource(t testing.TB) keys.Derived {
	t.Helper()
	auth := make([]byte, keys.AuthSize)
	rand.Read(auth)
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return keys.Derived{Auth: auth, Lookup: keys.LookupHash(auth), Identity: id}
}

func tipFor(desk string, src keys.Derived) *api.TipPart {
	return &api.TipPart{Desk: desk, Lookup: src.Lookup, Recipient: src.Recipient()}
}

// desksAPI fetches GET /api/v1/desks.
func desksAPI(b *pistatest.Browser) api.DesksResponse {
	b.T.Helper()
	r := call(b, http.MethodGet, "/api/v1/desks", "", "")
	if r.Status != http.StatusOK {
		b.T.Fatalf("GET /api/v1/desks: %d %s", r.Status, r.Body)
	}
	var d api.DesksResponse
	if err := json.Unmarshal([]byte(r.Body), &d); err != nil {
		b.T.Fatal(err)
	}
	return d
}

// recipientsOf finds a desk's recipients in GET /api/v1/desks.
func recipientsOf(b *pistatest.Browser, slug string) []string {
	b.T.Helper()
	for _, d := range desksAPI(b).Desks {
		if d.Slug == slug {
			return d.Recipients
		}
	}
	b.T.Fatalf("no desk %q in GET /api/v1/desks", slug)
	return nil
}

// sourceLogin logs a source in through the API and returns the token.
func sourceLogin(b *pistatest.Browser, auth []byte) (string, api.SourceLoginResponse) {
	b.T.Helper()
	body, _ := json.Marshal(api.SourceLoginRequest{Auth: base64.StdEncoding.EncodeToString(auth)})
	r := call(b, http.MethodPost, "/api/v1/source/login", "", string(body))
	if r.Status != http.StatusOK {
		b.T.Fatalf("source login: %d %s", r.Status, r.Body)
	}
	var lr api.SourceLoginResponse
	if err := json.Unmarshal([]byte(r.Body), &lr); err != nil || lr.Token == "" {
		b.T.Fatalf("source login answer %q: %v", r.Body, err)
	}
	return lr.Token, lr
}

// deskIdentity unwraps a desk's current identity with a member's key.
func deskIdentity(in *pistatest.Instance, j *pistatest.Journalist, slug string) *age.HybridIdentity {
	t := in.T
	t.Helper()
	wraps, err := in.Srv.Stores.Desks.WrapsFor(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	var id *age.HybridIdentity
	for _, w := range wraps {
		if w.DeskSlug == slug {
			if id, err = keys.Unwrap(w.Wrapped, j.Identity); err != nil {
				t.Fatal(err)
			}
		}
	}
	if id == nil {
		t.Fatalf("%s holds no key of %s", j.Name, slug)
	}
	return id
}

// storeReply stores a journalist's reply, encrypted to the source and the
// desk, as the newsroom's reply form does.
func storeReply(in *pistatest.Instance, j *pistatest.Journalist, conv string, text string, to ...string) pista.Item {
	t := in.T
	t.Helper()
	ctx := context.Background()
	rs, err := keys.ParseRecipients(to...)
	if err != nil {
		t.Fatal(err)
	}
	b := intake.NewBatch(in.Srv.Stores.Blobs, rs, -1)
	if err := b.AddText(ctx, pista.KindReply, text); err != nil {
		t.Fatal(err)
	}
	items := b.Items()
	items[0].AuthorID = j.ID
	if err := in.Srv.Stores.Tips.AddItems(ctx, conv, items); err != nil {
		t.Fatal(err)
	}
	stored, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	return stored[len(stored)-1]
}

// conversations lists the conversations j sees.
func conversations(in *pistatest.Instance, j *pistatest.Journalist) []pista.Conversation {
	in.T.Helper()
	cs, err := in.Srv.Stores.Tips.ConversationsFor(context.Background(), j.ID, pista.Page{Limit: 1000})
	if err != nil {
		in.T.Fatal(err)
	}
	return cs
}

// open decrypts an age file.
func open(t testing.TB, file []byte, id age.Identity) []byte {
	t.Helper()
	r, err := age.Decrypt(bytes.NewReader(file), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDesks(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)
	d := desksAPI(in.Browser())
	if len(d.Desks) != 1 || d.Desks[0].Slug != "americas" || d.Desks[0].Title != desk.Title {
		t.Fatalf("desks %+v", d.Desks)
	}
	if want := []string{desk.Recipient, archive.Recipient().String()}; strings.Join(d.Desks[0].Recipients, " ") != strings.Join(want, " ") {
		t.Fatalf("recipients %v, want the desk's key then the archive's", d.Desks[0].Recipients)
	}
	salt, err := in.Srv.Stores.CodenameSalt(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Codename.Salt, salt) {
		t.Fatal("the published salt is not the instance's")
	}
	if err := apiclient.CheckCodename(d.Codename); err != nil {
		t.Fatalf("the published parameters are not keys.Derive's: %v %+v", err, d.Codename)
	}
}

// TestSourceAPI follows a source's app: a tip whose keys were derived on
// the device from a codename, read by a journalist; the codename then
// works on the web pages too; a reply read and deleted, a follow-up sent.
func TestSourceAPI(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	b := in.Browser()
	ctx := context.Background()

	desks := desksAPI(b)
	codename := keys.NewCodename()
	src, err := keys.Derive(ctx, codename, desks.Codename.Salt)
	if err != nil {
		t.Fatal(err)
	}
	to := desks.Desks[0].Recipients
	file := make([]byte, 150<<10)
	rand.Read(file)
	parts := []sealedPart{
		{"message", seal(t, []byte("The audit is hidden."), to...)},
		{"file", seal(t, file, to...)},
		{"file_meta", seal(t, []byte(`{"name":"ledger.pdf","type":"application/pdf"}`), to...)},
		{"contact", seal(t, []byte("signal +1 555 0100"), to...)},
	}
	r := sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", src), parts...)
	if r.Status != http.StatusCreated || strings.TrimSpace(r.Body) != `{"ok":true}` {
		t.Fatalf("tip: %d %s", r.Status, r.Body)
	}

	// The journalist gets the items as sent, byte for byte, messages
	// first, and reads them with the desk's key.
	tok := apiLogin(in, j)
	got := items(t, b, tok, "")
	if len(got.Items) != 3 {
		t.Fatalf("%d items, want message, file, contact", len(got.Items))
	}
	deskID := deskIdentity(in, j, "americas")
	wantKinds := []string{"message", "file", "contact"}
	wantSent := [][]byte{parts[0].body, parts[1].body, parts[3].body}
	for i, it := range got.Items {
		if it.Kind != wantKinds[i] {
			t.Fatalf("item %d is a %s, want %s", i, it.Kind, wantKinds[i])
		}
		r := call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(it.ID, 10), tok, "")
		if r.Body != string(wantSent[i]) {
			t.Fatalf("the stored %s differs from what the app sent", it.Kind)
		}
	}
	if got := open(t, []byte(call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(got.Items[1].ID, 10), tok, "").Body), deskID); !bytes.Equal(got, file) {
		t.Fatal("the file does not decrypt to the original")
	}
	meta := call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(got.Items[1].ID, 10)+"/meta", tok, "")
	if m := open(t, []byte(meta.Body), archive); !strings.Contains(string(m), "ledger.pdf") {
		t.Fatalf("the archive key reads meta %q", m)
	}
	convs := conversations(in, j)
	if len(convs) != 1 || convs[0].Channel != pista.ChannelAPI {
		t.Fatalf("conversations %+v, want one from the API channel", convs)
	}
	conv := convs[0].ID

	// The codename the app made works on the web pages: the app derived
	// what the server derives.
	web := in.Browser()
	lr := web.Post("/login", url.Values{"csrf": {web.Get("/").CSRF(t)}, "codename": {codename.String()}})
	if lr.Status != http.StatusSeeOther {
		t.Fatalf("web login with the app's codename: %d\n%s", lr.Status, lr.Body)
	}

	// The app logs in with the authentication key and reads a reply.
	stok, login := sourceLogin(b, src.Auth)
	if login.Desk != "americas" {
		t.Fatalf("login names desk %q", login.Desk)
	}
	if r := call(b, http.MethodGet, "/api/v1/source/replies", stok, ""); r.Status != http.StatusOK || !strings.Contains(r.Body, `"replies":[]`) {
		t.Fatalf("replies before any: %d %s", r.Status, r.Body)
	}
	desk, _ := in.Srv.Stores.Desks.DeskBySlug(ctx, "americas")
	reply := storeReply(in, j, conv, "Thank you. Tell us more.", src.Recipient(), desk.Recipient)
	var rr api.RepliesResponse
	r = call(b, http.MethodGet, "/api/v1/source/replies", stok, "")
	if json.Unmarshal([]byte(r.Body), &rr); len(rr.Replies) != 1 || rr.Replies[0].ID != reply.ID || rr.Replies[0].Size != reply.Size {
		t.Fatalf("replies: %d %s", r.Status, r.Body)
	}
	path := "/api/v1/source/replies/" + strconv.FormatInt(reply.ID, 10)
	r = call(b, http.MethodGet, path, stok, "")
	if r.Status != http.StatusOK || string(open(t, []byte(r.Body), src.Identity)) != "Thank you. Tell us more." {
		t.Fatalf("reply: %d", r.Status)
	}
	// Only replies: not the source's own items, not by the journalist's
	// item IDs.
	if r := call(b, http.MethodGet, "/api/v1/source/replies/"+strconv.FormatInt(got.Items[0].ID, 10), stok, ""); r.Status != http.StatusNotFound {
		t.Fatalf("a message as a reply: %d", r.Status)
	}

	// A follow-up joins the conversation.
	r = sendSealed(b, "/api/v1/source/followups", stok, nil, sealedPart{"message", seal(t, []byte("More: page 2."), to...)})
	if r.Status != http.StatusCreated {
		t.Fatalf("follow-up: %d %s", r.Status, r.Body)
	}
	next := items(t, b, tok, "?after="+strconv.FormatInt(reply.ID, 10))
	if len(next.Items) != 1 || next.Items[0].Conversation != conv || next.Items[0].Kind != "message" {
		t.Fatalf("after the follow-up: %+v", next.Items)
	}

	// The source deletes the reply, then logs out.
	if r := call(b, http.MethodDelete, path, stok, ""); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := call(b, http.MethodGet, path, stok, ""); r.Status != http.StatusNotFound {
		t.Fatalf("deleted reply: %d", r.Status)
	}
	if _, err := in.Srv.Stores.Blobs.Open(ctx, reply.Object); err == nil {
		t.Fatal("the deleted reply's object is still stored")
	}
	if r := call(b, http.MethodDelete, path, stok, ""); r.Status != http.StatusNotFound {
		t.Fatalf("deleting twice: %d", r.Status)
	}
	if r := call(b, http.MethodPost, "/api/v1/source/logout", stok, ""); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d", r.Status)
	}
	if r := call(b, http.MethodGet, "/api/v1/source/replies", stok, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("token after logout: %d", r.Status)
	}
}

func TestSourceLoginSameAnswer(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	b := in.Browser()
	to := recipientsOf(b, "americas")
	// A source whose lookup is that of 32 zero bytes, which the server
	// derives in place of a malformed key: it must not let anyone in.
	planted := keys.Derived{Auth: make([]byte, keys.AuthSize), Identity: appSource(t).Identity}
	planted.Lookup = keys.LookupHash(planted.Auth)
	if r := sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", planted), sealedPart{"message", seal(t, []byte("hi"), to...)}); r.Status != http.StatusCreated {
		t.Fatalf("tip: %d %s", r.Status, r.Body)
	}
	random := make([]byte, keys.AuthSize)
	rand.Read(random)
	var first string
	for _, auth := range []string{
		base64.StdEncoding.EncodeToString(random),
		"not base64!",
		base64.StdEncoding.EncodeToString(random[:16]),
		base64.StdEncoding.EncodeToString(append(random, 0)),
		"",
	} {
		body, _ := json.Marshal(api.SourceLoginRequest{Auth: auth})
		r := call(b, http.MethodPost, "/api/v1/source/login", "", string(body))
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("auth %q: %d %s", auth, r.Status, r.Body)
		}
		if first == "" {
			first = r.Body
		} else if r.Body != first {
			t.Fatalf("auth %q answered %q, another wrong key %q", auth, r.Body, first)
		}
	}
	// Journalists' and sources' tokens are not interchangeable.
	jt := apiLogin(in, j)
	if r := call(b, http.MethodGet, "/api/v1/source/replies", jt, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("a journalist's token on a source route: %d", r.Status)
	}
	src := appSource(t)
	if r := sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", src), sealedPart{"message", seal(t, []byte("hi"), to...)}); r.Status != http.StatusCreated {
		t.Fatalf("tip: %d %s", r.Status, r.Body)
	}
	st, _ := sourceLogin(b, src.Auth)
	if r := call(b, http.MethodGet, "/api/v1/journalist/items", st, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("a source's token on a journalist route: %d", r.Status)
	}
}

// TestSealedRefusals sends submissions the server must refuse, each after
// a good one so that objects already written must be deleted, and checks
// that nothing at all was stored.
func TestSealedRefusals(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	const maxUpload = 1 << 20
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}, MaxUpload: maxUpload})
	j := in.Journalist("ana")
	in.Desk("americas", j)
	b := in.Browser()
	to := recipientsOf(b, "americas")
	x25519, _ := age.GenerateX25519Identity()
	taken := appSource(t)
	if r := sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", taken), sealedPart{"message", seal(t, []byte("first"), to...)}); r.Status != http.StatusCreated {
		t.Fatalf("tip: %d %s", r.Status, r.Body)
	}
	stok, _ := sourceLogin(b, taken.Auth)

	good := []sealedPart{
		{"message", seal(t, []byte("a message"), to...)},
		{"file", seal(t, bytes.Repeat([]byte("x"), 100<<10), to...)},
		{"file_meta", seal(t, []byte(`{"name":"a.txt","type":"text/plain"}`), to...)},
	}
	with := func(more ...sealedPart) []sealedPart { return append(append([]sealedPart{}, good...), more...) }
	src := appSource(t)
	tip := tipFor("americas", src)
	cut := seal(t, bytes.Repeat([]byte("y"), 70<<10), to...)
	h, _ := age.ExtractHeader(bytes.NewReader(cut))

	tests := []struct {
		name   string
		path   string // the tips route if ""
		token  string
		tip    any
		parts  []sealedPart
		status int
		code   string
	}{
		{"malformed age part", "", "", tip, with(sealedPart{"message", []byte("this is not an age file")}), 400, "malformed_item"},
		{"armored age part", "", "", tip, with(sealedPart{"file", []byte("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n")}, sealedPart{"file_meta", good[2].body}), 400, "malformed_item"},
		{"desk key only", "", "", tip, with(sealedPart{"message", seal(t, []byte("m"), to[0])}), 400, "malformed_item"},
		{"a stanza too many", "", "", tip, with(sealedPart{"message", seal(t, []byte("m"), append(to, appSource(t).Recipient())...)}), 400, "malformed_item"},
		{"x25519 file", "", "", tip, with(sealedPart{"file", seal(t, []byte("m"), x25519.Recipient().String())}, sealedPart{"file_meta", good[2].body}), 400, "malformed_item"},
		{"payload cut inside a tag", "", "", tip, with(sealedPart{"file", cut[:len(h)+16+65552+3]}, sealedPart{"file_meta", good[2].body}), 400, "malformed_item"},
		{"message over the limit", "", "", tip, with(sealedPart{"message", seal(t, bytes.Repeat([]byte("m"), httpx.MaxMessageBytes+1), to...)}), 413, "too_large"},
		{"messages over the limit together", "", "", tip, with(
			sealedPart{"message", seal(t, bytes.Repeat([]byte("m"), httpx.MaxMessageBytes/2), to...)},
			sealedPart{"message", seal(t, bytes.Repeat([]byte("m"), httpx.MaxMessageBytes/2), to...)}), 413, "too_large"},
		{"over the upload limit", "", "", tip, with(sealedPart{"file", seal(t, make([]byte, maxUpload), to...)}, sealedPart{"file_meta", good[2].body}), 413, "too_large"},
		{"file without meta", "", "", tip, with(sealedPart{"file", good[1].body}), 400, "bad_request"},
		{"file then message", "", "", tip, with(sealedPart{"file", good[1].body}, good[0]), 400, "bad_request"},
		{"meta without file", "", "", tip, with(sealedPart{"file_meta", good[2].body}), 400, "bad_request"},
		{"two contacts", "", "", tip, with(sealedPart{"contact", good[0].body}, sealedPart{"contact", good[0].body}), 400, "bad_request"},
		{"unknown part", "", "", tip, with(sealedPart{"files", good[1].body}), 400, "bad_request"},
		{"no tip part", "", "", nil, good, 400, "bad_request"},
		{"tip part not JSON", "", "", nil, append([]sealedPart{{"tip", []byte("desk=americas")}}, good...), 400, "bad_request"},
		{"unknown desk", "", "", tipFor("nowhere", src), good, 400, "unknown_desk"},
		{"short lookup", "", "", &api.TipPart{Desk: "americas", Lookup: src.Lookup[:16], Recipient: src.Recipient()}, good, 400, "bad_request"},
		{"classic source key", "", "", &api.TipPart{Desk: "americas", Lookup: src.Lookup, Recipient: x25519.Recipient().String()}, good, 400, "bad_request"},
		{"no item", "", "", tip, nil, 400, "empty"},
		{"taken lookup", "", "", tipFor("americas", taken), good, 409, "codename_in_use"},
		{"follow-up with a bad part", "/api/v1/source/followups", stok, nil, with(sealedPart{"message", seal(t, []byte("m"), x25519.Recipient().String())}), 400, "malformed_item"},
		{"follow-up with a contact", "/api/v1/source/followups", stok, nil, with(sealedPart{"contact", good[0].body}), 400, "bad_request"},
		{"follow-up with a tip part", "/api/v1/source/followups", stok, tip, good, 400, "bad_request"},
		{"follow-up without a token", "/api/v1/source/followups", "", nil, good, 401, "unauthorized"},
		{"preview not padded", "", "", tip, with(sealedPart{"preview", seal(t, []byte("a message"), to...)}), 400, "malformed_item"},
		{"preview too big", "", "", tip, with(sealedPart{"preview", make([]byte, pista.MaxPreviewSize+1)}), 413, "too_large"},
		{"two previews", "", "", tip, with(sealedPart{"preview", seal(t, pista.PreviewText("a message"), to...)}, sealedPart{"preview", seal(t, pista.PreviewText("a message"), to...)}), 400, "bad_request"},
		{"follow-up with a preview", "/api/v1/source/followups", stok, nil, with(sealedPart{"preview", seal(t, pista.PreviewText("a message"), to...)}), 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(j)
			convs := len(conversations(in, j))
			path := tt.path
			if path == "" {
				path = "/api/v1/source/tips"
			}
			r := sendSealed(b, path, tt.token, tt.tip, tt.parts...)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if e := apiError(t, r); e.Code != tt.code {
				t.Errorf("error %q (%s), want %q", e.Code, e.Message, tt.code)
			}
			in.CheckUnchanged(t, before, j)
			if n := len(conversations(in, j)); n != convs {
				t.Errorf("%d conversations, %d before", n, convs)
			}
		})
	}

	t.Run("not multipart", func(t *testing.T) {
		before := in.Snapshot(j)
		r := call(b, http.MethodPost, "/api/v1/source/tips", "", `{"desk":"americas"}`)
		if r.Status != http.StatusBadRequest || apiError(t, r).Code != "bad_request" {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		in.CheckUnchanged(t, before, j)
	})

	// A good submission still goes through, and its message reads; its
	// preview is kept with the conversation, as it came.
	preview := seal(t, pista.PreviewText("a message"), to...)
	if r := sendSealed(b, "/api/v1/source/tips", "", tip, with(sealedPart{"preview", preview})...); r.Status != http.StatusCreated {
		t.Fatalf("good tip: %d %s", r.Status, r.Body)
	}
	if cs := conversations(in, j); len(cs) == 0 || !bytes.Equal(cs[0].Preview, preview) {
		t.Error("the app's preview was not kept with the conversation")
	}
}

// Sources made or logged in through the API pay a proof of work: without
// one, or with one already used, the server refuses before it reads the
// body, and stores nothing.
func TestSourcesPayProofOfWork(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	b := in.Browser()
	to := recipientsOf(b, "americas")
	before := in.Snapshot(alice)

	var ch api.ChallengeResponse
	r := call(b, http.MethodGet, "/api/v1/source/challenge", "", "")
	if err := json.Unmarshal([]byte(r.Body), &ch); err != nil || r.Status != http.StatusOK || ch.Bits != pow.MinBits {
		t.Fatalf("challenge: %d %s (%v)", r.Status, r.Body, err)
	}
	src := appSource(t)
	body, ct := sealedBody(t, tipFor("americas", src), sealedPart{"message", seal(t, []byte("hi"), to...)})
	req := b.Request(http.MethodPost, "/api/v1/source/tips", body, ct)
	if r := b.Do(req); r.Status != http.StatusPreconditionRequired || apiError(t, r).Code != "proof_of_work_required" {
		t.Fatalf("a tip without proof: %d %s", r.Status, r.Body)
	}
	in.CheckUnchanged(t, before, alice)

	proof := b.Prove()
	send := func(src keys.Derived) *pistatest.Response {
		body, ct := sealedBody(t, tipFor("americas", src), sealedPart{"message", seal(t, []byte("hi"), to...)})
		req := b.Request(http.MethodPost, "/api/v1/source/tips", body, ct)
		req.Header.Set(api.PoWHeader, proof)
		return b.Do(req)
	}
	if r := send(src); r.Status != http.StatusCreated {
		t.Fatalf("a proven tip: %d %s", r.Status, r.Body)
	}
	mid := in.Snapshot(alice)
	if r := send(appSource(t)); r.Status != http.StatusPreconditionRequired {
		t.Fatalf("a second tip with the same proof: %d %s", r.Status, r.Body)
	}
	in.CheckUnchanged(t, mid, alice)

	login, _ := json.Marshal(api.SourceLoginRequest{Auth: base64.StdEncoding.EncodeToString(src.Auth)})
	req = b.Request(http.MethodPost, "/api/v1/source/login", strings.NewReader(string(login)), "application/json")
	if r := b.Do(req); r.Status != http.StatusPreconditionRequired {
		t.Fatalf("a login without proof: %d %s", r.Status, r.Body)
	}
	if r := call(b, http.MethodPost, "/api/v1/source/login", "", string(login)); r.Status != http.StatusOK {
		t.Fatalf("a proven login: %d %s", r.Status, r.Body)
	}
}
