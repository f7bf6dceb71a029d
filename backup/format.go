package backup

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Format is the version of the backup format this package writes and
// reads. A backup of another format is refused.
const Format = 1

// Names of the entries of a backup's tar stream, in the order they come.
const (
	headerName   = "pista-backup.json" // first: the Header
	objectsDir   = "objects/"          // objects/ab/abcdef…: the encrypted objects, as in a data folder
	databaseName = "pista.db"          // the SQLite snapshot
	filesDir     = "files/"            // files/NAME: the data folder's other files (onion keys)
	manifestName = "manifest"          // last: the Manifest, checked against what came before it
)

// Limits on what a restore reads: a backup is encrypted to a public key,
// so anyone may make one; these bound what a forged one can cost before
// it is refused.
const (
	maxHeader       = 64 << 10  // the JSON header is a few hundred bytes
	maxManifestLine = 64 << 10  // a line names one entry (under 200 bytes); the chain line is the longest
	maxChain        = 1000      // backups in one chain: a full one and its incrementals
	maxEntries      = 100 << 20 // entries of one backup (objects): a line each in the manifest, ~70 bytes each in memory
	maxFile         = 1 << 20   // a file of files/ (an onion key is 96 bytes)
)

// Header opens a backup: what it is and what it builds on.
type Header struct {
	Format  int       `json:"format"`
	Pista   string    `json:"pista"`   // the version of pista that wrote it
	Created time.Time `json:"created"` // at pista.TimeGranularity
	ID      string    `json:"id"`      // random, 32 hex digits
	// Chain is the IDs of the backups this one needs, the full backup
	// first, then each incremental one, ending with this one's ID. A
	// full backup's chain is its own ID alone.
	Chain []string `json:"chain"`
}

// Incremental reports whether h needs earlier backups.
func (h *Header) Incremental() bool { return len(h.Chain) > 1 }

func (h *Header) check() error {
	if h.Format != Format {
		return fmt.Errorf("backup format %d; this pista reads format %d", h.Format, Format)
	}
	if !validID(h.ID) {
		return errors.New("the header's backup id is not 32 hex digits")
	}
	if len(h.Chain) == 0 || len(h.Chain) > maxChain || h.Chain[len(h.Chain)-1] != h.ID {
		return errors.New("the header's chain of backups is malformed")
	}
	for _, id := range h.Chain {
		if !validID(id) {
			return errors.New("the header's chain names a backup id that is not 32 hex digits")
		}
	}
	return nil
}

func parseHeader(b []byte) (*Header, error) {
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("the header does not parse: %w", err)
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	return &h, nil
}

// Entry is one entry of a backup's tar stream as the manifest lists it.
type Entry struct {
	Name   string
	Size   int64
	SHA256 [32]byte
}

// Counts are what a backup or a restore holds.
type Counts struct {
	Conversations int64 // rows in the snapshot
	Items         int64
	Objects       int64 // objects the rows name
	Bytes         int64 // their size (a restore's count; a backup counts only those it carries)
}

// Manifest ends a backup: every entry before it, in order, with its size
// and SHA-256, and the snapshot's counts. A restore computes both as it
// writes and refuses the backup unless they match.
//
// It is text, a record a line:
//
//	pista-backup-manifest 1
//	id ID
//	entry NAME SIZE SHA256
//	…
//	counts CONVERSATIONS ITEMS OBJECTS BYTES
//	end
type Manifest struct {
	ID      string
	Entries []Entry
	Counts  Counts
}

const manifestMagic = "pista-backup-manifest"

func writeManifestHead(w io.Writer, id string) error {
	_, err := fmt.Fprintf(w, "%s %d\nid %s\n", manifestMagic, Format, id)
	return err
}

func writeManifestEntry(w io.Writer, e Entry) error {
	_, err := fmt.Fprintf(w, "entry %s %d %s\n", e.Name, e.Size, hex.EncodeToString(e.SHA256[:]))
	return err
}

func writeManifestEnd(w io.Writer, c Counts) error {
	_, err := fmt.Fprintf(w, "counts %d %d %d %d\nend\n", c.Conversations, c.Items, c.Objects, c.Bytes)
	return err
}

// readManifest parses a manifest, handing each entry to entry in turn
// (so that a restore compares them as they come, without holding the
// text). It returns the ID and counts.
func readManifest(r io.Reader, entry func(Entry) error) (id string, c Counts, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxManifestLine)
	line := 0
	next := func() (string, []string, bool) {
		if !sc.Scan() {
			return "", nil, false
		}
		line++
		f := strings.Split(sc.Text(), " ")
		return f[0], f[1:], true
	}
	bad := func(what string) error { return fmt.Errorf("manifest line %d: %s", line, what) }

	kw, args, ok := next()
	if !ok || kw != manifestMagic || len(args) != 1 {
		return "", c, bad("not a pista backup manifest")
	}
	if args[0] != strconv.Itoa(Format) {
		return "", c, bad(fmt.Sprintf("manifest format %.10q; this pista reads %d", args[0], Format))
	}
	kw, args, ok = next()
	if !ok || kw != "id" || len(args) != 1 || !validID(args[0]) {
		return "", c, bad("want the backup's id")
	}
	id = args[0]
	entries := 0
	for {
		kw, args, ok = next()
		if !ok {
			if err := sc.Err(); err != nil {
				return "", c, fmt.Errorf("manifest: %w", err)
			}
			return "", c, bad("the manifest ends early")
		}
		if kw != "entry" {
			break
		}
		if len(args) != 3 {
			return "", c, bad("an entry has a name, a size and a SHA-256")
		}
		entries++
		if entries > maxEntries {
			return "", c, bad("too many entries")
		}
		size, ok := parseCount(args[1])
		if !ok {
			return "", c, bad("an entry's size is not a number")
		}
		e := Entry{Name: args[0], Size: size}
		if h, err := hex.DecodeString(args[2]); err != nil || len(h) != 32 || args[2] != hex.EncodeToString(h) {
			return "", c, bad("an entry's SHA-256 is not 64 lowercase hex digits")
		} else {
			copy(e.SHA256[:], h)
		}
		if err := entry(e); err != nil {
			return "", c, err
		}
	}
	if kw != "counts" || len(args) != 4 {
		return "", c, bad("want the counts")
	}
	for i, p := range []*int64{&c.Conversations, &c.Items, &c.Objects, &c.Bytes} {
		n, ok := parseCount(args[i])
		if !ok {
			return "", c, bad("a count is not a number")
		}
		*p = n
	}
	if kw, args, ok = next(); !ok || kw != "end" || len(args) != 0 {
		return "", c, bad("want the end")
	}
	if sc.Scan() {
		return "", c, bad("text after the end")
	}
	return id, c, sc.Err()
}

// parseCount parses a size or count as writeManifest writes it: a
// non-negative decimal without sign or leading zeros, so that a manifest
// has one spelling and reads back as it was written.
func parseCount(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0 && s == strconv.FormatInt(n, 10)
}

// validID reports whether s is a backup ID: 32 lowercase hex digits. So
// is an object's key (blob.Local's).
func validID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// objectName is the tar name of an object, as its path in a data folder.
func objectName(key string) string { return objectsDir + key[:2] + "/" + key }

// objectKey returns the key of an object's tar name, or false.
func objectKey(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, objectsDir)
	if !ok || len(rest) != 35 || rest[2] != '/' {
		return "", false
	}
	key := rest[3:]
	if !validID(key) || rest[:2] != key[:2] {
		return "", false
	}
	return key, true
}

// Catalog is what an incremental backup needs of the chain before it:
// the chain's backup IDs and the keys of every object the chain carries.
// It sits beside each backup in plaintext (FILE.catalog), so that the
// next backup needs no secret key: it holds random names only, no row,
// no size, nothing of a tip, and says no more than the data folder's
// objects/ listing (how many objects there were).
//
//	pista-backup-catalog 1
//	chain ID…
//	KEY
//	…
type Catalog struct {
	Chain []string
	Keys  map[string]bool
}

const catalogMagic = "pista-backup-catalog"

// CatalogFile is the catalog's name beside a backup file.
func CatalogFile(backupFile string) string { return backupFile + ".catalog" }

// write writes the catalog with the keys given (sorted).
func (c *Catalog) write(w io.Writer, sorted []string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s %d\nchain %s\n", catalogMagic, Format, strings.Join(c.Chain, " "))
	for _, k := range sorted {
		bw.WriteString(k)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// ReadCatalog parses a catalog.
func ReadCatalog(r io.Reader) (*Catalog, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxManifestLine)
	if !sc.Scan() || sc.Text() != catalogMagic+" "+strconv.Itoa(Format) {
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("not a pista backup catalog (of format " + strconv.Itoa(Format) + ")")
	}
	if !sc.Scan() {
		return nil, errors.New("the catalog ends early")
	}
	rest, ok := strings.CutPrefix(sc.Text(), "chain ")
	c := &Catalog{Chain: strings.Split(rest, " "), Keys: map[string]bool{}}
	if !ok || len(c.Chain) == 0 || len(c.Chain) >= maxChain {
		return nil, errors.New("the catalog's chain is malformed, or too long to add to (make a full backup)")
	}
	for _, id := range c.Chain {
		if !validID(id) {
			return nil, errors.New("the catalog's chain names a backup id that is not 32 hex digits")
		}
	}
	for n := 3; sc.Scan(); n++ {
		k := sc.Text()
		if !validID(k) {
			return nil, fmt.Errorf("catalog line %d is not an object key", n)
		}
		if len(c.Keys) >= maxEntries*maxChain {
			return nil, errors.New("the catalog holds too many keys")
		}
		c.Keys[k] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}

// limitedAll reads all of r, refusing more than max bytes.
func limitedAll(r io.Reader, max int64) ([]byte, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("over %d bytes", max)
	}
	return b.Bytes(), nil
}
