// Package pulled is the air-gap workflow: Pull downloads the
// still-encrypted tips of a journalist's desks into a folder on an online
// machine, and Open decrypts such a folder on an offline one.
//
// A pulled folder looks like this, and holds nothing but age files and
// non-secret bookkeeping:
//
//	pista-pull.json                     server, user and the last item pulled
//	keys/DESK-KEYID.age                 desk identities, wrapped to the journalist
//	CONVERSATION/0000000042-message.age an item: its ID, zero-padded, and kind
//	CONVERSATION/0000000043-file.age    a file's bytes
//	CONVERSATION/0000000043-file.meta.age   its original name and type
//	CONVERSATION/items.jsonl            one line per item: ID, kind, date,
//	                                    sealing, how it arrived, in the
//	                                    order the server listed them
//	intake/ID.age                       an intake key's secret, sealed to its desk key
//	CONVERSATION/conversation-key-HASH.age  the conversation's key, sealed to the desk key
//
// Pull is incremental: it asks only for items newer than the last one it
// saved. It distrusts the server: every declared size is held to, the
// lists are bounded, and so is the whole pull (PullOptions.MaxTotal); IDs
// carry no order, so an ID seen twice in one pull is the server repeating
// itself, and is refused. An
// item the server has lost is reported and asked for again next time; the
// pull goes on without it. Open writes, for each conversation, message-N.txt, reply-N.txt,
// note-N.txt (the desk's internal notes, which the source never sees),
// contact.txt and the files under their original names made safe for the
// file system; a tip that came by e-mail also gets email-N.eml, the whole
// message as it arrived, or, if it had attachments, a copy of it with
// each attachment replaced by a note naming its file (see package smtp).
package pulled

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
)

// StateFile is the name of the pull's bookkeeping file.
const StateFile = "pista-pull.json"

// State is what a pulled folder remembers between pulls.
type State struct {
	Server   string `json:"server"`
	User     string `json:"user"`
	LastItem int64  `json:"last_item"` // the cursor: the last item's ID
	// SealedIDs is set by pulls from a server whose item IDs carry no
	// order (sealed, server migration 0006); LastItem is a cursor then.
	SealedIDs bool `json:"sealed_ids,omitempty"`
	// Missing are items listed but lost on the server, asked for again at
	// each pull.
	Missing []Item `json:"missing,omitempty"`
}

// Entry is one line of a conversation's items.jsonl.
type Entry struct {
	ID      int64  `json:"id"`
	Kind    string `json:"kind"`
	Created string `json:"created"`
	Meta    bool   `json:"meta,omitempty"`
	// Sealing, IntakeKey and Received are the item's forward secrecy
	// (pista.Item's) when it was pulled; a line without them (an older
	// pull) is of an item under its desk key.
	Sealing   string `json:"sealing,omitempty"`
	IntakeKey int64  `json:"intake_key,omitempty"`
	Received  string `json:"received,omitempty"`
}

// Item is an item of the journalist API's list, with its forward
// secrecy: which key opens it now (Sealing, and IntakeKey for an intake
// key) and how it arrived (Received). A server from before forward
// secrecy sends neither: the item is under its desk key.
type Item struct {
	api.Item
	Sealing   string `json:"sealing,omitempty"`
	IntakeKey int64  `json:"intake_key,omitempty"`
	Received  string `json:"received,omitempty"`
}

// itemName matches an item's file name.
var itemName = regexp.MustCompile(`^([0-9]{10,19})-(message|file|contact|reply|email|answers|note)(\.meta)?\.age$`)

// ItemFile names an item's file in a conversation folder, as the inbox's
// downloads do (pista.ItemFileName).
func ItemFile(id int64, kind string, meta bool) string {
	return pista.ItemFileName(id, pista.ItemKind(kind), meta)
}

// parseItemFile reads an item's file name; ok is false for anything else.
func parseItemFile(name string) (id int64, kind string, meta, ok bool) {
	m := itemName.FindStringSubmatch(name)
	if m == nil {
		return 0, "", false, false
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || fmt.Sprintf("%010d", id) != m[1] {
		// Only the one way ItemFile writes an ID.
		return 0, "", false, false
	}
	return id, m[2], m[3] != "", true
}

// conversationDir reports whether a folder name can be a conversation ID
// as the server makes them (lowercase base32), so that no name from the
// network can point outside the folder.
func conversationDir(name string) bool {
	if len(name) < 8 || len(name) > 64 || name != filepath.Base(name) {
		return false
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
