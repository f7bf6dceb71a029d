package browsertest

// The desks' encrypted search index in a real Chromium: the journalist's
// browser indexes the tips it decrypts, uploads the index encrypted to
// the desk's key, and after a reload finds words from the downloaded
// index, in French, Spanish and Arabic, whatever their accents. No request
// the page sends holds a word that was searched for, or any word of a tip.

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

func storeSourceTip(t *testing.T, in *pistatest.Instance, desk pista.Desk, message string) string {
	t.Helper()
	src, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	lookup := make([]byte, 32)
	rand.Read(lookup)
	return in.StoreSourceTip(desk, pista.Source{Lookup: lookup, Recipient: src.Recipient().String()}, "", message).Conversation.ID
}

// searchInbox types query in the inbox's search box once the index is
// ready, and returns the conversation links it lists.
func searchInbox(t *testing.T, tab context.Context, query string) []string {
	t.Helper()
	teamWait(t, tab, "the search index", `document.querySelector("form#search").dataset.indexReady === "1"`)
	teamEval[chromedp.Void](t, tab, "searching", `(() => {
		const f = document.querySelector("form#search");
		delete f.dataset.searched;
		f.querySelector("#search-q").value = `+jsString(query)+`;
		f.querySelector("button[type=submit]").click();
	})()`)
	teamWait(t, tab, "the results", `document.querySelector("form#search").dataset.searched !== undefined`)
	return teamEval[[]string](t, tab, "reading the results",
		`Array.from(document.querySelectorAll("[data-search-results] a")).map((a) => a.getAttribute("href"))`)
}

func TestSearchIndexInBrowser(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	carla := in.Journalist("carla")
	desk := in.Desk("americas", carla)
	other := in.Desk("maghreb", in.Journalist("omar"))
	base := byHostName(in.TS.URL)
	ctx := context.Background()

	marker := "faro" + rand8()
	fr := storeSourceTip(t, in, desk, "L'enquête sur le port de Montréal : les élections sont truquées. "+marker)
	es := storeSourceTip(t, in, desk, "El señor alcalde escondió los contenedores en el puerto.")
	ar := storeSourceTip(t, in, desk, "يُخْفِي مُدِيرُ المِينَاء الحاويات في المدينة")
	for i := range 5 {
		storeSourceTip(t, in, desk, fmt.Sprintf("tip number %d about nothing in particular", i))
	}
	storeSourceTip(t, in, other, "Montréal from another desk "+marker)

	tab := b.tab(t, true)
	var rec sent
	rec.listen(t, tab)
	teamLogin(t, tab, base, carla)
	teamWait(t, tab, "the index built", `document.querySelector("form#search").dataset.indexReady === "1"`)
	segs, err := in.Srv.Stores.Tips.IndexSegments(ctx, carla.ID, desk.ID)
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments after the first visit: %v, %v", segs, err)
	}
	// What the server stores is an age file for the desk, not words.
	obj := in.Srv.Stores.Blobs
	f, err := obj.Open(ctx, segs[0].Object)
	if err != nil {
		t.Fatal(err)
	}
	var head [24]byte
	f.Read(head[:])
	f.Close()
	if !strings.HasPrefix(string(head[:]), "age-encryption.org/v1") {
		t.Errorf("the segment starts %q, not as an age file", head[:])
	}

	// A reload: the index comes from the server, decrypted here.
	do(t, tab, "reloading the inbox", chromedp.Navigate(base+"/newsroom/?lang=en"), loaded())
	cases := []struct {
		query string
		want  []string
	}{
		{"ENQUETE montreal", []string{fr}},
		{marker, []string{fr}},
		{"élections " + strings.ToUpper(marker), []string{fr}},
		{"senor PUERTO", []string{es}},
		{"alcal*", []string{es}},
		{"ميناء", []string{ar}},   // the article and the vowels, folded
		{"الميناء", []string{ar}}, // with the article
		{"الحاويات المدينة", []string{ar}},
		{"montreal alcalde", nil},
		{"nowhere", nil},
	}
	for _, tt := range cases {
		got := searchInbox(t, tab, tt.query)
		var want []string
		for _, c := range tt.want {
			want = append(want, "/newsroom/c/"+c+"?lang=en")
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("search %q lists %v, want %v", tt.query, got, want)
		}
	}
	if segs2, _ := in.Srv.Stores.Tips.IndexSegments(ctx, carla.ID, desk.ID); len(segs2) != 1 {
		t.Errorf("a reload with nothing new added segments: %d", len(segs2))
	}

	// A new tip: indexed on the next visit, in a segment of its own.
	late := storeSourceTip(t, in, desk, "Un nuevo aviso sobre el faro de Valparaíso")
	do(t, tab, "reloading the inbox", chromedp.Navigate(base+"/newsroom/?lang=en"), loaded())
	if got := searchInbox(t, tab, "valparaiso"); len(got) != 1 || !strings.Contains(got[0], late) {
		t.Errorf("the new tip: %v", got)
	}
	if segs2, _ := in.Srv.Stores.Tips.IndexSegments(ctx, carla.ID, desk.ID); len(segs2) != 2 {
		t.Errorf("segments after a new tip: %d, want 2", len(segs2))
	}

	for _, secret := range []string{marker, strings.ToLower(marker), "montreal", "Montréal", "enquete", "alcal", "ميناء", "valparaiso", "Valparaíso"} {
		if rs := rec.containing(secret); len(rs) > 0 {
			t.Errorf("the journalist's browser sent %q in %v", secret, rs)
		}
	}
}
