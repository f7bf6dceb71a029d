package pulled

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/newsroom"
)

// The forward secrecy routes of the journalist API (docs/forward-secrecy.md).
const (
	fsKeysPath     = "/api/v1/journalist/fs/keys"
	fsUnsortedPath = "/api/v1/journalist/fs/unsorted"
	fsSortPath     = "/api/v1/journalist/fs/sort"
)

// The forward secrecy routes' bodies, as the server writes them
// (newsroom/forward.go).
type (
	FSKeys         = newsroom.FSKeys
	FSDesk         = newsroom.FSDesk
	FSIntake       = newsroom.FSIntakeKey
	fsNewKey       = newsroom.FSNewKey
	fsAddKeys      = newsroom.FSAddKeys
	fsAdded        = newsroom.FSAdded
	fsUnsorted     = newsroom.FSUnsorted
	fsItem         = newsroom.FSItem
	fsConv         = newsroom.FSConversation
	fsPreview      = newsroom.FSPreview
	fsSortKey      = newsroom.FSConversationKey
	fsSortItem     = newsroom.FSSortItem
	fsSortRequest  = newsroom.FSSort
	fsSortResponse = newsroom.FSSorted
)

// Bounds on the forward secrecy routes' answers, which the sorter does not
// trust more than pull trusts the item lists.
const (
	// maxFSKeysJSON: a few dozen live intake keys per desk generation,
	// each a sealed secret of about 2 KiB (≤ forward.MaxSealedSize).
	maxFSKeysJSON = 32 << 20
	maxFSDesks    = 1024
	maxFSIntake   = 16384
	// sortPage is the page the sorter asks for; a page of its headers
	// (≤ forward.MaxHeaderSize each, usually about 5 KiB) and up to
	// maxFSPreviews previews fits in maxUnsortedJSON.
	sortPage        = 100
	maxFSPreviews   = 100
	maxUnsortedJSON = 48 << 20
	// maxSortBody stays under the server's 8 MiB bound on POST fs/sort.
	maxSortBody = 6 << 20
	// maxSortPasses: after a pass that sorted something, another one
	// takes what a conflict (another sorter) or a new arrival left.
	maxSortPasses = 4
	// maxSortItems bounds the items one run lists (a server listing
	// forever is refused).
	maxSortItems = 1 << 22
)

// SortReport says what a sorter did.
type SortReport struct {
	// IntakeKeys is how many intake keys it made and the server took.
	IntakeKeys int
	// Items and Conversations: items rewrapped under their
	// conversation's key, and the conversations they belong to.
	Items, Conversations int
	// Previews rewrapped, and conversation keys made.
	Previews, ConversationKeys int
	// Failed are items this journalist's keys cannot open (a desk key
	// generation they were never given, an intake key the server no
	// longer lists): they stay as they are.
	Failed []int64
}

// ErrServerLies is returned when what the server lists contradicts what
// the journalist's own keys say (a desk's signing key, a desk's key).
var ErrServerLies = errors.New("the server's keys do not match yours")

// sorter holds one run's keys.
type sorter struct {
	c *Client
	// gens: every desk key generation the journalist unwrapped, by its
	// ID; bySlug and byDesk: each desk's generations, by slug and by
	// desk ID (from fs/keys).
	gens    map[int64]*age.HybridIdentity
	bySlug  map[string][]*age.HybridIdentity
	byDesk  map[int64][]age.Identity
	current map[int64]*age.HybridIdentity // desk ID → current generation
	archive map[int64][]string            // desk ID → archive recipients
	intake  map[int64]FSIntake
	opened  map[int64]*age.HybridIdentity // intake key ID → identity
	convs   map[string]*convKey
}

type convKey struct {
	id        *age.HybridIdentity
	recipient string
	sealed    []byte // set when made by this sorter and not yet taken
	signature []byte // with sealed
	rs        []age.Recipient
}

// Sort is pista sort's work, with the journalist's identities ids (their
// identity file): it makes the intake keys the desks lack, then moves
// every unsorted item (and preview) of the journalist's desks under its
// conversation's key, making the conversation keys that are missing. The
// client must be logged in. What the server lists is checked against
// the journalist's own keys: a desk whose signing key is not the one its
// key derives stops the run with ErrServerLies.
func (c *Client) Sort(ctx context.Context, ids []age.Identity) (rep SortReport, err error) {
	s := &sorter{c: c, gens: map[int64]*age.HybridIdentity{}, bySlug: map[string][]*age.HybridIdentity{},
		byDesk: map[int64][]age.Identity{}, current: map[int64]*age.HybridIdentity{}, archive: map[int64][]string{},
		intake: map[int64]FSIntake{}, opened: map[int64]*age.HybridIdentity{}, convs: map[string]*convKey{}}
	if err := s.loadDeskKeys(ctx, ids); err != nil {
		return rep, err
	}
	fk, err := s.loadFSKeys(ctx)
	if err != nil {
		return rep, err
	}
	if err := s.loadArchive(ctx, fk); err != nil {
		return rep, err
	}
	if rep.IntakeKeys, err = s.makeIntakeKeys(ctx, fk); err != nil {
		return rep, err
	}
	convs := map[string]bool{}
	for pass := 0; pass < maxSortPasses; pass++ {
		n, err := s.pass(ctx, &rep, convs)
		if err != nil {
			return rep, err
		}
		if n == 0 {
			break
		}
	}
	rep.Conversations = len(convs)
	slices.Sort(rep.Failed)
	rep.Failed = slices.Compact(rep.Failed)
	return rep, nil
}

// loadDeskKeys unwraps every desk key generation wrapped to the
// journalist.
func (s *sorter) loadDeskKeys(ctx context.Context, ids []age.Identity) error {
	var kr api.KeysResponse
	if err := s.c.api.GetJSONMax(ctx, "/api/v1/journalist/keys", maxKeysJSON, &kr); err != nil {
		return err
	}
	if len(kr.Keys) > maxKeys {
		return fmt.Errorf("the server lists %d desk keys, more than the %d this program takes", len(kr.Keys), maxKeys)
	}
	for _, k := range kr.Keys {
		if len(k.Wrapped) == 0 || len(k.Wrapped) > maxWrappedKey || k.KeyID <= 0 {
			return fmt.Errorf("%w: a desk key of %d bytes", ErrMalformed, len(k.Wrapped))
		}
		var desk *age.HybridIdentity
		var err error
		for _, id := range ids {
			if desk, err = keys.Unwrap(k.Wrapped, id); err == nil {
				break
			}
		}
		if desk == nil {
			return fmt.Errorf("desk %s: this identity cannot unwrap its key %d; is it the right identity file?", apiclient.Printable(k.Desk, 80), k.KeyID)
		}
		if k.Recipient != "" && k.Recipient != desk.Recipient().String() {
			return fmt.Errorf("%w: desk %s's key %d is not the one the server names", ErrServerLies, apiclient.Printable(k.Desk, 80), k.KeyID)
		}
		s.gens[k.KeyID] = desk
		s.bySlug[k.Desk] = append(s.bySlug[k.Desk], desk)
	}
	return nil
}

// loadFSKeys reads fs/keys and checks it against the journalist's keys.
func (s *sorter) loadFSKeys(ctx context.Context) (FSKeys, error) {
	var fk FSKeys
	if err := s.c.api.GetJSONMax(ctx, fsKeysPath, maxFSKeysJSON, &fk); err != nil {
		return fk, err
	}
	if err := CheckFSKeys(fk); err != nil {
		return fk, err
	}
	for _, d := range fk.Desks {
		desk := s.gens[d.KeyID]
		if desk == nil {
			return fk, fmt.Errorf("desk %s: its current key %d is not wrapped to you; ask a coordinator of the desk to give it to you", apiclient.Printable(d.Slug, 80), d.KeyID)
		}
		if d.Recipient != desk.Recipient().String() {
			return fk, fmt.Errorf("%w: desk %s's current key is not the one wrapped to you", ErrServerLies, apiclient.Printable(d.Slug, 80))
		}
		if d.SignKey != nil && !bytes.Equal(d.SignKey, forward.SignPublic(desk.String())) {
			return fk, fmt.Errorf("%w: desk %s's intake keys are checked with a signing key that its desk key does not give: someone who does not hold the desk key made them, or the server was changed; do not trust this server's intake keys, and tell your security team", ErrServerLies, apiclient.Printable(d.Slug, 80))
		}
		s.current[d.ID] = desk
		for _, g := range s.bySlug[d.Slug] {
			s.byDesk[d.ID] = append(s.byDesk[d.ID], g)
		}
	}
	for _, k := range fk.Intake {
		s.intake[k.ID] = k
	}
	return fk, nil
}

// CheckFSKeys checks that an answer of GET fs/keys is within bounds.
func CheckFSKeys(fk FSKeys) error {
	switch {
	case len(fk.Desks) > maxFSDesks:
		return fmt.Errorf("%w: %d desks", ErrMalformed, len(fk.Desks))
	case len(fk.Intake) > maxFSIntake:
		return fmt.Errorf("%w: %d intake keys", ErrMalformed, len(fk.Intake))
	case fk.Ahead < 1 || fk.Ahead > pista.MaxIntakeKeys || fk.Day < 0:
		return fmt.Errorf("%w: intake keys %d days ahead of day %d", ErrMalformed, fk.Ahead, fk.Day)
	}
	for _, d := range fk.Desks {
		if d.ID <= 0 || d.KeyID <= 0 || len(d.NeedDays) > int(fk.Ahead) || (d.SignKey != nil && len(d.SignKey) != 32) {
			return fmt.Errorf("%w: desk %d", ErrMalformed, d.ID)
		}
		seen := map[int64]bool{}
		for _, day := range d.NeedDays {
			if day < fk.Day || day >= fk.Day+int64(fk.Ahead) || seen[day] {
				return fmt.Errorf("%w: desk %d needs a key for day %d, today is %d", ErrMalformed, d.ID, day, fk.Day)
			}
			seen[day] = true
		}
	}
	for _, k := range fk.Intake {
		if k.ID <= 0 || len(k.Sealed) == 0 || len(k.Sealed) > forward.MaxSealedSize {
			return fmt.Errorf("%w: intake key %d", ErrMalformed, k.ID)
		}
	}
	return nil
}

// loadArchive learns the archive recipients as sources' clients do (GET
// /api/v1/desks: each desk's recipients are its key then the archive's).
func (s *sorter) loadArchive(ctx context.Context, fk FSKeys) error {
	var dr api.DesksResponse
	if err := s.c.api.GetJSONMax(ctx, "/api/v1/desks", maxKeysJSON, &dr); err != nil {
		return err
	}
	var any []string
	found := false
	for _, d := range fk.Desks {
		for _, ld := range dr.Desks {
			if ld.Slug != d.Slug {
				continue
			}
			a, err := archiveOf(ld.Recipients, d.Recipient)
			if err != nil {
				return fmt.Errorf("desk %s: %w", apiclient.Printable(d.Slug, 80), err)
			}
			s.archive[d.ID], any, found = a, a, true
		}
	}
	if found {
		// The archive keys are the newsroom's: a desk not listed to
		// sources has the same.
		for _, d := range fk.Desks {
			if _, ok := s.archive[d.ID]; !ok {
				s.archive[d.ID] = any
			}
		}
	}
	return nil
}

// archiveOf is recipients without the desk key, each checked.
func archiveOf(recipients []string, desk string) ([]string, error) {
	if len(recipients) > 1+apiclient.MaxRecipients {
		return nil, fmt.Errorf("%w: %d recipients", ErrMalformed, len(recipients))
	}
	var a []string
	for _, r := range recipients {
		if r == desk {
			continue
		}
		if _, err := keys.ParseRecipients(r); err != nil {
			return nil, fmt.Errorf("%w: an archive key: %v", ErrMalformed, err)
		}
		a = append(a, r)
	}
	return a, nil
}

// makeIntakeKeys makes and posts the intake keys each desk lacks.
func (s *sorter) makeIntakeKeys(ctx context.Context, fk FSKeys) (int, error) {
	made := 0
	for _, d := range fk.Desks {
		if len(d.NeedDays) == 0 {
			continue
		}
		desk := s.current[d.ID]
		req := fsAddKeys{DeskKeyID: d.KeyID, SignKey: forward.SignPublic(desk.String())}
		for _, day := range d.NeedDays {
			k, err := forward.MakeIntakeKey(desk, day)
			if err != nil {
				return made, err
			}
			req.Keys = append(req.Keys, fsNewKey{Day: k.Day, Recipient: k.Recipient, Signature: k.Signature, Sealed: k.Sealed})
		}
		var added fsAdded
		if err := s.c.api.PostJSON(ctx, fsKeysPath, req, &added); err != nil {
			return made, fmt.Errorf("desk %s: posting its intake keys: %w", apiclient.Printable(d.Slug, 80), err)
		}
		if added.Added < 0 || added.Added > len(req.Keys) {
			return made, fmt.Errorf("%w: %d intake keys added of %d", ErrMalformed, added.Added, len(req.Keys))
		}
		made += added.Added
	}
	return made, nil
}

// pass lists every unsorted item once and sorts what it can; it answers
// how many items and previews it sorted. It fetches and rewraps the next
// page while the server works on the batches of the last ones.
func (s *sorter) pass(ctx context.Context, rep *SortReport, convs map[string]bool) (int, error) {
	p := newPoster(ctx, s, rep, convs)
	err := s.listAndSort(ctx, p, rep)
	n, perr := p.wait()
	if err == nil {
		err = perr
	}
	return n, err
}

func (s *sorter) listAndSort(ctx context.Context, p *poster, rep *SortReport) error {
	seen := map[int64]bool{}
	donePreviews := map[string]bool{}
	var after int64
	for {
		if err := p.failed(); err != nil {
			return err
		}
		var page fsUnsorted
		path := fsUnsortedPath + "?after=" + strconv.FormatInt(after, 10) + "&limit=" + strconv.Itoa(sortPage)
		if err := s.c.api.GetJSONMax(ctx, path, maxUnsortedJSON, &page); err != nil {
			return err
		}
		if err := CheckUnsorted(page, sortPage); err != nil {
			return err
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				return fmt.Errorf("%w: item %d again in the same pass (the server repeats itself or goes back)", ErrMalformed, it.ID)
			}
			seen[it.ID] = true
		}
		if len(seen) > maxSortItems {
			return fmt.Errorf("%w: more than %d unsorted items", ErrMalformed, maxSortItems)
		}
		var previews []fsPreview
		for _, pv := range page.Previews {
			if !donePreviews[pv.Conversation] {
				donePreviews[pv.Conversation] = true
				previews = append(previews, pv)
			}
		}
		if len(page.Items) == 0 && len(previews) == 0 {
			return nil
		}
		if err := s.sortPage(ctx, p, page, previews, rep); err != nil {
			return err
		}
		if len(page.Items) > 0 {
			after = page.Next
		} else {
			// Previews only: list them again, fewer each time, once the
			// batches in flight are done, until none is new.
			if _, err := p.wait(); err != nil {
				return err
			}
		}
	}
}

// CheckUnsorted checks that a page of GET fs/unsorted is within bounds
// and holds together: each item's conversation is listed, with its desk.
func CheckUnsorted(page fsUnsorted, limit int) error {
	switch {
	case len(page.Items) > limit:
		return fmt.Errorf("%w: a page of %d unsorted items, asked for %d", ErrMalformed, len(page.Items), limit)
	case len(page.Previews) > maxFSPreviews:
		return fmt.Errorf("%w: %d previews in a page", ErrMalformed, len(page.Previews))
	case len(page.Conversations) > len(page.Items)+len(page.Previews):
		return fmt.Errorf("%w: %d conversations for %d items", ErrMalformed, len(page.Conversations), len(page.Items))
	case len(page.Items) > 0 && page.Next != page.Items[len(page.Items)-1].ID:
		return fmt.Errorf("%w: the next page is not after the last item", ErrMalformed)
	}
	conv := map[string]int64{}
	for _, c := range page.Conversations {
		if !conversationDir(c.ID) || c.DeskID <= 0 || len(c.Key) > forward.MaxSealedSize || (c.KeyRecipient == "") != (c.Key == nil) || len(c.KeySignature) > ed25519.SignatureSize {
			return fmt.Errorf("%w: conversation %q", ErrMalformed, apiclient.Printable(c.ID, 80))
		}
		conv[c.ID] = c.DeskID
	}
	for _, it := range page.Items {
		d, ok := conv[it.Conversation]
		switch {
		case it.ID <= 0 || !ok || d != it.DeskID:
			return fmt.Errorf("%w: item %d of an unlisted conversation", ErrMalformed, it.ID)
		case !pista.ItemKind(it.Kind).Valid():
			return fmt.Errorf("%w: item %d of kind %q", ErrMalformed, it.ID, apiclient.Printable(string(it.Kind), 40))
		case it.Sealing != pista.SealingDesk && it.Sealing != pista.SealingIntake:
			return fmt.Errorf("%w: item %d sealed %q", ErrMalformed, it.ID, apiclient.Printable(it.Sealing, 40))
		case it.Sealing == pista.SealingIntake && it.IntakeKey <= 0:
			return fmt.Errorf("%w: item %d under no intake key", ErrMalformed, it.ID)
		case len(it.Header) == 0 || len(it.Header) > forward.MaxHeaderSize || len(it.MetaHeader) > forward.MaxHeaderSize:
			return fmt.Errorf("%w: item %d's header of %d bytes", ErrMalformed, it.ID, len(it.Header))
		}
	}
	for _, p := range page.Previews {
		if _, ok := conv[p.Conversation]; !ok || p.IntakeKey <= 0 || len(p.Preview) == 0 || len(p.Preview) > pista.MaxPreviewSize {
			return fmt.Errorf("%w: a preview of conversation %q", ErrMalformed, apiclient.Printable(p.Conversation, 80))
		}
	}
	return nil
}

// intakeIdentity opens the sealed secret of intake key id (once), for an
// item or preview of desk deskID: the key must be of one of that desk's
// generations. Otherwise a server that lies could have a tip received
// on one desk sorted into a conversation of another, to a key that
// desk's members hold.
func (s *sorter) intakeIdentity(id, deskID int64) (*age.HybridIdentity, error) {
	k, ok := s.intake[id]
	if !ok {
		return nil, fmt.Errorf("intake key %d is not listed", id)
	}
	desk := s.gens[k.DeskKeyID]
	if desk == nil {
		return nil, fmt.Errorf("intake key %d belongs to a desk key you do not hold", id)
	}
	if !slices.Contains(s.byDesk[deskID], age.Identity(desk)) {
		return nil, fmt.Errorf("%w: intake key %d, of another desk's key, is listed for desk %d's items", ErrServerLies, id, deskID)
	}
	if k, ok := s.opened[id]; ok {
		return k, nil
	}
	ik, err := forward.Open(k.Sealed, desk)
	if err != nil {
		return nil, fmt.Errorf("intake key %d: %w", id, err)
	}
	if ik.Recipient().String() != k.Recipient {
		return nil, fmt.Errorf("%w: intake key %d's secret is not its public key's", ErrServerLies, id)
	}
	s.opened[id] = ik
	return ik, nil
}

// conversationKey answers a conversation's key: the one the server
// lists, opened with the desk's keys, or a new one (c.sealed set).
func (s *sorter) conversationKey(c fsConv) (*convKey, error) {
	if k, ok := s.convs[c.ID]; ok && (c.KeyRecipient == "" || k.recipient == c.KeyRecipient) {
		return k, nil
	}
	k, err := s.newConversationKey(c)
	if err != nil {
		return nil, err
	}
	s.convs[c.ID] = k
	return k, nil
}

// prepareKeys opens or makes, side by side, the keys of the page's
// conversations that conversationKey does not know yet: each costs a
// post-quantum key pair or a decapsulation. Those that fail are left to
// conversationKey, which answers why.
func (s *sorter) prepareKeys(cs []fsConv) {
	var todo []fsConv
	for _, c := range cs {
		if k, ok := s.convs[c.ID]; !ok || (c.KeyRecipient != "" && k.recipient != c.KeyRecipient) {
			todo = append(todo, c)
		}
	}
	made := make([]*convKey, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				made[i], _ = s.newConversationKey(todo[i])
			}
		})
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, k := range made {
		if k != nil {
			s.convs[todo[i].ID] = k
		}
	}
}

// newConversationKey opens a conversation's key with the desk's keys, or
// makes one if it has none. It only reads the sorter.
func (s *sorter) newConversationKey(c fsConv) (*convKey, error) {
	archive, ok := s.archive[c.DeskID]
	desk := s.current[c.DeskID]
	if !ok || desk == nil {
		return nil, fmt.Errorf("conversation %s: its desk %d is not one of yours", c.ID, c.DeskID)
	}
	k := &convKey{}
	if c.KeyRecipient != "" {
		var err error
		if k.id, err = forward.Open(c.Key, s.byDesk[c.DeskID]...); err != nil {
			return nil, fmt.Errorf("conversation %s: its key does not open with the desk's keys: %w", c.ID, err)
		}
		if k.recipient = k.id.Recipient().String(); k.recipient != c.KeyRecipient {
			return nil, fmt.Errorf("%w: conversation %s's key is not its public key's", ErrServerLies, c.ID)
		}
		if !s.signedByDesk(c) {
			return nil, fmt.Errorf("%w: conversation %s's key is not signed by its desk's key: whoever made it may hold it; do not trust this server's conversation keys, and tell your security team", ErrServerLies, apiclient.Printable(c.ID, 80))
		}
	} else {
		var err error
		if k.recipient, k.sealed, k.id, err = forward.MakeConversationKey(append([]string{desk.Recipient().String()}, archive...)...); err != nil {
			return nil, err
		}
		k.signature = forward.SignConversationKey(desk, c.ID, k.recipient)
	}
	rs, err := keys.ParseRecipients(append([]string{k.recipient}, archive...)...)
	if err != nil {
		return nil, err
	}
	k.rs = rs
	return k, nil
}

// signedByDesk says whether a conversation's key is signed by the
// signing key of one of its desk's generations this sorter holds: the
// server can seal a key of its own to a desk's public key, but not sign
// it.
func (s *sorter) signedByDesk(c fsConv) bool {
	for _, id := range s.byDesk[c.DeskID] {
		g, ok := id.(*age.HybridIdentity)
		if ok && forward.VerifyConversationKey(forward.SignPublic(g.String()), g.Recipient().String(), c.ID, c.KeyRecipient, c.KeySignature) == nil {
			return true
		}
	}
	return false
}

// job is one item or preview of a page to rewrap.
type job struct {
	item    *fsItem
	preview *fsPreview
	ids     []age.Identity
	to      []age.Recipient
	// results
	header, meta, spliced []byte
	err                   error
}

// forSource says whether an item is for the source too (a reply, a
// reply's file): its new header then wraps to the source's key as well.
// The server's word (kind, author) is not enough: a lying server could
// call a source's message a reply and name a key of its own as the
// source's. An item under an intake key is always the source's own, and
// one under the desk key must already have a stanza more than the desk's
// and the archive's.
func forSource(it *fsItem, archive int) bool {
	return it.Sealing != pista.SealingIntake && bytes.Count(it.Header, []byte("\n-> ")) >= 2+archive
}

// sourceKind: what the server says is a reply or a reply's file.
func sourceKind(it *fsItem) bool {
	return it.Kind == pista.KindReply || it.Kind == pista.KindFile && it.Author != 0
}

// sortPage rewraps a page's items and previews and posts them.
func (s *sorter) sortPage(ctx context.Context, p *poster, page fsUnsorted, previews []fsPreview, rep *SortReport) error {
	byID := map[string]fsConv{}
	for _, c := range page.Conversations {
		byID[c.ID] = c
	}
	s.prepareKeys(page.Conversations)
	var jobs []*job
	for i := range page.Items {
		it := &page.Items[i]
		c := byID[it.Conversation]
		k, err := s.conversationKey(c)
		if err != nil {
			if errors.Is(err, ErrServerLies) {
				return err
			}
			rep.Failed = append(rep.Failed, it.ID)
			continue
		}
		j := &job{item: it, to: k.rs}
		if sourceKind(it) {
			if !forSource(it, len(s.archive[it.DeskID])) {
				// Not what a reply's header is: leave it to the desk
				// (pista sort then says it could not sort it).
				rep.Failed = append(rep.Failed, it.ID)
				continue
			}
			src, err := keys.ParseRecipients(c.SourceRecipient)
			if err != nil {
				return fmt.Errorf("%w: conversation %s's source key: %v", ErrMalformed, c.ID, err)
			}
			j.to = append(slices.Clip(j.to), src...)
		}
		if it.Sealing == pista.SealingIntake {
			ik, err := s.intakeIdentity(it.IntakeKey, it.DeskID)
			if err != nil {
				if errors.Is(err, ErrServerLies) {
					return err
				}
				rep.Failed = append(rep.Failed, it.ID)
				continue
			}
			j.ids = []age.Identity{ik}
		} else {
			j.ids = s.byDesk[it.DeskID]
		}
		jobs = append(jobs, j)
	}
	for i := range previews {
		pv := &previews[i]
		c := byID[pv.Conversation]
		k, err := s.conversationKey(c)
		if err != nil {
			if errors.Is(err, ErrServerLies) {
				return err
			}
			continue
		}
		ik, err := s.intakeIdentity(pv.IntakeKey, c.DeskID)
		if err != nil {
			if errors.Is(err, ErrServerLies) {
				return err
			}
			continue
		}
		jobs = append(jobs, &job{preview: pv, ids: []age.Identity{ik}, to: k.rs})
	}
	rewrapAll(jobs)

	// The conversations' new keys first, on their own: the items and
	// previews under them may then go in any order, several batches at
	// once.
	if err := s.postKeys(ctx, jobs, rep); err != nil {
		return err
	}
	var req fsSortRequest
	var batchConvs []string
	size := 0
	for _, j := range jobs {
		if j.err != nil {
			if j.item != nil {
				rep.Failed = append(rep.Failed, j.item.ID)
			}
			continue
		}
		conv := j.conv()
		if k := s.convs[conv]; k == nil || k.sealed != nil {
			// Another sorter gave the conversation its key first: the
			// next pass rewraps to that one.
			continue
		}
		cost := 4*(len(j.header)+len(j.meta)+len(j.spliced))/3 + 200
		if size+cost > maxSortBody || len(req.Items) >= pista.MaxSortBatch || len(req.Previews) >= maxFSPreviews {
			p.send(req, batchConvs)
			req, batchConvs, size = fsSortRequest{}, nil, 0
		}
		batchConvs = append(batchConvs, conv)
		if j.item != nil {
			req.Items = append(req.Items, fsSortItem{ID: j.item.ID, Header: j.header, MetaHeader: j.meta})
		} else {
			req.Previews = append(req.Previews, fsPreview{Conversation: conv, IntakeKey: j.preview.IntakeKey, Preview: j.spliced})
		}
		size += cost
	}
	p.send(req, batchConvs)
	return nil
}

func (j *job) conv() string {
	if j.item != nil {
		return j.item.Conversation
	}
	return j.preview.Conversation
}

// postKeys posts the conversation keys this sorter made for jobs. A
// conversation that another sorter gave a key first is forgotten: the
// next pass uses that key.
func (s *sorter) postKeys(ctx context.Context, jobs []*job, rep *SortReport) error {
	var req fsSortRequest
	size := 0
	posted := map[string]bool{}
	flush := func() error {
		if len(req.Keys) == 0 {
			return nil
		}
		resp, err := s.postSort(ctx, req)
		if err != nil {
			return err
		}
		conflict := map[string]bool{}
		for _, c := range resp.Conflicts {
			conflict[c] = true
			delete(s.convs, c)
		}
		for _, k := range req.Keys {
			if ck := s.convs[k.Conversation]; ck != nil && !conflict[k.Conversation] {
				ck.sealed = nil
				rep.ConversationKeys++
			}
		}
		req, size = fsSortRequest{}, 0
		return nil
	}
	for _, j := range jobs {
		conv := j.conv()
		k := s.convs[conv]
		if j.err != nil || k == nil || k.sealed == nil || posted[conv] {
			continue
		}
		posted[conv] = true
		cost := 4*len(k.sealed)/3 + len(k.recipient) + 200
		if size+cost > maxSortBody || len(req.Keys) >= pista.MaxSortBatch {
			if err := flush(); err != nil {
				return err
			}
		}
		req.Keys = append(req.Keys, fsSortKey{Conversation: conv, Recipient: k.recipient, Key: k.sealed, Signature: k.signature})
		size += cost
	}
	return flush()
}

// postSort posts one request to fs/sort and checks its answer.
func (s *sorter) postSort(ctx context.Context, req fsSortRequest) (fsSortResponse, error) {
	if req.Keys == nil {
		req.Keys = []fsSortKey{}
	}
	if req.Items == nil {
		req.Items = []fsSortItem{}
	}
	if req.Previews == nil {
		req.Previews = []fsPreview{}
	}
	var resp fsSortResponse
	if err := s.c.api.PostJSON(ctx, fsSortPath, req, &resp); err != nil {
		return resp, err
	}
	if resp.Sorted < 0 || resp.Sorted > len(req.Items) || resp.Previews < 0 || resp.Previews > len(req.Previews) || len(resp.Conflicts) > len(req.Keys) {
		return resp, fmt.Errorf("%w: sorted %d of %d items", ErrMalformed, resp.Sorted, len(req.Items))
	}
	return resp, nil
}

// sortPosts is how many batches a sorter has the server work on at once:
// each item costs the server a new object written and synced to its disk
// and the old one deleted, which wait on the disk more than on a core.
const sortPosts = 8

// poster posts batches of rewrapped items and previews, sortPosts at a
// time, and adds up what the server sorted.
type poster struct {
	s     *sorter
	ctx   context.Context
	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	n     int
	rep   *SortReport
	convs map[string]bool
}

func newPoster(ctx context.Context, s *sorter, rep *SortReport, convs map[string]bool) *poster {
	return &poster{s: s, ctx: ctx, sem: make(chan struct{}, sortPosts), rep: rep, convs: convs}
}

// send posts req in the background (once sortPosts are not all busy).
func (p *poster) send(req fsSortRequest, batchConvs []string) {
	if len(req.Items) == 0 && len(req.Previews) == 0 {
		return
	}
	p.sem <- struct{}{}
	p.wg.Go(func() {
		defer func() { <-p.sem }()
		resp, err := p.s.postSort(p.ctx, req)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			if p.err == nil {
				p.err = err
			}
			return
		}
		p.rep.Items += resp.Sorted
		p.rep.Previews += resp.Previews
		p.n += resp.Sorted + resp.Previews
		if resp.Sorted > 0 {
			// The server answers counts only: the batch's conversations.
			for _, c := range batchConvs {
				p.convs[c] = true
			}
		}
	})
}

// failed answers the first error of a post, if any.
func (p *poster) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// wait waits for every post, and answers how many items and previews
// the server sorted and the first error.
func (p *poster) wait() (int, error) {
	p.wg.Wait()
	return p.n, p.err
}

// rewrapAll rewraps jobs on every core: each is one decapsulation and
// one encapsulation per recipient.
func rewrapAll(jobs []*job) {
	var wg sync.WaitGroup
	next := make(chan *job)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range next {
				j.run()
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
}

func (j *job) run() {
	if j.preview != nil {
		// A preview is a whole small age file: its new header, then its
		// payload as it is (what forward.Splice writes, in memory).
		h, err := forward.Header(bytes.NewReader(j.preview.Preview))
		if err != nil {
			j.err = err
			return
		}
		nh, err := forward.Rewrap(h, j.ids, j.to)
		if err != nil {
			j.err = err
			return
		}
		j.spliced = append(nh, j.preview.Preview[len(h):]...)
		return
	}
	if j.header, j.err = forward.Rewrap(j.item.Header, j.ids, j.to); j.err != nil {
		return
	}
	if j.item.MetaHeader != nil {
		j.meta, j.err = forward.Rewrap(j.item.MetaHeader, j.ids, j.to)
	}
}
