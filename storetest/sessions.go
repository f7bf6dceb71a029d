package storetest

import (
	"context"
	"testing"
)

// testSourceSessions: a source's session epoch is its conversation's,
// EndSourceSessions changes it for that source only, and a deleted
// conversation, or an unknown source, answers ErrNotFound.
func testSourceSessions(t *testing.T, s Stores) {
	ctx := context.Background()
	n := newNewsroom(t, s)
	tip := n.tip(t, n.americas)
	other := n.tip(t, n.americas)
	src, conv := tip.Source.ID, tip.Conversation.ID

	before, err := s.Tips.SourceSessionEpoch(ctx, src, conv)
	if err != nil {
		t.Fatal(err)
	}
	otherBefore, err := s.Tips.SourceSessionEpoch(ctx, other.Source.ID, other.Conversation.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := s.Tips.SourceSessionEpoch(ctx, src, conv); err != nil || again != before {
		t.Errorf("epoch read twice: %d then %d, %v", before, again, err)
	}
	if err := s.Tips.EndSourceSessions(ctx, src); err != nil {
		t.Fatal(err)
	}
	after, err := s.Tips.SourceSessionEpoch(ctx, src, conv)
	if err != nil || after == before {
		t.Errorf("epoch after EndSourceSessions = %d, %v; want other than %d", after, err, before)
	}
	if got, err := s.Tips.SourceSessionEpoch(ctx, other.Source.ID, other.Conversation.ID); err != nil || got != otherBefore {
		t.Errorf("another source's epoch changed: %d → %d, %v", otherBefore, got, err)
	}
	if err := s.Tips.EndSourceSessions(ctx, src); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Tips.SourceSessionEpoch(ctx, src, conv); err != nil || again == after || again == before {
		t.Errorf("epoch after a second EndSourceSessions = %d, %v; want a third value (%d, %d)", again, err, before, after)
	}

	isNotFound(t, "SourceSessionEpoch(another source's conversation)",
		func() error { _, err := s.Tips.SourceSessionEpoch(ctx, src, other.Conversation.ID); return err }())
	isNotFound(t, "SourceSessionEpoch(unknown conversation)",
		func() error { _, err := s.Tips.SourceSessionEpoch(ctx, src, "no-such-conversation"); return err }())
	isNotFound(t, "SourceSessionEpoch(unknown source)",
		func() error { _, err := s.Tips.SourceSessionEpoch(ctx, 99999, conv); return err }())
	isNotFound(t, "EndSourceSessions(unknown source)", s.Tips.EndSourceSessions(ctx, 99999))

	if _, err := s.Tips.DeleteConversation(ctx, n.alice.ID, conv); err != nil {
		t.Fatal(err)
	}
	isNotFound(t, "SourceSessionEpoch(deleted conversation)",
		func() error { _, err := s.Tips.SourceSessionEpoch(ctx, src, conv); return err }())
	isNotFound(t, "EndSourceSessions(deleted source)", s.Tips.EndSourceSessions(ctx, src))
}

// testDeleteSecrets: DeleteSecrets deletes the names in [from, to) and no
// other; a deleted secret is made anew.
func testDeleteSecrets(t *testing.T, s Stores) {
	ctx := context.Background()
	names := []string{"k", "k/0001", "k/0002", "k/0003", "k0", "csrf-key"}
	before := map[string][]byte{}
	for _, n := range names {
		v, err := s.Settings.Secret(ctx, n, 32)
		if err != nil {
			t.Fatal(err)
		}
		before[n] = v
	}
	if err := s.Settings.DeleteSecrets(ctx, "k/", "k/0003"); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		v, err := s.Settings.Secret(ctx, n, 32)
		if err != nil {
			t.Fatal(err)
		}
		deleted := n == "k/0001" || n == "k/0002"
		if same := string(v) == string(before[n]); same == deleted {
			t.Errorf("secret %q: deleted %v, want %v", n, !same, deleted)
		}
	}
	if err := s.Settings.DeleteSecrets(ctx, "none/", "none/9"); err != nil {
		t.Errorf("deleting nothing: %v", err)
	}
}
