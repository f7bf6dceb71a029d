package pulled

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/forward"
)

// Forward secrecy in a pulled folder (docs/forward-secrecy.md). Items are
// under the desk key, a day's intake key or their conversation's key;
// items.jsonl records which (Entry.Sealing). Pull keeps what opens them,
// still sealed to the desk key, so that the folder opens offline even
// after the server destroyed the keys:
//
//	intake/ID.age                          an intake key's secret, sealed to its desk key
//	CONVERSATION/conversation-key-HASH.age the conversation's key, sealed to the desk key
//
// HASH is the first 16 hex digits of the sealed key's SHA-256: a server
// that changes a conversation's key adds a file, and replaces none.

// itemsPage is a page of GET /api/v1/journalist/items.
type itemsPage struct {
	Items []Item `json:"items"`
	More  bool   `json:"more"`
	// ConversationKeys are the sealed keys of the page's conversations
	// that have one (api.ItemsResponse's, read by ParseConversationKeys).
	ConversationKeys json.RawMessage `json:"conversation_keys"`
}

// maxConversationKeyFiles bounds the keys a conversation folder keeps.
const maxConversationKeyFiles = 16

var (
	intakeName  = regexp.MustCompile(`^([1-9][0-9]{0,18})\.age$`)
	convKeyName = regexp.MustCompile(`^conversation-key-[0-9a-f]{16}\.age$`)
)

func validSealing(sealing string, intakeKey int64) bool {
	switch sealing {
	case "", pista.SealingDesk, pista.SealingConversation:
		return intakeKey == 0
	case pista.SealingIntake:
		return intakeKey > 0
	}
	return false
}

func validReceived(r string) bool {
	switch r {
	case "", pista.ReceivedLegacy, pista.ReceivedForward, pista.ReceivedNoForward:
		return true
	}
	return false
}

// ParseConversationKeys reads the conversation_keys of an items page:
// an object from conversation ID to {"recipient", "key"} (or to the
// sealed key alone), or a list of {"conversation", "recipient", "key"}. It answers each conversation's sealed
// keys; at most one key per item of the page, each within
// forward.MaxSealedSize.
func ParseConversationKeys(raw json.RawMessage, items int) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	add := func(conv string, key []byte) error {
		if !conversationDir(conv) || len(key) == 0 || len(key) > forward.MaxSealedSize {
			return fmt.Errorf("%w: a key of conversation %q", ErrMalformed, apiclient.Printable(conv, 80))
		}
		out[conv] = append(out[conv], key)
		return nil
	}
	n := 0
	if raw[0] == '{' {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%w: conversation keys: %v", ErrMalformed, err)
		}
		for c, v := range m {
			var k struct {
				Recipient string `json:"recipient"`
				Key       []byte `json:"key"`
			}
			if err := json.Unmarshal(v, &k); err != nil {
				// The sealed key alone.
				if err := json.Unmarshal(v, &k.Key); err != nil {
					return nil, fmt.Errorf("%w: conversation keys: %v", ErrMalformed, err)
				}
			}
			if err := add(c, k.Key); err != nil {
				return nil, err
			}
		}
		n = len(m)
	} else {
		var l []struct {
			Conversation string `json:"conversation"`
			Recipient    string `json:"recipient"`
			Key          []byte `json:"key"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("%w: conversation keys: %v", ErrMalformed, err)
		}
		for _, k := range l {
			if err := add(k.Conversation, k.Key); err != nil {
				return nil, err
			}
		}
		n = len(l)
	}
	if n > max(items, 1) {
		return nil, fmt.Errorf("%w: %d conversation keys for %d items", ErrMalformed, n, items)
	}
	return out, nil
}

// intakeKeys lists the live intake keys of the journalist's desks, by ID
// (none from a server without forward secrecy).
func (c *Client) intakeKeys(ctx context.Context) (map[int64]FSIntake, error) {
	var fk FSKeys
	err := c.api.GetJSONMax(ctx, fsKeysPath, maxFSKeysJSON, &fk)
	if ae, ok := errors.AsType[*apiclient.Error](err); ok && ae.Status == http.StatusNotFound {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if len(fk.Intake) > maxFSIntake {
		return nil, fmt.Errorf("%w: %d intake keys", ErrMalformed, len(fk.Intake))
	}
	m := map[int64]FSIntake{}
	for _, k := range fk.Intake {
		if k.ID <= 0 || len(k.Sealed) == 0 || len(k.Sealed) > forward.MaxSealedSize {
			return nil, fmt.Errorf("%w: intake key %d", ErrMalformed, k.ID)
		}
		m[k.ID] = k
	}
	return m, nil
}

// saveIntakeKey keeps the sealed secret of the intake key an item is
// under, if it is not kept yet and the server lists it.
func saveIntakeKey(d *dir, it Item, intake map[int64]FSIntake, budget *apiclient.Budget) error {
	if it.Sealing != pista.SealingIntake {
		return nil
	}
	k, ok := intake[it.IntakeKey]
	if !ok {
		// Not listed: open reports the item it cannot open.
		return nil
	}
	kd, err := d.sub("intake", true)
	if err != nil {
		return err
	}
	defer kd.Close()
	name := strconv.FormatInt(k.ID, 10) + ".age"
	if _, err := kd.root.Lstat(name); err == nil {
		return nil
	}
	if err := budget.Reserve(fileCost); err != nil {
		return err
	}
	_, err = kd.writeFile(name, bytes.NewReader(k.Sealed), nil)
	return err
}

// saveConversationKeys keeps a conversation's sealed keys.
func saveConversationKeys(d *dir, conv string, sealed [][]byte, budget *apiclient.Budget) error {
	if len(sealed) == 0 {
		return nil
	}
	cd, err := d.sub(conv, true)
	if err != nil {
		return err
	}
	defer cd.Close()
	for _, k := range sealed {
		sum := sha256.Sum256(k)
		name := "conversation-key-" + hex.EncodeToString(sum[:8]) + ".age"
		if _, err := cd.root.Lstat(name); err == nil {
			continue
		}
		entries, err := cd.entries()
		if err != nil {
			return err
		}
		n := 0
		for _, e := range entries {
			if convKeyName.MatchString(e.Name()) {
				n++
			}
		}
		if n >= maxConversationKeyFiles {
			return fmt.Errorf("%w: more than %d keys for conversation %s", ErrMalformed, maxConversationKeyFiles, conv)
		}
		if err := budget.Reserve(fileCost); err != nil {
			return err
		}
		if _, err := cd.writeFile(name, bytes.NewReader(k), nil); err != nil {
			return err
		}
	}
	return nil
}

// openIntakeKeys opens the intake secrets kept in intake/ with the desk
// keys; one that does not open is left out (its items are reported as
// not decrypted).
func openIntakeKeys(desks []age.Identity, src *dir, rep *OpenReport) (map[int64]age.Identity, error) {
	out := map[int64]age.Identity{}
	kd, entries, err := src.listSub("intake")
	if err != nil {
		return nil, err
	} else if kd == nil {
		return out, nil // none
	}
	defer kd.Close()
	for _, e := range entries {
		m := intakeName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		if !e.Type().IsRegular() {
			rep.Skipped = append(rep.Skipped, kd.join(e.Name()))
			continue
		}
		id, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			continue
		}
		b, err := kd.readFile(e.Name(), forward.MaxSealedSize)
		if err != nil {
			continue
		}
		if k, err := forward.Open(b, desks...); err == nil {
			out[id] = k
		}
	}
	return out, nil
}

// openConversationKeys opens a conversation folder's keys with the desk
// keys.
func openConversationKeys(desks []age.Identity, in *dir, entries []fs.DirEntry, rep *OpenReport) []age.Identity {
	var out []age.Identity
	for _, e := range entries {
		if !convKeyName.MatchString(e.Name()) {
			continue
		}
		if !e.Type().IsRegular() {
			rep.Skipped = append(rep.Skipped, in.join(e.Name()))
			continue
		}
		if len(out) >= maxConversationKeyFiles {
			break
		}
		b, err := in.readFile(e.Name(), forward.MaxSealedSize)
		if err != nil {
			continue
		}
		if k, err := forward.Open(b, desks...); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// itemIdentities orders the identities to open an item with: the key
// items.jsonl says it is under first, then every other key of the
// conversation (an older line, or none, says nothing: the desk key).
func itemIdentities(e Entry, all, conv []age.Identity, intake map[int64]age.Identity) []age.Identity {
	ids := make([]age.Identity, 0, len(all)+len(conv)+1)
	switch e.Sealing {
	case pista.SealingIntake:
		if k, ok := intake[e.IntakeKey]; ok {
			ids = append(ids, k)
		}
		ids = append(append(ids, all...), conv...)
	case pista.SealingConversation:
		ids = append(append(ids, conv...), all...)
	default:
		ids = append(append(ids, all...), conv...)
	}
	return ids
}

// forwardNote says, for the conversation's output, how an item arrived,
// or "" when it had forward secrecy (or its line does not say).
func forwardNote(e Entry) string {
	switch e.Received {
	case pista.ReceivedNoForward:
		return "received without forward secrecy: when it arrived the desk had no fresh intake key (no member had opened the inbox or run pista sort for days), or the sender's app did not use it; copies of it taken before it was sorted open with the desk key"
	case pista.ReceivedLegacy:
		return "from before forward secrecy: it stays encrypted to the desk key, and every copy of it opens with the desk key for as long as the desk key exists"
	}
	return ""
}

// forwardReport is forward-secrecy.txt of a conversation's output.
func forwardReport(lines []string) string {
	return "Forward secrecy of this conversation's items\n\n" +
		"Items not listed here were encrypted, as they arrived, to a key the server destroys after a few days,\n" +
		"then to this conversation's own key, which goes when the conversation is deleted.\n\n" +
		strings.Join(lines, "\n") + "\n"
}
