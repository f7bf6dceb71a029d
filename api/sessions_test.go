package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"runtime"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// liveHeap is the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// storedSource stores a source with a tip through the stores (quicker than
// the API for many) and returns the authentication key it logs in with.
func storedSource(in *pistatest.Instance, desk pista.Desk) ([]byte, *pista.NewTip) {
	in.T.Helper()
	src := appSource(in.T)
	tip := in.StoreSourceTip(desk, pista.Source{Lookup: src.Lookup, Recipient: src.Recipient()}, pista.ChannelAPI, "a tip")
	return src.Auth, tip
}

// TestSourceTokensHoldNoMemory: sources' tokens are no table. Far more
// than the old table's 50,000 are minted under the server's key without
// the heap growing with them, the server takes them, a few hundred API
// logins leave nothing behind, and a source who logged in before all of
// them still logs in and reads.
func TestSourceTokensHoldNoMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("mints 60,000 tokens")
	}
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)
	b := in.Browser()
	ctx := context.Background()

	existing, tip := storedSource(in, desk)
	early, _ := sourceLogin(b, existing)

	tokens, err := api.NewSourceTokens(server.SourceSessionKeys(in.Srv.Stores.Settings), in.Srv.Stores.Tips)
	if err != nil {
		t.Fatal(err)
	}
	v := api.SourceSession{SourceID: tip.Source.ID, ConversationID: tip.Conversation.ID}
	const minted = 60_000
	var kept []string
	before := liveHeap()
	for i := range minted {
		tok, err := tokens.StartToken(ctx, v)
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		if i%10_000 == 0 {
			kept = append(kept, tok)
		}
	}
	grew := int64(liveHeap()) - int64(before)
	t.Logf("live heap after %d tokens: %+d bytes", minted, grew)
	if grew > 1<<20 {
		t.Errorf("the heap grew by %d bytes for %d tokens", grew, minted)
	}
	for _, tok := range kept {
		if r := call(b, http.MethodGet, "/api/v1/source/replies", tok, ""); r.Status != http.StatusOK {
			t.Fatalf("a token minted under the server's key: %d %s", r.Status, r.Body)
		}
	}

	const sources = 300
	auths := make([][]byte, sources)
	for i := range auths {
		auths[i], _ = storedSource(in, desk)
	}
	sourceLogin(b, auths[0]) // the connection and first-use allocations
	before = liveHeap()
	for _, auth := range auths {
		for range 2 {
			sourceLogin(b, auth)
		}
	}
	grew = int64(liveHeap()) - int64(before)
	t.Logf("live heap after %d logins: %+d bytes", 2*sources, grew)
	if grew > 1<<20 {
		t.Errorf("the heap grew by %d bytes for %d logins", grew, 2*sources)
	}

	if r := call(b, http.MethodGet, "/api/v1/source/replies", early, ""); r.Status != http.StatusOK {
		t.Fatalf("the token of a source who logged in before: %d %s", r.Status, r.Body)
	}
	late, _ := sourceLogin(b, existing)
	if r := call(b, http.MethodGet, "/api/v1/source/replies", late, ""); r.Status != http.StatusOK {
		t.Fatalf("the existing source after all the logins: %d %s", r.Status, r.Body)
	}
}

// TestSourceLogoutEndsEveryToken: logging in again ends no token (two
// devices), logging out from one ends both, and logging in again works.
func TestSourceLogoutEndsEveryToken(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)
	b := in.Browser()
	auth, _ := storedSource(in, desk)
	other, _ := storedSource(in, desk)

	phone, _ := sourceLogin(b, auth)
	laptop, _ := sourceLogin(b, auth)
	bystander, _ := sourceLogin(b, other)
	for name, tok := range map[string]string{"phone": phone, "laptop": laptop} {
		if r := call(b, http.MethodGet, "/api/v1/source/replies", tok, ""); r.Status != http.StatusOK {
			t.Fatalf("%s before logout: %d", name, r.Status)
		}
	}
	if r := call(b, http.MethodPost, "/api/v1/source/logout", phone, ""); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	for name, tok := range map[string]string{"phone": phone, "laptop": laptop} {
		r := call(b, http.MethodGet, "/api/v1/source/replies", tok, "")
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("%s after logout: %d", name, r.Status)
		}
		if e := apiError(t, r); e.Code != "unauthorized" {
			t.Errorf("%s after logout: error %q", name, e.Code)
		}
	}
	if r := call(b, http.MethodPost, "/api/v1/source/logout", laptop, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("logging out an ended token: %d", r.Status)
	}
	if r := call(b, http.MethodGet, "/api/v1/source/replies", bystander, ""); r.Status != http.StatusOK {
		t.Fatalf("another source's token after the logout: %d", r.Status)
	}
	again, _ := sourceLogin(b, auth)
	if r := call(b, http.MethodGet, "/api/v1/source/replies", again, ""); r.Status != http.StatusOK {
		t.Fatalf("a new login after logout: %d", r.Status)
	}
}

// TestSourceTokenOfDeletedConversation: once the newsroom deletes the
// conversation, its token is refused on every route.
func TestSourceTokenOfDeletedConversation(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	desk := in.Desk("americas", j)
	b := in.Browser()
	auth, tip := storedSource(in, desk)
	tok, _ := sourceLogin(b, auth)
	if _, err := in.Srv.Stores.Tips.DeleteConversation(context.Background(), j.ID, tip.Conversation.ID); err != nil {
		t.Fatal(err)
	}
	to := recipientsOf(b, "americas")
	for _, r := range []*pistatest.Response{
		call(b, http.MethodGet, "/api/v1/source/replies", tok, ""),
		call(b, http.MethodGet, "/api/v1/source/replies/1", tok, ""),
		call(b, http.MethodDelete, "/api/v1/source/replies/1", tok, ""),
		sendSealed(b, "/api/v1/source/followups", tok, nil, sealedPart{"message", seal(t, []byte("still there?"), to...)}),
	} {
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("a deleted conversation's token: %d %s", r.Status, r.Body)
		}
	}
	body := `{"auth":"` + base64.StdEncoding.EncodeToString(auth) + `"}`
	if r := call(b, http.MethodPost, "/api/v1/source/login", "", body); r.Status != http.StatusUnauthorized {
		t.Fatalf("login of a deleted source: %d", r.Status)
	}
}
