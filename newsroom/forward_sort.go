package newsroom

// Sorting (docs/forward-secrecy.md, "Items"): GET fs/unsorted lists what
// a sorter should rewrap, POST fs/sort takes the rewrapped headers.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/intake"
)

// FSUnsorted answers GET fs/unsorted.
type FSUnsorted struct {
	Items []FSItem `json:"items"`
	// Conversations are those of the page's items and previews.
	Conversations []FSConversation `json:"conversations"`
	// Previews are up to MaxFSPreviews previews still under an intake
	// key, on every page.
	Previews []FSPreview `json:"previews"`
	// Next is the last item's ID, to ask after; 0 when the page is
	// empty: nothing is left.
	Next int64 `json:"next"`
}

// FSItem is an item to sort, with the age headers of its objects.
type FSItem struct {
	ID           int64          `json:"id"`
	Conversation string         `json:"conversation"`
	DeskID       int64          `json:"desk_id"`
	Kind         pista.ItemKind `json:"kind"`
	Author       int64          `json:"author"`
	Sealing      string         `json:"sealing"`
	IntakeKey    int64          `json:"intake_key"`
	Received     string         `json:"received"`
	Header       []byte         `json:"header"`
	MetaHeader   []byte         `json:"meta_header"`
}

// FSConversation is what a sorter needs of a conversation: its key
// (KeyRecipient "" and Key and KeySignature nil until a sorter made one)
// and its source's public key, which replies are also wrapped to. A
// sorter wraps to the key only if KeySignature is a signature of it by
// one of the desk's signing keys (forward.VerifyConversationKey).
type FSConversation struct {
	ID              string `json:"id"`
	DeskID          int64  `json:"desk_id"`
	KeyRecipient    string `json:"key_recipient"`
	Key             []byte `json:"key"`
	KeySignature    []byte `json:"key_signature"`
	SourceRecipient string `json:"source_recipient"`
}

// FSPreview is a conversation's preview (an age file) under an intake
// key, or, in a sort, rewrapped to the conversation's key.
type FSPreview struct {
	Conversation string `json:"conversation"`
	IntakeKey    int64  `json:"intake_key"`
	Preview      []byte `json:"preview"`
}

// FSSort is the body of POST fs/sort.
type FSSort struct {
	// Keys are new conversation keys, for conversations without one.
	Keys     []FSConversationKey `json:"keys"`
	Items    []FSSortItem        `json:"items"`
	Previews []FSPreview         `json:"previews"`
}

// FSConversationKey is a conversation key a sorter made
// (forward.MakeConversationKey): sealed to the desk key and the archive
// recipients, and signed by the desk's current signing key
// (forward.SignConversationKey).
type FSConversationKey struct {
	Conversation string `json:"conversation"`
	Recipient    string `json:"recipient"`
	Key          []byte `json:"key"`
	Signature    []byte `json:"signature"`
}

// FSSortItem is an item's new headers, to the conversation's key (and
// the archive's, and the source's for a reply or a reply's file).
type FSSortItem struct {
	ID         int64  `json:"id"`
	Header     []byte `json:"header"`
	MetaHeader []byte `json:"meta_header"`
}

// FSSorted answers POST fs/sort. Conflicts are the conversations that
// already had a key when the sort brought one, or whose new key is not
// signed for the desk they are in now (they moved since they were
// listed): their items were skipped, and the sorter should load them
// again.
type FSSorted struct {
	Sorted    int      `json:"sorted"`
	Skipped   int      `json:"skipped"`
	Previews  int      `json:"previews"`
	Conflicts []string `json:"conflicts"`
}

// ListUnsorted answers GET fs/unsorted?after=ITEM&limit=N for the
// journalist j.
func (f *Forward) ListUnsorted(w http.ResponseWriter, r *http.Request, j pista.Journalist) {
	ctx := r.Context()
	v := r.URL.Query()
	after := int64(0)
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			f.fail(w, r, badFS("after must be an item ID (a whole number ≥ 0)"))
			return
		}
		after = n
	}
	limit := DefaultFSUnsorted
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxFSUnsorted {
			f.fail(w, r, badFS("limit must be between 1 and %d", MaxFSUnsorted))
			return
		}
		limit = n
	}
	items, err := f.Tips.Unsorted(ctx, j.ID, after, limit)
	if err != nil {
		f.fail(w, r, failedFS("listing unsorted items", err))
		return
	}
	previews, err := f.Tips.UnsortedPreviews(ctx, j.ID, "", MaxFSPreviews)
	if err != nil {
		f.fail(w, r, failedFS("listing unsorted previews", err))
		return
	}
	out := FSUnsorted{Items: []FSItem{}, Conversations: []FSConversation{}, Previews: []FSPreview{}}
	// The conversations of the page's items and previews, in one query.
	var ids []string
	asked := map[string]bool{}
	for _, id := range slices.Concat(itemConversations(items), convIDsOf(previews)) {
		if !asked[id] {
			asked[id] = true
			ids = append(ids, id)
		}
	}
	convs := map[string]pista.SortConversation{}
	for chunk := range slices.Chunk(ids, pista.MaxSortBatch) {
		cs, err := f.Tips.SortConversations(ctx, j.ID, chunk)
		if err != nil {
			f.fail(w, r, failedFS("loading conversations", err))
			return
		}
		for _, c := range cs {
			convs[c.ID] = c
		}
	}
	listed := map[string]bool{}
	conversation := func(c pista.SortConversation) {
		if !listed[c.ID] {
			listed[c.ID] = true
			out.Conversations = append(out.Conversations, FSConversation{ID: c.ID, DeskID: c.DeskID, KeyRecipient: c.KeyRecipient,
				Key: c.Key, KeySignature: c.KeySignature, SourceRecipient: c.SourceRecipient})
		}
	}
	for _, it := range items {
		out.Next = it.ID
		c, ok := convs[it.ConversationID]
		if !ok {
			continue // deleted meanwhile
		}
		conversation(c)
		fi := FSItem{ID: it.ID, Conversation: it.ConversationID, DeskID: c.DeskID, Kind: it.Kind, Author: it.AuthorID,
			Sealing: sealingOf(it), IntakeKey: it.IntakeKey, Received: receivedOf(it)}
		var ok2 bool
		if fi.Header, ok2 = f.header(ctx, it, it.Object); !ok2 {
			continue
		}
		if it.Meta != "" {
			if fi.MetaHeader, ok2 = f.header(ctx, it, it.Meta); !ok2 {
				continue
			}
		}
		out.Items = append(out.Items, fi)
	}
	for _, p := range previews {
		c, ok := convs[p.ID]
		if !ok {
			continue // deleted meanwhile
		}
		conversation(c)
		out.Previews = append(out.Previews, FSPreview{Conversation: p.ID, IntakeKey: p.PreviewIntake, Preview: p.Preview})
	}
	writeJSON(w, http.StatusOK, out)
}

// itemConversations and convIDsOf are the conversation IDs of items and
// of conversations.
func itemConversations(items []pista.Item) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ConversationID
	}
	return ids
}

func convIDsOf(cs []pista.Conversation) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// header reads the age header of one of an item's objects; false, after
// logging it (the item's ID only), if the object is missing or its header
// unreadable: a sorter could do nothing with it.
func (f *Forward) header(ctx context.Context, it pista.Item, key string) ([]byte, bool) {
	obj, err := f.Blobs.Open(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			f.Log.Error("forward secrecy: an unsorted item's object cannot be opened", "item", it.ID, "err", err)
		}
		return nil, false
	}
	defer obj.Close()
	h, err := forward.Header(obj)
	if err != nil {
		f.Log.Error("forward secrecy: an unsorted item's object has no readable age header", "item", it.ID, "err", err)
		return nil, false
	}
	return h, true
}

// sealingOf and receivedOf are an item's Sealing and Received, with the
// defaults a store writes for "".
func sealingOf(it pista.Item) string {
	if it.Sealing == "" {
		return pista.SealingDesk
	}
	return it.Sealing
}

func receivedOf(it pista.Item) string {
	if it.Received == "" {
		return pista.ReceivedForward
	}
	return it.Received
}

// stanzasOf is how many stanzas an item's new headers must have: the
// conversation's key and the archive's, and the source's for a reply or
// a reply's file (a file with an author).
func (f *Forward) stanzasOf(it pista.Item) int {
	if it.Kind == pista.KindReply || (it.Kind == pista.KindFile && it.AuthorID != 0) {
		return 2 + len(f.Archive)
	}
	return 1 + len(f.Archive)
}

// checkHeader checks a new header: a whole age header, as age writes it,
// of exactly stanzas hybrid stanzas.
func checkHeader(h []byte, stanzas int) error {
	if len(h) > forward.MaxHeaderSize {
		return errors.New("over " + strconv.Itoa(forward.MaxHeaderSize) + " bytes")
	}
	got, err := forward.Header(bytes.NewReader(h))
	if err != nil {
		return err
	}
	if len(got) != len(h) {
		return errors.New("bytes follow the header")
	}
	if _, _, err := intake.CheckHeader(bytes.NewReader(h), stanzas); err != nil {
		return err
	}
	return nil
}

// sortable is an item of a sort, as the store has it, with its new
// headers.
type sortable struct {
	item         pista.Item
	header, meta []byte
}

// Sort answers POST fs/sort for the journalist j. It checks everything
// first and refuses the whole request if anything is malformed; then it
// gives conversations their new keys (one another sorter gave first, or
// one not signed for the conversation's desk as it is now, is a conflict,
// whose items are skipped), writes each item's rewrapped
// objects (the new header, then the stored payload: forward.Splice),
// swaps them in (pista.Forwarder.Sort), deletes the objects that lost,
// rewraps the previews, and destroys the intake keys that may go.
func (f *Forward) Sort(w http.ResponseWriter, r *http.Request, j pista.Journalist) {
	ctx := r.Context()
	var req FSSort
	if e := decodeFS(w, r, MaxFSSortBody, &req, `{"keys": [{"conversation", "recipient", "key", "signature"}], "items": [{"id", "header", "meta_header"}], "previews": [{"conversation", "intake_key", "preview"}]}`); e != nil {
		f.fail(w, r, e)
		return
	}
	switch {
	case len(req.Items) > pista.MaxSortBatch:
		f.fail(w, r, badFS("at most %d items at once", pista.MaxSortBatch))
		return
	case len(req.Keys) > pista.MaxSortBatch:
		f.fail(w, r, badFS("at most %d keys at once", pista.MaxSortBatch))
		return
	case len(req.Previews) > MaxFSSortPreviews:
		f.fail(w, r, badFS("at most %d previews at once", MaxFSSortPreviews))
		return
	}
	// Check the form of everything, before anything changes.
	keyed := map[string]bool{}
	for i, k := range req.Keys {
		if k.Conversation == "" || len(k.Conversation) > maxConversationID {
			f.fail(w, r, badFS("key %d: no conversation", i+1))
			return
		}
		if keyed[k.Conversation] {
			f.fail(w, r, badFS("key %d: conversation %s comes twice", i+1, k.Conversation))
			return
		}
		keyed[k.Conversation] = true
		if e := checkRecipient(k.Recipient); e != nil {
			e.msg = "key " + strconv.Itoa(i+1) + ": " + e.msg
			f.fail(w, r, e)
			return
		}
		if e := checkSealed(k.Key, 1+len(f.Archive)); e != nil {
			e.msg = "key " + strconv.Itoa(i+1) + " (sealed to the desk key and the archive's): " + e.msg
			f.fail(w, r, e)
			return
		}
		if len(k.Signature) != pista.KeySignatureSize {
			f.fail(w, r, badFS("key %d: the signature is %d bytes, not an Ed25519 signature's %d", i+1, len(k.Signature), pista.KeySignatureSize))
			return
		}
	}
	keyDesk, e := f.checkKeySignatures(ctx, j, req.Keys)
	if e != nil {
		f.fail(w, r, e)
		return
	}
	previewed := map[string]bool{}
	for i, p := range req.Previews {
		if p.Conversation == "" || len(p.Conversation) > maxConversationID || p.IntakeKey <= 0 {
			f.fail(w, r, badFS("preview %d: no conversation or intake key", i+1))
			return
		}
		if previewed[p.Conversation] {
			f.fail(w, r, badFS("preview %d: conversation %s comes twice", i+1, p.Conversation))
			return
		}
		previewed[p.Conversation] = true
		if err := intake.CheckPreview(p.Preview, 1+len(f.Archive)); err != nil {
			f.fail(w, r, refuseFS(http.StatusBadRequest, "malformed_preview", "preview %d (to the conversation's key and the archive's): %s", i+1, clipFS(err.Error())))
			return
		}
	}
	skipped := 0
	var todo []sortable
	seen := map[int64]bool{}
	ids := make([]int64, len(req.Items))
	for i, s := range req.Items {
		if seen[s.ID] {
			f.fail(w, r, badFS("item %d: item %d comes twice", i+1, s.ID))
			return
		}
		seen[s.ID] = true
		ids[i] = s.ID
	}
	found, err := f.Tips.SortItems(ctx, j.ID, ids)
	if err != nil {
		f.fail(w, r, failedFS("loading items", err))
		return
	}
	byID := make(map[int64]pista.Item, len(found))
	for _, it := range found {
		byID[it.ID] = it
	}
	for _, s := range req.Items {
		it, ok := byID[s.ID]
		if !ok {
			skipped++ // deleted meanwhile, or none of the journalist's
			continue
		}
		n := f.stanzasOf(it)
		if err := checkHeader(s.Header, n); err != nil {
			f.fail(w, r, refuseFS(http.StatusBadRequest, "malformed_header", "item %d: the header %s", s.ID, clipFS(err.Error())))
			return
		}
		if (it.Meta != "") != (s.MetaHeader != nil) {
			f.fail(w, r, refuseFS(http.StatusBadRequest, "malformed_header", "item %d: meta_header goes with items that have a name-and-type object, and only those", s.ID))
			return
		}
		if s.MetaHeader != nil {
			if err := checkHeader(s.MetaHeader, n); err != nil {
				f.fail(w, r, refuseFS(http.StatusBadRequest, "malformed_header", "item %d: the meta header %s", s.ID, clipFS(err.Error())))
				return
			}
		}
		if sealingOf(it) == pista.SealingConversation || receivedOf(it) == pista.ReceivedLegacy {
			skipped++ // sorted meanwhile, or never to be
			continue
		}
		todo = append(todo, sortable{item: it, header: s.Header, meta: s.MetaHeader})
	}

	// From here on, what is done stays done even if the client goes.
	ctx = context.WithoutCancel(ctx)
	out := FSSorted{Conflicts: []string{}}
	lost := map[string]bool{}   // conversations whose items are skipped
	hasKey := map[string]bool{} // conversations that have a key
	var ks []pista.ConversationKey
	for _, k := range req.Keys {
		switch deskID := keyDesk[k.Conversation]; {
		case deskID > 0:
			ks = append(ks, pista.ConversationKey{Conversation: k.Conversation, DeskID: deskID, Recipient: k.Recipient, Sealed: k.Key, Signature: k.Signature})
		case deskID < 0:
			// Not signed for the conversation's desk as it is now (it
			// moved, or the desk's key changed): the sorter loads it
			// again, and signs for that.
			out.Conflicts = append(out.Conflicts, k.Conversation)
			lost[k.Conversation] = true
		default:
			lost[k.Conversation] = true // none of the journalist's
		}
	}
	if len(ks) > 0 {
		errs, err := f.Tips.SetConversationKeys(ctx, j.ID, ks)
		if err != nil {
			f.fail(w, r, failedFS("setting conversation keys", err))
			return
		}
		for i, k := range ks {
			switch err := errs[i]; {
			case err == nil:
				hasKey[k.Conversation] = true
			case errors.Is(err, pista.ErrExists), errors.Is(err, pista.ErrMoved):
				out.Conflicts = append(out.Conflicts, k.Conversation)
				lost[k.Conversation] = true
			default:
				lost[k.Conversation] = true
			}
		}
	}
	// An item of a conversation without a key cannot be swapped: skip it
	// before copying its payload (a whole file) into an object that
	// would only be deleted, however often a sorter sends it.
	var ask []string
	asked := map[string]bool{}
	for _, s := range todo {
		if id := s.item.ConversationID; !lost[id] && !hasKey[id] && !asked[id] {
			asked[id] = true
			ask = append(ask, id)
		}
	}
	for _, p := range req.Previews {
		if id := p.Conversation; !lost[id] && !hasKey[id] && !asked[id] && len(ask) < pista.MaxSortBatch {
			asked[id] = true
			ask = append(ask, id) // for the audit
		}
	}
	loaded := map[string]pista.SortConversation{} // for the audit
	if len(ask) > 0 {
		cs, err := f.Tips.SortConversations(ctx, j.ID, ask)
		if err != nil {
			f.fail(w, r, failedFS("loading conversations", err))
			return
		}
		for _, c := range cs {
			loaded[c.ID] = c
		}
	}
	for _, id := range ask {
		if c, ok := loaded[id]; ok && c.KeyRecipient != "" {
			hasKey[id] = true
		} else {
			lost[id] = true
		}
	}
	var batch []pista.Sorted
	var written []string // every new object, until the swap says which stay
	undo := func() {
		for _, k := range written {
			if err := f.Blobs.Delete(ctx, k); err != nil {
				f.Log.Error("forward secrecy: deleting an object a sort wrote", "err", err)
			}
		}
	}
	// The new objects are written a few at a time: each waits on its
	// disk's flushes (or on S3), not on the processor.
	var work []int
	for i, s := range todo {
		if lost[s.item.ConversationID] {
			skipped++
			continue
		}
		work = append(work, i)
	}
	results := make([]rewritten, len(todo))
	sem := make(chan struct{}, rewriteConcurrency)
	var wg sync.WaitGroup
	for _, i := range work {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = f.rewriteItem(ctx, todo[i].item, todo[i].header, todo[i].meta)
		}()
	}
	wg.Wait()
	var failed error
	for _, i := range work {
		res := results[i]
		if res.st.NewObject != "" {
			written = append(written, res.st.NewObject)
		}
		if res.st.NewMeta != "" {
			written = append(written, res.st.NewMeta)
		}
		switch {
		case errors.Is(res.err, errStoredObject):
			f.Log.Error("forward secrecy: an item's stored object cannot be rewrapped", "item", todo[i].item.ID, "err", res.err)
			for _, k := range []string{res.st.NewObject, res.st.NewMeta} {
				if k == "" {
					continue
				}
				written = slices.DeleteFunc(written, func(w string) bool { return w == k })
				if err := f.Blobs.Delete(ctx, k); err != nil {
					f.Log.Error("forward secrecy: deleting an object a sort wrote", "err", err)
				}
			}
			skipped++
		case res.err != nil:
			failed = res.err
		default:
			batch = append(batch, res.st)
		}
	}
	if failed != nil {
		undo()
		f.fail(w, r, failedFS("writing a rewrapped object", failed))
		return
	}
	var done []pista.Sorted
	if len(batch) > 0 {
		var err error
		done, err = f.Tips.Sort(ctx, j.ID, batch)
		if err != nil {
			undo()
			f.fail(w, r, failedFS("sorting items", err))
			return
		}
	}
	swapped := map[int64]bool{}
	var gone []string
	for _, d := range done {
		swapped[d.Item] = true
		gone = append(gone, d.OldObject)
		if d.OldMeta != "" {
			gone = append(gone, d.OldMeta)
		}
	}
	for _, b := range batch {
		if !swapped[b.Item] {
			gone = append(gone, b.NewObject)
			if b.NewMeta != "" {
				gone = append(gone, b.NewMeta)
			}
		}
	}
	for _, k := range gone {
		if err := f.Blobs.Delete(ctx, k); err != nil {
			// The orphan sweep deletes it later.
			f.Log.Error("forward secrecy: deleting an object a sort replaced", "err", err)
		}
	}
	out.Sorted = len(done)
	out.Skipped = skipped + len(batch) - len(done)
	var previewsDone []string
	var sorts []pista.PreviewSort
	for _, p := range req.Previews {
		if !lost[p.Conversation] {
			sorts = append(sorts, pista.PreviewSort{Conversation: p.Conversation, From: p.IntakeKey, Preview: p.Preview})
		}
	}
	if len(sorts) > 0 {
		errs, err := f.Tips.SortPreviews(ctx, j.ID, sorts)
		if err != nil {
			f.fail(w, r, failedFS("sorting previews", err))
			return
		}
		for i, p := range sorts {
			if errs[i] == nil {
				out.Previews++
				previewsDone = append(previewsDone, p.Conversation)
			}
		}
	}
	f.auditSort(ctx, j, req.Keys, hasKey, done, todo, previewsDone, loaded)
	if _, err := f.Tips.DestroyIntakeKeys(ctx, f.today()-forward.Grace); err != nil {
		f.Log.Error("forward secrecy: destroying intake keys", "err", err)
	}
	if out.Sorted > 0 || out.Previews > 0 || len(req.Keys) > 0 {
		f.Log.Info("journalist sorted items", "journalist", j.Name, "sorted", out.Sorted, "skipped", out.Skipped,
			"previews", out.Previews, "keys", len(req.Keys)-len(lost), "conflicts", len(out.Conflicts))
	}
	writeJSON(w, http.StatusOK, out)
}

// checkKeySignatures checks each new conversation key's signature by the
// signing key recorded for its conversation's desk's current key
// generation, over that generation's recipient, the conversation and the
// key (forward.ConversationStatement): sorters refuse a key without such
// a signature. It answers, by conversation, the desk the key was checked
// for; -1 for a key whose signature is not that desk's (the conversation
// moved since the sorter listed it, the desk's key changed, or a client
// signed wrong) or whose desk has no signing key yet: those are answered
// as conflicts, which the sorter loads again. A conversation that is not
// the journalist's is left out.
func (f *Forward) checkKeySignatures(ctx context.Context, j pista.Journalist, keys []FSConversationKey) (map[string]int64, *fsError) {
	deskOf := map[string]int64{}
	if len(keys) == 0 {
		return deskOf, nil
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.Conversation
	}
	cs, err := f.Tips.SortConversations(ctx, j.ID, ids)
	if err != nil {
		return nil, failedFS("loading conversations", err)
	}
	for _, c := range cs {
		deskOf[c.ID] = c.DeskID
	}
	desks, err := f.Desks.DesksOf(ctx, j.ID)
	if err != nil {
		return nil, failedFS("listing the journalist's desks", err)
	}
	byID := map[int64]pista.Desk{}
	for _, d := range desks {
		byID[d.ID] = d
	}
	signKeys := map[int64][]byte{}
	for _, k := range keys {
		deskID, ok := deskOf[k.Conversation]
		if !ok {
			continue
		}
		d := byID[deskID]
		sk, ok := signKeys[d.KeyID]
		if !ok {
			if sk, err = f.Tips.SignKey(ctx, d.KeyID); err != nil {
				return nil, failedFS("loading a signing key", err)
			}
			signKeys[d.KeyID] = sk
		}
		if sk == nil || forward.VerifyConversationKey(sk, d.Recipient, k.Conversation, k.Recipient, k.Signature) != nil {
			deskOf[k.Conversation] = -1
		}
	}
	return deskOf, nil
}

// rewriteConcurrency is how many new objects one sort request writes at
// once.
const rewriteConcurrency = 8

// rewritten is one item's new objects, or why there are none.
type rewritten struct {
	st  pista.Sorted
	err error
}

// rewriteItem writes the new objects of one item: its object, and its
// meta if it has one.
func (f *Forward) rewriteItem(ctx context.Context, it pista.Item, header, meta []byte) rewritten {
	st := pista.Sorted{Item: it.ID, OldObject: it.Object, OldMeta: it.Meta}
	var err error
	st.NewObject, st.NewSize, err = f.rewrite(ctx, it.Object, header)
	if err == nil && meta != nil {
		st.NewMeta, st.NewMetaSize, err = f.rewrite(ctx, it.Meta, meta)
	}
	return rewritten{st: st, err: err}
}

// errStoredObject: the stored object cannot be opened or has no readable
// age header; its item cannot be sorted.
var errStoredObject = errors.New("the stored object cannot be read")

// rewrite writes header followed by the payload of the stored object key
// as a new object (forward.Splice), and answers its key and size.
func (f *Forward) rewrite(ctx context.Context, key string, header []byte) (string, int64, error) {
	old, err := f.Blobs.Open(ctx, key)
	if err != nil {
		return "", 0, errors.Join(errStoredObject, err)
	}
	defer old.Close()
	pr, pw := io.Pipe()
	spliced := make(chan error, 1)
	go func() {
		_, err := forward.Splice(pw, header, old)
		pw.CloseWithError(err)
		spliced <- err
	}()
	newKey, size, err := f.Blobs.Put(ctx, pr)
	pr.CloseWithError(errPutStopped)
	serr := <-spliced
	switch {
	case err == nil:
		return newKey, size, nil
	case serr != nil && !errors.Is(serr, errPutStopped):
		// The stored object failed first: its header, or its reading.
		return "", 0, errors.Join(errStoredObject, serr)
	default:
		return "", 0, err
	}
}

// errPutStopped ends a splice whose object store stopped reading.
var errPutStopped = errors.New("the object store stopped reading")

// auditSort records, for each conversation the sort gave a key, whose
// items it moved or whose preview it replaced, that the journalist did
// it and how many items moved: the server cannot tell a sorter that
// wrapped the wrong key (the items then open no more, as if deleted) from
// one that did not, so the audit log says who sorted what.
func (f *Forward) auditSort(ctx context.Context, j pista.Journalist, keys []FSConversationKey, hasKey map[string]bool,
	done []pista.Sorted, todo []sortable, previews []string, loaded map[string]pista.SortConversation) {
	if f.Team == nil {
		return
	}
	count := map[string]int{}
	var order []string
	add := func(id string, n int) {
		if _, ok := count[id]; !ok {
			order = append(order, id)
		}
		count[id] += n
	}
	for _, k := range keys {
		if hasKey[k.Conversation] {
			add(k.Conversation, 0)
		}
	}
	convOf := map[int64]string{}
	for _, s := range todo {
		convOf[s.item.ID] = s.item.ConversationID
	}
	for _, d := range done {
		add(convOf[d.Item], 1)
	}
	for _, id := range previews {
		add(id, 0)
	}
	var missing []string
	for _, id := range order {
		if _, ok := loaded[id]; !ok {
			missing = append(missing, id)
		}
	}
	for len(missing) > 0 {
		n := min(len(missing), pista.MaxSortBatch)
		cs, err := f.Tips.SortConversations(ctx, j.ID, missing[:n])
		if err != nil {
			f.Log.Error("forward secrecy: loading conversations for the audit", "err", err)
		}
		for _, c := range cs {
			loaded[c.ID] = c
		}
		missing = missing[n:]
	}
	entries := make([]pista.AuditEntry, 0, len(order))
	now := pista.Now()
	for _, id := range order {
		c := loaded[id] // or none: deleted meanwhile
		entries = append(entries, pista.AuditEntry{Created: now, ActorID: j.ID, ActorName: j.Name, Action: pista.AuditSort,
			DeskID: c.DeskID, DeskSlug: c.DeskSlug, ConversationID: id, Subject: strconv.Itoa(count[id])})
	}
	if len(entries) == 0 {
		return
	}
	if err := f.Team.AddAudit(ctx, entries...); err != nil {
		f.Log.Error("writing the audit log", "err", err, "action", pista.AuditSort, "journalist", j.Name, "entries", len(entries))
	}
}
