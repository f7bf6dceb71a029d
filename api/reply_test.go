package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// postReply posts body as a reply to conv with token.
func postReply(b *pistatest.Browser, token, conv string, body []byte) *pistatest.Response {
	b.T.Helper()
	req := b.Request(http.MethodPost, "/api/v1/journalist/conversations/"+conv+"/replies", bytes.NewReader(body), "application/octet-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return b.Do(req)
}

// TestReplyFromDevice: a journalist learns a conversation's recipients,
// encrypts a reply to them on their own device and posts it; the source,
// the desk and the archive each open it. A journalist of another desk sees
// neither route's conversation, and a body not encrypted to exactly the
// recipients, or over a message's length, is refused and leaves nothing.
func TestReplyFromDevice(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}})
	ana, bea := in.Journalist("ana"), in.Journalist("bea")
	desk := in.Desk("americas", ana)
	in.Desk("europa", bea)
	b := in.Browser()

	src := appSource(t)
	if r := sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", src), sealedPart{"message", seal(t, []byte("a tip"), recipientsOf(b, "americas")...)}); r.Status != http.StatusCreated {
		t.Fatalf("tip: %d %s", r.Status, r.Body)
	}
	conv := conversations(in, ana)[0].ID
	tokA, tokB := apiLogin(in, ana), apiLogin(in, bea)

	r := call(b, http.MethodGet, "/api/v1/journalist/conversations/"+conv+"/recipients", tokA, "")
	if r.Status != http.StatusOK {
		t.Fatalf("recipients: %d %s", r.Status, r.Body)
	}
	var rr api.RecipientsResponse
	if err := json.Unmarshal([]byte(r.Body), &rr); err != nil {
		t.Fatal(err)
	}
	want := []string{src.Recipient(), desk.Recipient, archive.Recipient().String()}
	if rr.Conversation != conv || rr.Desk != "americas" || rr.Source != want[0] || rr.DeskKey != want[1] ||
		len(rr.Archive) != 1 || rr.Archive[0] != want[2] || strings.Join(rr.Recipients, " ") != strings.Join(want, " ") ||
		rr.MaxBytes != httpx.MaxMessageBytes {
		t.Fatalf("recipients answer %+v, want %v", rr, want)
	}

	// Access: another desk's journalist, no token, no such conversation.
	for _, c := range []struct {
		name, token, conv string
		status            int
	}{
		{"another desk", tokB, conv, http.StatusNotFound},
		{"no token", "", conv, http.StatusUnauthorized},
		{"unknown conversation", tokA, "nope", http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := in.Snapshot(ana, bea)
			if r := call(b, http.MethodGet, "/api/v1/journalist/conversations/"+c.conv+"/recipients", c.token, ""); r.Status != c.status {
				t.Errorf("recipients: %d, want %d: %s", r.Status, c.status, r.Body)
			} else if strings.Contains(r.Body, "age1") {
				t.Errorf("a refused answer holds keys: %s", r.Body)
			}
			if r := postReply(b, c.token, c.conv, seal(t, []byte("hello"), want...)); r.Status != c.status {
				t.Errorf("reply: %d, want %d: %s", r.Status, c.status, r.Body)
			}
			in.CheckUnchanged(t, before, ana, bea)
		})
	}

	// A source who wrote by e-mail has no key to read a reply with.
	mail := in.StoreSourceTip(desk, pista.Source{Lookup: bytes.Repeat([]byte{9}, 32)}, pista.ChannelEmail, "by mail")
	t.Run("e-mail conversation", func(t *testing.T) {
		before := in.Snapshot(ana)
		if r := call(b, http.MethodGet, "/api/v1/journalist/conversations/"+mail.Conversation.ID+"/recipients", tokA, ""); r.Status != http.StatusConflict {
			t.Errorf("recipients: %d, want 409: %s", r.Status, r.Body)
		}
		if r := postReply(b, tokA, mail.Conversation.ID, seal(t, []byte("hello"), want...)); r.Status != http.StatusConflict {
			t.Errorf("reply: %d, want 409: %s", r.Status, r.Body)
		}
		in.CheckUnchanged(t, before, ana)
	})

	// Bodies the server refuses.
	var classic []string
	for range want {
		x, _ := age.GenerateX25519Identity()
		classic = append(classic, x.Recipient().String())
	}
	for _, c := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"not age", []byte("hello, in the clear"), http.StatusBadRequest},
		{"empty", nil, http.StatusBadRequest},
		{"without the archive", seal(t, []byte("hello"), want[:2]...), http.StatusBadRequest},
		{"only the source", seal(t, []byte("hello"), want[0]), http.StatusBadRequest},
		{"a recipient too many", seal(t, []byte("hello"), append(want, want[1])...), http.StatusBadRequest},
		{"classic keys", seal(t, []byte("hello"), classic...), http.StatusBadRequest},
		{"over a message", seal(t, make([]byte, httpx.MaxMessageBytes+1), want...), http.StatusRequestEntityTooLarge},
		{"a huge body", append(seal(t, []byte("hello"), want...), make([]byte, 2<<20)...), http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := in.Snapshot(ana)
			r := postReply(b, tokA, conv, c.body)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			apiError(t, r)
			in.CheckUnchanged(t, before, ana)
		})
	}

	// The reply that is right, at the longest a message may be.
	text := "We read it. " + strings.Repeat("x", httpx.MaxMessageBytes-12)
	r = postReply(b, tokA, conv, seal(t, []byte(text), rr.Recipients...))
	if r.Status != http.StatusCreated {
		t.Fatalf("reply: %d %s", r.Status, r.Body)
	}
	var ok api.ReplyResponse
	if err := json.Unmarshal([]byte(r.Body), &ok); err != nil || ok.Conversation != conv || ok.Size < int64(len(text)) {
		t.Fatalf("reply answer %q: %v", r.Body, err)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	reply := items[len(items)-1]
	if reply.Kind != pista.KindReply || reply.AuthorID != ana.ID || reply.EncryptedBy != "app" || reply.Size != ok.Size {
		t.Fatalf("stored reply %+v", reply)
	}
	stored := objectBytes(t, in, reply.Object)
	if bytes.Contains(stored, []byte("We read it")) {
		t.Fatal("the stored reply holds its plaintext")
	}
	for name, id := range map[string]age.Identity{"source": src.Identity, "desk": deskIdentity(in, ana, "americas"), "archive": archive} {
		if got := open(t, stored, id); string(got) != text {
			t.Errorf("the %s opens %.40q", name, got)
		}
	}
	// The source reads it through its own route.
	stok, _ := sourceLogin(b, src.Auth)
	r = call(b, http.MethodGet, "/api/v1/source/replies", stok, "")
	var reps api.RepliesResponse
	if err := json.Unmarshal([]byte(r.Body), &reps); err != nil || len(reps.Replies) != 1 {
		t.Fatalf("source's replies %q: %v", r.Body, err)
	}
	// The audit log says who replied.
	entries, err := in.Srv.Stores.Team.Audit(context.Background(), pista.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		found = found || (e.Action == pista.AuditReply && e.ActorID == ana.ID && e.ConversationID == conv)
	}
	if !found {
		t.Error("the reply is not in the audit log")
	}
}

// objectBytes reads a stored object whole.
func objectBytes(t testing.TB, in *pistatest.Instance, key string) []byte {
	t.Helper()
	rc, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
