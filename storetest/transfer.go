package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/pista-tips/pista"
)

// testTransfer: TransferConversation replaces the items by their copies
// and moves the conversation and its derived rows to the other desk, in
// one transaction; anything wrong changes nothing.
func testTransfer(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	europe := n.desk(t, "europe", n.alice, n.carol) // alice is on both desks
	// Its preview is encrypted to the old desk: the move drops it, and
	// the new desk's inbox names the first message instead.
	tip := &pista.NewTip{
		Conversation: pista.Conversation{ID: "conv-moved", DeskID: n.americas.ID, Preview: []byte("sealed to americas")},
		Source:       pista.Source{Lookup: []byte("lookup-moved"), Recipient: "age1pq1source"},
		Items:        n.items(pista.KindMessage, pista.KindFile, pista.KindContact),
	}
	if err := s.Tips.CreateTip(ctx, tip); err != nil {
		t.Fatal(err)
	}
	id := tip.Conversation.ID
	n.add(t, id, pista.Item{Kind: pista.KindReply, Object: "t-reply", Size: 5, AuthorID: n.bob.ID},
		pista.Item{Kind: pista.KindFile, Object: "t-rfile", Meta: "t-rfile-m", Size: 6, MetaSize: 7, AuthorID: n.bob.ID})
	other := n.tip(t, n.americas) // stays
	if err := s.Tips.SetTags(ctx, n.alice.ID, id, []string{"harbour"}); err != nil {
		t.Fatal(err)
	}
	for _, j := range []pista.Journalist{n.alice, n.bob} {
		if err := s.Tips.SetStar(ctx, j.ID, id, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Tips.SetAssignee(ctx, n.alice.ID, id, n.bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Tips.SetHold(ctx, n.alice.ID, id, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Tips.MarkRead(ctx, n.alice.ID, id); err != nil {
		t.Fatal(err)
	}
	old, err := s.Tips.ItemsOfConversation(ctx, id)
	if err != nil || len(old) != 5 {
		t.Fatalf("items: %d, %v", len(old), err)
	}
	copies := make([]pista.ItemCopy, len(old))
	for i, it := range old {
		copies[i] = pista.ItemCopy{Of: it.ID, Object: "copy-" + it.Object, Size: it.Size + 100, EncryptedBy: "browser"}
		if it.Meta != "" {
			copies[i].Meta, copies[i].MetaSize = "copy-"+it.Meta, it.MetaSize+100
		}
	}
	before, _ := s.Tips.ConversationFor(ctx, n.alice.ID, id)

	unchanged := func(t *testing.T) {
		t.Helper()
		c, err := s.Tips.ConversationFor(ctx, n.bob.ID, id)
		if err != nil || c.DeskID != n.americas.ID || c.LastItem != before.LastItem {
			t.Fatalf("after a refused transfer: %+v, %v", c, err)
		}
		items, _ := s.Tips.ItemsOfConversation(ctx, id)
		if !slices.EqualFunc(items, old, func(a, b pista.Item) bool { return a.ID == b.ID && a.Object == b.Object }) {
			t.Fatalf("after a refused transfer the items are %+v", items)
		}
	}
	for _, c := range []struct {
		name     string
		who      pista.Journalist
		from, to int64
		copies   []pista.ItemCopy
		want     error
	}{
		{"not a member of the desk", n.carol, n.americas.ID, europe.ID, copies, pista.ErrNotFound},
		{"not its desk", n.alice, europe.ID, n.maghreb.ID, copies, pista.ErrNotFound},
		{"unknown desk", n.alice, n.americas.ID, 99999, copies, pista.ErrNotFound},
		{"same desk", n.alice, n.americas.ID, n.americas.ID, copies, pista.ErrExists},
		{"a copy missing", n.alice, n.americas.ID, europe.ID, copies[:4], pista.ErrTransferStale},
		{"no copies", n.alice, n.americas.ID, europe.ID, nil, pista.ErrTransferStale},
		{"out of order", n.alice, n.americas.ID, europe.ID, append([]pista.ItemCopy{copies[1], copies[0]}, copies[2:]...), pista.ErrTransferStale},
		{"a meta missing", n.alice, n.americas.ID, europe.ID, func() []pista.ItemCopy {
			cs := slices.Clone(copies)
			cs[1].Meta = ""
			return cs
		}(), pista.ErrTransferStale},
		{"another item", n.alice, n.americas.ID, europe.ID, func() []pista.ItemCopy {
			cs := slices.Clone(copies)
			cs[0].Of = other.Items[0].ID
			return cs
		}(), pista.ErrTransferStale},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Tips.TransferConversation(ctx, c.who.ID, id, c.from, c.to, c.copies)
			if !errors.Is(err, c.want) {
				t.Fatalf("TransferConversation: %v, want %v", err, c.want)
			}
			unchanged(t)
		})
	}

	got, err := s.Tips.TransferConversation(ctx, n.alice.ID, id, n.americas.ID, europe.ID, copies)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, old, func(a, b pista.Item) bool { return a.ID == b.ID && a.Object == b.Object && a.Meta == b.Meta }) {
		t.Errorf("it returned %+v, want the old items", got)
	}
	t.Run("preview", func(t *testing.T) {
		rows, err := s.Tips.ConversationsFor(ctx, n.carol.ID, pista.Page{DeskID: europe.ID})
		if err != nil || len(rows) != 1 || rows[0].ID != id {
			t.Fatalf("the new desk's inbox: %+v, %v", rows, err)
		}
		if rows[0].Preview != nil {
			t.Errorf("the preview encrypted to the old desk came along: %q", rows[0].Preview)
		}
	})
	t.Run("items", func(t *testing.T) {
		items, _ := s.Tips.ItemsOfConversation(ctx, id)
		if len(items) != len(old) {
			t.Fatalf("%d items, want %d", len(items), len(old))
		}
		for i, it := range items {
			o := old[i]
			if it.Kind != o.Kind || it.AuthorID != o.AuthorID || !it.Created.Equal(o.Created) || it.Object != "copy-"+o.Object ||
				it.Size != o.Size+100 || it.EncryptedBy != "browser" || (o.Meta != "" && (it.Meta != "copy-"+o.Meta || it.MetaSize != o.MetaSize+100)) {
				t.Errorf("item %d is %+v, want a copy of %+v", i, it, o)
			}
			if slices.ContainsFunc(old, func(x pista.Item) bool { return x.ID == it.ID }) {
				t.Errorf("item %d kept its ID", i)
			}
		}
		if !items[4].IsReplyFile() {
			t.Error("the reply's file is not one any more")
		}
		inUse, err := s.Tips.ObjectsInUse(ctx, []string{old[0].Object, old[1].Meta, "copy-" + old[0].Object, "copy-" + old[1].Meta})
		if err != nil || inUse[old[0].Object] || inUse[old[1].Meta] || !inUse["copy-"+old[0].Object] || !inUse["copy-"+old[1].Meta] {
			t.Errorf("ObjectsInUse = %v, %v", inUse, err)
		}
	})
	t.Run("the old desk", func(t *testing.T) {
		if _, err := s.Tips.ConversationFor(ctx, n.bob.ID, id); !errors.Is(err, pista.ErrNotFound) {
			t.Errorf("bob (americas only) still sees it: %v", err)
		}
		cs, _ := s.Tips.ConversationsFor(ctx, n.bob.ID, pista.Page{})
		if len(cs) != 1 || cs[0].ID != other.Conversation.ID {
			t.Errorf("bob's inbox: %+v", cs)
		}
		for _, p := range []pista.Page{{Starred: true}, {Tag: "harbour"}, {Unread: true}, {Assignee: n.bob.ID}} {
			cs, _ := s.Tips.ConversationsFor(ctx, n.bob.ID, p)
			if slices.ContainsFunc(cs, func(c pista.Conversation) bool { return c.ID == id }) {
				t.Errorf("bob's inbox filtered by %+v still lists it", p)
			}
		}
		items, _ := s.Tips.ItemsFor(ctx, n.bob.ID, 0, 100)
		if slices.ContainsFunc(items, func(it pista.Item) bool { return it.ConversationID == id }) {
			t.Error("bob's pull still lists its items")
		}
	})
	t.Run("the new desk", func(t *testing.T) {
		c, err := s.Tips.ConversationFor(ctx, n.carol.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		items, _ := s.Tips.ItemsOfConversation(ctx, id)
		if c.DeskID != europe.ID || c.DeskSlug != "europe" || c.LastItem != items[len(items)-1].ID || !c.Held ||
			c.Assignee != 0 || !slices.Equal(c.Tags, []string{"harbour"}) || !c.Unread || c.Starred {
			t.Errorf("carol sees %+v", c)
		}
		a, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
		if err != nil || !a.Starred || !a.Unread {
			t.Errorf("alice (on both desks) sees %+v, %v: her star kept, unread (its items are new to the desk)", a, err)
		}
		for _, c := range []struct {
			who pista.Journalist
			p   pista.Page
		}{
			{n.carol, pista.Page{Tag: "harbour", DeskID: europe.ID}}, {n.carol, pista.Page{Unread: true, DeskID: europe.ID}},
			{n.alice, pista.Page{Starred: true, DeskID: europe.ID}}, {n.alice, pista.Page{Tag: "harbour"}},
		} {
			cs, err := s.Tips.ConversationsFor(ctx, c.who.ID, c.p)
			if err != nil || !slices.ContainsFunc(cs, func(x pista.Conversation) bool { return x.ID == id }) {
				t.Errorf("%s's inbox filtered by %+v lacks it (%v)", c.who.Name, c.p, err)
			}
		}
		cs, _ := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{Starred: true, DeskID: n.americas.ID})
		if len(cs) != 0 {
			t.Errorf("alice's americas stars list %+v", cs)
		}
		// Carol's pull, and the desk's search index, fetch the copies as new.
		pulled, _ := s.Tips.ItemsFor(ctx, n.carol.ID, 0, 100)
		if n := len(slices.DeleteFunc(slices.Clone(pulled), func(it pista.Item) bool { return it.ConversationID != id })); n != len(old) {
			t.Errorf("carol's pull lists %d of its items, want %d", n, len(old))
		}
		after, _ := s.Tips.ItemsFor(ctx, n.alice.ID, old[len(old)-1].ID, 100)
		if n := len(slices.DeleteFunc(slices.Clone(after), func(it pista.Item) bool { return it.ConversationID != id })); n != len(old) {
			t.Errorf("alice's next pull lists %d of its items, want all %d again", n, len(old))
		}
		desk, _ := s.Tips.DeskItemsFor(ctx, n.carol.ID, europe.ID, 0, 100)
		if len(desk) != len(old) {
			t.Errorf("the new desk's index has %d items to add, want %d", len(desk), len(old))
		}
	})
	t.Run("back again", func(t *testing.T) {
		items, _ := s.Tips.ItemsOfConversation(ctx, id)
		back := make([]pista.ItemCopy, len(items))
		for i, it := range items {
			back[i] = pista.ItemCopy{Of: it.ID, Object: "back-" + it.Object, Size: 1, Meta: it.Meta, MetaSize: it.MetaSize}
		}
		if _, err := s.Tips.TransferConversation(ctx, n.alice.ID, id, europe.ID, n.americas.ID, back); err != nil {
			t.Fatal(err)
		}
		c, err := s.Tips.ConversationFor(ctx, n.bob.ID, id)
		if err != nil || c.DeskID != n.americas.ID || c.Starred {
			t.Errorf("bob sees %+v, %v: back on americas, his star gone with the first move", c, err)
		}
	})
}
