package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pista-tips/pista"
)

// inboxRow is the journalist's inbox row of conversation id (the first
// page, all desks).
func inboxRow(t *testing.T, s Stores, who pista.Journalist, id string) pista.Conversation {
	t.Helper()
	page, err := s.Tips.ConversationsFor(context.Background(), who.ID, pista.Page{Limit: pista.MaxInboxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range page {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("%s's inbox lacks %s", who.Name, id)
	return pista.Conversation{}
}

// testPreviews: a conversation's preview comes back with its inbox row,
// as it was stored; without one, the row names the first message to
// decrypt instead; and every row counts the items since the journalist
// last looked.
func testPreviews(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)

	preview := bytes.Repeat([]byte("age-ciphertext "), 100)
	n.next++
	withPreview := &pista.NewTip{
		Conversation: pista.Conversation{ID: "with-preview", DeskID: n.americas.ID, Preview: preview},
		Source:       pista.Source{Lookup: []byte("lookup-preview"), Recipient: "age1pq1source"},
		Items:        n.items(pista.KindMessage, pista.KindFile),
	}
	if err := s.Tips.CreateTip(ctx, withPreview); err != nil {
		t.Fatalf("CreateTip with a preview: %v", err)
	}
	old := n.tip(t, n.americas, pista.KindContact, pista.KindMessage, pista.KindMessage)
	fileOnly := n.tip(t, n.americas, pista.KindFile)

	row := inboxRow(t, s, n.alice, "with-preview")
	if !bytes.Equal(row.Preview, preview) || row.FirstMessage != 0 {
		t.Errorf("row with a preview: Preview %d bytes (equal: %v), FirstMessage %d; want the preview, 0",
			len(row.Preview), bytes.Equal(row.Preview, preview), row.FirstMessage)
	}
	if c, err := s.Tips.ConversationFor(ctx, n.bob.ID, "with-preview"); err != nil || !bytes.Equal(c.Preview, preview) {
		t.Errorf("ConversationFor: preview equal %v, %v", bytes.Equal(c.Preview, preview), err)
	}
	row = inboxRow(t, s, n.alice, old.Conversation.ID)
	if row.Preview != nil || row.FirstMessage != old.Items[1].ID {
		t.Errorf("row without a preview: Preview %q, FirstMessage %d; want nil, the first message %d", row.Preview, row.FirstMessage, old.Items[1].ID)
	}
	if row := inboxRow(t, s, n.alice, fileOnly.Conversation.ID); row.Preview != nil || row.FirstMessage != 0 {
		t.Errorf("row of a file only: Preview %q, FirstMessage %d; want nil, 0", row.Preview, row.FirstMessage)
	}

	t.Run("too big", func(t *testing.T) {
		big := &pista.NewTip{
			Conversation: pista.Conversation{ID: "big-preview", DeskID: n.americas.ID, Preview: make([]byte, pista.MaxPreviewSize+1)},
			Source:       pista.Source{Lookup: []byte("lookup-big"), Recipient: "age1pq1source"},
			Items:        n.items(pista.KindMessage),
		}
		if err := s.Tips.CreateTip(ctx, big); err == nil {
			t.Fatal("CreateTip with a preview over MaxPreviewSize succeeded")
		}
		_, err := s.Tips.ConversationFor(ctx, n.alice.ID, "big-preview")
		isNotFound(t, "the refused tip's conversation", err)
	})

	t.Run("new since last looked", func(t *testing.T) {
		if row := inboxRow(t, s, n.alice, old.Conversation.ID); row.NewItems != 3 || !row.Unread {
			t.Errorf("never read: NewItems %d, Unread %v; want 3, true", row.NewItems, row.Unread)
		}
		if err := s.Tips.MarkRead(ctx, n.alice.ID, old.Conversation.ID); err != nil {
			t.Fatal(err)
		}
		if row := inboxRow(t, s, n.alice, old.Conversation.ID); row.NewItems != 0 || row.Unread {
			t.Errorf("read: NewItems %d, Unread %v; want 0, false", row.NewItems, row.Unread)
		}
		n.add(t, old.Conversation.ID, n.items(pista.KindMessage, pista.KindFile)...)
		if row := inboxRow(t, s, n.alice, old.Conversation.ID); row.NewItems != 2 || !row.Unread {
			t.Errorf("two items later: NewItems %d, Unread %v; want 2, true", row.NewItems, row.Unread)
		}
		if row := inboxRow(t, s, n.bob, old.Conversation.ID); row.NewItems != 5 {
			t.Errorf("bob, who never looked: NewItems %d, want 5", row.NewItems)
		}
		if c, err := s.Tips.ConversationFor(ctx, n.alice.ID, old.Conversation.ID); err != nil || c.NewItems != 2 || c.Items != 5 {
			t.Errorf("ConversationFor: NewItems %d, Items %d, %v; want 2, 5", c.NewItems, c.Items, err)
		}
	})
}

// testNotes: a journalist's note is an item of the conversation like any
// other for the desk, is no news from a source, and a source cannot
// delete it as it may a reply.
func testNotes(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	a := n.tip(t, n.americas, pista.KindMessage)
	mark := a.Items[0].ID
	note := n.add(t, a.Conversation.ID, pista.Item{Kind: pista.KindNote, Object: "note-1", Size: 10, AuthorID: n.alice.ID, EncryptedBy: "browser"})[0]

	items, err := s.Tips.ItemsOfConversation(ctx, a.Conversation.ID)
	if err != nil || len(items) != 2 || items[1].Kind != pista.KindNote || items[1].AuthorID != n.alice.ID || items[1].ID != note.ID {
		t.Errorf("ItemsOfConversation = %+v, %v; want the message and alice's note", items, err)
	}
	if it, err := s.Tips.ItemFor(ctx, n.bob.ID, note.ID); err != nil || it.Kind != pista.KindNote {
		t.Errorf("ItemFor(bob, note) = %+v, %v", it, err)
	}
	_, err = s.Tips.ItemFor(ctx, n.carol.ID, note.ID)
	isNotFound(t, "another desk's note", err)
	if convs, newest, err := s.Tips.NewSourceItems(ctx, n.bob.ID, mark); err != nil || convs != 0 || newest != mark {
		t.Errorf("NewSourceItems after a note = %d, %d, %v; want 0, %d (a note is no news)", convs, newest, err, mark)
	}
	_, err = s.Tips.DeleteReply(ctx, a.Conversation.ID, note.ID)
	isNotFound(t, "DeleteReply of a note", err)
	pulled, err := s.Tips.ItemsFor(ctx, n.bob.ID, 0, 10)
	if err != nil || len(pulled) != 2 || pulled[1].Kind != pista.KindNote {
		t.Errorf("ItemsFor (pull) = %+v, %v; want the note too", pulled, err)
	}
}

// testChangeConversations: a bulk action changes every conversation
// named, or, if one of them may not be changed, none.
func testChangeConversations(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	var ids []string
	for range 3 {
		ids = append(ids, n.tip(t, n.americas).Conversation.ID)
	}
	other := n.tip(t, n.maghreb).Conversation.ID
	get := func(id string) pista.Conversation {
		t.Helper()
		c, err := s.Tips.ConversationFor(ctx, n.alice.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	err := s.Tips.ChangeConversations(ctx, n.alice.ID, ids[:2], pista.BulkChange{Status: pista.StatusClosed,
		Assign: true, Assignee: n.bob.ID, AddTags: []string{"budget", "leak"}})
	if err != nil {
		t.Fatalf("ChangeConversations: %v", err)
	}
	for _, id := range ids[:2] {
		if c := get(id); c.Status != pista.StatusClosed || c.Assignee != n.bob.ID || !slices.Equal(c.Tags, []string{"budget", "leak"}) {
			t.Errorf("%s after the bulk change: status %q, assignee %d, tags %v", id, c.Status, c.Assignee, c.Tags)
		}
	}
	if c := get(ids[2]); c.Status != pista.StatusNew || c.Assignee != 0 || len(c.Tags) != 0 {
		t.Errorf("%s, not selected, changed: %+v", ids[2], c)
	}
	// The tags' keyset walk (migration 0008's rows) sees them.
	page, err := s.Tips.ConversationsFor(ctx, n.alice.ID, pista.Page{Tag: "leak"})
	if err != nil || len(page) != 2 {
		t.Errorf("inbox by tag after the bulk change = %v, %v; want 2", convIDs(page), err)
	}
	if err := s.Tips.ChangeConversations(ctx, n.alice.ID, ids, pista.BulkChange{RemoveTags: []string{"budget"}, Assign: true}); err != nil {
		t.Fatalf("ChangeConversations removing a tag: %v", err)
	}
	if c := get(ids[0]); !slices.Equal(c.Tags, []string{"leak"}) || c.Assignee != 0 {
		t.Errorf("after removing a tag and the assignee: tags %v, assignee %d", c.Tags, c.Assignee)
	}

	unchanged := func(t *testing.T) {
		t.Helper()
		for _, id := range ids {
			if c := get(id); c.Status == pista.StatusInProgress || slices.Contains(c.Tags, "new") || c.Assignee != 0 {
				t.Errorf("%s changed by a refused bulk change: %+v", id, c)
			}
		}
	}
	refused := []struct {
		name string
		who  pista.Journalist
		ids  []string
		ch   pista.BulkChange
		want error
	}{
		{"another desk's conversation", n.alice, append(slices.Clone(ids), other), pista.BulkChange{Status: pista.StatusInProgress, AddTags: []string{"new"}}, pista.ErrNotFound},
		{"no such conversation", n.alice, []string{ids[0], "no-such"}, pista.BulkChange{Status: pista.StatusInProgress}, pista.ErrNotFound},
		{"an assignee off the desk", n.alice, ids, pista.BulkChange{Assign: true, Assignee: n.carol.ID, Status: pista.StatusInProgress}, pista.ErrNotFound},
		{"not the journalist's desk", n.carol, ids[:1], pista.BulkChange{Status: pista.StatusInProgress}, pista.ErrNotFound},
		{"too many tags", n.alice, ids, pista.BulkChange{Status: pista.StatusInProgress, AddTags: manyTags(pista.MaxTags)}, pista.ErrTooManyTags},
		{"too many conversations", n.alice, make([]string, pista.MaxBulkDelete+1), pista.BulkChange{Status: pista.StatusInProgress}, pista.ErrTooMany},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Tips.ChangeConversations(ctx, tt.who.ID, tt.ids, tt.ch)
			if !errors.Is(err, tt.want) {
				t.Errorf("ChangeConversations = %v, want %v", err, tt.want)
			}
			unchanged(t)
		})
	}
}

func manyTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	return tags
}
