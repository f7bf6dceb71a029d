package pulled

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/keys"
)

// Client talks to a pista server's journalist API.
type Client struct {
	Server string // base URL, e.g. https://tips.example.org
	// Device is the device token of this device's last login ("" if
	// none), sent at Login, which replaces it with the new one to keep.
	Device string
	api    *apiclient.Client
}

// NewClient returns a client for server whose requests go through the
// proxy of the environment (HTTPS_PROXY, ALL_PROXY…; socks5:// for Tor).
func NewClient(server string) (*Client, error) {
	c, err := apiclient.New(server, "")
	if err != nil {
		return nil, err
	}
	return &Client{Server: c.Server, api: c}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	return c.api.Do(ctx, method, path, body, "")
}

// Login logs in with passphrase and TOTP code, as the web inbox does: it
// asks for the account's salt and parameters, stretches the passphrase
// here (keys.DeriveJournalist) and sends only the authentication key.
func (c *Client) Login(ctx context.Context, name, passphrase, code string) error {
	var p api.ParamsResponse
	if err := c.api.PostJSON(ctx, "/api/v1/journalist/login/params", api.ParamsRequest{Name: name}, &p); err != nil {
		return err
	}
	k, err := keys.DeriveJournalist(ctx, passphrase, p.Salt, p.KDF)
	if err != nil {
		return fmt.Errorf("the server asks for key derivation parameters this version does not use: %w", err)
	}
	var lr api.LoginResponse
	if err := c.api.PostJSON(ctx, "/api/v1/journalist/login", api.LoginRequest{Name: name, Auth: k.Auth, TOTP: code, Device: c.Device}, &lr); err != nil {
		return err
	}
	c.api.Token, c.Device = lr.Token, lr.Device
	return nil
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context) {
	c.api.PostJSON(ctx, "/api/v1/journalist/logout", nil, nil)
	c.api.Token = ""
}

// DefaultMaxTotal is how much one pull accepts from the server unless
// told otherwise: what a busy desk receives in a while, far from filling
// a disk. A pull that reaches it stops cleanly, and the next one goes on
// from there.
// It is twice the server's default bound on one submission
// (httpx.DefaultMaxUpload), so that the largest tip fits, padding and
// encryption included.
const DefaultMaxTotal int64 = 8 << 30

// Bounds on what the server sends, beyond the total. A server that lies
// (a longer download than it declared, endless pages, the same page again)
// is refused with an error, and what was pulled before it stays.
const (
	maxPageItems  = 500      // items in one page: the API's most (api.maxItemsPage)
	maxItemSize   = 1 << 40  // no item is that large; the total is the real bound
	maxPageJSON   = 16 << 20 // a page of 500 items is about 100 KB of JSON, with up to 500 sealed conversation keys of a few KiB
	maxKeysJSON   = 16 << 20 // thousands of wrapped keys of about 2 KiB
	maxKeys       = 4096     // desk keys: desks × key rotations
	maxWrappedKey = 64 << 10 // one wrapped key is about 2 KiB
	maxMetaObject = 1 << 20  // a file's encrypted name and type (≤ 64 KiB of JSON)
	fileCost      = 4 << 10  // each file counts a disk block at least against the total
	maxMissing    = 1000     // lost objects remembered, to ask for again
	maxStateFile  = 1 << 20  // pista-pull.json, its missing items included
	maxPullItems  = 1 << 20  // item IDs one pull remembers (seenIDs)
)

// ErrMalformed is returned when the server's lists are not what the API
// promises.
var ErrMalformed = errors.New("the server sent a malformed item list")

// Options change how Pull pulls.
type PullOptions struct {
	// MaxTotal bounds the bytes accepted from the server in this pull:
	// lists and files together, each file counting at least fileCost
	// (0: DefaultMaxTotal).
	MaxTotal int64
}

// Report says what a pull fetched.
type Report struct {
	Keys, Items int
	LastItem    int64
	// Missing are items whose object the server has lost (it answers
	// "object_missing"): the pull went on without them, and the next pull
	// asks for them again.
	Missing []Item
	// Received is what the pull took of the total (PullOptions.MaxTotal).
	Received int64
}

// Pull downloads into dir everything new since the last pull into dir.
// The client must be logged in. Every size the server declares is held to
// (a download longer or shorter than declared is refused), and everything
// together to opt.MaxTotal; files are written under temporary names and
// renamed when complete, and the state is saved after each page and when a
// pull stops, so an interrupted pull resumes where it stopped. On an error
// the report says what was pulled before it.
func (c *Client) Pull(ctx context.Context, dirPath, user string, opt PullOptions) (rep Report, err error) {
	max := opt.MaxTotal
	if max <= 0 {
		max = DefaultMaxTotal
	}
	budget := &apiclient.Budget{Max: max}
	c.api.Budget = budget
	defer func() {
		c.api.Budget = nil
		rep.Received = budget.Used()
	}()

	d, err := openDir(dirPath, true)
	if err != nil {
		return rep, err
	}
	defer d.Close()
	st, err := readState(d)
	if err != nil {
		return rep, err
	}
	if st.Server != "" && (st.Server != c.Server || st.User != user) {
		return rep, fmt.Errorf("%s holds a pull of %s for %s: pull into another folder", dirPath, st.Server, st.User)
	}
	st.Server, st.User = c.Server, user
	if err := c.pullKeys(ctx, d, budget, &rep); err != nil {
		return rep, err
	}
	intake, err := c.intakeKeys(ctx)
	if err != nil {
		return rep, err
	}

	seen := seenIDs{}
	if st.LastItem > 0 {
		seen[st.LastItem] = struct{}{}
	}

	// Items lost on the server at an earlier pull: ask again. Their lines
	// in items.jsonl were written when they were first listed, so they
	// keep their place in the order.
	retry := st.Missing
	st.Missing = nil
	for i, it := range retry {
		seen[it.ID] = struct{}{}
		switch err := c.fetchItem(ctx, d, it, budget); {
		case err == nil:
			rep.Items++
			if err := saveIntakeKey(d, it, intake, budget); err != nil {
				st.Missing = append(st.Missing, retry[i:]...)
				return rep, errors.Join(err, writeState(d, st))
			}
			if err := recordItem(d, it); err != nil {
				st.Missing = append(st.Missing, retry[i:]...)
				return rep, errors.Join(err, writeState(d, st))
			}
		case objectMissing(err):
			st.Missing = append(st.Missing, it)
			rep.Missing = append(rep.Missing, it)
		case itemGone(err):
			// Deleted on the server since: nothing to ask for.
		default:
			st.Missing = append(st.Missing, retry[i:]...)
			return rep, errors.Join(err, writeState(d, st))
		}
	}

	for {
		var page itemsPage
		if err := c.api.GetJSONMax(ctx, "/api/v1/journalist/items?after="+strconv.FormatInt(st.LastItem, 10), maxPageJSON, &page); err != nil {
			return rep, errors.Join(err, writeState(d, st))
		}
		if len(page.Items) > maxPageItems || (page.More && len(page.Items) == 0) {
			return rep, errors.Join(fmt.Errorf("%w: a page of %d items, more to come: %v", ErrMalformed, len(page.Items), page.More), writeState(d, st))
		}
		convKeys, err := ParseConversationKeys(page.ConversationKeys, len(page.Items))
		if err != nil {
			return rep, errors.Join(err, writeState(d, st))
		}
		for _, it := range page.Items {
			if err := checkItem(it); err != nil {
				return rep, errors.Join(err, writeState(d, st))
			}
			if err := seen.add(it.ID); err != nil {
				return rep, errors.Join(err, writeState(d, st))
			}
			if err := saveConversationKeys(d, it.Conversation, convKeys[it.Conversation], budget); err != nil {
				return rep, errors.Join(err, writeState(d, st))
			}
			switch err := c.fetchItem(ctx, d, it, budget); {
			case err == nil:
				rep.Items++
				if err := saveIntakeKey(d, it, intake, budget); err != nil {
					return rep, errors.Join(err, writeState(d, st))
				}
			case objectMissing(err):
				if len(st.Missing) >= maxMissing {
					return rep, errors.Join(fmt.Errorf("more than %d items are missing on the server: %w", maxMissing, err), writeState(d, st))
				}
				st.Missing = append(st.Missing, it)
				rep.Missing = append(rep.Missing, it)
			case itemGone(err):
				st.LastItem = it.ID
				continue
			default:
				return rep, errors.Join(err, writeState(d, st))
			}
			// An item's line marks its place in the conversation (IDs
			// carry no order); a missing item gets its line now, so it
			// keeps its place when a later pull fetches it.
			if err := recordItem(d, it); err != nil {
				return rep, errors.Join(err, writeState(d, st))
			}
			st.LastItem = it.ID
		}
		if err := writeState(d, st); err != nil {
			return rep, err
		}
		if !page.More {
			break
		}
	}
	rep.LastItem = st.LastItem
	return rep, nil
}

// checkItem checks an item of a list: its names are ones Pull writes and
// its sizes are possible. Its ID says nothing of its place: IDs are sealed
// on the server and carry no order (see seenIDs for what stands in for
// "after the last one").
func checkItem(it Item) error {
	switch {
	case it.ID <= 0:
		return fmt.Errorf("%w: item ID %d", ErrMalformed, it.ID)
	case !conversationDir(it.Conversation):
		return fmt.Errorf("%w: a conversation named %q", ErrMalformed, apiclient.Printable(it.Conversation, 80))
	case !pista.ItemKind(it.Kind).Valid():
		return fmt.Errorf("%w: an item of kind %q", ErrMalformed, apiclient.Printable(it.Kind, 40))
	case it.Size <= 0 || it.Size > maxItemSize:
		return fmt.Errorf("%w: item %d of %d bytes", ErrMalformed, it.ID, it.Size)
	case it.HasMeta && (it.MetaSize <= 0 || it.MetaSize > maxMetaObject):
		return fmt.Errorf("%w: item %d has a name of %d bytes", ErrMalformed, it.ID, it.MetaSize)
	case !validSealing(it.Sealing, it.IntakeKey):
		return fmt.Errorf("%w: item %d sealed %q by key %d", ErrMalformed, it.ID, apiclient.Printable(it.Sealing, 40), it.IntakeKey)
	case !validReceived(it.Received):
		return fmt.Errorf("%w: item %d received %q", ErrMalformed, it.ID, apiclient.Printable(it.Received, 40))
	}
	if _, _, _, ok := parseItemFile(ItemFile(it.ID, it.Kind, false)); !ok {
		return fmt.Errorf("%w: item ID %d", ErrMalformed, it.ID)
	}
	return nil
}

// ErrManyItems is returned when one pull reaches maxPullItems: what was
// pulled is kept and the next pull goes on from there.
var ErrManyItems = fmt.Errorf("this pull reached %d items, the most one pull takes", maxPullItems)

// seenIDs stands in for "each item comes after the last one", which
// sealed IDs cannot tell: a server that sends a page again, or goes back
// within a pull, sends an ID this pull has already seen (the cursor it
// started from included), and is refused; so the cursor changes from page
// to page, and a pull never loops. It holds at most maxPullItems IDs (36
// MiB of heap for 2^20, measured with Go 1.26); a pull that reaches that
// many stops with ErrManyItems, its state saved, and the next pull goes
// on. A server that goes back to items of an earlier pull is not caught:
// their files are replaced with what it sends now, under the same names,
// and their place in items.jsonl stays where it was (the first line
// counts).
type seenIDs map[int64]struct{}

func (s seenIDs) add(id int64) error {
	if _, ok := s[id]; ok {
		return fmt.Errorf("%w: item %d again in the same pull (the server repeats itself or goes back)", ErrMalformed, id)
	}
	if len(s) >= maxPullItems {
		return ErrManyItems
	}
	s[id] = struct{}{}
	return nil
}

// objectMissing reports the server's answer for an item whose object it
// lost.
func objectMissing(err error) bool {
	ae, ok := errors.AsType[*apiclient.Error](err)
	return ok && ae.Code == api.CodeObjectMissing
}

// itemGone reports an item deleted between the list and its download.
func itemGone(err error) bool {
	ae, ok := errors.AsType[*apiclient.Error](err)
	return ok && ae.Status == http.StatusNotFound && ae.Code == "not_found"
}

// pullKeys saves the desk keys not saved yet.
func (c *Client) pullKeys(ctx context.Context, d *dir, budget *apiclient.Budget, rep *Report) error {
	kd, err := d.sub("keys", true)
	if err != nil {
		return err
	}
	defer kd.Close()
	var keys api.KeysResponse
	if err := c.api.GetJSONMax(ctx, "/api/v1/journalist/keys", maxKeysJSON, &keys); err != nil {
		return err
	}
	if len(keys.Keys) > maxKeys {
		return fmt.Errorf("the server lists %d desk keys, more than the %d this program takes", len(keys.Keys), maxKeys)
	}
	for _, k := range keys.Keys {
		if len(k.Wrapped) == 0 || len(k.Wrapped) > maxWrappedKey || k.KeyID < 0 {
			return fmt.Errorf("the server sent a malformed desk key (%d bytes)", len(k.Wrapped))
		}
		name := fmt.Sprintf("%s-%d.age", SafeName(k.Desk, "desk"), k.KeyID)
		if _, err := kd.root.Lstat(name); err == nil {
			continue
		}
		if err := budget.Reserve(fileCost); err != nil {
			return err
		}
		if _, err := kd.writeFile(name, bytes.NewReader(k.Wrapped), nil); err != nil {
			return err
		}
		rep.Keys++
	}
	return nil
}

// fetchItem downloads an item, and its name and type if it has them, into
// its conversation's folder. An item whose name and type are missing is
// not kept without them.
func (c *Client) fetchItem(ctx context.Context, d *dir, it Item, budget *apiclient.Budget) error {
	cd, err := d.sub(it.Conversation, true)
	if err != nil {
		return err
	}
	defer cd.Close()
	get := func(path, name string, size int64) error {
		if err := budget.Reserve(size + fileCost); err != nil {
			return fmt.Errorf("item %d (%s) would not fit: %w", it.ID, apiclient.FormatSize(size), err)
		}
		resp, err := c.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			budget.Release(size + fileCost)
			return err
		}
		apiclient.Reserved(resp, size)
		defer resp.Body.Close()
		if _, err := cd.writeFile(name, apiclient.Exact(resp, size), nil); err != nil {
			return fmt.Errorf("item %d: %w", it.ID, err)
		}
		return nil
	}
	base := "/api/v1/journalist/items/" + strconv.FormatInt(it.ID, 10)
	name := ItemFile(it.ID, it.Kind, false)
	if err := get(base, name, it.Size); err != nil {
		return err
	}
	if it.HasMeta {
		if err := get(base+"/meta", ItemFile(it.ID, it.Kind, true), it.MetaSize); err != nil {
			cd.root.Remove(name)
			return err
		}
	}
	return nil
}

// recordItem adds an item's line to its conversation's items.jsonl, which
// keeps the order the server listed the items in (their IDs carry none).
// A pull interrupted before it saved its state asks for the same items
// again and writes their lines again: the first line of an ID is the one
// that counts (see pullOrder).
func recordItem(d *dir, it Item) error {
	cd, err := d.sub(it.Conversation, true)
	if err != nil {
		return err
	}
	defer cd.Close()
	line, _ := json.Marshal(Entry{ID: it.ID, Kind: it.Kind, Created: it.Created.UTC().Format(time.RFC3339), Meta: it.HasMeta,
		Sealing: it.Sealing, IntakeKey: it.IntakeKey, Received: it.Received})
	return cd.appendLine("items.jsonl", line)
}

// appendLine adds a line to the file name of d, a regular file or none.
func (d *dir) appendLine(name string, line []byte) error {
	if fi, err := d.root.Lstat(name); err == nil && !fi.Mode().IsRegular() {
		return &LinkError{Path: d.join(name)}
	}
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readState(d *dir) (State, error) {
	var st State
	b, err := d.readFile(StateFile, maxStateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	} else if err != nil {
		return st, err
	}
	if err := ParseState(b, &st); err != nil {
		return State{}, fmt.Errorf("%s is damaged (%w); pull into a new folder", d.join(StateFile), err)
	}
	if st.LastItem > 0 && !st.SealedIDs {
		// Pulled before item IDs were sealed (server migration 0006): its
		// last item's ID is no cursor the server knows any more.
		return State{}, fmt.Errorf("%s was pulled from a server of an older version, whose item IDs have changed since; pull into a new folder", d.path)
	}
	return st, nil
}

// ParseState reads a pista-pull.json.
func ParseState(b []byte, st *State) error {
	if len(b) > maxStateFile {
		return errors.New("too large")
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s.LastItem < 0 || len(s.Missing) > maxMissing {
		return errors.New("out of bounds")
	}
	for _, it := range s.Missing {
		// Sealed IDs carry no order: a missing item's ID may be larger or
		// smaller than the cursor.
		if err := checkItem(it); err != nil {
			return errors.New("a malformed missing item")
		}
	}
	*st = s
	return nil
}

func writeState(d *dir, st State) error {
	st.SealedIDs = true
	b, _ := json.MarshalIndent(st, "", "  ")
	_, err := d.writeFile(StateFile, bytes.NewReader(append(b, '\n')), nil)
	return err
}
