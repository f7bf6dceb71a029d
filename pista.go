// Package pista is the domain of the pista tip line: the things a newsroom
// and its sources deal with (desks, journalists, sources, conversations and
// their items) and the interfaces that store them.
//
// Storage backends (package sqlite today, PostgreSQL later) implement the
// store interfaces under the same names; the web, newsroom, API and command
// line layers use only these interfaces. Nothing in a store is plaintext of
// a tip: message bodies, files, filenames and contact details live in
// encrypted objects (see package blob and package keys); rows hold only
// identifiers, sizes, kinds, coarse times and public keys.
//
// # Permissions
//
// Stores do not check permissions; callers do. The rule everywhere is that a
// journalist sees the conversations of the desks they are a member of and
// nothing else. Methods that take a journalist ID apply that rule in the
// query itself and answer ErrNotFound (never a "forbidden") for anything
// outside it, so that another desk's tips cannot even be confirmed to exist.
package pista

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Errors returned by stores. Callers compare with errors.Is.
// NewerSchemaError is the refusal to open a database that a newer pista
// migrated: this binary would not know its tables. Nothing is changed.
type NewerSchemaError struct {
	Have, Know int64 // the database's schema version, and this binary's newest
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("the database is at schema version %d, made by a newer pista than this one (which knows up to %d): "+
		"install that newer pista again, or restore a backup made with this version; nothing was changed", e.Have, e.Know)
}

var (
	// ErrNotFound: no such row, or one the caller may not see.
	ErrNotFound = errors.New("not found")
	// ErrExists: a unique name (desk slug, journalist name) is taken.
	ErrExists = errors.New("already exists")
	// ErrStorageFull: storing would take the disk below its floor of free
	// space, or the disk is full. Nothing was stored.
	ErrStorageFull = errors.New("storage is full")
)

// TimeGranularity is how precisely pista records when something happened.
// Exact submission times help whoever seizes a server match a tip against
// network logs; journalists need the day and roughly the hour, no more.
// Every time a store records is truncated to it, and so are object files'
// modification times.
const TimeGranularity = time.Hour

// Now returns the current time at TimeGranularity, in UTC.
func Now() time.Time { return time.Now().UTC().Truncate(TimeGranularity) }

// Desk is a team of journalists that receives tips (Americas, Maghreb…).
type Desk struct {
	ID          int64
	Slug        string // short lowercase name used in forms, URLs and addresses
	Title       string
	Description string
	// Recipient is the age hybrid public key (age1pq1…) of the desk's
	// current key; every item of the desk's tips is encrypted to it.
	Recipient string
	KeyID     int64 // the current DeskKey
	// RetentionDays is how long the desk keeps a conversation after its
	// last activity; 0 keeps it until someone deletes it (see Retention
	// in retention.go).
	RetentionDays int
	Created       time.Time
}

// DeskKey is one generation of a desk's age identity. The identity itself
// exists only wrapped (age-encrypted) to each member's public key, as
// KeyWraps; the server cannot unwrap it.
type DeskKey struct {
	ID        int64
	DeskID    int64
	Recipient string
	Created   time.Time
}

// KeyWrap is a desk identity encrypted to one journalist's recipient: a
// standard age file whose plaintext is the AGE-SECRET-KEY-PQ-1… string.
type KeyWrap struct {
	DeskKeyID    int64
	DeskSlug     string
	JournalistID int64
	Wrapped      []byte
	// Role is the member's role on the desk, for CreateDesk (whose wraps
	// make the members); empty means RoleJournalist.
	Role Role
}

// Journalist is a newsroom account.
type Journalist struct {
	ID   int64
	Name string
	// Recipient is the journalist's age hybrid public key. Their identity
	// stays on their own device.
	Recipient string
	// TOTPSecret is the base32 secret of the required second factor.
	TOTPSecret string
	// Where to tell the journalist that their desks have new tips: an
	// e-mail address, a webhook URL, both or neither.
	NotifyEmail   string
	NotifyWebhook string
	// NotifiedItem is the newest item the last notification covered.
	NotifiedItem int64
	// Auth is how the journalist proves their passphrase without sending
	// it, and their identity wrapped by a key only their passphrase makes.
	Auth JournalistAuth
	// Admin runs the instance: accounts, desks, invitations. Being admin
	// reads nothing: only desk membership (a wrapped desk key) does.
	Admin bool
	// Suspended accounts cannot log in, and their sessions and API
	// tokens are refused.
	Suspended bool
	// SessionEpoch changes whenever every session and token of the account
	// must end (a suspension): a session started under another value is
	// refused.
	SessionEpoch int64
	// LastLogin is the hour of the last login (zero: never).
	LastLogin time.Time
	Created   time.Time
}

// JournalistAuth is what the server keeps of a journalist's passphrase.
// The passphrase is stretched on the journalist's device (browser or
// `pista pull`) with Argon2id under Salt and KDF's parameters, then split
// with HKDF into an authentication key, of which the server keeps only
// Hash (SHA-256), and a wrapping key that never leaves the device and
// unwraps WrappedIdentity (package keys documents the derivations).
type JournalistAuth struct {
	Salt []byte
	KDF  string // "argon2id$v=19$m=65536,t=3,p=1"
	Hash []byte
	// WrappedIdentity is the journalist's age identity sealed with the
	// wrapping key (AES-256-GCM); empty if the identity lives only in a
	// file on their device (accounts made by `pista journalist add`).
	WrappedIdentity []byte
}

// Source is someone who submitted a tip. The server knows them only by a
// lookup hash and a public key, both derived from their codename, which is
// never stored (package keys documents the derivations).
type Source struct {
	ID        int64
	Lookup    []byte // keys.Derived.Lookup
	Recipient string // age1pq1… derived from the codename
	Created   time.Time
}

// ItemKind says what an encrypted item holds.
type ItemKind string

const (
	KindMessage ItemKind = "message" // text written by the source
	KindFile    ItemKind = "file"    // a file's bytes; its name and type are in Meta
	KindContact ItemKind = "contact" // how to reach the source, if they chose to say
	KindReply   ItemKind = "reply"   // a journalist's reply, encrypted to source and desk
	KindEmail   ItemKind = "email"   // a whole e-mail as received (RFC 5322), kept as evidence
	KindAnswers ItemKind = "answers" // the source's answers to the desk's questions (JSON of Answers)
	// KindNote is a journalist's internal note on a conversation,
	// encrypted in their browser to the desk's keys (and the archive's),
	// never to the source's: it is shown to the desk, and never listed or
	// shown to the source (their pages, the source API, pista follow).
	KindNote ItemKind = "note"
)

// Valid reports whether k is one of the known kinds.
func (k ItemKind) Valid() bool {
	switch k {
	case KindMessage, KindFile, KindContact, KindReply, KindEmail, KindAnswers, KindNote:
		return true
	}
	return false
}

// Item is one encrypted piece of a conversation. Its ID is opaque: it
// carries no count and no order (items are numbered across all desks, and
// the gaps would tell a journalist how much other desks receive), yet it
// is a cursor: "the items after this one" is what makes `pista pull`
// incremental, and it keeps working after the item is deleted. IDs are in
// [1, 2^53), exact as JavaScript numbers.
type Item struct {
	ID             int64
	ConversationID string
	Kind           ItemKind
	// Object is the key of the encrypted content in the BlobStore.
	Object string
	// Meta is the key of the encrypted JSON FileMeta of a file item, or "".
	Meta string
	// Size is the size of the stored (encrypted) object in bytes.
	Size     int64
	MetaSize int64
	// AuthorID is the journalist who wrote a reply; 0 for source items.
	AuthorID int64
	// EncryptedBy says where the item was encrypted: "server" on arrival
	// (the default), "browser" by the source page's script before sending,
	// "app" by an API client. The stored objects are alike either way.
	EncryptedBy string
	// Sealing is which key opens the objects now (SealingDesk,
	// SealingIntake, SealingConversation; "" is stored as SealingDesk),
	// and IntakeKey the intake key's ID for SealingIntake.
	Sealing   string
	IntakeKey int64
	// Received is how the item arrived (ReceivedLegacy, ReceivedForward,
	// ReceivedNoForward; "" is stored as ReceivedForward).
	Received string
	Created  time.Time
}

// NewConversationID returns a random conversation ID: 128 bits, base32,
// lowercase. Unguessable, and telling nothing of how many there are.
func NewConversationID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// ItemFileName names an item's age file wherever it leaves the server (an
// inbox download, a zip, a pulled folder): its ID, zero-padded to ten
// digits (IDs from before migration 0006 were small), and its kind;
// ".meta.age" for a file's name-and-type object. Names do not sort in
// order: a pulled folder's items.jsonl keeps the order.
func ItemFileName(id int64, kind ItemKind, meta bool) string {
	if meta {
		return fmt.Sprintf("%010d-%s.meta.age", id, kind)
	}
	return fmt.Sprintf("%010d-%s.age", id, kind)
}

// FileMeta is the plaintext, before encryption, of an Item's Meta object.
type FileMeta struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Size is the file's exact size. The file's object is padded inside
	// the encryption (pista.Padme), and readers cut it to Size; nil for a
	// file stored unpadded (an app that did not pad).
	Size *int64 `json:"size,omitempty"`
	// Scrub says whether the file's hidden metadata was removed before it
	// was encrypted, by whom, what kinds were found and what the source
	// chose; nil when nothing says (a file from before reports named who
	// scrubbed, or from an app that sends no report: nobody can tell
	// whether its metadata was removed).
	Scrub *ScrubReport `json:"scrub,omitempty"`
	// Question is the ID of the desk's "file" question the file answers,
	// or "" for a file sent with the message.
	Question string `json:"question,omitempty"`
}

// Who scrubs a file (ScrubReport.By): wherever it is, it happens before
// the file is encrypted.
const (
	ScrubByServer  = "server"       // the server, as the file arrived from the form without JavaScript
	ScrubByBrowser = "browser"      // the source page's script, on the source's device
	ScrubBySubmit  = "pista-submit" // pista submit, on the source's computer
	ScrubByEmail   = "email-intake" // the e-mail intake, as the mail arrived
)

// What the source chose (ScrubReport.Choice).
const (
	ScrubChoiceScrub    = "scrub"     // remove the metadata (the default wherever they are asked)
	ScrubChoiceKeep     = "keep"      // keep it: it is part of what they want the newsroom to see
	ScrubChoiceNotAsked = "not-asked" // they had no choice to make (e-mail)
)

// ScrubReport is what the metadata scrubber found in a file, who ran it
// and what the source chose. Reports written before By and Choice
// existed have neither: they came from the server's scrubber (the only
// one then), and the source's choice was not recorded.
type ScrubReport struct {
	// By is who scrubbed (or would have scrubbed): ScrubByServer,
	// ScrubByBrowser, ScrubBySubmit or ScrubByEmail; "" in older reports,
	// all by the server.
	By string `json:"by,omitempty"`
	// Choice is what the source chose: ScrubChoiceScrub, ScrubChoiceKeep
	// or ScrubChoiceNotAsked; "" when not recorded (older reports).
	// Only a report with ScrubChoiceKeep says the source kept the
	// metadata.
	Choice string `json:"choice,omitempty"`

	Format   string   `json:"format,omitempty"` // "JPEG", "PDF", "DOCX"…; "" if unknown
	Scrubbed bool     `json:"scrubbed"`
	Found    []string `json:"found,omitempty"` // kinds of metadata found and removed
	Note     string   `json:"note,omitempty"`
	// TooComplex: scrubbing the file would have cost more memory or time
	// than a file may (scrub.Budget); it was stored as sent.
	TooComplex bool `json:"too_complex,omitempty"`
}

// Channel is how a conversation's source reached the newsroom.
type Channel string

const (
	ChannelWeb   Channel = "web"   // the source pages
	ChannelEmail Channel = "email" // mail to a desk's address: the source is not anonymous to mail providers
	ChannelAPI   Channel = "api"   // an app, through /api/v1
)

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool { return c == ChannelWeb || c == ChannelEmail || c == ChannelAPI }

// Conversation is one source's exchange with one desk: the first tip, the
// follow-ups and the replies.
type Conversation struct {
	ID       string // random, unguessable
	Channel  Channel
	DeskID   int64
	DeskSlug string
	SourceID int64
	Created  time.Time
	Updated  time.Time
	// LastItem is the ID of the newest item: the inbox is ordered by the
	// item, and pages through it with this ID (Page.Before).
	LastItem int64
	Items    int // number of items
	// Newsroom work on the conversation, shared by the desk.
	Status       Status
	Assignee     int64 // the journalist it is assigned to; 0 for nobody
	AssigneeName string
	Tags         []string
	// Per journalist, filled by ConversationsFor and ConversationFor.
	Unread  bool
	Starred bool
	// Held conversations are kept whatever their desk's retention,
	// until released.
	Held bool
	// Preview is what the inbox shows of the first message: an age file
	// whose plaintext is PreviewText of it, encrypted to the desk's key
	// and the archive's as the message is (at most MaxPreviewSize bytes);
	// nil for a conversation from before previews, or without a message.
	Preview []byte
	// For a journalist's view (ConversationsFor, ConversationFor):
	// FirstMessage is, when there is no Preview, the ID of the
	// conversation's first message item (0 if none), which the inbox may
	// decrypt instead; NewItems is how many items came since the
	// journalist last looked (all of them if they never did).
	FirstMessage int64
	NewItems     int
	// KeyRecipient and Key are the conversation's own key (forward.go):
	// its public key, and its secret sealed to the desk's and the
	// archive's keys; empty until a sorter made it. Deleting the
	// conversation deletes them.
	KeyRecipient string
	Key          []byte
	// PreviewIntake is the intake key the Preview is encrypted to, until
	// a sorter rewraps it to Key (0: the desk's key or Key).
	PreviewIntake int64
}

// Status is where a desk is with a conversation.
type Status string

const (
	StatusNew        Status = "new"
	StatusInProgress Status = "in_progress"
	StatusClosed     Status = "closed"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool { return s == StatusNew || s == StatusInProgress || s == StatusClosed }

// Previews of first messages. A preview is the first PreviewChars
// characters of a message, its runs of white space made one space, padded
// with zero bytes to PreviewBytes (so that its size says nothing of the
// message's length), then encrypted to the desk: by the server for a tip
// it encrypts (the form without JavaScript, e-mail), by the source's
// browser or app otherwise. The server refuses a bigger one.
const (
	PreviewChars = 140
	PreviewBytes = 4 * PreviewChars
	// MaxPreviewSize bounds a preview's age file: a hybrid recipient's
	// stanza takes about 1.6 KB, so this leaves room for the desk's key
	// and three archive keys.
	MaxPreviewSize = 8 << 10
)

// PreviewText is the plaintext of the preview of message: see
// PreviewChars. Readers cut it at its first zero byte.
func PreviewText(message string) []byte {
	b := make([]byte, 0, PreviewBytes)
	n := 0
	space := false
	for _, r := range strings.TrimSpace(message) {
		if n == PreviewChars {
			break
		}
		if r == 0 || r == utf8.RuneError {
			continue
		}
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space {
			b = append(b, ' ')
			n++
			space = false
			if n == PreviewChars {
				break
			}
		}
		b = utf8.AppendRune(b, r)
		n++
	}
	return append(b, make([]byte, PreviewBytes-len(b))...)
}

// BulkChange is what a bulk action of the inbox changes on each of the
// conversations selected; a zero field changes nothing.
type BulkChange struct {
	Status Status // "" leaves the status
	// Assign sets the assignee to Assignee (0: nobody).
	Assign   bool
	Assignee int64
	// AddTags and RemoveTags are valid tags (ValidTag).
	AddTags, RemoveTags []string
}

// Empty reports whether ch changes nothing.
func (ch BulkChange) Empty() bool {
	return ch.Status == "" && !ch.Assign && len(ch.AddTags) == 0 && len(ch.RemoveTags) == 0
}

// Check refuses, before a store starts, a bulk action on n conversations
// that cannot be done: more than MaxBulkDelete (ErrTooMany), a status or
// tag that cannot be one, more tags than MaxTags (ErrTooManyTags).
func (ch BulkChange) Check(n int) error {
	if n > MaxBulkDelete {
		return ErrTooMany
	}
	if ch.Status != "" && !ch.Status.Valid() {
		return fmt.Errorf("status %q is not one of new, in_progress, closed", ch.Status)
	}
	if len(ch.AddTags) > MaxTags || len(ch.RemoveTags) > MaxTags {
		return ErrTooManyTags
	}
	for _, t := range append(ch.AddTags[:len(ch.AddTags):len(ch.AddTags)], ch.RemoveTags...) {
		if !ValidTag(t) {
			return fmt.Errorf("%q is not a valid tag", t)
		}
	}
	return nil
}

// AuditNote: a journalist wrote an internal note on a conversation.
const AuditNote AuditAction = "note"

// ErrTooManyTags: a conversation would have more than MaxTags tags.
var ErrTooManyTags = errors.New("too many tags")

// Page asks for one page of an inbox, newest first. Before is the LastItem
// of the last conversation of the previous page (0 for the first page):
// keyset pagination, so page 1,000 costs what page 1 does.
type Page struct {
	Before int64
	Limit  int
	DeskID int64 // 0: all of the journalist's desks
	// Filters; the zero value of each lets everything through.
	Unread   bool
	Starred  bool
	Status   Status
	Tag      string
	Assignee int64 // conversations assigned to this journalist
}

// Inbox and pull page sizes, which every TipStore applies.
const (
	// DefaultInboxLimit is the inbox page size when Page.Limit is not set.
	DefaultInboxLimit = 50
	// MaxInboxLimit bounds Page.Limit: each row of a page costs a count of
	// its items, and no screen shows more.
	MaxInboxLimit = 200
	// DefaultItemsLimit is ItemsFor's page size when limit is not positive.
	DefaultItemsLimit = 100
	// MaxItemsLimit bounds ItemsFor's limit, so one request of `pista pull`
	// cannot make the server hold the whole history in memory; pull asks
	// again, after the last item it got, until it gets no item.
	MaxItemsLimit = 1000
)

// NewTip is what a submission stores: a conversation and its first items.
type NewTip struct {
	Conversation Conversation
	Source       Source
	Items        []Item
}

// DeskText is a desk's title and description in one language.
type DeskText struct {
	Lang        string
	Title       string
	Description string
}

// NewsroomText is the newsroom's own texts in one language.
type NewsroomText struct {
	Lang  string
	Name  string
	Intro string
}

// DeskStore keeps desks and their wrapped keys.
type DeskStore interface {
	// CreateDesk stores a desk with its first key and the key's wraps for
	// its members, in one transaction. ErrExists if the slug is taken.
	CreateDesk(ctx context.Context, d *Desk, wraps []KeyWrap) error
	// Desks lists every desk, by slug.
	Desks(ctx context.Context) ([]Desk, error)
	// DeskBySlug answers ErrNotFound for an unknown slug.
	DeskBySlug(ctx context.Context, slug string) (Desk, error)
	// DeskByID answers ErrNotFound for an unknown ID.
	DeskByID(ctx context.Context, id int64) (Desk, error)
	// DeskByAddress finds the desk whose slug or mail alias is local (the
	// part of an e-mail address before the @, compared lowercase).
	DeskByAddress(ctx context.Context, local string) (Desk, error)
	// AddAlias gives a desk another mail address. ErrExists if a desk's
	// slug or alias is already local; ErrNotFound for an unknown desk.
	AddAlias(ctx context.Context, deskID int64, local string) error
	// Aliases lists a desk's aliases.
	Aliases(ctx context.Context, deskID int64) ([]string, error)
	// SetDeskText sets a desk's title and description in one language.
	// ErrNotFound for an unknown desk.
	SetDeskText(ctx context.Context, deskID int64, t DeskText) error
	// SetRetention sets how many days the desk keeps a conversation after
	// its last activity (0: until deleted). ErrNotFound for an unknown
	// desk; an error for days outside ValidRetention.
	SetRetention(ctx context.Context, deskID int64, days int) error
	// DeskTexts returns every desk's texts in lang, by desk ID; desks
	// without texts in lang are missing from the map.
	DeskTexts(ctx context.Context, lang string) (map[int64]DeskText, error)
	// DesksOf lists the desks a journalist is a member of.
	DesksOf(ctx context.Context, journalistID int64) ([]Desk, error)
	// WrapsFor lists every desk key generation wrapped to a journalist.
	WrapsFor(ctx context.Context, journalistID int64) ([]KeyWrap, error)
	// Questions returns a desk's questionnaire (no questions if none was
	// set). ErrNotFound for an unknown desk.
	Questions(ctx context.Context, deskID int64) (Questionnaire, error)
	// SetQuestions replaces a desk's questionnaire whole; callers have
	// validated it (Questionnaire.Validate), stores check only its size
	// (MaxQuestionnaireBytes). ErrNotFound for an unknown desk.
	SetQuestions(ctx context.Context, deskID int64, q Questionnaire) error
}

// JournalistStore keeps newsroom accounts.
type JournalistStore interface {
	// CreateJournalist answers ErrExists if the name is taken.
	CreateJournalist(ctx context.Context, j *Journalist) error
	JournalistByName(ctx context.Context, name string) (Journalist, error)
	JournalistByID(ctx context.Context, id int64) (Journalist, error)
	// RecordLogin sets LastLogin to the hour of at.
	RecordLogin(ctx context.Context, journalistID int64, at time.Time) error
	// SetNotify sets where a journalist is told of new tips ("" for none).
	SetNotify(ctx context.Context, journalistID int64, email, webhook string) error
	// JournalistsToNotify lists the journalists with an e-mail address or
	// a webhook to notify.
	JournalistsToNotify(ctx context.Context) ([]Journalist, error)
	// SetNotified records the newest item a notification covered.
	SetNotified(ctx context.Context, journalistID, item int64) error
	// SetAuth replaces a journalist's passphrase check and wrapped
	// identity (a passphrase change, or an identity imported from a file),
	// and changes SessionEpoch, which ends every session and token of the
	// account: whoever holds an old passphrase loses what it opened.
	SetAuth(ctx context.Context, journalistID int64, a JournalistAuth) error
	// SetTOTP replaces the TOTP secret.
	SetTOTP(ctx context.Context, journalistID int64, secret string) error
	// Journalists lists every account, by name.
	Journalists(ctx context.Context) ([]Journalist, error)
	// SetSuspended suspends or restores an account; suspending also
	// changes SessionEpoch, which ends every session and token it has.
	SetSuspended(ctx context.Context, journalistID int64, suspended bool) error
	SetAdmin(ctx context.Context, journalistID int64, admin bool) error
}

// TipStore keeps sources, conversations and items.
type TipStore interface {
	// CreateTip stores a new source, conversation and items in one
	// transaction. The objects must already be in the BlobStore.
	CreateTip(ctx context.Context, t *NewTip) error
	// AddItems appends items to a conversation in one transaction.
	AddItems(ctx context.Context, conversationID string, items []Item) error
	// AddItemsFor is AddItems for items encrypted to deskID's keys: it
	// adds them only if the conversation is still on that desk, and
	// answers ErrMoved otherwise (moved meanwhile: its new desk could not
	// read them).
	AddItemsFor(ctx context.Context, conversationID string, deskID int64, items []Item) error
	// SourceByLookup finds a source by its lookup hash.
	SourceByLookup(ctx context.Context, lookup []byte) (Source, error)
	// SourceByID answers ErrNotFound for an unknown ID.
	SourceByID(ctx context.Context, id int64) (Source, error)
	// ConversationsOfSource lists a source's conversations, oldest first.
	ConversationsOfSource(ctx context.Context, sourceID int64) ([]Conversation, error)
	// SourceSessionEpoch answers the session epoch of a source's
	// conversation: a source's session or token carries the epoch it
	// began under and is live only while the store still answers the
	// same. ErrNotFound if the source, or that conversation of it, is
	// gone: deleting a conversation ends its sessions at once.
	SourceSessionEpoch(ctx context.Context, sourceID int64, conversationID string) (int64, error)
	// EndSourceSessions changes the source's session epoch, which ends
	// every session and token it has (logging out). ErrNotFound for an
	// unknown source.
	EndSourceSessions(ctx context.Context, sourceID int64) error
	// ItemsOfConversation lists a conversation's items, oldest first.
	// Callers must have checked that the conversation is visible.
	ItemsOfConversation(ctx context.Context, conversationID string) ([]Item, error)
	// DeleteItem removes an item row and returns it, so the caller can
	// delete its objects. Only replies may be deleted by a source:
	// ErrNotFound unless the item is a reply in that conversation.
	DeleteReply(ctx context.Context, conversationID string, itemID int64) (Item, error)

	// ConversationsFor is a journalist's inbox page (their desks only).
	ConversationsFor(ctx context.Context, journalistID int64, p Page) ([]Conversation, error)
	// ConversationFor answers ErrNotFound unless the journalist is a
	// member of the conversation's desk.
	ConversationFor(ctx context.Context, journalistID int64, id string) (Conversation, error)
	// ItemsFor lists, oldest first, up to limit items newer than the item
	// whose ID is after (0: from the first) in the journalist's desks'
	// conversations: what `pista pull` fetches. An after that is no item
	// ID this store gave lists nothing.
	ItemsFor(ctx context.Context, journalistID int64, after int64, limit int) ([]Item, error)
	// NewSourceItems answers how many conversations of the journalist's
	// desks have items from sources (not replies, not notes) newer than the item
	// whose ID is after, and the newest such item ID (after itself if there
	// is none).
	NewSourceItems(ctx context.Context, journalistID, after int64) (conversations int, newest int64, err error)
	// ItemFor answers ErrNotFound unless the item is in one of the
	// journalist's desks.
	ItemFor(ctx context.Context, journalistID, itemID int64) (Item, error)
	// SetStatus, SetAssignee and SetTags change a conversation of one of
	// the journalist's desks (ErrNotFound otherwise). The assignee must be
	// a member of the conversation's desk (ErrNotFound otherwise), or 0.
	// Tags are replaced whole; callers validate them (ValidTag).
	SetStatus(ctx context.Context, journalistID int64, id string, s Status) error
	SetAssignee(ctx context.Context, journalistID int64, id string, assignee int64) error
	SetTags(ctx context.Context, journalistID int64, id string, tags []string) error
	// ChangeConversations applies ch to each conversation of ids (at
	// most MaxBulkDelete: ErrTooMany), in one transaction, all or
	// nothing: ErrNotFound if one of them is not a conversation of the
	// journalist's desks, or ch.Assignee is not a member of its desk;
	// ErrTooManyTags if one would have more than MaxTags tags. Then
	// nothing changed.
	ChangeConversations(ctx context.Context, journalistID int64, ids []string, ch BulkChange) error
	// MarkRead records that the journalist has seen the conversation up to
	// its newest item; MarkUnread forgets it.
	MarkRead(ctx context.Context, journalistID int64, id string) error
	MarkUnread(ctx context.Context, journalistID int64, id string) error
	SetStar(ctx context.Context, journalistID int64, id string, starred bool) error
	// DeleteConversation removes a conversation and its items (the source
	// too, if it has no other conversation) and returns the items, so the
	// caller can delete their objects.
	DeleteConversation(ctx context.Context, journalistID int64, id string) ([]Item, error)
	// ObjectKeys lists every object key referenced by an item or by a
	// search index segment, for the start-up sweep of objects whose rows
	// never got written.
	ObjectKeys(ctx context.Context) (map[string]bool, error)

	// DeskItemsFor is ItemsFor narrowed to one desk: what a journalist's
	// browser still has to add to the desk's search index. ErrNotFound
	// unless the journalist is a member of the desk.
	DeskItemsFor(ctx context.Context, journalistID, deskID, after int64, limit int) ([]Item, error)
	// IndexSegments lists the segments of a desk's search index, oldest
	// first. ErrNotFound unless the journalist is a member of the desk.
	IndexSegments(ctx context.Context, journalistID, deskID int64) ([]IndexSegment, error)
	// AddIndexSegment stores s (its object already in the BlobStore) in
	// s.DeskID's index, setting s.ID and s.Created, and in the same
	// transaction removes the segments whose IDs are in replaces (a
	// compaction), which it returns so that the caller deletes their
	// objects. ErrNotFound unless the journalist is a member of the desk,
	// or if a segment of replaces is not one of the desk's (another
	// browser compacted first): then nothing changes. ErrIndexFull if the
	// desk would have more than MaxIndexSegments segments.
	AddIndexSegment(ctx context.Context, journalistID int64, s *IndexSegment, replaces []string) ([]IndexSegment, error)
	// ObjectsInUse says which of keys an item refers to (as object or
	// meta): the orphan sweep's check, whose memory follows len(keys),
	// not the number of items.
	ObjectsInUse(ctx context.Context, keys []string) (map[string]bool, error)
	// DoomedObjects lists up to limit keys of objects whose item (or
	// index segment) was deleted or given another object: the store
	// records them in the same transaction, so that a process killed
	// before it deleted the objects leaves a record, not an object. The
	// caller deletes each that ObjectsInUse does not name, then
	// ForgetDoomed.
	DoomedObjects(ctx context.Context, limit int) ([]string, error)
	// ForgetDoomed drops keys from the record DoomedObjects reads.
	ForgetDoomed(ctx context.Context, keys []string) error

	RetentionStore
	Transferer // transfer.go
	Forwarder  // forward.go
}

// IndexSegment is one piece of a desk's search index: an age file that a
// journalist's browser encrypted to the desk's keys, mapping normalized
// words to the desk's conversation IDs. The server keeps it as it came and
// cannot read it; its row says only which desk, how big, who uploaded it
// and when (at TimeGranularity).
type IndexSegment struct {
	ID       string // random, like a conversation's
	DeskID   int64
	Object   string // the age file's key in the BlobStore
	Size     int64
	AuthorID int64 // the journalist whose browser uploaded it; 0 if gone
	Created  time.Time
}

// Bounds of a desk's search index. A segment of 32 MiB holds the words of
// a few hundred thousand conversations, and 64 of them the words of
// millions: browsers merge small segments into bigger ones (a compaction)
// long before, and the bounds only stop a broken or hostile browser from
// filling the disk.
const (
	MaxIndexSegmentSize = 32 << 20
	MaxIndexSegments    = 64
	// MaxIndexReplaces bounds how many segments one compaction replaces.
	MaxIndexReplaces = MaxIndexSegments
)

// ErrIndexFull: a desk's search index has MaxIndexSegments segments; a
// browser must compact it before it adds one.
var ErrIndexFull = errors.New("the search index has too many segments")

// Settings keeps instance-wide values such as the secret that signs CSRF
// tokens and the salt of codename derivations.
type Settings interface {
	// Secret returns the named random secret, creating it with n random
	// bytes the first time.
	Secret(ctx context.Context, name string, n int) ([]byte, error)
	// DeleteSecrets deletes every secret whose name sorts at or after
	// from and before to (the keys of sources' sessions once no session
	// can need them).
	DeleteSecrets(ctx context.Context, from, to string) error
	// NewsroomText returns the newsroom's texts in lang (empty fields for
	// a language without texts).
	NewsroomText(ctx context.Context, lang string) (NewsroomText, error)
	SetNewsroomText(ctx context.Context, t NewsroomText) error
}

// Roomer is a BlobStore that can tell, before a write starts, whether n
// more bytes fit: ErrStorageFull if not.
type Roomer interface {
	Room(n int64) error
}

// BlobStore keeps encrypted objects. Put writes to a temporary object,
// flushes it to stable storage and only then makes it visible under key,
// so that a crash never leaves a partial object under a real key.
type BlobStore interface {
	// Put stores r under a new random key and returns the key and size.
	Put(ctx context.Context, r io.Reader) (key string, size int64, err error)
	// Open answers ErrNotFound for a missing key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	// Keys lists every stored key.
	Keys(ctx context.Context) ([]string, error)
}

// Shared is short-lived state that every instance serving one tip line
// must see alike: journalists' sessions and API tokens, login allowances,
// WebAuthn challenges, used TOTP steps and proofs of work, uploads in
// progress. PostgreSQL keeps it when several instances share a database;
// the embedded default keeps each of these in the process's memory
// instead, which is faster and forgets them at a restart.
//
// An entry is named by a kind (what it is) and a key, holds bytes or a
// number, and lives until it expires: an expired entry is as if absent,
// and Sweep removes it. Keys of secrets (session IDs, tokens) are hashes,
// never the secrets themselves.
type Shared interface {
	// Put stores value under (kind, key) until expires, replacing any
	// entry there.
	Put(ctx context.Context, kind string, key, value []byte, expires time.Time) error
	// Add stores value under (kind, key) until expires unless a live
	// entry is there; it reports whether it stored it.
	Add(ctx context.Context, kind string, key, value []byte, expires time.Time) (bool, error)
	// Replace replaces the value and expiry of a live entry, only if
	// there is one and, when old is not nil, it holds old; it reports
	// whether it did (a session touched after its logout stays ended).
	Replace(ctx context.Context, kind string, key, old, value []byte, expires time.Time) (bool, error)
	// Get returns a live entry's value; ok is false if there is none.
	Get(ctx context.Context, kind string, key []byte) (value []byte, ok bool, err error)
	// Take returns a live entry's value and deletes it, at most once
	// for any number of concurrent callers.
	Take(ctx context.Context, kind string, key []byte) (value []byte, ok bool, err error)
	// Delete deletes an entry, if any.
	Delete(ctx context.Context, kind string, key []byte) error
	// DeleteIf deletes an entry only if it holds value, and reports
	// whether it did (releasing a lock only its holder may release).
	DeleteIf(ctx context.Context, kind string, key, value []byte) (bool, error)
	// Count counts the live entries of a kind.
	Count(ctx context.Context, kind string) (int, error)
	// Keys lists the keys of the live entries of a kind, at most limit.
	Keys(ctx context.Context, kind string, limit int) ([][]byte, error)
	// Advance sets the number of (kind, key) to n, keeping it until
	// expires, if it has no live number yet or a smaller one; it reports
	// whether it did (a TOTP step used once, in order).
	Advance(ctx context.Context, kind string, key []byte, n int64, expires time.Time) (bool, error)
	// Spend takes one attempt from the allowance of (kind, key): Burst
	// attempts at once, one more per interval, kept as GCRA's theoretical
	// arrival time in nanoseconds (httpx.Throttle's rule). It reports
	// whether the attempt was allowed.
	Spend(ctx context.Context, kind string, key []byte, now time.Time, interval time.Duration, burst int) (bool, error)
	// Refund gives back one attempt Spend took.
	Refund(ctx context.Context, kind string, key []byte, interval time.Duration) error
	// Sweep deletes the entries expired at now and says how many.
	Sweep(ctx context.Context, now time.Time) (int, error)
}
