package newsroom_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

var nextPageRe = regexp.MustCompile(`href="(/newsroom/\?before=[^"]+)"`)

// BenchmarkInboxPage measures the whole inbox page over HTTP, as a
// journalist's browser fetches it: 50 rows among 5,000 conversations of
// three items each, a third of them read, with each row's encrypted
// preview inline (a real one: an age file to the desk's hybrid key, about
// 2 KB), its channel, items and items since last looked. First page and
// page 50 (keyset: the same work); and rows without a preview, which name
// their first message instead. It reports the page's size.
//
//	go test ./newsroom/ -run '^$' -bench InboxPage -benchtime 200x
func BenchmarkInboxPage(b *testing.B) {
	const conversations = 5_000
	ctx := context.Background()
	for _, withPreviews := range []bool{true, false} {
		in := pistatest.New(b, server.Config{})
		j := in.Journalist("ana")
		desk := in.Desk("americas", j)
		deskKey, err := age.ParseHybridRecipient(desk.Recipient)
		if err != nil {
			b.Fatal(err)
		}
		preview, err := intake.SealPreview("The harbour master takes bribes from the shipping line, and the invoices prove it.", []age.Recipient{deskKey})
		if err != nil {
			b.Fatal(err)
		}
		for i := range conversations {
			tip := &pista.NewTip{
				Source: pista.Source{Lookup: fmt.Appendf(nil, "lookup-%06d", i), Recipient: desk.Recipient},
				Conversation: pista.Conversation{ID: pista.NewConversationID(), DeskID: desk.ID,
					Channel: []pista.Channel{pista.ChannelWeb, pista.ChannelEmail, pista.ChannelAPI}[i%3]},
				Items: []pista.Item{{Kind: pista.KindMessage, Object: "m", Size: 2000}, {Kind: pista.KindFile, Object: "f", Meta: "fm", Size: 90_000},
					{Kind: pista.KindContact, Object: "c", Size: 300}},
			}
			if withPreviews {
				tip.Conversation.Preview = preview
			}
			if err := in.Srv.Stores.Tips.CreateTip(ctx, tip); err != nil {
				b.Fatal(err)
			}
			if i%3 == 0 {
				if err := in.Srv.Stores.Tips.MarkRead(ctx, j.ID, tip.Conversation.ID); err != nil {
					b.Fatal(err)
				}
			}
		}
		br := in.Browser()
		br.LoginJournalist(j)
		deep := "/newsroom/"
		for range 49 {
			m := nextPageRe.FindStringSubmatch(br.Get(deep).Body)
			if m == nil {
				b.Fatal("no next page")
			}
			deep = html.UnescapeString(m[1])
		}
		name := "previews"
		if !withPreviews {
			name = "first messages"
		}
		for _, page := range []struct{ name, path string }{{"first page", "/newsroom/"}, {"page 50", deep}} {
			b.Run(name+"/"+page.name, func(b *testing.B) {
				var size int
				for b.Loop() {
					r := br.Get(page.path)
					if r.Status != http.StatusOK {
						b.Fatalf("inbox: %d", r.Status)
					}
					size = len(r.Body)
				}
				b.ReportMetric(float64(size), "B/page")
			})
		}
	}
}
