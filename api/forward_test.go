package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// sendDeclared posts a sealed submission declaring intake key declared
// ("" for none).
func sendDeclared(b *pistatest.Browser, path, token, declared string, tip any, parts ...sealedPart) *pistatest.Response {
	b.T.Helper()
	body, ct := sealedBody(b.T, tip, parts...)
	req := b.Request(http.MethodPost, path, body, ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if declared != "" {
		req.Header.Set(api.IntakeKeyHeader, declared)
	}
	prove(b, req)
	return b.Do(req)
}

// GET /api/v1/desks publishes each desk's key, its signing key and the
// intake key of the day with a signature that checks; an app's tip
// sealed to the intake key (and the archive) and declared is stored under
// it, preview included; a follow-up declaring another desk's key is
// refused and stores nothing; one undeclared is received without forward
// secrecy.
func TestSourceAPIIntakeKey(t *testing.T) {
	ctx := context.Background()
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}})
	ana := in.Journalist("ana")
	desk, deskID := in.DeskWithIdentity("americas", ana)
	europe, europeID := in.DeskWithIdentity("europe", ana)
	in.DeskWithIdentity("asia", ana) // no intake key
	day := forward.Clock{}.Day(time.Now())
	key, intakeID := in.IntakeKey(ana, desk, deskID, day)
	europeKey, _ := in.IntakeKey(ana, europe, europeID, day)
	b := in.Browser()
	// Every request and answer follows the document (openapi_test.go),
	// the desks' intake keys and the refusals included.
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: in.TS.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	b.Client.Transport = &docCheck{t: t, router: router, next: http.DefaultTransport, seen: map[string]bool{}}

	r := call(b, http.MethodGet, "/api/v1/desks", "", "")
	var raw struct {
		Desks []map[string]json.RawMessage `json:"desks"`
	}
	if err := json.Unmarshal([]byte(r.Body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, d := range raw.Desks {
		if string(d["slug"]) == `"asia"` && (string(d["intake"]) != "null" || string(d["sign_key"]) != "null") {
			t.Errorf("a desk without intake keys: intake %s, sign_key %s; want null", d["intake"], d["sign_key"])
		}
	}
	var americas api.Desk
	for _, d := range desksAPI(b).Desks {
		if d.Slug == "americas" {
			americas = d
		}
	}
	if americas.DeskKey != desk.Recipient || !bytes.Equal(americas.SignKey, forward.SignPublic(deskID.String())) {
		t.Fatalf("desk_key %q, sign_key %x: not the desk's", americas.DeskKey, americas.SignKey)
	}
	in1 := americas.Intake
	if in1 == nil || in1.ID != key.ID || in1.Day != day || in1.Recipient != key.Recipient {
		t.Fatalf("intake %+v, want key %d of day %d", in1, key.ID, day)
	}
	if err := forward.Verify(americas.SignKey, americas.DeskKey, in1.Day, in1.Recipient, in1.Signature); err != nil {
		t.Fatalf("the published intake key does not verify: %v", err)
	}

	to := []string{key.Recipient, archive.Recipient().String()}
	src := appSource(t)
	r = sendDeclared(b, "/api/v1/source/tips", "", fmt.Sprint(key.ID), tipFor("americas", src),
		sealedPart{"message", seal(t, []byte("The audit is hidden."), to...)},
		sealedPart{"preview", seal(t, pista.PreviewText("The audit is hidden."), to...)})
	if r.Status != http.StatusCreated {
		t.Fatalf("declared tip: %d %s", r.Status, r.Body)
	}
	var conv pista.Conversation
	for _, c := range conversations(in, ana) {
		if c.DeskID == desk.ID {
			conv = c
		}
	}
	if conv.PreviewIntake != key.ID {
		t.Errorf("the preview is under intake key %d, want %d", conv.PreviewIntake, key.ID)
	}
	itemsOf := func() []pista.Item {
		t.Helper()
		its, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv.ID)
		if err != nil {
			t.Fatal(err)
		}
		return its
	}
	its := itemsOf()
	if len(its) != 1 || its[0].Sealing != pista.SealingIntake || its[0].IntakeKey != key.ID || its[0].Received != pista.ReceivedForward {
		t.Fatalf("items %+v, want one under intake key %d", its, key.ID)
	}
	obj, err := in.Srv.Stores.Blobs.Open(ctx, its[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	stored.ReadFrom(obj)
	obj.Close()
	if string(open(t, stored.Bytes(), intakeID)) != "The audit is hidden." {
		t.Error("the message does not open with the intake key")
	}
	if _, err := age.Decrypt(bytes.NewReader(stored.Bytes()), deskID); err == nil {
		t.Error("the message opens with the desk's key")
	}

	tok, _ := sourceLogin(b, src.Auth)
	snap := in.Snapshot(ana)
	for _, declared := range []string{fmt.Sprint(europeKey.ID), "999999"} {
		r = sendDeclared(b, "/api/v1/source/followups", tok, declared, nil, sealedPart{"message", seal(t, []byte("more"), to...)})
		if e := apiError(t, r); r.Status != http.StatusConflict || e.Code != "intake_key_expired" {
			t.Errorf("a follow-up declaring intake key %s: %d %s", declared, r.Status, r.Body)
		}
	}
	if r = sendDeclared(b, "/api/v1/source/followups", tok, "-1", nil, sealedPart{"message", seal(t, []byte("more"), to...)}); r.Status != http.StatusBadRequest {
		t.Errorf("Pista-Intake-Key: -1: %d %s", r.Status, r.Body)
	}
	in.CheckUnchanged(t, snap, ana)

	r = sendDeclared(b, "/api/v1/source/followups", tok, "", nil, sealedPart{"message", seal(t, []byte("more"), americas.Recipients...)})
	if r.Status != http.StatusCreated {
		t.Fatalf("undeclared follow-up: %d %s", r.Status, r.Body)
	}
	its = itemsOf()
	if last := its[len(its)-1]; len(its) != 2 || last.Sealing != pista.SealingDesk || last.IntakeKey != 0 || last.Received != pista.ReceivedNoForward {
		t.Errorf("an undeclared follow-up: %+v, want sealing desk, received nofs", last)
	}
}
