package newsroom_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/ui"
)

// team is a real instance (stores, source pages) and the newsroom handler
// on its stores, whose sessions the test can start directly: the team
// tests are about what a session may do, not about how it was opened.
type team struct {
	t      *testing.T
	in     *pistatest.Instance
	h      *newsroom.Handler
	ts     *httptest.Server
	idents map[int64]*age.HybridIdentity // desk ID → its current identity
}

func newTeam(t *testing.T) *team {
	t.Helper()
	in := pistatest.New(t, server.Config{Newsroom: "Test newsroom"})
	st := in.Srv.Stores
	log := slog.New(slog.NewTextHandler(in.Log, nil))
	render, err := ui.NewRenderer(log)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	h := &newsroom.Handler{
		Auth:        &newsroom.Auth{Journalists: st.Journalists, Throttle: newsroom.NewThrottle()},
		Journalists: st.Journalists, Desks: st.Desks, Tips: st.Tips, Team: st.Team, Blobs: st.Blobs,
		Sessions: newsroom.NewSessions(false), CSRF: httpx.NewCSRF(key), Render: render, Log: log, Newsroom: "Test newsroom",
	}
	mux := http.NewServeMux()
	h.Register(mux)
	ts := httptest.NewServer(httpx.Headers(http.NewCrossOriginProtection().Handler(mux), ""))
	t.Cleanup(ts.Close)
	return &team{t: t, in: in, h: h, ts: ts, idents: map[int64]*age.HybridIdentity{}}
}

// desk makes a desk whose identity the test keeps; coordinators first.
func (tm *team) desk(slug string, coordinators []*pistatest.Journalist, journalists ...*pistatest.Journalist) pista.Desk {
	tm.t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		tm.t.Fatal(err)
	}
	var wraps []pista.KeyWrap
	for _, m := range append(append([]*pistatest.Journalist{}, coordinators...), journalists...) {
		wraps = append(wraps, pista.KeyWrap{JournalistID: m.ID, Wrapped: wrap(tm.t, id, m.Recipient)})
	}
	d := pista.Desk{Slug: slug, Title: "Desk " + slug, Recipient: id.Recipient().String()}
	ctx := context.Background()
	if err := tm.in.Srv.Stores.Desks.CreateDesk(ctx, &d, wraps); err != nil {
		tm.t.Fatal(err)
	}
	for _, c := range coordinators {
		if err := tm.in.Srv.Stores.Team.SetRole(ctx, d.ID, c.ID, pista.RoleCoordinator); err != nil {
			tm.t.Fatal(err)
		}
	}
	tm.idents[d.ID] = id
	return d
}

func wrap(t testing.TB, id *age.HybridIdentity, recipient string) []byte {
	t.Helper()
	w, err := keys.Wrap(id, recipient)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// session returns a browser signed in as journalist id.
func (tm *team) session(id int64) *pistatest.Browser {
	tm.t.Helper()
	b := tm.in.Browser()
	b.Base = tm.ts.URL
	rec := httptest.NewRecorder()
	if _, err := tm.h.Sessions.Start(rec, httptest.NewRequest(http.MethodGet, tm.ts.URL+"/newsroom/", nil), newsroom.Session{Journalist: id}); err != nil {
		tm.t.Fatal(err)
	}
	u, _ := url.Parse(tm.ts.URL + "/newsroom/")
	b.Client.Jar.SetCookies(u, rec.Result().Cookies())
	return b
}

// pending makes an account by invitation to desk d: a pending member.
func (tm *team) pending(d pista.Desk, name string) (pista.Journalist, *age.HybridIdentity) {
	tm.t.Helper()
	ctx := context.Background()
	tok := make([]byte, 32)
	rand.Read(tok)
	inv := pista.Invitation{TokenHash: tok, DeskID: d.ID, Role: pista.RoleJournalist, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
	if err := tm.in.Srv.Stores.Team.CreateInvitation(ctx, &inv); err != nil {
		tm.t.Fatal(err)
	}
	id, _ := age.GenerateHybridIdentity()
	j := pista.Journalist{Name: name, Recipient: id.Recipient().String(), TOTPSecret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}
	if err := tm.in.Srv.Stores.Team.AcceptInvitation(ctx, tok, time.Now(), &j); err != nil {
		tm.t.Fatal(err)
	}
	return j, id
}

// csrf reads the session's token from the inbox.
func csrfOf(b *pistatest.Browser) string {
	b.T.Helper()
	r := b.Get("/newsroom/")
	if r.Status != http.StatusOK {
		b.T.Fatalf("inbox: %d", r.Status)
	}
	return r.CSRF(b.T)
}

type wrapJSON struct {
	Key        int64  `json:"key,omitempty"`
	Journalist int64  `json:"journalist,omitempty"`
	Age        string `json:"age"`
}

func wrapsField(ws ...wrapJSON) string {
	b, _ := json.Marshal(ws)
	return string(b)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// approveForm wraps desk d's current identity to recipient, as a
// coordinator's browser does.
func (tm *team) approveForm(d pista.Desk, recipient string) string {
	d, _ = tm.in.Srv.Stores.Desks.DeskByID(context.Background(), d.ID)
	return wrapsField(wrapJSON{Key: d.KeyID, Age: b64(wrap(tm.t, tm.idents[d.ID], recipient))})
}

// rotateForm makes a new identity for desk d wrapped to every active
// member but remove, as a coordinator's browser does.
func (tm *team) rotateForm(d pista.Desk, remove int64) (url.Values, *age.HybridIdentity) {
	tm.t.Helper()
	ms, err := tm.in.Srv.Stores.Team.Members(context.Background(), d.ID)
	if err != nil {
		tm.t.Fatal(err)
	}
	id, _ := age.GenerateHybridIdentity()
	var ws []wrapJSON
	for _, m := range ms {
		if m.Pending || m.JournalistID == remove {
			continue
		}
		ws = append(ws, wrapJSON{Journalist: m.JournalistID, Age: b64(wrap(tm.t, id, m.Recipient))})
	}
	f := url.Values{"recipient": {id.Recipient().String()}, "wraps": {wrapsField(ws...)}}
	if remove != 0 {
		f.Set("remove", strconv.FormatInt(remove, 10))
	}
	return f, id
}

func post(b *pistatest.Browser, path, csrf string, f url.Values) *pistatest.Response {
	b.T.Helper()
	if f == nil {
		f = url.Values{}
	}
	f.Set("csrf", csrf)
	return b.Post(path, f)
}

func (tm *team) isPending(d pista.Desk, id int64) bool {
	ms, err := tm.in.Srv.Stores.Team.Members(context.Background(), d.ID)
	if err != nil {
		tm.t.Fatal(err)
	}
	for _, m := range ms {
		if m.JournalistID == id {
			return m.Pending
		}
	}
	return false
}

var linkRe = regexp.MustCompile(`id="invite-link"[^>]*value="([^"]+)"`)

func TestInvitationWorksOnce(t *testing.T) {
	tm := newTeam(t)
	coord := tm.in.Journalist("carla")
	d := tm.desk("americas", []*pistatest.Journalist{coord})
	b := tm.session(coord.ID)
	r := post(b, "/newsroom/desks/americas/invite", csrfOf(b), url.Values{"role": {"journalist"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("invite: %d\n%s", r.Status, r.Body)
	}
	m := linkRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no link in the page:\n%s", r.Body)
	}
	link, _ := url.Parse(m[1])
	token := strings.TrimPrefix(link.Path, "/newsroom/invite/")
	if len(token) != 43 {
		t.Fatalf("token %q", token)
	}
	// The server keeps only the token's hash.
	sum := sha256.Sum256([]byte(token))
	inv, err := tm.in.Srv.Stores.Team.Invitation(context.Background(), sum[:], time.Now())
	if err != nil || inv.DeskID != d.ID || inv.Role != pista.RoleJournalist || inv.CreatedBy != coord.ID {
		t.Fatalf("stored invitation: %+v %v", inv, err)
	}
	if again := b.Get("/newsroom/desks/americas"); strings.Contains(again.Body, token) {
		t.Error("the desk page shows the link again")
	}

	nb := tm.in.Browser()
	nb.Base = tm.ts.URL
	page := nb.Get(link.Path)
	if page.Status != http.StatusOK || !strings.Contains(page.Text(), "otpauth://totp/") || !strings.Contains(page.Body, "<svg class=\"qr\"") {
		t.Fatalf("invitation page: %d\n%s", page.Status, page.Body)
	}
	secret := regexp.MustCompile(`id="totp-secret" value="([A-Z2-7]+)"`).FindStringSubmatch(page.Body)
	if secret == nil {
		t.Fatal("no secret in the page")
	}
	form := newcomerForm(t, "nina", secret[1])
	form.Set("csrf", page.CSRF(t))

	// Each bad field is refused whole, and the invitation still works.
	bad := []struct {
		name, field, value string
		status             int
	}{
		{"name", "name", "Nina!", http.StatusBadRequest},
		{"recipient", "recipient", "age1notakey", http.StatusBadRequest},
		{"classic recipient", "recipient", classicRecipient(t), http.StatusBadRequest},
		{"short salt", "salt", b64([]byte("short")), http.StatusBadRequest},
		{"kdf", "kdf", "argon2id$v=19$m=1024,t=1,p=1", http.StatusBadRequest},
		{"auth", "auth", b64(make([]byte, 31)), http.StatusBadRequest},
		{"wrapped too big", "wrapped", b64(make([]byte, 5000)), http.StatusBadRequest},
		{"wrapped not base64", "wrapped", "!!!", http.StatusBadRequest},
		{"totp code", "totp", "000000x", http.StatusBadRequest},
		{"totp secret", "totp_secret", "AAAA", http.StatusBadRequest},
		{"csrf", "csrf", "nope", http.StatusForbidden},
	}
	for _, c := range bad {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set(c.field, c.value)
		r := nb.Post(link.Path, f)
		if r.Status != c.status || !strings.Contains(r.Body, `"error"`) {
			t.Errorf("%s: %d %s, want %d with an error", c.name, r.Status, r.Body, c.status)
		}
		if _, err := tm.in.Srv.Stores.Journalists.JournalistByName(context.Background(), "nina"); err == nil {
			t.Fatalf("%s: the account was made", c.name)
		}
	}

	r = nb.Post(link.Path, form)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"next"`) {
		t.Fatalf("accepting: %d %s", r.Status, r.Body)
	}
	j, err := tm.in.Srv.Stores.Journalists.JournalistByName(context.Background(), "nina")
	if err != nil || j.Admin || !tm.isPending(d, j.ID) || len(j.Auth.Hash) != 32 {
		t.Fatalf("the new account: %+v %v (pending %v)", j, err, tm.isPending(d, j.ID))
	}
	// Spent: the link works once.
	if r := nb.Post(link.Path, newcomerForm(t, "nina2", secret[1], "csrf", page.CSRF(t))); r.Status != http.StatusGone {
		t.Errorf("second acceptance: %d %s", r.Status, r.Body)
	}
	if r := nb.Get(link.Path); r.Status != http.StatusGone || !strings.Contains(r.Text(), pistatest.En("team.invite.gone")) {
		t.Errorf("spent link: %d", r.Status)
	}
	audit := b.Get("/newsroom/desks/americas/audit")
	for _, want := range []string{pistatest.En("audit.invite"), pistatest.En("audit.join"), "nina"} {
		if !strings.Contains(audit.Text(), want) {
			t.Errorf("the desk's audit log lacks %q", want)
		}
	}
}

func classicRecipient(t *testing.T) string {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id.Recipient().String()
}

// newcomerForm is what the invitation page's script sends for a new
// account with passphrase pistatest.TestPassword.
func newcomerForm(t *testing.T, name, secret string, more ...string) url.Values {
	t.Helper()
	id, _ := age.GenerateHybridIdentity()
	salt := keys.NewJournalistSalt()
	k, err := keys.DeriveJournalist(context.Background(), pistatest.TestPassword, salt, keys.JournalistKDF)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := keys.WrapIdentity(k.Wrap, id.String())
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	f := url.Values{"name": {name}, "recipient": {id.Recipient().String()}, "salt": {b64(salt)}, "kdf": {keys.JournalistKDF},
		"auth": {b64(k.Auth)}, "wrapped": {b64(wrapped)}, "totp_secret": {secret}, "totp": {code}}
	for i := 0; i+1 < len(more); i += 2 {
		f.Set(more[i], more[i+1])
	}
	return f
}

func TestInvitationExpired(t *testing.T) {
	tm := newTeam(t)
	coord := tm.in.Journalist("carla")
	d := tm.desk("americas", []*pistatest.Journalist{coord})
	token := strings.Repeat("A", 43)
	sum := sha256.Sum256([]byte(token))
	inv := pista.Invitation{TokenHash: sum[:], DeskID: d.ID, Role: pista.RoleJournalist,
		Created: time.Now().Add(-8 * 24 * time.Hour), Expires: time.Now().Add(-time.Hour)}
	if err := tm.in.Srv.Stores.Team.CreateInvitation(context.Background(), &inv); err != nil {
		t.Fatal(err)
	}
	b := tm.in.Browser()
	b.Base = tm.ts.URL
	r := b.Get("/newsroom/invite/" + token)
	if r.Status != http.StatusGone || !strings.Contains(r.Text(), pistatest.En("team.invite.gone")) {
		t.Errorf("expired invitation: %d\n%s", r.Status, r.Body)
	}
	for _, bad := range []string{"short", strings.Repeat("B", 43), strings.Repeat("A", 500)} {
		if r := b.Get("/newsroom/invite/" + bad); r.Status != http.StatusGone {
			t.Errorf("%q: %d", bad, r.Status)
		}
	}
}

func TestApproveChecksWraps(t *testing.T) {
	tm := newTeam(t)
	coordA, coordB := tm.in.Journalist("carla"), tm.in.Journalist("boris")
	a := tm.desk("americas", []*pistatest.Journalist{coordA})
	bd := tm.desk("balkans", []*pistatest.Journalist{coordB})
	nina, ninaID := tm.pending(a, "nina")
	b := tm.session(coordA.ID)
	tok := csrfOf(b)
	path := "/newsroom/desks/americas/members/" + strconv.FormatInt(nina.ID, 10) + "/approve"

	other, _ := age.GenerateHybridIdentity()
	var twoStanzas bytes.Buffer
	w, _ := age.Encrypt(&twoStanzas, mustRecipient(t, nina.Recipient), mustRecipient(t, coordA.Recipient))
	io.WriteString(w, tm.idents[a.ID].String())
	w.Close()
	cases := []struct{ name, wraps string }{
		{"empty", ""},
		{"not json", "[{"},
		{"no wraps", "[]"},
		{"not base64", wrapsField(wrapJSON{Key: a.KeyID, Age: "%%%"})},
		{"not age", wrapsField(wrapJSON{Key: a.KeyID, Age: b64([]byte("hello"))})},
		{"two stanzas", wrapsField(wrapJSON{Key: a.KeyID, Age: b64(twoStanzas.Bytes())})},
		{"another desk's key", wrapsField(wrapJSON{Key: bd.KeyID, Age: b64(wrap(t, other, nina.Recipient))})},
		{"twice the same key", wrapsField(wrapJSON{Key: a.KeyID, Age: b64(wrap(t, other, nina.Recipient))}, wrapJSON{Key: a.KeyID, Age: b64(wrap(t, other, nina.Recipient))})},
		{"unknown field", `[{"key":` + strconv.FormatInt(a.KeyID, 10) + `,"age":"` + b64(wrap(t, other, nina.Recipient)) + `","x":1}]`},
	}
	for _, c := range cases {
		r := post(b, path, tok, url.Values{"wraps": {c.wraps}})
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `"error"`) {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
		if !tm.isPending(a, nina.ID) {
			t.Fatalf("%s: nina is no longer pending", c.name)
		}
	}
	// A coordinator of B cannot approve on A.
	bb := tm.session(coordB.ID)
	if r := post(bb, path, csrfOf(bb), url.Values{"wraps": {tm.approveForm(a, nina.Recipient)}}); r.Status != http.StatusForbidden {
		t.Errorf("coordinator of another desk: %d", r.Status)
	}
	r := post(b, path, tok, url.Values{"wraps": {tm.approveForm(a, nina.Recipient)}})
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `"next":"/newsroom/desks/americas?done=approved"`) {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	if _, err := tm.in.Srv.Stores.Team.Membership(context.Background(), a.ID, nina.ID); err != nil {
		t.Fatalf("nina is not a member: %v", err)
	}
	// Nina can now open the desk's key.
	ws, err := tm.in.Srv.Stores.Desks.WrapsFor(context.Background(), nina.ID)
	if err != nil || len(ws) != 1 {
		t.Fatalf("nina's wraps: %v %d", err, len(ws))
	}
	if id, err := keys.Unwrap(ws[0].Wrapped, ninaID); err != nil || id.String() != tm.idents[a.ID].String() {
		t.Errorf("nina's wrap does not open the desk key: %v", err)
	}
	if r := post(b, path, tok, url.Values{"wraps": {tm.approveForm(a, nina.Recipient)}}); r.Status != http.StatusNotFound {
		t.Errorf("approving twice: %d", r.Status)
	}
}

func mustRecipient(t *testing.T, s string) age.Recipient {
	r, err := age.ParseHybridRecipient(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRejectAndRoles(t *testing.T) {
	tm := newTeam(t)
	coord, jo := tm.in.Journalist("carla"), tm.in.Journalist("jo")
	a := tm.desk("americas", []*pistatest.Journalist{coord}, jo)
	nina, _ := tm.pending(a, "nina")
	// A journalist cannot invite, reject or change roles.
	jb := tm.session(jo.ID)
	jt := csrfOf(jb)
	for _, p := range []string{"/newsroom/desks/americas/invite", "/newsroom/desks/americas/members/" + strconv.FormatInt(nina.ID, 10) + "/reject",
		"/newsroom/desks/americas/members/" + strconv.FormatInt(jo.ID, 10) + "/role"} {
		if r := post(jb, p, jt, url.Values{"role": {"coordinator"}}); r.Status != http.StatusForbidden || !strings.Contains(r.Text(), pistatest.En("team.forbidden")) {
			t.Errorf("journalist %s: %d", p, r.Status)
		}
	}
	if inv, _ := tm.in.Srv.Stores.Team.Invitations(context.Background(), a.ID, time.Now()); len(inv) != 0 {
		t.Error("an invitation was made")
	}
	b := tm.session(coord.ID)
	tok := csrfOf(b)
	rolePath := "/newsroom/desks/americas/members/" + strconv.FormatInt(jo.ID, 10) + "/role"
	if r := post(b, rolePath, tok, url.Values{"role": {"boss"}}); r.Status != http.StatusBadRequest {
		t.Errorf("bad role: %d", r.Status)
	}
	if r := post(b, "/newsroom/desks/americas/members/"+strconv.FormatInt(coord.ID, 10)+"/role", tok, url.Values{"role": {"journalist"}}); r.Status != http.StatusBadRequest {
		t.Errorf("demoting oneself: %d", r.Status)
	}
	if r := post(b, rolePath, tok, url.Values{"role": {"coordinator"}}); r.Status != http.StatusSeeOther {
		t.Errorf("role: %d %s", r.Status, r.Body)
	}
	if m, _ := tm.in.Srv.Stores.Team.Membership(context.Background(), a.ID, jo.ID); m.Role != pista.RoleCoordinator {
		t.Errorf("jo's role: %s", m.Role)
	}
	if r := post(b, "/newsroom/desks/americas/members/"+strconv.FormatInt(nina.ID, 10)+"/reject", tok, nil); r.Status != http.StatusSeeOther {
		t.Errorf("reject: %d", r.Status)
	}
	if tm.isPending(a, nina.ID) {
		t.Error("nina is still pending")
	}
	page := b.Get("/newsroom/desks/americas/audit")
	for _, want := range []string{pistatest.En("audit.reject"), pistatest.En("audit.role"), "nina"} {
		if !strings.Contains(page.Text(), want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
}

// TestRemovalRotatesKey is the end-to-end check of removal: after it, a
// tip sent through the source form is encrypted to the new desk key, which
// the removed member's old wrap does not open, and a remaining member's
// new wrap does.
func TestRemovalRotatesKey(t *testing.T) {
	tm := newTeam(t)
	coord, jo := tm.in.Journalist("carla"), tm.in.Journalist("jo")
	a := tm.desk("americas", []*pistatest.Journalist{coord}, jo)
	ctx := context.Background()
	joWraps, err := tm.in.Srv.Stores.Desks.WrapsFor(ctx, jo.ID)
	if err != nil || len(joWraps) != 1 {
		t.Fatalf("jo's wraps: %v", err)
	}
	b := tm.session(coord.ID)
	tok := csrfOf(b)

	// The page says honestly what removal changes.
	page := b.Get("/newsroom/desks/americas")
	for _, want := range []string{pistatest.En("team.remove.before", "name", "jo"), pistatest.En("team.remove.after", "name", "jo")} {
		if !strings.Contains(page.Text(), want) {
			t.Errorf("the desk page lacks %q", want)
		}
	}

	// Wraps that leave someone out, or include the removed member, change nothing.
	f, _ := tm.rotateForm(a, jo.ID)
	f.Set("wraps", wrapsField(wrapJSON{Journalist: jo.ID, Age: b64(wrap(t, tm.idents[a.ID], jo.Recipient))}))
	if r := post(b, "/newsroom/desks/americas/rotate", tok, f); r.Status != http.StatusConflict || !strings.Contains(r.Body, pistatest.En("team.members.changed")) {
		t.Errorf("wrong wraps: %d %s", r.Status, r.Body)
	}
	f, _ = tm.rotateForm(a, jo.ID)
	f.Set("recipient", classicRecipient(t))
	if r := post(b, "/newsroom/desks/americas/rotate", tok, f); r.Status != http.StatusBadRequest {
		t.Errorf("classic recipient: %d", r.Status)
	}
	if _, err := tm.in.Srv.Stores.Team.Membership(ctx, a.ID, jo.ID); err != nil {
		t.Fatal("jo was removed by a refused request")
	}

	f, newID := tm.rotateForm(a, jo.ID)
	r := post(b, "/newsroom/desks/americas/rotate", tok, f)
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "done=removed") {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	if _, err := tm.in.Srv.Stores.Team.Membership(ctx, a.ID, jo.ID); err == nil {
		t.Error("jo is still a member")
	}
	d, _ := tm.in.Srv.Stores.Desks.DeskByID(ctx, a.ID)
	if d.Recipient != newID.Recipient().String() {
		t.Fatal("the desk's recipient did not change")
	}

	// A tip through the source form, after the rotation.
	if r := tm.in.Browser().Submit("americas", "after the rotation"); r.Status != http.StatusOK {
		t.Fatalf("submit: %d", r.Status)
	}
	cs, err := tm.in.Srv.Stores.Tips.ConversationsFor(ctx, coord.ID, pista.Page{Limit: 1})
	if err != nil || len(cs) != 1 {
		t.Fatal(err)
	}
	items, _ := tm.in.Srv.Stores.Tips.ItemsOfConversation(ctx, cs[0].ID)
	old, err := keys.Unwrap(joWraps[0].Wrapped, jo.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decryptItem(t, tm, items[0], old); err == nil {
		t.Error("the removed member's old desk key opens the new tip")
	}
	cw, _ := tm.in.Srv.Stores.Desks.WrapsFor(ctx, coord.ID)
	var current *age.HybridIdentity
	for _, w := range cw {
		if w.DeskKeyID == d.KeyID {
			current, err = keys.Unwrap(w.Wrapped, coord.Identity)
		}
	}
	if current == nil || err != nil {
		t.Fatalf("the coordinator's new wrap: %v", err)
	}
	if text, err := decryptItem(t, tm, items[0], current); err != nil || !strings.Contains(text, "after the rotation") {
		t.Errorf("the coordinator cannot read the new tip: %v", err)
	}

	// Rotating without removal works too, and is recorded.
	f, _ = tm.rotateForm(a, 0)
	if r := post(b, "/newsroom/desks/americas/rotate", tok, f); r.Status != http.StatusOK || !strings.Contains(r.Body, "done=rotated") {
		t.Errorf("rotate: %d %s", r.Status, r.Body)
	}
	audit := b.Get("/newsroom/desks/americas/audit").Text()
	for _, want := range []string{pistatest.En("audit.remove"), pistatest.En("audit.rotate")} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
}

func decryptItem(t *testing.T, tm *team, it pista.Item, id age.Identity) (string, error) {
	obj, err := tm.in.Srv.Stores.Blobs.Open(context.Background(), it.Object)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(r)
	return string(b), err
}

func TestAdminPages(t *testing.T) {
	tm := newTeam(t)
	admin, coord, jo := tm.in.Journalist("ada"), tm.in.Journalist("carla"), tm.in.Journalist("jo")
	ctx := context.Background()
	if err := tm.in.Srv.Stores.Journalists.SetAdmin(ctx, admin.ID, true); err != nil {
		t.Fatal(err)
	}
	a := tm.desk("americas", []*pistatest.Journalist{coord}, jo)
	tm.in.StoreTip(a)
	b := tm.session(admin.ID)
	tok := csrfOf(b)
	page := b.Get("/newsroom/admin")
	if page.Status != http.StatusOK || !strings.Contains(page.Text(), "carla") || !strings.Contains(page.Text(), pistatest.En("team.desk.keyhint")) {
		t.Fatalf("admin page: %d", page.Status)
	}
	// Being admin reads nothing.
	cs, _ := tm.in.Srv.Stores.Tips.ConversationsFor(ctx, coord.ID, pista.Page{Limit: 1})
	if r := b.Get("/newsroom/c/" + cs[0].ID); r.Status != http.StatusNotFound {
		t.Errorf("admin reading a desk's conversation: %d", r.Status)
	}
	// An admin invitation.
	r := post(b, "/newsroom/admin/invite", tok, url.Values{"admin": {"1"}})
	if r.Status != http.StatusCreated || linkRe.FindStringSubmatch(r.Body) == nil {
		t.Fatalf("admin invite: %d", r.Status)
	}
	if r := post(b, "/newsroom/admin/invite", tok, url.Values{"desk": {"nowhere"}, "role": {"journalist"}}); r.Status != http.StatusBadRequest {
		t.Errorf("unknown desk: %d", r.Status)
	}
	// Create a desk: the browser's key, wrapped to its first coordinator.
	id, _ := age.GenerateHybridIdentity()
	f := url.Values{"slug": {"maghreb"}, "title": {"Maghreb"}, "recipient": {id.Recipient().String()},
		"wraps": {wrapsField(wrapJSON{Journalist: jo.ID, Age: b64(wrap(t, id, jo.Recipient))})}}
	for _, bad := range []struct{ field, value string }{{"slug", "Mag hreb"}, {"title", ""}, {"recipient", "age1x"}, {"wraps", "[]"}, {"slug", "americas"}} {
		g := url.Values{}
		for k, v := range f {
			g[k] = v
		}
		g.Set(bad.field, bad.value)
		if r := post(b, "/newsroom/admin/desks", tok, g); r.Status != http.StatusBadRequest && r.Status != http.StatusConflict {
			t.Errorf("create desk with %s=%q: %d", bad.field, bad.value, r.Status)
		}
	}
	if ds, _ := tm.in.Srv.Stores.Desks.Desks(ctx); len(ds) != 1 {
		t.Fatalf("desks after refused requests: %d", len(ds))
	}
	if r := post(b, "/newsroom/admin/desks", tok, f); r.Status != http.StatusOK {
		t.Fatalf("create desk: %d %s", r.Status, r.Body)
	}
	m, err := tm.in.Srv.Stores.Team.Membership(ctx, mustDesk(t, tm, "maghreb").ID, jo.ID)
	if err != nil || m.Role != pista.RoleCoordinator {
		t.Errorf("jo on the new desk: %+v %v", m, err)
	}
	if _, err := tm.in.Srv.Stores.Team.Membership(ctx, mustDesk(t, tm, "maghreb").ID, admin.ID); err == nil {
		t.Error("the admin is on the desk they made")
	}
	// Suspend: jo can do nothing.
	jb := tm.session(jo.ID)
	if r := post(b, "/newsroom/admin/accounts/"+strconv.FormatInt(jo.ID, 10)+"/suspend", tok, url.Values{"suspend": {"maybe"}}); r.Status != http.StatusBadRequest {
		t.Errorf("bad suspend: %d", r.Status)
	}
	if r := post(b, "/newsroom/admin/accounts/"+strconv.FormatInt(admin.ID, 10)+"/suspend", tok, url.Values{"suspend": {"1"}}); r.Status != http.StatusBadRequest {
		t.Errorf("suspending oneself: %d", r.Status)
	}
	if r := post(b, "/newsroom/admin/accounts/"+strconv.FormatInt(jo.ID, 10)+"/suspend", tok, url.Values{"suspend": {"1"}}); r.Status != http.StatusSeeOther {
		t.Errorf("suspend: %d", r.Status)
	}
	if r := jb.Get("/newsroom/"); r.Status != http.StatusForbidden || !strings.Contains(r.Text(), pistatest.En("team.suspended")) {
		t.Errorf("suspended inbox: %d", r.Status)
	}
	audit := b.Get("/newsroom/audit").Text()
	for _, want := range []string{pistatest.En("audit.create_desk"), pistatest.En("audit.suspend"), pistatest.En("audit.invite"), "maghreb"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit log lacks %q", want)
		}
	}
}

func mustDesk(t *testing.T, tm *team, slug string) pista.Desk {
	d, err := tm.in.Srv.Stores.Desks.DeskBySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuditPages(t *testing.T) {
	tm := newTeam(t)
	coord := tm.in.Journalist("carla")
	a := tm.desk("americas", []*pistatest.Journalist{coord})
	ctx := context.Background()
	for i := range 130 {
		e := pista.AuditEntry{Created: pista.Now(), ActorID: coord.ID, ActorName: "carla", Action: pista.AuditRead, DeskID: a.ID, DeskSlug: a.Slug,
			ConversationID: "conv" + strconv.Itoa(i) + "xxxxxxxx"}
		if err := tm.in.Srv.Stores.Team.AddAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	b := tm.session(coord.ID)
	first := b.Get("/newsroom/desks/americas/audit")
	if first.Status != http.StatusOK || !strings.Contains(first.Body, "conv129x") || strings.Contains(first.Body, "conv29xx") {
		t.Fatalf("first page: %d", first.Status)
	}
	next := regexp.MustCompile(`href="\?before=(\d+)`).FindStringSubmatch(first.Body)
	if next == nil {
		t.Fatal("no next page")
	}
	second := b.Get("/newsroom/desks/americas/audit?before=" + next[1])
	if !strings.Contains(second.Body, "conv29xx") || strings.Contains(second.Body, "conv30xx") || strings.Contains(second.Body, "?before=") {
		t.Errorf("second page wrong")
	}
	if r := b.Get("/newsroom/audit"); r.Status != http.StatusForbidden {
		t.Errorf("a coordinator reading the whole log: %d", r.Status)
	}
}
