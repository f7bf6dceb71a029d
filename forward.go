package pista

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Forward secrecy (package forward has the keys and the design).
//
// Every item records which key opens its objects now (Sealing) and how it
// arrived (Received). A sorter, run by a desk member (the inbox's Web
// Worker, `pista sort`), rewraps each item that is not yet under its
// conversation's key: Forwarder.Unsorted lists them, Forwarder.Sort swaps
// their objects for the rewrapped ones.

// Sealing (Item.Sealing): which key opens an item's objects now.
const (
	// SealingDesk: the desk key. Items from before forward secrecy,
	// items received without a fresh intake key, and what the newsroom
	// wrote before the conversation had a key of its own.
	SealingDesk = "desk"
	// SealingIntake: the intake key Item.IntakeKey, until a sorter
	// rewraps it.
	SealingIntake = "intake"
	// SealingConversation: the conversation's key (Conversation.Key).
	SealingConversation = "conv"
)

// Received (Item.Received): how an item arrived, for its label.
const (
	// ReceivedLegacy: made before forward secrecy. It keeps its desk-key
	// encryption and is never sorted; the inbox says so.
	ReceivedLegacy = "legacy"
	// ReceivedForward: encrypted to an intake key as it arrived (a
	// source's item), or written by the newsroom.
	ReceivedForward = "fs"
	// ReceivedNoForward: the desk had no fresh intake key (no member
	// came in Ahead days), or the client did not use it: encrypted to the
	// desk key, flagged "received without forward secrecy". A sorter
	// still moves it under the conversation's key.
	ReceivedNoForward = "nofs"
)

// IntakeKey is one day's intake key of one generation of a desk's key.
type IntakeKey struct {
	ID        int64
	DeskID    int64
	DeskKeyID int64 // the generation (DeskKey) whose key sealed it and signed it
	Day       int64 // forward.Clock's day number
	Recipient string
	// Signature is the Ed25519 signature of forward.Statement by the
	// generation's signing key.
	Signature []byte
	// Sealed is the secret, an age file to the desk key; nil once
	// destroyed (then the key is never listed).
	Sealed  []byte
	Created time.Time
}

// Sorted is one item a sorter rewrapped: its objects' old keys, which
// must still be the item's, and the new ones already in the BlobStore.
type Sorted struct {
	Item                 int64
	OldObject, NewObject string
	NewSize              int64
	OldMeta, NewMeta     string // "" for an item without meta
	NewMetaSize          int64
}

// Errors of the Forwarder.
var (
	// ErrSignKey: intake keys signed by a key other than the one the
	// desk key generation already has.
	ErrSignKey = errors.New("the desk key generation already has another signing key")
	// ErrNotCurrent: intake keys for a desk key generation that is no
	// longer the desk's current one.
	ErrNotCurrent = errors.New("not the desk's current key")
)

// MaxIntakeKeys bounds one AddIntakeKeys (a week ahead, with room).
const MaxIntakeKeys = 31

// MaxSortBatch bounds one Sort, SetConversationKeys, SortItems,
// SortConversations and SortPreviews.
const MaxSortBatch = 1000

// ConversationKey is a conversation's new key, made by a sorter, with
// its desk signing key's signature (forward.ConversationStatement).
type ConversationKey struct {
	Conversation string
	// DeskID is the desk the key was checked for: the key is set only
	// while the conversation is there (ErrMoved otherwise).
	DeskID    int64
	Recipient string
	Sealed    []byte
	Signature []byte
}

// SortConversation is what a sorter needs of a conversation: its desk,
// its key (KeyRecipient "" and Key and KeySignature nil until a sorter
// made one), and its
// source's public key (replies are also wrapped to it; "" if the source
// was deleted).
type SortConversation struct {
	ID              string
	DeskID          int64
	DeskSlug        string
	KeyRecipient    string
	Key             []byte
	KeySignature    []byte
	SourceRecipient string
}

// Bounds of a conversation key as the stores keep it (their migrations'
// CHECKs say the same).
const (
	MaxKeyRecipient = 8192
	MaxSealedKey    = 64 << 10
	// KeySignatureSize is an Ed25519 signature's.
	KeySignatureSize = 64
)

// CheckConversationKeys checks a batch for SetConversationKeys: at most
// MaxSortBatch keys, each with a recipient, a sealed secret and a
// signature within bounds.
func CheckConversationKeys(keys []ConversationKey) error {
	if len(keys) > MaxSortBatch {
		return fmt.Errorf("%d conversation keys, at most %d: %w", len(keys), MaxSortBatch, ErrTooMany)
	}
	for _, k := range keys {
		switch {
		case k.DeskID <= 0:
			return fmt.Errorf("a conversation key for no desk")
		case k.Recipient == "" || len(k.Recipient) > MaxKeyRecipient:
			return fmt.Errorf("a conversation key's recipient of %d bytes", len(k.Recipient))
		case len(k.Sealed) == 0 || len(k.Sealed) > MaxSealedKey:
			return fmt.Errorf("a conversation key of %d bytes", len(k.Sealed))
		case len(k.Signature) != KeySignatureSize:
			return fmt.Errorf("a conversation key's signature of %d bytes", len(k.Signature))
		}
	}
	return nil
}

// CheckPreviewSorts checks a batch for SortPreviews: at most
// MaxSortBatch previews, each within MaxPreviewSize.
func CheckPreviewSorts(previews []PreviewSort) error {
	if len(previews) > MaxSortBatch {
		return fmt.Errorf("%d previews, at most %d: %w", len(previews), MaxSortBatch, ErrTooMany)
	}
	for _, p := range previews {
		if len(p.Preview) == 0 || len(p.Preview) > MaxPreviewSize {
			return fmt.Errorf("a preview of %d bytes, at most %d", len(p.Preview), MaxPreviewSize)
		}
	}
	return nil
}

// PreviewSort is a conversation's preview rewrapped from intake key From
// to the conversation's key.
type PreviewSort struct {
	Conversation string
	From         int64
	Preview      []byte
}

// Forwarder keeps intake keys and conversation keys, and swaps sorted
// items' objects. Every method taking a journalist applies the membership
// rule of the package doc (ErrNotFound outside it).
type Forwarder interface {
	// SignKey answers the Ed25519 public key recorded for a desk key
	// generation, nil if none yet.
	SignKey(ctx context.Context, deskKeyID int64) ([]byte, error)
	// AddIntakeKeys stores intake keys of the desk key generation
	// deskKeyID, which must be its desk's current one (ErrNotCurrent),
	// skipping days that already have one for it; it answers how many it
	// added. If the generation has no signing key yet, signKey becomes
	// it; otherwise it must be the same (ErrSignKey). Callers have
	// checked each key's signature with signKey. ErrNotFound unless the
	// journalist is a member of the desk. At most MaxIntakeKeys.
	AddIntakeKeys(ctx context.Context, journalistID, deskKeyID int64, signKey []byte, keys []IntakeKey) (int, error)
	// IntakeFor answers the live intake key of day for the desk's
	// current key generation, and that generation's signing key;
	// ErrNotFound if there is none (no member made one, or it was
	// destroyed).
	IntakeFor(ctx context.Context, deskID, day int64) (IntakeKey, []byte, error)
	// IntakeKeyByID answers a live intake key; ErrNotFound if unknown or
	// destroyed.
	IntakeKeyByID(ctx context.Context, id int64) (IntakeKey, error)
	// IntakeKeysFor lists the live intake keys (sealed secrets included)
	// of the journalist's desks, every generation, by desk then day.
	IntakeKeysFor(ctx context.Context, journalistID int64) ([]IntakeKey, error)
	// DestroyIntakeKeys destroys the secret of every intake key whose day
	// is before before and under which no item (Sealing intake) and no
	// preview (Conversation.PreviewIntake) still waits. It answers how
	// many it destroyed.
	DestroyIntakeKeys(ctx context.Context, before int64) (int, error)
	// ExpireIntakeKeys destroys the secret of every intake key whose day
	// is before before, whatever still waits under it (a source's item
	// sealed to other keys, which no sorter can open; a desk whose
	// members never sort): waiting must not keep a day's key alive for
	// ever. Previews under them are dropped; items under them are no
	// longer listed by Unsorted (nobody can open them any more). It
	// answers how many keys it destroyed.
	ExpireIntakeKeys(ctx context.Context, before int64) (int, error)
	// Unsorted lists, oldest first, up to limit items of the journalist's
	// desks that a sorter should rewrap (Sealing not conv, Received not
	// legacy) with an ID above after.
	Unsorted(ctx context.Context, journalistID, after int64, limit int) ([]Item, error)
	// UnsortedPreviews lists up to limit conversations of the
	// journalist's desks whose preview is under an intake key, by ID,
	// with an ID above after.
	UnsortedPreviews(ctx context.Context, journalistID int64, after string, limit int) ([]Conversation, error)
	// SetConversationKeys gives conversations of the journalist's desks
	// their keys (recipient, and the secret sealed to the desk and archive
	// keys), at most MaxSortBatch, in one transaction. It answers an error
	// for each key: nil if set, ErrExists if the conversation has one
	// (another sorter was first: use that one), ErrMoved if it is no
	// longer in the key's DeskID, ErrNotFound if it is not one of the
	// journalist's.
	SetConversationKeys(ctx context.Context, journalistID int64, keys []ConversationKey) ([]error, error)
	// SortItems answers, of the items ids (at most MaxSortBatch), those
	// in the journalist's desks, in no set order; the others are left
	// out.
	SortItems(ctx context.Context, journalistID int64, ids []int64) ([]Item, error)
	// SortConversations answers, of the conversations ids (at most
	// MaxSortBatch), those in the journalist's desks, in no set order;
	// the others are left out.
	SortConversations(ctx context.Context, journalistID int64, ids []string) ([]SortConversation, error)
	// Sort swaps, in one transaction, the objects of the items of batch
	// (at most MaxSortBatch) that are still as the sorter saw them: in
	// the journalist's desks, not yet sorted, with the old object and
	// meta, in a conversation that has a key. They become Sealing conv,
	// IntakeKey 0. Others are skipped. It answers the swapped ones: the
	// caller deletes their old objects, and the new objects of the rest.
	Sort(ctx context.Context, journalistID int64, batch []Sorted) ([]Sorted, error)
	// SortPreviews replaces, in one transaction, conversations' previews
	// still under intake key From by Preview (under the conversation's
	// key); at most MaxSortBatch. It answers an error for each: nil if
	// replaced, ErrNotFound if it is not (any longer) so.
	SortPreviews(ctx context.Context, journalistID int64, previews []PreviewSort) ([]error, error)
}

// StoredSealing answers the sealing and received a store keeps for it: ""
// is SealingDesk and ReceivedForward. An intake key goes with
// SealingIntake and only with it; anything else is an error.
func (it Item) StoredSealing() (sealing, received string, err error) {
	sealing, received = it.Sealing, it.Received
	if sealing == "" {
		sealing = SealingDesk
	}
	if received == "" {
		received = ReceivedForward
	}
	switch sealing {
	case SealingDesk, SealingIntake, SealingConversation:
	default:
		return "", "", fmt.Errorf("item sealed to %q", sealing)
	}
	switch received {
	case ReceivedLegacy, ReceivedForward, ReceivedNoForward:
	default:
		return "", "", fmt.Errorf("item received %q", received)
	}
	if (sealing == SealingIntake) != (it.IntakeKey != 0) {
		return "", "", fmt.Errorf("item sealed to %q with intake key %d", sealing, it.IntakeKey)
	}
	return sealing, received, nil
}
