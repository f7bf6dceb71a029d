package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// TestJournalistSuspendRunningServer runs pista journalist suspend and
// unsuspend on the data folder of a running server: the journalist's web
// session and API token are refused from their next request (list and
// download), and stay ended when the suspension is lifted.
func TestJournalistSuspendRunningServer(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	bob := in.Journalist("bob")
	desk := in.Desk("americas", bob)
	tip := in.StoreTip(desk)
	web := in.Browser()
	web.LoginJournalist(bob)
	body, _ := json.Marshal(map[string]any{"name": "bob", "auth": bob.Keys.Auth, "totp": bob.Code(t)})
	resp, err := http.Post(in.TS.URL+"/api/v1/journalist/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.Token == "" {
		t.Fatalf("API login: %d", resp.StatusCode)
	}
	api := func(path string) int {
		req, _ := http.NewRequest(http.MethodGet, in.TS.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	item := fmt.Sprintf("/api/v1/journalist/items/%d", tip.Items[0].ID)
	webItem := fmt.Sprintf("/newsroom/c/%s/items/%d", tip.Conversation.ID, tip.Items[0].ID)
	if a, b, c := api("/api/v1/journalist/items"), api(item), web.Get(webItem).Status; a != 200 || b != 200 || c != 200 {
		t.Fatalf("before: API list %d, API item %d, web item %d", a, b, c)
	}

	if msg := runPistaFails(t, "", "journalist", "suspend", "--data", in.Data, "--name", "nobody"); !strings.Contains(msg, `no journalist named "nobody"`) {
		t.Errorf("suspending an unknown name: %q", msg)
	}
	runPista(t, "journalist", "suspend", "--data", in.Data, "--name", "bob")
	if a, b, c := api("/api/v1/journalist/items"), api(item), web.Get(webItem).Status; a != 403 || b != 403 || c != 403 {
		t.Errorf("suspended: API list %d, API item %d, web item %d; want 403", a, b, c)
	}
	es, err := in.Srv.Stores.Team.Audit(context.Background(), pista.AuditQuery{Limit: 1})
	if err != nil || len(es) == 0 || es[0].Action != pista.AuditSuspend || es[0].Subject != "bob" {
		t.Errorf("audit after suspend: %+v %v", es, err)
	}

	runPista(t, "journalist", "unsuspend", "--data", in.Data, "--name", "bob")
	if a, b, c := api("/api/v1/journalist/items"), api(item), web.Get(webItem).Status; a != 401 || b != 401 || c != http.StatusSeeOther {
		t.Errorf("lifted: API list %d, API item %d, web item %d; want the old session and token ended", a, b, c)
	}
	b2 := in.Browser()
	b2.LoginJournalist(bob)
	if s := b2.Get(webItem).Status; s != 200 {
		t.Errorf("lifted, a new login reads: %d", s)
	}
}

// TestJournalistSuspendHelp: the usage shows the commands with examples.
func TestJournalistSuspendHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), env{strings.NewReader(""), &out, &errb}, []string{"journalist", "suspend", "--help"}); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"pista journalist suspend --data DIR --name NAME", "pista journalist unsuspend", "$ pista journalist suspend --data ./pista-data --name bob"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("help does not show %q:\n%s", want, errb.String())
		}
	}
}
