package browsertest

// Forward secrecy in the browser (docs/forward-secrecy.md): the inbox's
// sorter (a Web Worker) makes intake keys, a source's page encrypts to
// the day's intake key, and the sorter moves what arrived under the
// conversation's key, after which the journalist still reads everything.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// sortWait waits until the inbox's sorter has finished a round
// (#sort-status[data-state=sorted]) having sorted at least min items on
// this page, and answers how many.
func sortWait(t *testing.T, ctx context.Context, min int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		type st struct {
			State  string `json:"state"`
			Sorted int    `json:"sorted"`
			Text   string `json:"text"`
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[st](`(() => {
			const el = document.querySelector("#sort-status");
			return el ? {state: el.dataset.state || "", sorted: Number(el.dataset.sorted || 0), text: el.textContent} : {state: "none"};
		})()`))
		if err == nil && s.State == "sorted" && s.Sorted >= min {
			return s.Sorted
		}
		// ("none": the page is still loading.)
		if err == nil && (s.State == "badsign" || s.State == "off") {
			t.Fatalf("the sorter's status is %q (%q)%s", s.State, s.Text, describe(ctx))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for the sorter to sort %d items: state %q, %d sorted (%v)%s", min, s.State, s.Sorted, err, describe(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// openWith decrypts a stored object with id; an error if id does not
// open it.
func openWith(t *testing.T, in *pistatest.Instance, key string, id age.Identity) ([]byte, error) {
	t.Helper()
	obj, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("opening object %s: %v", key, err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func openBytes(b []byte, id age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(b), id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// TestForwardSecrecyInBrowser: a journalist's inbox makes the desk's
// intake keys (signed with the key the desk key gives); a source with
// JavaScript sends a message and a picture, which the server stores under
// the day's intake key, opened by it alone; the journalist opens the
// inbox again and the sorter moves the items and the preview under the
// conversation's own key (sealed to the desk key); the journalist still
// reads the message, the file and the preview. An item received without
// forward secrecy says so.
func TestForwardSecrecyInBrowser(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	desk, deskID := in.DeskWithIdentity("americas", carla)
	l := locale(t, "en")
	base := byHostName(in.TS.URL)

	// The inbox makes the week's intake keys.
	nr := b.tab(t, true)
	teamLogin(t, nr, base, carla)
	sortWait(t, nr, 0, 50*time.Second)
	sign, err := in.Srv.Stores.Tips.SignKey(ctx, desk.KeyID)
	if err != nil || !bytes.Equal(sign, forward.SignPublic(deskID.String())) {
		t.Fatalf("the desk key generation's signing key is %x (%v), want the one its key gives, %x", sign, err, forward.SignPublic(deskID.String()))
	}
	iks, err := in.Srv.Stores.Tips.IntakeKeysFor(ctx, carla.ID)
	if err != nil {
		t.Fatal(err)
	}
	today := forward.Clock{}.Day(time.Now())
	intakeIDs := map[int64]*age.HybridIdentity{}
	for _, k := range iks {
		if err := forward.Verify(sign, desk.Recipient, k.Day, k.Recipient, k.Signature); err != nil {
			t.Errorf("intake key of day %d: %v", k.Day, err)
		}
		id, err := forward.Open(k.Sealed, deskID)
		if err != nil || id.Recipient().String() != k.Recipient {
			t.Errorf("intake key of day %d: its sealed secret does not open to it with the desk key (%v)", k.Day, err)
			continue
		}
		intakeIDs[k.ID] = id
	}
	if len(iks) != forward.Ahead || iks[0].Day != today {
		t.Fatalf("the inbox made %d intake keys from day %v, want %d from today (%d)", len(iks), iks, forward.Ahead, today)
	}

	// A source sends a message and a picture with JavaScript on.
	marker := "lantern-" + rand8()
	message := "The harbour master signs for ships that never dock. " + marker
	png := smallPNG(t)
	src := b.tab(t, true)
	var rec sent
	rec.listen(t, src)
	do(t, src, "sending a tip with a picture",
		chromedp.Navigate(in.TS.URL+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded(),
		chromedp.Click(chromedp.CSS("input[name=desk][value=americas]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), message),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{png}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	// What the page sent never holds the message.
	if rs := rec.containing(marker); len(rs) > 0 {
		t.Errorf("the source's browser sent the message in the clear in %v", rs)
	}
	cs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, carla.ID, pista.Page{Limit: 10})
	if err != nil || len(cs) != 1 {
		t.Fatalf("conversations: %v %v", cs, err)
	}
	conv := cs[0].ID
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil || len(items) < 2 {
		t.Fatalf("items: %v %v", items, err)
	}
	var todays *age.HybridIdentity
	for _, k := range iks {
		if k.Day == today {
			todays = intakeIDs[k.ID]
		}
	}
	var fileItem pista.Item
	for _, it := range items {
		if it.Sealing != pista.SealingIntake || it.Received != pista.ReceivedForward || intakeIDs[it.IntakeKey] != todays {
			t.Errorf("the %s was stored sealing %q, intake key %d, received %q; want intake, today's key, fs", it.Kind, it.Sealing, it.IntakeKey, it.Received)
		}
		if it.EncryptedBy != "browser" {
			t.Errorf("the %s was encrypted by %q, want the browser", it.Kind, it.EncryptedBy)
		}
		for _, key := range []string{it.Object, it.Meta} {
			if key == "" {
				continue
			}
			if _, err := openWith(t, in, key, todays); err != nil {
				t.Errorf("the day's intake key does not open the %s: %v", it.Kind, err)
			}
			if _, err := openWith(t, in, key, deskID); err == nil {
				t.Errorf("the desk key opens the %s stored under the intake key", it.Kind)
			}
		}
		if it.Kind == pista.KindMessage {
			if got, _ := openWith(t, in, it.Object, todays); string(got) != message {
				t.Errorf("the message opens as %q", got)
			}
		}
		if it.Kind == pista.KindFile {
			fileItem = it
		}
	}
	if fileItem.ID == 0 {
		t.Fatal("no file stored")
	}
	c, err := in.Srv.Stores.Tips.ConversationFor(ctx, carla.ID, conv)
	if err != nil {
		t.Fatal(err)
	}
	if intakeIDs[c.PreviewIntake] != todays {
		t.Errorf("the preview is under intake key %d, want today's", c.PreviewIntake)
	}
	if _, err := openBytes(c.Preview, todays); err != nil {
		t.Errorf("the intake key does not open the preview: %v", err)
	}

	// The source comes back and sends more: the follow-up goes to the
	// day's intake key too.
	codename := nonDigit.ReplaceAllString(text(t, src, "p#codename"), "")
	followUp := "And the tugboat logs are missing for March. " + marker
	do(t, src, "sending a follow-up",
		chromedp.Navigate(in.TS.URL+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("input#codename")),
		loaded(),
		chromedp.SendKeys(chromedp.CSS("input#codename"), codename),
		chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt] textarea#message")),
		loaded(),
		chromedp.SendKeys(chromedp.CSS("form[data-encrypt] textarea#message"), followUp),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	{
		n := len(items)
		items, err = in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
		if err != nil || len(items) != n+1 {
			t.Fatalf("after the follow-up the conversation has %d items (%v), want %d", len(items), err, n+1)
		}
		last := items[len(items)-1]
		if last.Sealing != pista.SealingIntake || intakeIDs[last.IntakeKey] != todays || last.EncryptedBy != "browser" {
			t.Errorf("the follow-up was stored sealing %q, intake key %d, by %q; want intake, today's key, browser", last.Sealing, last.IntakeKey, last.EncryptedBy)
		}
		if got, err := openWith(t, in, last.Object, todays); err != nil || string(got) != followUp {
			t.Errorf("the intake key opens the follow-up as %q (%v)", got, err)
		}
	}

	// The journalist opens the inbox: the sorter moves it all.
	do(t, nr, "opening the inbox", chromedp.Navigate(base+"/newsroom/?lang=en"), loaded())
	sortWait(t, nr, len(items), 50*time.Second)
	wantText(t, nr, "#sort-status", l.T("fsjs.sort.sorted"))
	c, err = in.Srv.Stores.Tips.ConversationFor(ctx, carla.ID, conv)
	if err != nil || c.KeyRecipient == "" {
		t.Fatalf("the conversation has no key after sorting (%v)", err)
	}
	convID, err := forward.Open(c.Key, deskID)
	if err != nil || convID.Recipient().String() != c.KeyRecipient {
		t.Fatalf("the conversation's key does not open with the desk key to its recipient (%v)", err)
	}
	if c.PreviewIntake != 0 {
		t.Errorf("the preview is still under intake key %d", c.PreviewIntake)
	}
	if _, err := openBytes(c.Preview, convID); err != nil {
		t.Errorf("the conversation's key does not open the sorted preview: %v", err)
	}
	if _, err := openBytes(c.Preview, todays); err == nil {
		t.Error("the intake key still opens the sorted preview")
	}
	sortedItems, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range sortedItems {
		if it.Sealing != pista.SealingConversation || it.IntakeKey != 0 {
			t.Errorf("the %s is sealing %q (intake key %d) after sorting, want conv", it.Kind, it.Sealing, it.IntakeKey)
		}
		for _, key := range []string{it.Object, it.Meta} {
			if key == "" {
				continue
			}
			if _, err := openWith(t, in, key, convID); err != nil {
				t.Errorf("the conversation's key does not open the sorted %s: %v", it.Kind, err)
			}
			if _, err := openWith(t, in, key, todays); err == nil {
				t.Errorf("the intake key still opens the sorted %s", it.Kind)
			}
		}
		if it.Kind == pista.KindMessage {
			if got, _ := openWith(t, in, it.Object, convID); string(got) != message && string(got) != followUp {
				t.Errorf("the sorted message opens as %q", got)
			}
		}
	}

	// The inbox's preview, the message and the file read as before.
	teamWait(t, nr, "the preview", `(() => { const p = document.querySelector("tr[data-conversation-row] p.preview"); return p && !p.hidden && p.textContent !== "" })()`)
	if got := text(t, nr, "tr[data-conversation-row] p.preview"); !strings.HasPrefix(message, got) || len(got) < 20 {
		t.Errorf("the inbox's preview shows %q, want the start of %q", got, message)
	}
	do(t, nr, "opening the conversation", chromedp.Navigate(base+"/newsroom/c/"+conv+"?lang=en"), loaded())
	teamWait(t, nr, "the items decrypted", `document.querySelector("[data-read-status]").textContent === `+jsString(l.T("newsroom.read.decrypted")))
	if got := text(t, nr, "li[data-kind=message] [data-plain]"); got != message {
		t.Errorf("the conversation shows the message as %q, want %q", got, message)
	}
	if got := text(t, nr, "li[data-kind=file] dl.file-meta"); !strings.Contains(got, "photo.png") {
		t.Errorf("the file shows %q, without its name", got)
	}
	teamWait(t, nr, "the picture's preview", `!!document.querySelector("li[data-kind=file] .preview iframe")`)
	// The file's content itself: what the download button would save.
	dir := allowDownloads(t, nr)
	do(t, nr, "downloading the file", chromedp.Click(chromedp.CSS(`li[data-kind=file] .file-actions button:not([data-scrub])`)))
	got := downloaded(dir, "photo.png")
	want, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !bytes.HasPrefix(got, want[:8]) {
		t.Errorf("the downloaded file is %d bytes, not the PNG sent", len(got))
	}

	// The search indexes what is under the conversation's key: a note
	// stored under it after sorting is found.
	needle := "zephyr" + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'a' + r - '0'
		}
		return r
	}, rand8())
	crs, err := keys.ParseRecipients(c.KeyRecipient)
	if err != nil {
		t.Fatal(err)
	}
	nobj, nsize, err := intake.Encrypt(ctx, in.Srv.Stores.Blobs, strings.NewReader("Call the harbour master about "+needle), crs)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.AddItems(ctx, conv, []pista.Item{{Kind: pista.KindNote, AuthorID: carla.ID, Object: nobj, Size: nsize, EncryptedBy: "browser",
		Sealing: pista.SealingConversation}}); err != nil {
		t.Fatal(err)
	}
	do(t, nr, "opening the inbox to search", chromedp.Navigate(base+"/newsroom/?lang=en"), loaded())
	teamWait(t, nr, "the search index", `document.querySelector("form#search").dataset.indexReady === "1"`)
	teamEval[chromedp.Void](t, nr, "searching", `(() => {
		const f = document.querySelector("form#search");
		f.querySelector("#search-q").value = `+jsString(needle)+`;
		f.querySelector("button[type=submit]").click();
	})()`)
	if got := teamEval[string](t, nr, "the search's count", `document.querySelector("form#search").dataset.searched || ""`); got != "1" {
		t.Errorf("searching for a word of an item under the conversation's key found %q conversations, want 1", got)
	}

	// An item received without forward secrecy says so.
	rs, err := keys.ParseRecipients(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	obj, size, err := intake.Encrypt(ctx, in.Srv.Stores.Blobs, strings.NewReader("sent by an old app"), rs)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.AddItems(ctx, conv, []pista.Item{{Kind: pista.KindMessage, Object: obj, Size: size, EncryptedBy: "browser",
		Sealing: pista.SealingDesk, Received: pista.ReceivedNoForward}}); err != nil {
		t.Fatal(err)
	}
	do(t, nr, "opening the conversation again", chromedp.Navigate(base+"/newsroom/c/"+conv+"?lang=en"), loaded())
	if n := count(t, nr, `li[data-item] [data-fs-label=nofs]`); n != 1 {
		t.Errorf("%d items are labelled received without forward secrecy, want 1", n)
	} else if got := text(t, nr, `li[data-item] [data-fs-label=nofs]`); got != l.T("forward-routes.nofs") {
		t.Errorf("the label says %q, want %q", got, l.T("forward-routes.nofs"))
	}
	teamWait(t, nr, "the items decrypted", `document.querySelector("[data-read-status]").textContent === `+jsString(l.T("newsroom.read.decrypted")))
	if got := text(t, nr, "li[data-item]:last-child [data-plain]"); got != "sent by an old app" {
		t.Errorf("the item under the desk key shows %q", got)
	}
}

// TestSorterRefusesAnotherSigningKey: when the server lists, for a desk's
// key generation, a signing key other than the one the desk key gives
// (someone made intake keys the desk never made), the inbox says so and
// its sorter makes no intake keys and sorts nothing.
func TestSorterRefusesAnotherSigningKey(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	desk, _ := in.DeskWithIdentity("americas", carla)
	l := locale(t, "en")

	// An intake key signed by a key that is not the desk's.
	impostor, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := forward.MakeIntakeKey(impostor, forward.Clock{}.Day(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Srv.Stores.Tips.AddIntakeKeys(ctx, carla.ID, desk.KeyID, forward.SignPublic(impostor.String()),
		[]pista.IntakeKey{{Day: k.Day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed}}); err != nil {
		t.Fatal(err)
	}
	tip := in.StoreTip(desk)

	tab := b.tab(t, true)
	teamLogin(t, tab, byHostName(in.TS.URL), carla)
	teamWait(t, tab, "the warning", `document.querySelector("#sort-status").dataset.state === "badsign"`)
	want := strings.ReplaceAll(l.T("fsjs.sort.badsign"), "{desk}", "americas")
	wantText(t, tab, "#sort-status", want)
	if role := teamEval[string](t, tab, "the warning's role", `document.querySelector("#sort-status").getAttribute("role")`); role != "alert" {
		t.Errorf("the warning's role is %q, want alert", role)
	}
	time.Sleep(2 * time.Second) // a sorter that went on would have made keys by now
	iks, err := in.Srv.Stores.Tips.IntakeKeysFor(ctx, carla.ID)
	if err != nil || len(iks) != 1 {
		t.Errorf("the desk has %d intake keys (%v), want only the impostor's", len(iks), err)
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, tip.Conversation.ID)
	if err != nil || len(items) != 1 || items[0].Sealing == pista.SealingConversation {
		t.Errorf("the tip's items were sorted anyway: %v %v", items, err)
	}
}

// TestSorterSkipsAnUnsignedConversationKey: a server that gives a
// conversation a key of its own (sealed to the desk's public key, which
// anyone can do, but not signed by the desk's signing key) gets nothing
// wrapped to it: the inbox's sorter sorts the desk's other conversation
// and leaves that one's items as they were.
func TestSorterSkipsAnUnsignedConversationKey(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	desk, _ := in.DeskWithIdentity("americas", carla)

	forged := in.StoreTip(desk)
	honest := in.StoreTip(desk)
	rec, sealed, _, err := forward.MakeConversationKey(desk.Recipient)
	if err != nil {
		t.Fatal(err)
	}
	impostor, _ := age.GenerateHybridIdentity()
	errs, err := in.Srv.Stores.Tips.SetConversationKeys(ctx, carla.ID, []pista.ConversationKey{{Conversation: forged.Conversation.ID, DeskID: desk.ID,
		Recipient: rec, Sealed: sealed, Signature: forward.SignConversationKey(impostor, forged.Conversation.ID, rec)}})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}

	tab := b.tab(t, true)
	teamLogin(t, tab, byHostName(in.TS.URL), carla)
	sorted := func(id string) bool {
		items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, id)
		if err != nil || len(items) == 0 {
			t.Fatalf("items of %s: %v %v", id, items, err)
		}
		return items[0].Sealing == pista.SealingConversation
	}
	deadline := time.Now().Add(30 * time.Second)
	for !sorted(honest.Conversation.ID) {
		if time.Now().After(deadline) {
			t.Fatal("the sorter did not sort the conversation without a key")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the same round would have sorted the other by now
	if sorted(forged.Conversation.ID) {
		t.Error("the sorter wrapped a conversation's items to a key no desk key signed")
	}
	c, err := in.Srv.Stores.Tips.ConversationFor(ctx, carla.ID, forged.Conversation.ID)
	if err != nil || c.KeyRecipient != rec {
		t.Errorf("the forged conversation's key: %q, %v; want it left as it was", c.KeyRecipient, err)
	}
}

// TestSorterRefusesAnIntakeKeyOfAnotherDesk: a lying server (here a proxy
// in front of a real one) lists a tip received on europe, under europe's
// intake key, as an item of a conversation of americas. The inbox's
// sorter, run by a member of both desks, sorts americas' own tip and
// posts nothing of europe's: rewrapped to americas' conversation key, it
// would be readable by americas' members.
func TestSorterRefusesAnIntakeKeyOfAnotherDesk(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	americas, americasID := in.DeskWithIdentity("americas", carla)
	europe, europeID := in.DeskWithIdentity("europe", carla)
	today := forward.Clock{}.Day(time.Now())
	in.IntakeKey(carla, americas, americasID, today)
	in.IntakeKey(carla, europe, europeID, today)
	convOf := map[int64]string{}
	for _, d := range []pista.Desk{americas, europe} {
		if r := in.Browser().Submit(d.Slug, "a tip for "+d.Slug); r.Status != http.StatusOK {
			t.Fatalf("submitting to %s: %d", d.Slug, r.Status)
		}
	}
	cs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, carla.ID, pista.Page{Limit: 10})
	if err != nil || len(cs) != 2 {
		t.Fatalf("conversations: %v %v", cs, err)
	}
	for _, c := range cs {
		convOf[c.DeskID] = c.ID
	}
	europeItems, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, convOf[europe.ID])
	if err != nil || len(europeItems) == 0 || europeItems[0].Sealing != pista.SealingIntake {
		t.Fatalf("europe's tip: %v %v; want it under an intake key", europeItems, err)
	}
	europeItem := europeItems[0].ID

	// The lie: europe's items and preview listed in americas' conversation.
	var (
		mu     sync.Mutex
		lied   int
		posted []string // what fs/sort was asked to take of europe's tip
	)
	target, _ := url.Parse(in.TS.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method != http.MethodGet || r.Request.URL.Path != "/newsroom/fs/unsorted" || r.StatusCode != http.StatusOK {
			return nil
		}
		var page map[string]any
		if err := json.NewDecoder(r.Body).Decode(&page); err != nil {
			return err
		}
		r.Body.Close()
		moved := func(list string, desk bool) {
			rows, _ := page[list].([]any)
			for _, row := range rows {
				m := row.(map[string]any)
				if m["conversation"] == convOf[europe.ID] {
					m["conversation"] = convOf[americas.ID]
					if desk {
						m["desk_id"] = americas.ID
					}
					mu.Lock()
					lied++
					mu.Unlock()
				}
			}
		}
		moved("items", true)
		moved("previews", false)
		var convs []any
		rows, _ := page["conversations"].([]any)
		for _, row := range rows {
			if row.(map[string]any)["id"] != convOf[europe.ID] {
				convs = append(convs, row)
			}
		}
		page["conversations"] = convs
		body, _ := json.Marshal(page)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Accept-Encoding") // so that the listing can be read and rewritten
		if r.Method == http.MethodPost && r.URL.Path == "/newsroom/fs/sort" {
			body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var req struct {
				Items []struct {
					ID int64 `json:"id"`
				} `json:"items"`
				Previews []struct {
					Conversation string `json:"conversation"`
					IntakeKey    int64  `json:"intake_key"`
				} `json:"previews"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				t.Errorf("fs/sort's body: %v", err)
			}
			mu.Lock()
			for _, it := range req.Items {
				if it.ID == europeItem {
					posted = append(posted, fmt.Sprintf("item %d", it.ID))
				}
			}
			for _, p := range req.Previews {
				if ik, err := in.Srv.Stores.Tips.IntakeKeysFor(ctx, carla.ID); err == nil {
					for _, k := range ik {
						if k.ID == p.IntakeKey && k.DeskID == europe.ID {
							posted = append(posted, "preview under europe's intake key "+strconv.FormatInt(k.ID, 10))
						}
					}
				}
			}
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	tab := b.tab(t, true)
	teamLogin(t, tab, byHostName(proxy.URL), carla)
	sorted := func(id string) bool {
		items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, id)
		if err != nil || len(items) == 0 {
			t.Fatalf("items of %s: %v %v", id, items, err)
		}
		return items[0].Sealing == pista.SealingConversation
	}
	postedAny := func() bool { mu.Lock(); defer mu.Unlock(); return len(posted) > 0 }
	deadline := time.Now().Add(30 * time.Second)
	for !sorted(convOf[americas.ID]) && !postedAny() && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // the same round would have posted europe's by now
	mu.Lock()
	defer mu.Unlock()
	if lied == 0 {
		t.Fatal("the proxy never listed europe's tip in americas' conversation: the test tested nothing")
	}
	if len(posted) > 0 {
		t.Errorf("the sorter rewrapped what arrived under europe's intake key for americas' conversation: %v", posted)
	}
	if !sorted(convOf[americas.ID]) {
		t.Error("the sorter did not sort americas' own tip")
	}
	if sorted(convOf[europe.ID]) {
		t.Error("europe's tip was sorted")
	}
}
