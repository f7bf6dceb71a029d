package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

// loadOpenAPI loads and validates the embedded document.
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// documented lists the document's operations as "METHOD /path".
func documented(doc *openapi3.T) []string {
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	registered := api.Routes()
	slices.Sort(registered)
	if got := documented(doc); !slices.Equal(got, registered) {
		t.Fatalf("the document and the server disagree:\ndocumented: %v\nregistered: %v", got, registered)
	}
}

// docCheck is an http.RoundTripper that validates every API request and
// answer against the document, and records which operations it saw.
type docCheck struct {
	t      testing.TB
	router routers.Router
	next   http.RoundTripper

	mu   sync.Mutex
	seen map[string]bool
}

func (v *docCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/api/") {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	v.check(req, reqBody, resp, respBody)
	return resp, nil
}

func (v *docCheck) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	ctx := context.Background()
	what := req.Method + " " + req.URL.Path + " → " + strconv.Itoa(resp.StatusCode)
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		v.t.Errorf("%s: not in the document: %v", what, err)
		return
	}
	v.mu.Lock()
	v.seen[route.Method+" "+route.Path] = true
	v.mu.Unlock()
	in := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	// Requests the server refuses may break the document's rules on
	// purpose; those it accepts must follow them.
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			v.t.Errorf("%s: the request does not follow the document: %v", what, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.t.Errorf("%s: the answer does not follow the document: %v\n%.300s", what, err, respBody)
	}
}

// TestOpenAPIAnswers calls every documented route of a real server, with
// answers that succeed and answers that fail, and validates each request
// and answer against the document.
func TestOpenAPIAnswers(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}, MaxUpload: 1 << 20})
	j := in.Journalist("ana")
	in.Desk("americas", j)

	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: in.TS.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	check := &docCheck{t: t, router: router, next: http.DefaultTransport, seen: map[string]bool{}}
	b := in.Browser()
	b.Client.Transport = check

	expect := func(r *pistatest.Response, status int) *pistatest.Response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
		}
		return r
	}

	// The document is served as embedded.
	if r := expect(call(b, http.MethodGet, "/api/v1/openapi.json", "", ""), 200); r.Body != string(api.OpenAPI()) {
		t.Fatal("GET /api/v1/openapi.json is not the embedded document")
	}

	// Sources.
	to := recipientsOf(b, "americas")
	src := appSource(t)
	msg := sealedPart{"message", seal(t, []byte("a tip"), to...)}
	file := []sealedPart{{"file", seal(t, []byte("%PDF-1.7"), to...)}, {"file_meta", seal(t, []byte(`{"name":"a.pdf","type":"application/pdf"}`), to...)}}
	contact := sealedPart{"contact", seal(t, []byte("signal"), to...)}
	expect(call(b, http.MethodGet, "/api/v1/source/challenge", "", ""), 200)
	expect(b.Do(b.Request(http.MethodPost, "/api/v1/source/tips", strings.NewReader("--B--"), "multipart/form-data; boundary=B")), 428)
	expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", src), msg, file[0], file[1], contact), 201)
	expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", src), msg), 409)
	expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", appSource(t)), sealedPart{"message", []byte("not age")}), 400)
	expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", appSource(t)), sealedPart{"file", seal(t, make([]byte, 1<<20+1), to...)}, file[1]), 413)

	login, _ := json.Marshal(api.SourceLoginRequest{Auth: base64.StdEncoding.EncodeToString(src.Auth)})
	r := expect(call(b, http.MethodPost, "/api/v1/source/login", "", string(login)), 200)
	var lr api.SourceLoginResponse
	json.Unmarshal([]byte(r.Body), &lr)
	expect(call(b, http.MethodPost, "/api/v1/source/login", "", `{"auth":"AAAA"}`), 401)
	expect(call(b, http.MethodPost, "/api/v1/source/login", "", `{"codename":"1234"}`), 400)

	expect(call(b, http.MethodGet, "/api/v1/source/replies", lr.Token, ""), 200)
	expect(call(b, http.MethodGet, "/api/v1/source/replies", "", ""), 401)
	conv := conversations(in, j)[0].ID
	desk, _ := in.Srv.Stores.Desks.DeskBySlug(context.Background(), "americas")
	reply := storeReply(in, j, conv, "a reply", src.Recipient(), desk.Recipient)
	path := "/api/v1/source/replies/" + strconv.FormatInt(reply.ID, 10)
	expect(call(b, http.MethodGet, "/api/v1/source/replies", lr.Token, ""), 200)
	expect(call(b, http.MethodGet, path, lr.Token, ""), 200)
	expect(call(b, http.MethodGet, "/api/v1/source/replies/99999", lr.Token, ""), 404)
	expect(call(b, http.MethodGet, path+"/meta", lr.Token, ""), 404) // a reply's text has no meta
	expect(sendSealed(b, "/api/v1/source/followups", lr.Token, nil, msg, file[0], file[1]), 201)
	expect(sendSealed(b, "/api/v1/source/followups", lr.Token, nil, contact), 400)
	expect(call(b, http.MethodDelete, path, lr.Token, ""), 204)
	expect(call(b, http.MethodDelete, path, lr.Token, ""), 404)
	expect(call(b, http.MethodPost, "/api/v1/source/logout", lr.Token, ""), 204)
	expect(call(b, http.MethodPost, "/api/v1/source/logout", lr.Token, ""), 401)

	// A desk's questions: listed; a tip without answers to a required one
	// refused, with them taken.
	q, err := pista.ParseQuestionnaire([]byte(`{"questions": [{"id": "where", "kind": "text", "required": true,
		"label": {"en": "Where?", "ar": "أين؟"}}, {"id": "pick", "kind": "choice", "label": {"en": "Pick"},
		"choices": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}]}]}`), i18n.Tags(), i18n.Default)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Desks.SetQuestions(context.Background(), desk.ID, q); err != nil {
		t.Fatal(err)
	}
	expect(call(b, http.MethodGet, "/api/v1/desks", "", ""), 200)
	if got := desksAPI(b).Desks[0].Questions; len(got) != 2 || got[0].Label["ar"] != "أين؟" || !got[0].Required {
		t.Errorf("GET /api/v1/desks lists the questions %+v", got)
	}
	r = expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", appSource(t)), msg), 400)
	if !strings.Contains(r.Body, "answers_required") {
		t.Errorf("a tip without the required answers: %s", r.Body)
	}
	answers := sealedPart{"answers", seal(t, []byte(`{"lang":"en","answers":[{"id":"where","kind":"text","question":"Where?","value":"here"}]}`), to...)}
	expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", appSource(t)), answers), 201)
	expect(sendSealed(b, "/api/v1/source/tips", "", tipFor("americas", appSource(t)), answers, answers), 400)
	token, _ := sourceLogin(b, src.Auth)
	expect(sendSealed(b, "/api/v1/source/followups", token, nil, answers), 400)

	// Journalists.
	expect(call(b, http.MethodPost, "/api/v1/journalist/login/params", "", `{"name":"`+j.Name+`"}`), 200)
	expect(call(b, http.MethodPost, "/api/v1/journalist/login/params", "", `{"name":"nobody"}`), 200)
	expect(call(b, http.MethodPost, "/api/v1/journalist/login/params", "", `{"user":"nobody"}`), 400)
	bad, _ := json.Marshal(api.LoginRequest{Name: j.Name, Auth: make([]byte, 32), TOTP: "000000"})
	expect(call(b, http.MethodPost, "/api/v1/journalist/login", "", string(bad)), 401)
	expect(call(b, http.MethodPost, "/api/v1/journalist/login", "", "{"), 400)
	good, _ := json.Marshal(api.LoginRequest{Name: j.Name, Auth: j.Keys.Auth, TOTP: j.Code(t)})
	r = expect(call(b, http.MethodPost, "/api/v1/journalist/login", "", string(good)), 200)
	var jl api.LoginResponse
	json.Unmarshal([]byte(r.Body), &jl)
	expect(call(b, http.MethodGet, "/api/v1/journalist/keys", jl.Token, ""), 200)
	r = expect(call(b, http.MethodGet, "/api/v1/journalist/items?limit=100", jl.Token, ""), 200)
	expect(call(b, http.MethodGet, "/api/v1/journalist/items?after=-1", jl.Token, ""), 400)
	var ir api.ItemsResponse
	json.Unmarshal([]byte(r.Body), &ir)
	for _, it := range ir.Items {
		expect(call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(it.ID, 10), jl.Token, ""), 200)
		if it.HasMeta {
			expect(call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(it.ID, 10)+"/meta", jl.Token, ""), 200)
		} else {
			expect(call(b, http.MethodGet, "/api/v1/journalist/items/"+strconv.FormatInt(it.ID, 10)+"/meta", jl.Token, ""), 404)
		}
	}
	expect(call(b, http.MethodGet, "/api/v1/journalist/items/99999", jl.Token, ""), 404)
	rpath := "/api/v1/journalist/conversations/" + conv
	r = expect(call(b, http.MethodGet, rpath+"/recipients", jl.Token, ""), 200)
	var rr api.RecipientsResponse
	json.Unmarshal([]byte(r.Body), &rr)
	expect(call(b, http.MethodGet, "/api/v1/journalist/conversations/nope/recipients", jl.Token, ""), 404)
	postReply := func(body []byte) *pistatest.Response {
		req := b.Request(http.MethodPost, rpath+"/replies", bytes.NewReader(body), "application/octet-stream")
		req.Header.Set("Authorization", "Bearer "+jl.Token)
		return b.Do(req)
	}
	expect(postReply(seal(t, []byte("a reply from pista reply"), rr.Recipients...)), 201)
	// With files: multipart, each file padded.
	padded := make([]byte, pista.Padme(1000))
	copy(padded, "a form")
	fileMeta := []byte(`{"name":"form.txt","type":"text/plain","size":1000}`)
	expect(sendSealed(b, rpath+"/replies", jl.Token, nil, sealedPart{"reply", seal(t, []byte("with a file"), rr.Recipients...)},
		sealedPart{"file", seal(t, padded, rr.Recipients...)}, sealedPart{"file_meta", seal(t, fileMeta, rr.Recipients...)}), 201)
	expect(sendSealed(b, rpath+"/replies", jl.Token, nil, sealedPart{"reply", seal(t, []byte("unpadded"), rr.Recipients...)},
		sealedPart{"file", seal(t, make([]byte, 1001), rr.Recipients...)}, sealedPart{"file_meta", seal(t, fileMeta, rr.Recipients...)}), 400)
	expect(postReply(seal(t, []byte("to too few"), rr.Recipients[:2]...)), 400)
	expect(postReply(seal(t, make([]byte, 400_001), rr.Recipients...)), 413)
	// Forward secrecy: a member's sorter, and what it may be refused.
	deskID := deskIdentity(in, j, "americas")
	var fks newsroom.FSKeys
	json.Unmarshal([]byte(expect(call(b, http.MethodGet, "/api/v1/journalist/fs/keys", jl.Token, ""), 200).Body), &fks)
	badSig := newsroom.FSAddKeys{DeskKeyID: desk.KeyID, SignKey: forward.SignPublic(deskID.String()), Keys: makeIntakeKeys(t, deskID, fks.Day)}
	badSig.Keys[0].Signature[0] ^= 1
	expect(fsCall(t, b, http.MethodPost, "/api/v1/journalist/fs/keys", jl.Token, badSig, nil), 400)
	if res := sortOverAPI(t, b, jl.Token, desk.KeyID, deskID, archive, map[string]*age.HybridIdentity{}); res.Sorted == 0 {
		t.Errorf("the sort over the API sorted nothing: %+v", res)
	}
	otherDesk, _ := age.GenerateHybridIdentity()
	otherSign := newsroom.FSAddKeys{DeskKeyID: desk.KeyID, SignKey: forward.SignPublic(otherDesk.String()), Keys: makeIntakeKeys(t, deskID, fks.Day+forward.Ahead)}
	otherSign.Keys[0].Signature = ed25519.Sign(forward.SignKey(otherDesk.String()), forward.Statement(desk.Recipient, otherSign.Keys[0].Day, otherSign.Keys[0].Recipient))
	expect(fsCall(t, b, http.MethodPost, "/api/v1/journalist/fs/keys", jl.Token, otherSign, nil), 409)
	expect(call(b, http.MethodGet, "/api/v1/journalist/fs/unsorted?limit=0", jl.Token, ""), 400)
	expect(call(b, http.MethodPost, "/api/v1/journalist/fs/sort", jl.Token, `{"keys":[{"conversation":"`+conv+`","recipient":"age1nope","key":"AAAA"}]}`), 400)
	expect(call(b, http.MethodGet, "/api/v1/journalist/fs/unsorted", "", ""), 401)
	expect(call(b, http.MethodGet, "/api/v1/journalist/keys", "", ""), 401)
	expect(call(b, http.MethodPost, "/api/v1/journalist/logout", jl.Token, ""), 204)
	expect(call(b, http.MethodPost, "/api/v1/journalist/logout", jl.Token, ""), 401)

	var missed []string
	for _, op := range documented(doc) {
		if !check.seen[op] {
			missed = append(missed, op)
		}
	}
	if len(missed) > 0 {
		t.Fatalf("documented routes the test did not call: %v", missed)
	}
}
