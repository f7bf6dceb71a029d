package newsroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// apiClient is `pista pull` as the API sees it: a bearer token.
type apiClient struct {
	t      *testing.T
	base   string
	token  string
	device string // the device token its last login answered
}

// apiLogin logs j in to the API with its right passphrase, sending device
// (the device token of an earlier login, or ""); it returns the answer.
func apiLogin(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, code, device string) (int, apiLoginAnswer) {
	t.Helper()
	return apiLoginKey(t, in, j.Name, j.Keys.Auth, code, device)
}

type apiLoginAnswer struct {
	Token  string `json:"token"`
	Device string `json:"device"`
	Error  string `json:"error"`
}

func apiLoginKey(t *testing.T, in *pistatest.Instance, name string, auth []byte, code, device string) (int, apiLoginAnswer) {
	t.Helper()
	req := map[string]any{"name": name, "auth": auth, "totp": code}
	if device != "" {
		req["device"] = device
	}
	body, _ := json.Marshal(req)
	resp, err := http.Post(in.TS.URL+"/api/v1/journalist/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a apiLoginAnswer
	json.NewDecoder(resp.Body).Decode(&a)
	return resp.StatusCode, a
}

func newAPIClient(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist) *apiClient {
	t.Helper()
	status, a := apiLogin(t, in, j, j.Code(t), "")
	if status != http.StatusOK || a.Token == "" {
		t.Fatalf("API login of %s: %d %+v", j.Name, status, a)
	}
	return &apiClient{t: t, base: in.TS.URL, token: a.Token, device: a.Device}
}

// get answers the status and body of an API GET.
func (c *apiClient) get(path string) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.Bytes()
}

// itemIDs lists the IDs of the items the API lists.
func (c *apiClient) itemIDs() (int, []int64) {
	c.t.Helper()
	status, body := c.get("/api/v1/journalist/items")
	var r struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	json.Unmarshal(body, &r)
	var ids []int64
	for _, it := range r.Items {
		ids = append(ids, it.ID)
	}
	return status, ids
}

// reads are what a journalist's session and token can read; each answers
// the HTTP status it got.
type reads struct {
	web *pistatest.Browser
	api *apiClient
}

func (rd reads) all(tip *pista.NewTip) map[string]int {
	it := tip.Items[0]
	conv := tip.Conversation.ID
	get := func(path string) int { return rd.web.Get(path).Status }
	out := map[string]int{
		"web inbox":    get("/newsroom/"),
		"web inbox js": get("/newsroom/conversations.json"),
		"web read":     get("/newsroom/c/" + conv),
		"web download": get(fmt.Sprintf("/newsroom/c/%s/items/%d", conv, it.ID)),
		"web zip":      get("/newsroom/c/" + conv + "/download.zip"),
	}
	out["api list"], _ = rd.api.get("/api/v1/journalist/items")
	out["api download"], _ = rd.api.get(fmt.Sprintf("/api/v1/journalist/items/%d", it.ID))
	return out
}

// TestSuspensionEndsAccessAtOnce is the attack of issue 11: a suspended
// journalist kept listing and downloading tips sent after the suspension
// with their API token. Suspension (as an admin's page or `pista
// journalist suspend` does it: through the store) now refuses the web
// session and the API token from their next request, and lifting it does
// not bring them back.
func TestSuspensionEndsAccessAtOnce(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	st := in.Srv.Stores
	bob := in.Journalist("bob")
	desk := in.Desk("americas", bob)
	in.StoreTip(desk)
	web := in.Browser()
	web.LoginJournalist(bob)
	rd := reads{web: web, api: newAPIClient(t, in, bob)}

	before := in.StoreTip(desk)
	for what, status := range rd.all(before) {
		if status != http.StatusOK {
			t.Fatalf("before the suspension, %s: %d", what, status)
		}
	}

	if err := st.Journalists.SetSuspended(ctx, bob.ID, true); err != nil {
		t.Fatal(err)
	}
	after := in.StoreTip(desk) // a tip sent after the suspension
	for what, status := range rd.all(after) {
		if status != http.StatusForbidden && status != http.StatusUnauthorized && status != http.StatusSeeOther {
			t.Errorf("suspended, %s: %d, want a refusal", what, status)
		}
	}
	if status, ids := rd.api.itemIDs(); status != http.StatusForbidden || len(ids) != 0 {
		t.Errorf("suspended, API list: %d %v", status, ids)
	}

	// Lifted: the old session and token stay ended; a new login works.
	if err := st.Journalists.SetSuspended(ctx, bob.ID, false); err != nil {
		t.Fatal(err)
	}
	for what, status := range rd.all(after) {
		if status != http.StatusUnauthorized && status != http.StatusSeeOther {
			t.Errorf("after the suspension, old %s: %d, want the session ended", what, status)
		}
	}
	fresh := newAPIClient(t, in, bob)
	if status, ids := fresh.itemIDs(); status != http.StatusOK || !slices.Contains(ids, after.Items[0].ID) {
		t.Errorf("after the suspension, a new token lists %d %v", status, ids)
	}
}

// TestRemovalEndsDeskAccessAtOnce: a journalist removed from a desk (its
// key rotated) sees none of its tips from their next request, by web or
// API, while their other desk still works.
func TestRemovalEndsDeskAccessAtOnce(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	ana, bob := in.Journalist("ana"), in.Journalist("bob")
	americas := in.Desk("americas", ana, bob)
	europe := in.Desk("europe", bob)
	web := in.Browser()
	web.LoginJournalist(bob)
	rd := reads{web: web, api: newAPIClient(t, in, bob)}
	old := in.StoreTip(americas)
	other := in.StoreTip(europe)
	for what, status := range rd.all(old) {
		if status != http.StatusOK {
			t.Fatalf("before the removal, %s: %d", what, status)
		}
	}

	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	w, err := keys.Wrap(id, ana.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	key := &pista.DeskKey{DeskID: americas.ID, Recipient: id.Recipient().String()}
	if err := in.Srv.Stores.Team.RotateDeskKey(ctx, americas.ID, bob.ID, key, []pista.KeyWrap{{JournalistID: ana.ID, Wrapped: w}}); err != nil {
		t.Fatal(err)
	}
	after := in.StoreTip(americas)
	for _, tip := range []*pista.NewTip{old, after} {
		for what, status := range rd.all(tip) {
			if what == "web inbox" || what == "web inbox js" || what == "api list" {
				continue // lists work, without the desk's tips
			}
			if status != http.StatusNotFound {
				t.Errorf("removed, %s of an americas tip: %d, want 404", what, status)
			}
		}
	}
	status, ids := rd.api.itemIDs()
	if status != http.StatusOK {
		t.Fatalf("removed, API list: %d", status)
	}
	for _, it := range append(old.Items, after.Items...) {
		if slices.Contains(ids, it.ID) {
			t.Errorf("removed, the API still lists americas item %d", it.ID)
		}
	}
	if !slices.Contains(ids, other.Items[0].ID) {
		t.Errorf("the API lists %v, without europe's item %d", ids, other.Items[0].ID)
	}
	if r := web.Get("/newsroom/"); r.Status != http.StatusOK || strings.Contains(r.Body, old.Conversation.ID) || !strings.Contains(r.Body, other.Conversation.ID) {
		t.Errorf("removed, web inbox: %d, americas' conversation listed or europe's missing", r.Status)
	}
}

// TestEveryReadAudited: each route that reads a desk's tips leaves an
// audit entry naming the journalist, the desk and the conversation, and
// nothing of the tip. The API's list and downloads left none.
func TestEveryReadAudited(t *testing.T) {
	t.Parallel()
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	ana := in.Journalist("ana")
	desk := in.Desk("americas", ana)
	web := in.Browser()
	web.LoginJournalist(ana)
	api := newAPIClient(t, in, ana)

	routes := []struct {
		name string
		do   func(tip *pista.NewTip) int
		want pista.AuditAction
	}{
		{"web inbox", func(*pista.NewTip) int { return web.Get("/newsroom/").Status }, pista.AuditList},
		{"web inbox js", func(*pista.NewTip) int { return web.Get("/newsroom/conversations.json").Status }, pista.AuditList},
		{"web read", func(tip *pista.NewTip) int { return web.Get("/newsroom/c/" + tip.Conversation.ID).Status }, pista.AuditRead},
		{"web download", func(tip *pista.NewTip) int {
			return web.Get(fmt.Sprintf("/newsroom/c/%s/items/%d", tip.Conversation.ID, tip.Items[0].ID)).Status
		}, pista.AuditDownload},
		{"web zip", func(tip *pista.NewTip) int {
			return web.Get("/newsroom/c/" + tip.Conversation.ID + "/download.zip").Status
		}, pista.AuditDownload},
		{"api list", func(*pista.NewTip) int { s, _ := api.get("/api/v1/journalist/items"); return s }, pista.AuditList},
		{"api download", func(tip *pista.NewTip) int {
			s, _ := api.get(fmt.Sprintf("/api/v1/journalist/items/%d", tip.Items[0].ID))
			return s
		}, pista.AuditDownload},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			// A conversation of its own, so that no earlier entry covers it.
			tip := in.StoreTip(desk)
			// Audit IDs carry no order: what is new is what was not there.
			es, err := in.Srv.Stores.Team.Audit(ctx, pista.AuditQuery{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			before := map[int64]bool{}
			for _, e := range es {
				before[e.ID] = true
			}
			if status := rt.do(tip); status != http.StatusOK {
				t.Fatalf("%s: %d", rt.name, status)
			}
			es, err = in.Srv.Stores.Team.Audit(ctx, pista.AuditQuery{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range es {
				if before[e.ID] {
					continue
				}
				if e.ConversationID == tip.Conversation.ID && e.Action == rt.want && e.ActorID == ana.ID && e.DeskID == desk.ID {
					found = true
				}
				if e.Created.Truncate(pista.TimeGranularity) != e.Created {
					t.Errorf("entry time %v finer than the hour", e.Created)
				}
			}
			if !found {
				t.Errorf("%s left no %s entry on the conversation; new entries: %+v", rt.name, rt.want, es)
			}
		})
	}
}
