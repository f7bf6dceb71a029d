package pista

import (
	"context"
	"errors"
)

// Moving a conversation to another desk (a transfer). The server holds no
// private key, so it cannot re-encrypt anything: a journalist's browser
// decrypts every item of the conversation with the old desk's keys and
// encrypts it again to the new desk's key (and the archive's; the source's
// too for replies and their files, so that the source can still read them),
// and uploads the copies. The store then, in one transaction, replaces the
// old item rows by rows for the copies, moves the conversation and what is
// derived from it to the new desk, and returns the old items, whose objects
// the caller deletes after the commit (objects after the rows). Until that
// commit nothing has changed: a transfer interrupted half way leaves the
// conversation whole on its old desk, and the copies uploaded so far are
// deleted by the request that failed (or, after a crash, by the start-up
// sweep of objects no row names).

// ItemCopy is a re-encrypted copy of one item of a conversation, whose
// objects are already in the BlobStore.
type ItemCopy struct {
	Of          int64 // the ID of the item it copies
	Object      string
	Size        int64
	Meta        string // "" unless the item has one
	MetaSize    int64
	EncryptedBy string // where the copy was encrypted ("browser")
}

// ErrTransferStale answers a transfer whose copies are not exactly the
// conversation's items, in order (an item arrived, or was deleted, while
// the browser re-encrypted): nothing was changed; the browser starts over.
var ErrTransferStale = errors.New("the conversation changed during the transfer")

// ErrMoved answers items encrypted to a desk that their conversation
// has left (TipStore.AddItemsFor): nothing was added.
var ErrMoved = errors.New("the conversation was moved to another desk")

// Transferer moves conversations between desks.
type Transferer interface {
	// TransferConversation moves conversation id from desk from to desk
	// to, replacing its items by copies (one per item, in the order of
	// ItemsOfConversation; each keeps its kind, author and time, and
	// gets a new ID, so that `pista pull` and the search indexes of the
	// new desk's members fetch it as new). In the same transaction it
	// moves the conversation's tag and star rows to the new desk, deletes
	// the stars of journalists who are not members of the new desk,
	// unassigns it if its assignee is not, and keeps its hold; the unread
	// rows follow by themselves. It returns the old items, whose objects
	// the caller deletes.
	//
	// ErrNotFound unless the journalist is a member of desk from and the
	// conversation is on it, or if desk to does not exist; ErrExists if
	// from and to are the same desk; ErrTransferStale if copies are not
	// exactly the conversation's items. Callers check that the journalist
	// may move it to desk to (newsroom/perm.go).
	TransferConversation(ctx context.Context, journalistID int64, id string, from, to int64, copies []ItemCopy) ([]Item, error)
}

// CopiedItems checks that copies are exactly old's items, in order, each
// with an object, and a meta object where the item has one; it returns
// the items a store inserts in their place: each old item's kind, author
// and time with its copy's objects. ErrTransferStale if they are not.
func CopiedItems(old []Item, copies []ItemCopy) ([]Item, error) {
	if len(copies) != len(old) || len(old) == 0 {
		return nil, ErrTransferStale
	}
	items := make([]Item, len(old))
	for i, it := range old {
		c := copies[i]
		if c.Of != it.ID || c.Object == "" || (c.Meta == "") != (it.Meta == "") {
			return nil, ErrTransferStale
		}
		items[i] = Item{Kind: it.Kind, Object: c.Object, Size: c.Size, Meta: c.Meta, MetaSize: c.MetaSize,
			AuthorID: it.AuthorID, EncryptedBy: c.EncryptedBy, Created: it.Created}
	}
	return items, nil
}
