package pulled

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/scrub"
)

// maxMetaBytes bounds a file's decrypted name-and-type object.
const maxMetaBytes = 64 << 10

// OpenReport says what Open wrote and what it could not open.
type OpenReport struct {
	Conversations, Items int
	Failed               []string // item files that could not be decrypted
	// Skipped are entries of the pulled folder that have the name of a
	// file or folder of pista's but are not one (a link, a pipe…): a
	// pulled folder is not trusted, and Open reads no link.
	Skipped []string
	// NoForward and Legacy are the items (their output files) received
	// without forward secrecy, and from before it; each conversation's
	// forward-secrecy.txt names them.
	NoForward, Legacy []string
}

// Options change what Open writes.
type Options struct {
	// Scrub writes files with their hidden metadata removed, for the
	// formats package scrub knows; the others are written as they are and
	// named in the report.
	Scrub bool
}

// ownFile is the file of each output conversation folder that records
// the digest of every file Open wrote there, so that opening the folder
// again replaces those files and nothing else. A source's file cannot take
// its name: SafeName drops leading dots.
const ownFile = ".pista-open.json"

// Bounds on what Open reads of a pulled folder, which it does not trust.
const (
	maxOwnFile   = 8 << 20  // a digest per file of a conversation
	maxItemsList = 64 << 20 // items.jsonl: what of it is read for the order
)

// Open decrypts the pulled folder in into out, with the journalist's
// identities: it unwraps the desk keys in keys/ and opens every item with
// them. Each conversation gets a folder in out named like its pulled one,
// with metadata-report.txt saying, for each file, whether its metadata
// was removed on arrival and what was found. An item that cannot be opened
// (a desk key this journalist never had) is reported and skipped.
//
// Open follows no link, in either folder (see dir.go): a link in the
// pulled folder is skipped and reported, and a link or a file it did not
// write in the output folder, where it would write, stops it with an
// *ExistsError or a *LinkError, before anything is written through it.
func Open(ids []age.Identity, in, out string, opt Options) (OpenReport, error) {
	var rep OpenReport
	src, err := openDir(in, false)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	all, err := unwrapKeys(ids, src, &rep)
	if err != nil {
		return rep, err
	}
	intake, err := openIntakeKeys(all[len(ids):], src, &rep)
	if err != nil {
		return rep, err
	}
	entries, err := src.entries()
	if err != nil {
		return rep, err
	}
	dst, err := openDir(out, true)
	if err != nil {
		return rep, err
	}
	defer dst.Close()
	for _, e := range entries {
		if !conversationDir(e.Name()) {
			continue
		}
		if !e.IsDir() {
			rep.Skipped = append(rep.Skipped, src.join(e.Name()))
			continue
		}
		n, failed, err := openConversation(all, intake, src, dst, e.Name(), opt, &rep)
		if err != nil {
			return rep, err
		}
		rep.Conversations++
		rep.Items += n
		rep.Failed = append(rep.Failed, failed...)
	}
	return rep, nil
}

// unwrapKeys adds to ids the desk keys of keys/ that ids unwrap.
func unwrapKeys(ids []age.Identity, src *dir, rep *OpenReport) ([]age.Identity, error) {
	all := append([]age.Identity(nil), ids...)
	kd, entries, err := src.listSub("keys")
	if err != nil {
		return nil, err
	} else if kd == nil {
		return all, nil // none
	}
	defer kd.Close()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".age") {
			continue
		}
		if !e.Type().IsRegular() {
			rep.Skipped = append(rep.Skipped, kd.join(e.Name()))
			continue
		}
		b, err := kd.readFile(e.Name(), maxWrappedKey)
		if err != nil {
			return nil, err
		}
		var desk *age.HybridIdentity
		for _, id := range ids {
			if desk, err = keys.Unwrap(b, id); err == nil {
				break
			}
		}
		if desk == nil {
			return nil, fmt.Errorf("%s: this identity cannot unwrap the desk key; is it the right identity file?", kd.join(e.Name()))
		}
		all = append(all, desk)
	}
	return all, nil
}

type itemFile struct {
	id   int64
	kind string
	name string
}

func openConversation(all []age.Identity, intake map[int64]age.Identity, src, dst *dir, conv string, opt Options, rep *OpenReport) (int, []string, error) {
	in, err := src.sub(conv, false)
	if err != nil {
		return 0, nil, err
	}
	defer in.Close()
	entries, err := in.entries()
	if err != nil {
		return 0, nil, err
	}
	var items []itemFile
	metas := map[int64]string{}
	for _, e := range entries {
		id, kind, meta, ok := parseItemFile(e.Name())
		if !ok {
			continue
		}
		if !e.Type().IsRegular() {
			rep.Skipped = append(rep.Skipped, in.join(e.Name()))
			continue
		}
		if meta {
			metas[id] = e.Name()
			continue
		}
		items = append(items, itemFile{id: id, kind: kind, name: e.Name()})
	}
	// Item IDs carry no order: items.jsonl lists them as they were pulled,
	// oldest first (an item it does not list comes last, by ID).
	order, lines := pullOrder(in, rep)
	convKeys := openConversationKeys(all[:], in, entries, rep)
	rank := func(id int64) int {
		if r, ok := order[id]; ok {
			return r
		}
		return len(order)
	}
	sort.Slice(items, func(i, j int) bool {
		ri, rj := rank(items[i].id), rank(items[j].id)
		return ri < rj || ri == rj && items[i].id < items[j].id
	})
	out, err := dst.sub(conv, true)
	if err != nil {
		return 0, nil, err
	}
	defer out.Close()
	own, err := readOwn(out)
	if err != nil {
		return 0, nil, err
	}
	wrote := map[string]string{}
	defer func() {
		// What was written is recorded even if a later item fails.
		if len(wrote) > 0 {
			maps.Copy(own, wrote)
			writeOwn(out, own)
		}
	}()
	counts := map[string]int{}
	used := map[string]bool{}
	var failed []string
	var report, fsLines []string
	n := 0
	for _, it := range items {
		ids := itemIdentities(lines[it.id], all, convKeys, intake)
		var name string
		size := int64(-1) // the exact size of a padded file
		switch pista.ItemKind(it.kind) {
		case pista.KindMessage, pista.KindReply, pista.KindNote:
			// A note is the desk's internal note: note-1.txt, never sent
			// to the source.
			counts[it.kind]++
			name = fmt.Sprintf("%s-%d.txt", it.kind, counts[it.kind])
		case pista.KindEmail:
			counts[it.kind]++
			name = fmt.Sprintf("email-%d.eml", counts[it.kind])
		case pista.KindContact:
			counts[it.kind]++
			name = "contact.txt"
			if counts[it.kind] > 1 {
				name = fmt.Sprintf("contact-%d.txt", counts[it.kind])
			}
		case pista.KindAnswers:
			counts[it.kind]++
			name = "answers.txt"
			if counts[it.kind] > 1 {
				name = fmt.Sprintf("answers-%d.txt", counts[it.kind])
			}
			used[strings.ToLower(name)] = true
			body, err := readAnswers(ids, in, it.name)
			if errors.Is(err, errCannotDecrypt) {
				failed = append(failed, in.join(it.name))
				continue
			} else if err != nil {
				return n, failed, err
			}
			sum, err := out.writeFile(name, strings.NewReader(body), own)
			if err != nil {
				return n, failed, err
			}
			wrote[name] = sum
			n++
			fsLines = noteForward(rep, fsLines, lines[it.id], out.join(name), name)
			continue
		case pista.KindFile:
			counts[it.kind]++
			fallback := fmt.Sprintf("file-%d", counts[it.kind])
			meta, err := readMeta(ids, in, metas[it.id])
			if err != nil {
				failed = append(failed, in.join(metas[it.id]))
			}
			name = unique(used, SafeName(meta.Name, fallback))
			if meta.Size != nil && *meta.Size >= 0 {
				size = *meta.Size
			}
			report = append(report, name+": "+describeScrub(meta.Scrub))
		}
		used[strings.ToLower(name)] = true
		scrubIt := opt.Scrub && it.kind == string(pista.KindFile)
		sum, note, err := decryptTo(ids, in, it.name, out, name, size, scrubIt, own)
		if errors.Is(err, errCannotDecrypt) {
			failed = append(failed, in.join(it.name))
			continue
		} else if err != nil {
			return n, failed, err
		}
		wrote[name] = sum
		if scrubIt {
			report = append(report, name+": "+note)
		}
		n++
		fsLines = noteForward(rep, fsLines, lines[it.id], out.join(name), name)
	}
	if len(fsLines) > 0 {
		sum, err := out.writeFile("forward-secrecy.txt", strings.NewReader(forwardReport(fsLines)), own)
		if err != nil {
			return n, failed, err
		}
		wrote["forward-secrecy.txt"] = sum
	}
	if len(report) > 0 {
		body := "Hidden metadata of this conversation's files\n\n" + strings.Join(report, "\n") + "\n"
		sum, err := out.writeFile("metadata-report.txt", strings.NewReader(body), own)
		if err != nil {
			return n, failed, err
		}
		wrote["metadata-report.txt"] = sum
	}
	return n, failed, nil
}

// readOwn reads the digests of the files Open wrote in d before.
func readOwn(d *dir) (map[string]string, error) {
	own := map[string]string{}
	b, err := d.readFile(ownFile, maxOwnFile)
	if errors.Is(err, fs.ErrNotExist) {
		return own, nil
	} else if err != nil {
		return nil, err
	}
	if json.Unmarshal(b, &own) != nil {
		// Damaged: Open replaces nothing, and says so for each name.
		return map[string]string{}, nil
	}
	return own, nil
}

func writeOwn(d *dir, own map[string]string) error {
	b, _ := json.MarshalIndent(own, "", " ")
	_, err := d.writeFile(ownFile, bytes.NewReader(b), nil)
	return err
}

// describeScrub says in words what happened to a file's metadata before
// it was encrypted: who scrubbed it, what they found, and what the source
// chose. It says the source chose to keep the metadata only when the
// report says so; a file with no report was not scrubbed by pista.
func describeScrub(r *pista.ScrubReport) string {
	if r == nil {
		return "not scrubbed by pista: encrypted on the source's device with no scrub report (an app, or an older pista); hidden metadata may remain"
	}
	where := map[string]string{
		"":                   "on arrival",
		pista.ScrubByServer:  "on arrival",
		pista.ScrubByBrowser: "in the source's browser",
		pista.ScrubBySubmit:  "by pista submit on the source's computer",
		pista.ScrubByEmail:   "by the e-mail intake on arrival",
	}[r.By]
	if where == "" {
		where = "by " + r.By
	}
	var s string
	switch {
	case r.Choice == pista.ScrubChoiceKeep:
		return "kept as sent: the source chose to keep its metadata; hidden metadata may remain"
	case r.Scrubbed && len(r.Found) == 0:
		s = fmt.Sprintf("%s, checked %s: no metadata found", r.Format, where)
	case r.Scrubbed:
		s = fmt.Sprintf("%s, metadata removed %s: %s", r.Format, where, strings.Join(r.Found, ", "))
	case r.TooComplex:
		s = "not scrubbed: too complex to clean safely " + where + "; stored as sent, hidden metadata may remain (" + r.Format + ")"
	default:
		note := r.Note
		if note == "" {
			note = "stored as sent"
		}
		s = "not scrubbed " + where + ": " + note
	}
	if r.Choice == pista.ScrubChoiceNotAsked {
		s += " (the source was not asked)"
	}
	return s
}

// scrubInto writes a copy of the plaintext in t without its metadata
// into out, if package scrub knows its format, and says what it did. It
// returns the temporary file to commit: the copy, or t itself.
func scrubInto(t *tempFile, out *dir, name string) (*tempFile, string) {
	s, err := out.create(name)
	if err != nil {
		return t, "could not be scrubbed here: " + err.Error()
	}
	// The journalist's own computer: its budget, not a server's.
	rep, err := scrub.ScrubWithin(context.Background(), scrub.DeviceBudget, t.f, t.n, name, "", s)
	if err != nil {
		s.abort()
		if errors.Is(err, scrub.ErrUnsupported) {
			return t, "written as it is: pista open --scrub does not know its format"
		}
		if errors.Is(err, scrub.ErrTooComplex) {
			return t, "written as it is: not scrubbed: too complex to clean safely; hidden metadata may remain"
		}
		return t, "written as it is: the scrubber could not read it"
	}
	t.abort()
	if len(rep.Found) == 0 {
		return s, fmt.Sprintf("scrubbed here (%s): no metadata found", rep.Format)
	}
	return s, fmt.Sprintf("scrubbed here (%s): removed %s", rep.Format, strings.Join(rep.Found, ", "))
}

var errCannotDecrypt = errors.New("cannot decrypt")

// readMeta decrypts a file's name and type.
func readMeta(ids []age.Identity, d *dir, name string) (pista.FileMeta, error) {
	var m pista.FileMeta
	if name == "" {
		return m, errors.New("no meta")
	}
	f, err := d.open(name, maxMetaObject)
	if err != nil {
		return m, err
	}
	defer f.Close()
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		return m, err
	}
	b, err := io.ReadAll(io.LimitReader(r, maxMetaBytes))
	if err != nil {
		return m, err
	}
	return ParseMeta(b)
}

// ParseMeta reads a decrypted name-and-type object.
func ParseMeta(b []byte) (pista.FileMeta, error) {
	var m pista.FileMeta
	if len(b) > maxMetaBytes {
		return m, errors.New("file metadata too large")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return pista.FileMeta{}, fmt.Errorf("file metadata: %w", err)
	}
	return m, nil
}

// unique returns name, or name with " (2)", " (3)"… before its extension
// if another file of the conversation took it.
// Names are compared in lower case: macOS and Windows file systems do.
func unique(used map[string]bool, name string) string {
	if !used[strings.ToLower(name)] && !reservedOutput(name) {
		return name
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 2; ; i++ {
		c := fmt.Sprintf("%s (%d)%s", stem, i, ext)
		if !used[strings.ToLower(c)] && !reservedOutput(c) {
			return c
		}
	}
}

// reservedOutput reports names Open itself writes, which a file must not
// take (compared in lower case).
func reservedOutput(name string) bool {
	return reservedName.MatchString(strings.ToLower(name))
}

var reservedName = regexp.MustCompile(`^((message|reply|contact)-[0-9]+\.txt|email-[0-9]+\.eml|contact\.txt|metadata-report\.txt|forward-secrecy\.txt)$`)

// decryptTo decrypts the age file name of in into the file dstName of
// out, through a temporary file so that a failure leaves no partial file,
// and returns the digest of what it wrote (and with scrubIt, what
// scrubbing did). A file padded inside its encryption is cut to size (-1:
// not padded).
func decryptTo(ids []age.Identity, in *dir, name string, out *dir, dstName string, size int64, scrubIt bool, own map[string]string) (sum, note string, err error) {
	f, err := in.open(name, -1)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return "", "", errCannotDecrypt
		}
		return "", "", fmt.Errorf("%s: %w", in.join(name), err)
	}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	t, err := out.create(dstName)
	if err != nil {
		return "", "", err
	}
	if _, err := io.Copy(t, r); err != nil {
		t.abort()
		return "", "", fmt.Errorf("%s: %w", in.join(name), err)
	}
	if scrubIt {
		t, note = scrubInto(t, out, dstName)
	}
	return t.sum(), note, t.commit(own)
}

// pullOrder reads the order items.jsonl lists a conversation's items in:
// each ID's first line number (a pull that was interrupted and resumed
// writes an item's line again; the first one stands). A missing or damaged
// file gives what it can; a link or a special file in its place is not
// read, and is reported.
func pullOrder(in *dir, rep *OpenReport) (map[int64]int, map[int64]Entry) {
	order := map[int64]int{}
	lines := map[int64]Entry{}
	f, err := in.open("items.jsonl", -1)
	if err != nil {
		if _, ok := errors.AsType[*LinkError](err); ok {
			rep.Skipped = append(rep.Skipped, in.join("items.jsonl"))
		}
		return order, lines
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxItemsList))
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if _, ok := order[e.ID]; !ok {
			order[e.ID] = len(order)
			if !validSealing(e.Sealing, e.IntakeKey) || !validReceived(e.Received) {
				e.Sealing, e.IntakeKey, e.Received = "", 0, ""
			}
			lines[e.ID] = e
		}
	}
	return order, lines
}

// noteForward adds an item's line to its conversation's
// forward-secrecy.txt if it arrived without forward secrecy.
func noteForward(rep *OpenReport, lines []string, e Entry, path, name string) []string {
	note := forwardNote(e)
	if note == "" {
		return lines
	}
	if e.Received == pista.ReceivedLegacy {
		rep.Legacy = append(rep.Legacy, path)
	} else {
		rep.NoForward = append(rep.NoForward, path)
	}
	return append(lines, name+": "+note)
}
