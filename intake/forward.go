package intake

// Forward secrecy on arrival (docs/forward-secrecy.md, "Source side"):
// every channel encrypts a source's new items to the desk's intake key of
// the day and the archive keys, and marks them so; without a live intake
// key, to the desk's key, marked "received without forward secrecy".

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
)

// Seal is what a desk's new items are encrypted to, and how they are
// marked.
type Seal struct {
	// Recipients: the intake key and the archive keys, or the desk's key
	// and the archive keys.
	Recipients []age.Recipient
	// IntakeKey is the intake key's ID (pista.IntakeKey.ID); 0 when the
	// items go to the desk's key, without forward secrecy.
	IntakeKey int64
}

// Mark records on items how they were sealed: Sealing intake, the intake
// key and Received fs; or Sealing desk and Received nofs.
func (s Seal) Mark(items []pista.Item) {
	for i := range items {
		items[i].Sealing, items[i].IntakeKey, items[i].Received = Marks(s.IntakeKey)
	}
}

// Marks are an item's Sealing, IntakeKey and Received when it was
// encrypted to the intake key intakeKey (0: to the desk's key).
func Marks(intakeKey int64) (sealing string, key int64, received string) {
	if intakeKey != 0 {
		return pista.SealingIntake, intakeKey, pista.ReceivedForward
	}
	return pista.SealingDesk, 0, pista.ReceivedNoForward
}

// MarkSealing marks every item of the batch as Seal.Mark does.
func (b *Batch) MarkSealing(intakeKey int64) {
	Seal{IntakeKey: intakeKey}.Mark(b.items)
}

// Intake answers the desk's live intake key of day, of its current key
// generation, with the generation's signing key, if there is one and its
// signature checks. A key that does not check (the store's rows are not
// what a member's client made) is never used: it is logged, without
// anything of a source, and ok is false, as it is with no key.
func Intake(ctx context.Context, f pista.Forwarder, log *slog.Logger, desk pista.Desk, day int64) (k pista.IntakeKey, signKey []byte, ok bool) {
	k, signKey, err := f.IntakeFor(ctx, desk.ID, day)
	if errors.Is(err, pista.ErrNotFound) {
		return pista.IntakeKey{}, nil, false
	}
	if err != nil {
		if log != nil {
			log.Error("finding the day's intake key; encrypting to the desk's key", "err", err)
		}
		return pista.IntakeKey{}, nil, false
	}
	if k.DeskID != desk.ID || k.DeskKeyID != desk.KeyID || k.Day != day {
		if log != nil {
			log.Error("the store answered an intake key of another desk, generation or day; encrypting to the desk's key", "intake_key", k.ID)
		}
		return pista.IntakeKey{}, nil, false
	}
	if err := forward.Verify(signKey, desk.Recipient, k.Day, k.Recipient, k.Signature); err != nil {
		if log != nil {
			log.Error("an intake key is not signed by its desk's key; encrypting to the desk's key", "intake_key", k.ID, "err", err)
		}
		return pista.IntakeKey{}, nil, false
	}
	return k, signKey, true
}

// SealFor chooses what the server encrypts a desk's new items to on day:
// the live intake key (Intake) and archive, else the desk's key and
// archive.
func SealFor(ctx context.Context, f pista.Forwarder, log *slog.Logger, desk pista.Desk, day int64, archive []string) (Seal, error) {
	first, id := desk.Recipient, int64(0)
	if k, _, ok := Intake(ctx, f, log, desk, day); ok {
		first, id = k.Recipient, k.ID
	}
	rs := []string{first}
	for _, a := range archive {
		if a != "" {
			rs = append(rs, a)
		}
	}
	parsed, err := keys.ParseRecipients(rs...)
	if err != nil {
		return Seal{}, err
	}
	return Seal{Recipients: parsed, IntakeKey: id}, nil
}

// ErrIntakeKey refuses items a client sealed to an intake key that is
// unknown, destroyed, out of its days, or not of the desk's current key:
// the client fetches the desk's keys again and sends once more.
var ErrIntakeKey = errors.New("intake: not a live intake key of the desk")

// ParseIntakeKeyID reads a declared intake key ID (the form field
// intake_key, the header Pista-Intake-Key): a positive decimal number.
func ParseIntakeKeyID(s string) (int64, error) {
	if len(s) == 0 || len(s) > 19 {
		return 0, ErrIntakeKey
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, ErrIntakeKey
	}
	return id, nil
}

// CheckDeclared checks the intake key a client says it sealed a desk's
// items to, on day: it must be live, of the desk's current key
// generation, and of a day from today−forward.Grace to tomorrow (a page
// may have been loaded before midnight; a clock may run ahead). It
// answers ErrIntakeKey, or the store's error.
func CheckDeclared(ctx context.Context, f pista.Forwarder, desk pista.Desk, id, day int64) error {
	k, err := f.IntakeKeyByID(ctx, id)
	if errors.Is(err, pista.ErrNotFound) {
		return ErrIntakeKey
	}
	if err != nil {
		return err
	}
	if k.DeskID != desk.ID || k.DeskKeyID != desk.KeyID || k.Day < day-forward.Grace || k.Day > day+1 {
		return ErrIntakeKey
	}
	return nil
}

// Publish answers what a source's client needs to encrypt a desk's items
// with forward secrecy on day: the signing key of the desk's current key
// generation (nil if it has none yet) and the live intake key of day
// (nil if none, or if it does not check: Intake).
func Publish(ctx context.Context, f pista.Forwarder, log *slog.Logger, desk pista.Desk, day int64) ([]byte, *pista.IntakeKey) {
	if k, signKey, ok := Intake(ctx, f, log, desk, day); ok {
		return signKey, &k
	}
	signKey, err := f.SignKey(ctx, desk.KeyID)
	if err != nil {
		if !errors.Is(err, pista.ErrNotFound) && log != nil {
			log.Error("a desk's signing key", "err", err)
		}
		return nil, nil
	}
	return signKey, nil
}
