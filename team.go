package pista

import (
	"context"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is what a journalist may do on a desk.
type Role string

const (
	// RoleJournalist reads and answers the desk's tips.
	RoleJournalist Role = "journalist"
	// RoleCoordinator also invites, approves and removes the desk's members.
	RoleCoordinator Role = "coordinator"
)

// Valid reports whether r is a desk role.
func (r Role) Valid() bool { return r == RoleJournalist || r == RoleCoordinator }

// Member is a journalist's place on a desk. A pending member accepted an
// invitation and waits for a coordinator to wrap the desk key to them: until
// then they are not a member for any purpose (they see nothing of the desk).
type Member struct {
	DeskID       int64
	JournalistID int64
	Name         string
	Recipient    string
	Role         Role
	Pending      bool
	Suspended    bool
}

// Invitation is a one-time link to make an account. The link carries a
// random token; the server keeps only its SHA-256 (TokenHash). DeskID 0
// with Admin makes an instance admin who is on no desk.
type Invitation struct {
	ID        int64
	TokenHash []byte
	DeskID    int64
	Role      Role
	Admin     bool
	CreatedBy int64 // 0 when made on the command line
	Created   time.Time
	Expires   time.Time
}

// InvitationLifetime is how long an invitation link works.
const InvitationLifetime = 7 * 24 * time.Hour

// AuditAction names what a journalist did, for the audit log.
type AuditAction string

const (
	AuditLogin          AuditAction = "login"
	AuditLoginFailed    AuditAction = "login_failed"
	AuditList           AuditAction = "list"     // saw a conversation in a list (inbox, API)
	AuditRead           AuditAction = "read"     // opened a conversation
	AuditDownload       AuditAction = "download" // fetched an item's encrypted object
	AuditReply          AuditAction = "reply"
	AuditDelete         AuditAction = "delete" // deleted a conversation
	AuditInvite         AuditAction = "invite"
	AuditJoin           AuditAction = "join" // accepted an invitation (pending)
	AuditApprove        AuditAction = "approve"
	AuditReject         AuditAction = "reject" // forgot a pending member
	AuditRemove         AuditAction = "remove" // removed a member, rotating the desk key
	AuditRotate         AuditAction = "rotate"
	AuditRole           AuditAction = "role"
	AuditSuspend        AuditAction = "suspend"
	AuditPassphrase     AuditAction = "passphrase"
	AuditSecondFactor   AuditAction = "second_factor"
	AuditStatus         AuditAction = "status"
	AuditAssign         AuditAction = "assign"
	AuditTags           AuditAction = "tags"
	AuditCreateDesk     AuditAction = "create_desk"
	AuditExportIdentity AuditAction = "export_identity"
	// Retention (retention.go).
	AuditRetention      AuditAction = "retention"       // changed a desk's retention; Subject: the days
	AuditAuditRetention AuditAction = "audit_retention" // changed the audit log's retention; Subject: the days
	AuditHold           AuditAction = "hold"            // held a conversation
	AuditRelease        AuditAction = "release"         // released a held conversation
	AuditExpire         AuditAction = "expire"          // the server deleted an expired conversation (actor: AuditSystem)
	AuditBulkDelete     AuditAction = "bulk_delete"     // deleted a conversation in a bulk deletion, one entry each
	// Transfers (transfer.go): one entry on each desk; Subject: "from → to".
	AuditTransfer  AuditAction = "transfer"
	AuditQuestions AuditAction = "questions" // changed a desk's questions; Subject: how many
	// Forward secrecy (forward.go): a member's sorter gave a conversation
	// its key or moved its items under it. The server cannot check what a
	// sorter wraps (a wrong key makes the items unreadable, as a deletion
	// would), so it records who did it; Subject: how many items.
	AuditSort AuditAction = "sort"
	// A member's client posted a desk's intake keys (Subject: how many),
	// or was the first to give a desk key generation its signing key,
	// which every later post must match. The server cannot check that
	// either comes from the desk key: the audit log says who gave them.
	AuditIntakeKeys AuditAction = "intake_keys"
	AuditSignKey    AuditAction = "sign_key"
)

// AuditSystem is the actor name of what the server does on its own
// (expiry); "(command line)" is that of the admin commands.
const AuditSystem = "(pista)"

// AuditEntry is one line of the audit log. It names journalists, desks and
// conversation IDs (random, meaningless outside pista), never anything a
// source sent: no text, no file name, no address.
type AuditEntry struct {
	ID             int64
	Created        time.Time
	ActorID        int64
	ActorName      string // kept if the account is deleted later
	Action         AuditAction
	DeskID         int64 // 0: not about one desk
	DeskSlug       string
	ConversationID string
	Subject        string // another journalist's name, for membership changes
}

// AuditQuery asks for a page of the audit log, newest first.
type AuditQuery struct {
	DeskIDs []int64 // only these desks' entries (coordinators); nil: all (admins)
	Before  int64   // entries older than the one with this ID; 0 for the newest (IDs are opaque, like Item's)
	Limit   int
}

// WebAuthnCredential is a security key or passkey registered as a
// journalist's second factor. Data is the go-webauthn credential as JSON.
type WebAuthnCredential struct {
	ID           []byte
	JournalistID int64
	Name         string
	Data         []byte
	Created      time.Time
}

// ErrMembersChanged answers a key rotation whose wraps do not match the
// desk's members: someone joined or left meanwhile; reload and try again.
var ErrMembersChanged = errors.New("the desk's members changed meanwhile; reload the page and try again")

// TeamStore keeps how desks run themselves: members and roles,
// invitations, key rotations, second factors and the audit log.
type TeamStore interface {
	// Members lists a desk's members, pending ones included, by name.
	Members(ctx context.Context, deskID int64) ([]Member, error)
	// Membership answers ErrNotFound unless the journalist is an active
	// member of the desk.
	Membership(ctx context.Context, deskID, journalistID int64) (Member, error)
	// SetRole changes an active member's role (ErrNotFound otherwise).
	SetRole(ctx context.Context, deskID, journalistID int64, r Role) error
	// AddMember makes an existing account an active member, with its wraps
	// of the desk's key generations (the current one at least).
	AddMember(ctx context.Context, deskID, journalistID int64, r Role, wraps []KeyWrap) error

	// CreateInvitation stores inv and sets its ID.
	CreateInvitation(ctx context.Context, inv *Invitation) error
	// Invitation finds an unexpired invitation by its token's hash.
	Invitation(ctx context.Context, tokenHash []byte, now time.Time) (Invitation, error)
	// AcceptInvitation creates j from an unexpired invitation, as a pending
	// member of its desk (or an admin), and spends the invitation, in one
	// transaction. ErrNotFound if the invitation is gone or expired,
	// ErrExists if the name is taken (the invitation is not spent).
	AcceptInvitation(ctx context.Context, tokenHash []byte, now time.Time, j *Journalist) error
	// Invitations lists a desk's unspent invitations (deskID 0: all).
	Invitations(ctx context.Context, deskID int64, now time.Time) ([]Invitation, error)
	DeleteInvitation(ctx context.Context, id int64) error

	// ApproveMember makes a pending member active with their wraps of the
	// desk's key generations, which must include the current one.
	// ErrNotFound if they are not pending.
	ApproveMember(ctx context.Context, deskID, journalistID int64, wraps []KeyWrap) error
	// RejectMember forgets a pending member (the account stays).
	RejectMember(ctx context.Context, deskID, journalistID int64) error
	// RotateDeskKey gives the desk a new key generation, in one
	// transaction: it removes member remove (0 for none), stores key as the
	// desk's current key, and its wraps, which must be exactly one for each
	// remaining active member (ErrMembersChanged otherwise). It sets
	// key.ID.
	RotateDeskKey(ctx context.Context, deskID, remove int64, key *DeskKey, wraps []KeyWrap) error
	// DeskKeys lists a desk's key generations, oldest first.
	DeskKeys(ctx context.Context, deskID int64) ([]DeskKey, error)

	AddCredential(ctx context.Context, c *WebAuthnCredential) error
	Credentials(ctx context.Context, journalistID int64) ([]WebAuthnCredential, error)
	// UpdateCredential replaces a credential's data (its signature counter).
	UpdateCredential(ctx context.Context, c WebAuthnCredential) error
	DeleteCredential(ctx context.Context, journalistID int64, id []byte) error

	// AddAudit adds entries to the audit log, in one transaction.
	AddAudit(ctx context.Context, entries ...AuditEntry) error
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// DeleteAuditBefore deletes the audit entries created before before,
	// and answers how many.
	DeleteAuditBefore(ctx context.Context, before time.Time) (int, error)
	// AuditRetention is how many days audit entries are kept (0: for
	// ever): DefaultAuditRetentionDays until SetAuditRetention is called.
	AuditRetention(ctx context.Context) (int, error)
	// SetAuditRetention sets it; an error for days outside ValidRetention.
	SetAuditRetention(ctx context.Context, days int) error
}

// MaxTags bounds the tags of one conversation.
const MaxTags = 10

// ValidTag reports whether t can be a tag: lowercase letters of any
// script, digits, "-" and "_", 1 to 32 characters, starting with a letter
// or a digit. Tags are stored as they are (not encrypted): they are the
// desk's words, and the inbox says never to put what a source sent in them.
// (A regular expression over these Unicode classes would cost megabytes at
// start; this loop costs nothing.)
func ValidTag(t string) bool {
	n := 0
	for i, r := range t {
		n++
		switch {
		case r == utf8.RuneError:
			return false
		case unicode.IsLower(r), unicode.Is(unicode.Lo, r), unicode.IsDigit(r):
		case i > 0 && (r == '-' || r == '_' || unicode.Is(unicode.Mn, r)):
		default:
			return false
		}
	}
	return n >= 1 && n <= 32
}
