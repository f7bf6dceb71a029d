package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// call sends an API request with an optional bearer token.
func call(b *pistatest.Browser, method, path, token, body string) *pistatest.Response {
	b.T.Helper()
	var req *http.Request
	if body != "" {
		req = b.Request(method, path, strings.NewReader(body), "application/json")
	} else {
		req = b.Request(method, path, nil, "")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	prove(b, req)
	return b.Do(req)
}

// prove adds a proof of work to the requests that need one.
func prove(b *pistatest.Browser, req *http.Request) {
	if req.Method == http.MethodPost && (req.URL.Path == "/api/v1/source/tips" || req.URL.Path == "/api/v1/source/login") {
		req.Header.Set(api.PoWHeader, b.Prove())
	}
}

// apiLogin logs j in to the API and returns the token.
func apiLogin(in *pistatest.Instance, j *pistatest.Journalist) string {
	t := in.T
	t.Helper()
	body, _ := json.Marshal(api.LoginRequest{Name: j.Name, Auth: j.Keys.Auth, TOTP: j.Code(t)})
	r := call(in.Browser(), http.MethodPost, "/api/v1/journalist/login", "", string(body))
	if r.Status != http.StatusOK {
		t.Fatalf("API login: %d %s", r.Status, r.Body)
	}
	var lr api.LoginResponse
	if err := json.Unmarshal([]byte(r.Body), &lr); err != nil || lr.Token == "" {
		t.Fatalf("API login answer %q: %v", r.Body, err)
	}
	return lr.Token
}

// apiError decodes an error answer, failing unless it is JSON.
func apiError(t testing.TB, r *pistatest.Response) api.Error {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want JSON", ct)
	}
	var e api.Error
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("error answer %q is not JSON: %v", r.Body, err)
	}
	if e.Code == "" || e.Message == "" {
		t.Errorf("error answer %q lacks a code or a message", r.Body)
	}
	return e
}

func TestLoginErrors(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	b := in.Browser()
	login := func(name string, auth []byte, code string) string {
		body, _ := json.Marshal(api.LoginRequest{Name: name, Auth: auth, TOTP: code})
		return string(body)
	}
	wrong := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name   string
		body   func() string
		status int
		code   string
	}{
		// The key is checked before the code: any code does here.
		{"wrong auth key", func() string { return login(j.Name, wrong, "123456") }, http.StatusUnauthorized, "login_failed"},
		{"short auth key", func() string { return login(j.Name, j.Keys.Auth[:31], "123456") }, http.StatusUnauthorized, "login_failed"},
		{"the wrapping key as auth key", func() string { return login(j.Name, j.Keys.Wrap, "123456") }, http.StatusUnauthorized, "login_failed"},
		{"unknown name", func() string { return login("nobody", j.Keys.Auth, "123456") }, http.StatusUnauthorized, "login_failed"},
		{"no TOTP code", func() string { return login(j.Name, j.Keys.Auth, "") }, http.StatusUnauthorized, "login_failed"},
		{"wrong TOTP code", func() string { return login(j.Name, j.Keys.Auth, "12345x") }, http.StatusUnauthorized, "login_failed"},
		{"not JSON", func() string { return "name=ana&password=x" }, http.StatusBadRequest, "bad_request"},
		{"the old password field", func() string { return `{"name":"ana","password":"correct horse battery staple","totp":"123456"}` }, http.StatusBadRequest, "bad_request"},
		{"auth not base64", func() string { return `{"name":"ana","auth":"!!","totp":"123456"}` }, http.StatusBadRequest, "bad_request"},
		{"unknown field", func() string { return `{"name":"ana","auth":"","totp":"1","admin":true}` }, http.StatusBadRequest, "bad_request"},
		{"empty body", func() string { return "" }, http.StatusBadRequest, "bad_request"},
		{"huge body", func() string { return `{"name":"` + strings.Repeat("a", 32<<10) + `"}` }, http.StatusBadRequest, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(b, http.MethodPost, "/api/v1/journalist/login", "", tt.body())
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if e := apiError(t, r); e.Code != tt.code {
				t.Errorf("error code %q, want %q", e.Code, tt.code)
			}
			if strings.Contains(r.Body, "token") {
				t.Errorf("a refused login answers a token: %s", r.Body)
			}
		})
	}

	t.Run("replayed TOTP code", func(t *testing.T) {
		j := in.Journalist("bea") // ana's failures above add up to a lock
		code := j.Code(t)
		first := call(b, http.MethodPost, "/api/v1/journalist/login", "", login(j.Name, j.Keys.Auth, code))
		if first.Status != http.StatusOK {
			t.Fatalf("first login: %d %s", first.Status, first.Body)
		}
		again := call(b, http.MethodPost, "/api/v1/journalist/login", "", login(j.Name, j.Keys.Auth, code))
		if again.Status != http.StatusUnauthorized {
			t.Fatalf("the same code again: %d, want 401", again.Status)
		}
		apiError(t, again)
	})
}

func TestUnauthorized(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("ana")
	b := in.Browser()
	ended := apiLogin(in, j)
	if r := call(b, http.MethodPost, "/api/v1/journalist/logout", ended, ""); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d", r.Status)
	}
	tests := []struct {
		name, token string
	}{
		{"no token", ""},
		{"made-up token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"token after logout", ended},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/journalist/keys", "/api/v1/journalist/items", "/api/v1/journalist/items/1"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				r := call(b, http.MethodGet, path, tt.token, "")
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", r.Status)
				}
				if e := apiError(t, r); e.Code != "unauthorized" {
					t.Errorf("error code %q", e.Code)
				}
			})
		}
	}
}

// items fetches a page of items.
func items(t *testing.T, b *pistatest.Browser, token, query string) api.ItemsResponse {
	t.Helper()
	r := call(b, http.MethodGet, "/api/v1/journalist/items"+query, token, "")
	if r.Status != http.StatusOK {
		t.Fatalf("items%s: %d %s", query, r.Status, r.Body)
	}
	var ir api.ItemsResponse
	if err := json.Unmarshal([]byte(r.Body), &ir); err != nil {
		t.Fatalf("items%s: %v", query, err)
	}
	return ir
}

func ids(ir api.ItemsResponse) []int64 {
	var ids []int64
	for _, it := range ir.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

func TestItemsIncremental(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	desk1 := in.Desk("americas", a)
	desk2 := in.Desk("maghreb", b)
	br := in.Browser()
	if r := br.Submit("americas", "first tip", pistatest.Part{Name: "files", Filename: "a.pdf", Value: "%PDF"}); r.Status != http.StatusOK {
		t.Fatalf("submit: %d", r.Status)
	}
	in.StoreTip(desk2)
	token := apiLogin(in, a)

	first := items(t, br, token, "")
	if len(first.Items) != 2 || first.More {
		t.Fatalf("first pull: %+v, want the tip's 2 items", first)
	}
	if first.Items[0].Kind != "message" || first.Items[1].Kind != "file" || !first.Items[1].HasMeta || first.Items[0].HasMeta {
		t.Errorf("first pull: %+v", first.Items)
	}
	last := first.Items[len(first.Items)-1].ID

	in.StoreTip(desk2) // another desk: never in a's list
	second := in.StoreTip(desk1)

	tests := []struct {
		name  string
		query string
		want  []int64
		more  bool
	}{
		{"everything", "", append(ids(first), second.Items[0].ID), false},
		{"after the last pull", "?after=" + strconv.FormatInt(last, 10), []int64{second.Items[0].ID}, false},
		{"after the newest item", "?after=" + strconv.FormatInt(second.Items[0].ID, 10), nil, false},
		{"one at a time", "?limit=1", ids(first)[:1], true},
		{"one at a time, second page", "?limit=1&after=" + strconv.FormatInt(ids(first)[0], 10), ids(first)[1:2], true},
		{"one at a time, last page", "?limit=1&after=" + strconv.FormatInt(last, 10), []int64{second.Items[0].ID}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := items(t, br, token, tt.query)
			if g := ids(got); !equal(g, tt.want) {
				t.Errorf("items %v, want %v", g, tt.want)
			}
			if got.More != tt.more {
				t.Errorf("more = %v, want %v", got.More, tt.more)
			}
			for _, it := range got.Items {
				if it.Conversation == "" || it.Size <= 0 {
					t.Errorf("item %+v lacks its conversation or size", it)
				}
			}
		})
	}

	bad := []struct{ name, query string }{
		{"negative after", "?after=-1"},
		{"after not a number", "?after=x"},
		{"limit 0", "?limit=0"},
		{"limit too large", "?limit=1001"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := call(br, http.MethodGet, "/api/v1/journalist/items"+tt.query, token, "")
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			apiError(t, r)
		})
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetItem(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	in.Desk("americas", a)
	in.Desk("maghreb", b)
	br := in.Browser()
	for _, desk := range []string{"americas", "maghreb"} {
		if r := br.Submit(desk, "a tip", pistatest.Part{Name: "files", Filename: "a.pdf", Value: "%PDF"}); r.Status != http.StatusOK {
			t.Fatalf("submit: %d", r.Status)
		}
	}
	ctx := context.Background()
	itemsOf := func(j *pistatest.Journalist) (message, file pista.Item) {
		its, err := in.Srv.Stores.Tips.ItemsFor(ctx, j.ID, 0, 10)
		if err != nil || len(its) != 2 {
			t.Fatalf("items of %s: %v %d", j.Name, err, len(its))
		}
		return its[0], its[1]
	}
	msgA, fileA := itemsOf(a)
	msgB, fileB := itemsOf(b)
	token := apiLogin(in, a)
	path := func(it pista.Item, meta string) string {
		return "/api/v1/journalist/items/" + strconv.FormatInt(it.ID, 10) + meta
	}
	tests := []struct {
		name   string
		path   string
		status int
		size   int64
	}{
		{"own message", path(msgA, ""), http.StatusOK, msgA.Size},
		{"own file", path(fileA, ""), http.StatusOK, fileA.Size},
		{"own file's name and type", path(fileA, "/meta"), http.StatusOK, fileA.MetaSize},
		{"the meta of a message", path(msgA, "/meta"), http.StatusNotFound, 0},
		{"another desk's message", path(msgB, ""), http.StatusNotFound, 0},
		{"another desk's file", path(fileB, ""), http.StatusNotFound, 0},
		{"another desk's file name", path(fileB, "/meta"), http.StatusNotFound, 0},
		{"no such item", "/api/v1/journalist/items/999999", http.StatusNotFound, 0},
		{"not a number", "/api/v1/journalist/items/abc", http.StatusNotFound, 0},
		{"unknown API route", "/api/v1/journalist/nothing", http.StatusNotFound, 0},
	}
	var notFound string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(br, http.MethodGet, tt.path, token, "")
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %.200s", r.Status, tt.status, r.Body)
			}
			if tt.status != http.StatusOK {
				e := apiError(t, r)
				if e.Code != "not_found" {
					t.Errorf("error code %q, want not_found", e.Code)
				}
				// Another desk's item must look exactly like a missing one.
				if strings.HasPrefix(tt.path, "/api/v1/journalist/items/") {
					if notFound == "" {
						notFound = r.Body
					} else if r.Body != notFound {
						t.Errorf("answer %q differs from another 404's %q", r.Body, notFound)
					}
				}
				return
			}
			if !strings.HasPrefix(r.Body, "age-encryption.org/v1\n") {
				t.Errorf("not an age file: %.40q", r.Body)
			}
			if int64(len(r.Body)) != tt.size {
				t.Errorf("%d bytes, want the item's %d", len(r.Body), tt.size)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	in.Desk("americas", a, b)
	in.Desk("maghreb", b)
	token := apiLogin(in, a)
	r := call(in.Browser(), http.MethodGet, "/api/v1/journalist/keys", token, "")
	if r.Status != http.StatusOK {
		t.Fatalf("keys: %d %s", r.Status, r.Body)
	}
	var kr api.KeysResponse
	if err := json.Unmarshal([]byte(r.Body), &kr); err != nil {
		t.Fatal(err)
	}
	if len(kr.Keys) != 1 || kr.Keys[0].Desk != "americas" {
		t.Fatalf("keys %+v, want americas only", kr.Keys)
	}
	id, err := keys.Unwrap(kr.Keys[0].Wrapped, a.Identity)
	if err != nil {
		t.Fatalf("unwrapping the desk key: %v", err)
	}
	if id.Recipient().String() != kr.Keys[0].Recipient {
		t.Errorf("the unwrapped key is not the desk's current key")
	}
}
