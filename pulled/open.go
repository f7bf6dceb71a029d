package pulled

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
}

// Options change what Open writes.
type Options struct {
	// Scrub writes files with their hidden metadata removed, for the
	// formats package scrub knows; the others are written as they are and
	// named in the report.
	Scrub bool
}

// Open decrypts the pulled folder in into out, with the journalist's
// identities: it unwraps the desk keys in keys/ and opens every item with
// them. Each conversation gets a folder in out named like its pulled one,
// with metadata-report.txt saying, for each file, whether its metadata
// was removed on arrival and what was found. An item that cannot be opened
// (a desk key this journalist never had) is reported and skipped.
func Open(ids []age.Identity, in, out string, opt Options) (OpenReport, error) {
	var rep OpenReport
	all := append([]age.Identity(nil), ids...)
	wrapped, _ := filepath.Glob(filepath.Join(in, "keys", "*.age"))
	for _, w := range wrapped {
		b, err := os.ReadFile(w)
		if err != nil {
			return rep, err
		}
		var desk *age.HybridIdentity
		for _, id := range ids {
			if desk, err = keys.Unwrap(b, id); err == nil {
				break
			}
		}
		if desk == nil {
			return rep, fmt.Errorf("%s: this identity cannot unwrap the desk key; is it the right identity file?", w)
		}
		all = append(all, desk)
	}
	entries, err := os.ReadDir(in)
	if err != nil {
		return rep, err
	}
	for _, e := range entries {
		if !e.IsDir() || !conversationDir(e.Name()) {
			continue
		}
		n, failed, err := openConversation(all, filepath.Join(in, e.Name()), filepath.Join(out, e.Name()), opt)
		if err != nil {
			return rep, err
		}
		rep.Conversations++
		rep.Items += n
		rep.Failed = append(rep.Failed, failed...)
	}
	return rep, nil
}

type itemFile struct {
	id   int64
	kind string
	name string
}

func openConversation(ids []age.Identity, in, out string, opt Options) (int, []string, error) {
	entries, err := os.ReadDir(in)
	if err != nil {
		return 0, nil, err
	}
	var items []itemFile
	metas := map[int64]string{}
	for _, e := range entries {
		id, kind, meta, ok := parseItemFile(e.Name())
		if !ok || e.IsDir() {
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
	order := pullOrder(in)
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
	if err := os.MkdirAll(out, 0o700); err != nil {
		return 0, nil, err
	}
	counts := map[string]int{}
	used := map[string]bool{}
	var failed []string
	var report []string
	n := 0
	for _, it := range items {
		src := filepath.Join(in, it.name)
		var name string
		size := int64(-1) // the exact size of a padded file
		switch pista.ItemKind(it.kind) {
		case pista.KindMessage, pista.KindReply:
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
		case pista.KindFile:
			counts[it.kind]++
			fallback := fmt.Sprintf("file-%d", counts[it.kind])
			meta, err := readMeta(ids, in, metas[it.id])
			if err != nil {
				failed = append(failed, filepath.Join(in, metas[it.id]))
			}
			name = unique(used, SafeName(meta.Name, fallback))
			if meta.Size != nil && *meta.Size >= 0 {
				size = *meta.Size
			}
			report = append(report, name+": "+describeScrub(meta.Scrub))
		}
		used[strings.ToLower(name)] = true
		dst := filepath.Join(out, name)
		if err := decryptTo(ids, src, dst, size); err != nil {
			if errors.Is(err, errCannotDecrypt) {
				failed = append(failed, src)
				continue
			}
			return n, failed, err
		}
		if opt.Scrub && it.kind == string(pista.KindFile) {
			report = append(report, name+": "+scrubFile(dst))
		}
		n++
	}
	if len(report) > 0 {
		body := "Hidden metadata of this conversation's files\n\n" + strings.Join(report, "\n") + "\n"
		if err := writeFile(filepath.Join(out, "metadata-report.txt"), strings.NewReader(body)); err != nil {
			return n, failed, err
		}
	}
	return n, failed, nil
}

// describeScrub says in words what happened to a file's metadata on
// arrival.
func describeScrub(r *pista.ScrubReport) string {
	switch {
	case r == nil:
		return "kept as sent (the source chose to keep its metadata, or their device encrypted it)"
	case r.Scrubbed && len(r.Found) == 0:
		return fmt.Sprintf("%s, checked on arrival: no metadata found", r.Format)
	case r.Scrubbed:
		return fmt.Sprintf("%s, metadata removed on arrival: %s", r.Format, strings.Join(r.Found, ", "))
	case r.TooComplex:
		return "not scrubbed: too complex to clean safely; stored as sent, hidden metadata may remain (" + r.Format + ")"
	default:
		return "not scrubbed: " + r.Note
	}
}

// scrubFile replaces a written file by a copy without its metadata, if
// package scrub knows its format, and says what it did.
func scrubFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "could not be scrubbed here: " + err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "could not be scrubbed here: " + err.Error()
	}
	tmp := path + ".scrub"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "could not be scrubbed here: " + err.Error()
	}
	rep, err := scrub.Scrub(f, fi.Size(), filepath.Base(path), "", out)
	cerr := out.Close()
	if err != nil || cerr != nil {
		os.Remove(tmp)
		if errors.Is(err, scrub.ErrUnsupported) {
			return "written as it is: pista open --scrub does not know its format"
		}
		if errors.Is(err, scrub.ErrTooComplex) {
			return "written as it is: not scrubbed: too complex to clean safely; hidden metadata may remain"
		}
		return "written as it is: the scrubber could not read it"
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "could not be scrubbed here: " + err.Error()
	}
	if len(rep.Found) == 0 {
		return fmt.Sprintf("scrubbed here (%s): no metadata found", rep.Format)
	}
	return fmt.Sprintf("scrubbed here (%s): removed %s", rep.Format, strings.Join(rep.Found, ", "))
}

var errCannotDecrypt = errors.New("cannot decrypt")

// readMeta decrypts a file's name and type.
func readMeta(ids []age.Identity, dir, name string) (pista.FileMeta, error) {
	var m pista.FileMeta
	if name == "" {
		return m, errors.New("no meta")
	}
	f, err := os.Open(filepath.Join(dir, name))
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

var reservedName = regexp.MustCompile(`^((message|reply|contact)-[0-9]+\.txt|email-[0-9]+\.eml|contact\.txt|metadata-report\.txt)$`)

// decryptTo decrypts an age file into dst, through a temporary file so a
// failure leaves no partial file. A file padded inside its encryption is
// cut to size (-1: not padded).
func decryptTo(ids []age.Identity, src, dst string, size int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := age.Decrypt(f, ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return errCannotDecrypt
		}
		return fmt.Errorf("%s: %w", src, err)
	}
	if size >= 0 {
		r = io.LimitReader(r, size)
	}
	return writeFile(dst, r)
}

// pullOrder reads the order items.jsonl lists a conversation's items in:
// each ID's line number. A missing or damaged file gives what it can.
func pullOrder(dir string) map[int64]int {
	order := map[int64]int{}
	f, err := os.Open(filepath.Join(dir, "items.jsonl"))
	if err != nil {
		return order
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<20))
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if _, ok := order[e.ID]; !ok {
			order[e.ID] = len(order)
		}
	}
	return order
}
