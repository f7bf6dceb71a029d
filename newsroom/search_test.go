package newsroom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

type searchListing struct {
	Desks []struct {
		Desk       string
		Recipients []string
		Segments   []struct {
			ID   string
			Size int64
			URL  string
		}
		Items  string
		Upload string
	}
	MaxSegmentSize int64 `json:"max_segment_size"`
	MaxSegments    int   `json:"max_segments"`
}

func listSearch(t *testing.T, b *pistatest.Browser) searchListing {
	t.Helper()
	r := b.Get("/newsroom/search.json")
	var l searchListing
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &l) != nil {
		t.Fatalf("search.json: %d %.300s", r.Status, r.Body)
	}
	return l
}

// TestSearchIndexRoutes checks the routes of the desks' encrypted search
// indexes: a journalist without the desk gets nothing (404, as for a desk
// that does not exist), uploads need the CSRF header and must be age files
// for the desk's keys within the size bound, a compaction is atomic and
// removes the objects it replaced, and a full index refuses more.
func TestSearchIndexRoutes(t *testing.T) {
	archive, _ := age.GenerateHybridIdentity()
	in := pistatest.New(t, server.Config{Archive: []string{archive.Recipient().String()}})
	a := in.Journalist("ana")
	b := in.Journalist("bilal")
	desk := in.Desk("americas", a)
	in.Desk("maghreb", b)
	tip := in.StoreTip(desk)
	ba, bb := in.Browser(), in.Browser()
	ba.LoginJournalist(a)
	bb.LoginJournalist(b)
	tok, tokB := newsroomCSRF(ba), newsroomCSRF(bb)
	ctx := context.Background()

	l := listSearch(t, ba)
	if len(l.Desks) != 1 || l.Desks[0].Desk != "americas" || len(l.Desks[0].Segments) != 0 ||
		!slices.Equal(l.Desks[0].Recipients, []string{desk.Recipient, archive.Recipient().String()}) ||
		l.MaxSegmentSize != pista.MaxIndexSegmentSize || l.MaxSegments != pista.MaxIndexSegments {
		t.Fatalf("ana's search.json = %+v", l)
	}
	if l := listSearch(t, bb); len(l.Desks) != 1 || l.Desks[0].Desk != "maghreb" {
		t.Errorf("bilal's search.json = %+v", l)
	}

	post := func(br *pistatest.Browser, path, token string, body []byte) *pistatest.Response {
		req := br.Request(http.MethodPost, path, bytes.NewReader(body), "application/octet-stream")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		return br.Do(req)
	}
	const upload = "/newsroom/search/americas/segments"
	good := sealed(t, "an index", desk.Recipient, archive.Recipient().String())
	huge := append(bytes.Clone(good), make([]byte, pista.MaxIndexSegmentSize)...)
	x25519, _ := age.GenerateX25519Identity()
	refused := []struct {
		name    string
		browser *pistatest.Browser
		path    string
		body    []byte
		token   string
		status  int
		msg     string
	}{
		{"no CSRF token", ba, upload, good, "", http.StatusForbidden, "error.csrf"},
		{"a wrong CSRF token", ba, upload, good, "x" + tok, http.StatusForbidden, "error.csrf"},
		{"another desk", bb, upload, good, tokB, http.StatusNotFound, "error.notfound"},
		{"a desk that does not exist", ba, "/newsroom/search/nowhere/segments", good, tok, http.StatusNotFound, "error.notfound"},
		{"not age", ba, upload, []byte("mayor lied: conv1"), tok, http.StatusBadRequest, "search.index.malformed"},
		{"the desk's key only", ba, upload, sealed(t, "an index", desk.Recipient), tok, http.StatusBadRequest, "search.index.malformed"},
		{"a classic X25519 key", ba, upload, func() []byte {
			var buf bytes.Buffer
			w, _ := age.Encrypt(&buf, x25519.Recipient(), x25519.Recipient())
			w.Write([]byte("an index"))
			w.Close()
			return buf.Bytes()
		}(), tok, http.StatusBadRequest, "search.index.malformed"},
		{"too large", ba, upload, huge, tok, http.StatusRequestEntityTooLarge, "search.index.toolarge"},
		{"replacing a segment that is not there", ba, upload + "?replaces=nothing", good, tok, http.StatusConflict, "search.index.conflict"},
		{"too many replaced", ba, upload + "?replaces=" + strings.Repeat("x,", pista.MaxIndexReplaces*14), good, tok, http.StatusBadRequest, "search.index.malformed"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			keys, _ := in.Srv.Stores.Tips.ObjectKeys(ctx)
			r := post(tt.browser, tt.path, tt.token, tt.body)
			if r.Status != tt.status || !strings.Contains(r.Text(), pistatest.En(tt.msg)) {
				t.Errorf("status %d %.300s, want %d saying %q", r.Status, r.Body, tt.status, pistatest.En(tt.msg))
			}
			if l := listSearch(t, ba); len(l.Desks[0].Segments) != 0 {
				t.Errorf("a refused segment was stored: %+v", l.Desks[0].Segments)
			}
			if after, _ := in.Srv.Stores.Tips.ObjectKeys(ctx); len(after) != len(keys) {
				t.Errorf("objects in use went from %d to %d", len(keys), len(after))
			}
		})
	}

	// A good segment: listed, downloaded byte for byte by members only.
	var added struct{ ID string }
	if r := post(ba, upload, tok, good); r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &added) != nil || added.ID == "" {
		t.Fatalf("a good segment: %d %s", r.Status, r.Body)
	}
	l = listSearch(t, ba)
	if len(l.Desks[0].Segments) != 1 || l.Desks[0].Segments[0].ID != added.ID || l.Desks[0].Segments[0].Size != int64(len(good)) {
		t.Fatalf("segments after an upload: %+v", l.Desks[0].Segments)
	}
	url := l.Desks[0].Segments[0].URL
	if r := ba.Get(url); r.Status != http.StatusOK || r.Body != string(good) {
		t.Errorf("downloading the segment: %d, %d bytes", r.Status, len(r.Body))
	}
	if r := bb.Get(url); r.Status != http.StatusNotFound {
		t.Errorf("another desk's member downloading the segment: %d", r.Status)
	}
	if r := bb.Get("/newsroom/search/maghreb/segments/" + added.ID); r.Status != http.StatusNotFound {
		t.Errorf("the segment by another desk's path: %d", r.Status)
	}

	// The items to index: the desk's, to members only.
	var items struct {
		Items []struct {
			ID           int64
			Conversation string
			Kind         string
			URL          string
		}
		Next int64
	}
	r := ba.Get("/newsroom/search/americas/items")
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &items) != nil || len(items.Items) != len(tip.Items) ||
		items.Items[0].Conversation != tip.Conversation.ID || items.Items[0].ID != tip.Items[0].ID || items.Next != 0 ||
		!strings.HasPrefix(items.Items[0].URL, "/newsroom/c/"+tip.Conversation.ID+"/items/") {
		t.Errorf("items to index: %d %s", r.Status, r.Body)
	}
	if r := ba.Get("/newsroom/search/americas/items?after=" + itoa(tip.Items[len(tip.Items)-1].ID)); !strings.Contains(r.Body, `"items":[]`) {
		t.Errorf("items after the last: %s", r.Body)
	}
	if r := bb.Get("/newsroom/search/americas/items"); r.Status != http.StatusNotFound || strings.Contains(r.Body, tip.Conversation.ID) {
		t.Errorf("another desk's member listing its items: %d", r.Status)
	}

	// A compaction replaces the segment, and its object goes.
	gs, _ := in.Srv.Stores.Tips.IndexSegments(ctx, a.ID, desk.ID)
	oldObject := gs[0].Object
	var merged struct {
		ID       string
		Replaced int
	}
	if r := post(ba, upload+"?replaces="+added.ID, tok, good); r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &merged) != nil || merged.Replaced != 1 {
		t.Fatalf("a compaction: %d %s", r.Status, r.Body)
	}
	if _, err := in.Srv.Stores.Blobs.Open(ctx, oldObject); !errors.Is(err, pista.ErrNotFound) {
		t.Errorf("the replaced segment's object is still there: %v", err)
	}
	if r := post(ba, upload+"?replaces="+added.ID, tok, good); r.Status != http.StatusConflict {
		t.Errorf("a second compaction of the same segment: %d", r.Status)
	}
	if l := listSearch(t, ba); len(l.Desks[0].Segments) != 1 || l.Desks[0].Segments[0].ID != merged.ID {
		t.Errorf("after the compactions: %+v", l.Desks[0].Segments)
	}

	// A full index refuses another segment, and takes a compaction.
	for len(gs) < pista.MaxIndexSegments {
		g := pista.IndexSegment{DeskID: desk.ID, Object: "nothing", Size: 1}
		if _, err := in.Srv.Stores.Tips.AddIndexSegment(ctx, a.ID, &g, nil); err != nil {
			t.Fatal(err)
		}
		gs, _ = in.Srv.Stores.Tips.IndexSegments(ctx, a.ID, desk.ID)
	}
	if r := post(ba, upload, tok, good); r.Status != http.StatusConflict || !strings.Contains(r.Text(), pistatest.En("search.index.full")) {
		t.Errorf("a segment for a full index: %d %s", r.Status, r.Body)
	}
	if r := post(ba, upload+"?replaces="+gs[1].ID+","+gs[2].ID, tok, good); r.Status != http.StatusOK {
		t.Errorf("a compaction of a full index: %d %s", r.Status, r.Body)
	}

	// Nothing of this is open without a session.
	anon := in.Browser()
	if r := anon.Get("/newsroom/search.json"); r.Status == http.StatusOK || strings.Contains(r.Body, "americas") {
		t.Errorf("search.json without a session: %d", r.Status)
	}
	if r := post(anon, upload, "", good); r.Status != http.StatusUnauthorized {
		t.Errorf("an upload without a session: %d", r.Status)
	}
}
