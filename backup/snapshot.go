package backup

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/pista-tips/pista/sqlite"
)

// snapshot is a read transaction on the database: every query on it sees
// the database as it was when the transaction began, whatever the server
// commits meanwhile (WAL).
type snapshot struct {
	conn      *sql.Conn
	pageSize  int64
	pageCount int64
	counts    Counts
	keys      []string // the objects the rows name, sorted
	ended     bool
}

// beginSnapshot starts a read transaction on db and reads what the
// backup needs of it before the pages: the counts and the object keys.
func beginSnapshot(ctx context.Context, db *sql.DB) (_ *snapshot, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	s := &snapshot{conn: conn}
	defer func() {
		if err != nil {
			s.end()
		}
	}()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	// The first read fixes the snapshot.
	for _, q := range []struct {
		sql string
		to  *int64
	}{
		{`SELECT count(*) FROM conversations`, &s.counts.Conversations},
		{`SELECT count(*) FROM items`, &s.counts.Items},
		{`PRAGMA page_size`, &s.pageSize},
		{`PRAGMA page_count`, &s.pageCount},
	} {
		if err := conn.QueryRowContext(ctx, q.sql).Scan(q.to); err != nil {
			return nil, fmt.Errorf("database snapshot: %s: %w", q.sql, err)
		}
	}
	if s.pageSize < 512 || s.pageSize > 65536 || s.pageCount < 1 {
		return nil, fmt.Errorf("database snapshot: page size %d, %d pages", s.pageSize, s.pageCount)
	}
	s.keys, err = objectKeys(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	s.counts.Objects = int64(len(s.keys))
	return s, nil
}

// sqliteSource is the rows of a data folder's pista.db.
type sqliteSource struct{ db *sql.DB }

func (s sqliteSource) liveKeys(ctx context.Context) ([]string, error) {
	keys, err := objectKeys(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", databaseFile, err)
	}
	return keys, nil
}

func (s sqliteSource) begin(ctx context.Context) (snapshotter, error) {
	return beginSnapshot(ctx, s.db)
}
func (s sqliteSource) close() { s.db.Close() }

func (s *snapshot) objectKeys() []string { return s.keys }
func (s *snapshot) rowCounts() Counts    { return s.counts }

// writeRows writes the database file, pista.db.
func (s *snapshot) writeRows(ctx context.Context, w *writer) error {
	return w.entry(databaseName, s.size(), func(to io.Writer) error { return s.writeTo(ctx, to) })
}

// end ends the read transaction and gives the connection back.
func (s *snapshot) end() {
	if s.ended {
		return
	}
	s.ended = true
	s.conn.ExecContext(context.Background(), "ROLLBACK")
	s.conn.Close()
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// objectKeys lists, sorted, the object keys the rows name.
func objectKeys(ctx context.Context, q queryer) ([]string, error) {
	rows, err := q.QueryContext(ctx, sqlite.ObjectKeysQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, err
		}
		if !validID(k) {
			return nil, fmt.Errorf("a row names the object %.40q, which is not an object key", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, rows.Err()
}

// Kinds of page, for scrubbing.
const (
	pageOther    = iota // untouched (ptrmap, the lock-byte page)
	pageBtree           // a table's or an index's: its free space is cleared
	pageOverflow        // the rest of a long value: its unused tail is cleared
	pageTrunk           // a freelist trunk: what follows its list is cleared
	pageFree            // a freelist leaf: cleared whole
)

// size is the database image's size in bytes.
func (s *snapshot) size() int64 { return s.pageSize * s.pageCount }

// writeTo writes the database file as of the snapshot, page after page
// (SQLite's sqlite_dbpage, which sqlite3_serialize reads too): no copy of
// it ever reaches the disk, and memory holds one page at a time and a
// byte for each page.
//
// The image is scrubbed as it goes: SQLite leaves what a DELETE removed
// in the free space of its pages and on the freelist, so deleted rows
// (a conversation a journalist deleted, what retention expired) would
// otherwise ride into every backup. Pages are told apart by the dbstat
// table (b-tree pages, overflow pages) and the freelist (trunk and leaf
// pages): a b-tree page's unallocated space and freeblocks, an overflow
// page's unused tail, a trunk's unused slots and a free page are zeroed,
// as secure_delete would have left them. What a page holds in use is
// never changed, and restore runs SQLite's quick_check on the result.
func (s *snapshot) writeTo(ctx context.Context, w io.Writer) error {
	kinds, unused, err := s.pageKinds(ctx)
	if err != nil {
		return fmt.Errorf("database snapshot: %w", err)
	}
	rows, err := s.conn.QueryContext(ctx, `SELECT pgno, data FROM sqlite_dbpage ORDER BY pgno`)
	if err != nil {
		return fmt.Errorf("database snapshot: %w", err)
	}
	defer rows.Close()
	var usable int
	n := int64(0)
	for rows.Next() {
		var pgno int64
		var data []byte
		if err := rows.Scan(&pgno, &data); err != nil {
			return fmt.Errorf("database snapshot: %w", err)
		}
		n++
		if pgno != n || int64(len(data)) != s.pageSize {
			return fmt.Errorf("database snapshot: page %d of %d bytes where page %d of %d was due", pgno, len(data), n, s.pageSize)
		}
		if n == 1 {
			usable = int(s.pageSize) - int(data[20])
		}
		switch kinds[pgno] {
		case pageBtree:
			hdr := 0
			if pgno == 1 {
				hdr = 100
			}
			scrubBtree(data, hdr, usable)
		case pageOverflow:
			if u := unused[pgno]; u > 0 && u <= usable-4 {
				clear(data[usable-u : usable])
			}
		case pageTrunk:
			if k := int(binary.BigEndian.Uint32(data[4:])); 8+4*k <= usable {
				clear(data[8+4*k : usable])
			}
		case pageFree:
			clear(data)
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("database snapshot: %w", err)
	}
	if n != s.pageCount {
		return fmt.Errorf("database snapshot: %d pages of %d", n, s.pageCount)
	}
	return nil
}

// pageKinds tells the pages apart: dbstat lists every b-tree and overflow
// page (and an overflow page's unused bytes), the freelist's trunks list
// the free pages.
func (s *snapshot) pageKinds(ctx context.Context) ([]byte, map[int64]int, error) {
	kinds := make([]byte, s.pageCount+1)
	unused := map[int64]int{}
	rows, err := s.conn.QueryContext(ctx, `SELECT pageno, pagetype, unused FROM dbstat`)
	if err != nil {
		return nil, nil, fmt.Errorf("dbstat: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pgno, u int64
		var typ string
		if err := rows.Scan(&pgno, &typ, &u); err != nil {
			return nil, nil, err
		}
		if pgno < 1 || pgno > s.pageCount {
			return nil, nil, fmt.Errorf("dbstat names page %d of %d", pgno, s.pageCount)
		}
		switch typ {
		case "internal", "leaf":
			kinds[pgno] = pageBtree
		case "overflow":
			kinds[pgno] = pageOverflow
			if u > 0 {
				unused[pgno] = int(u)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close()

	page := func(pgno int64) ([]byte, error) {
		var data []byte
		err := s.conn.QueryRowContext(ctx, `SELECT data FROM sqlite_dbpage WHERE pgno = ?`, pgno).Scan(&data)
		if err == nil && int64(len(data)) != s.pageSize {
			err = errors.New("short page")
		}
		return data, err
	}
	first, err := page(1)
	if err != nil {
		return nil, nil, err
	}
	usable := int(s.pageSize) - int(first[20])
	trunk := int64(binary.BigEndian.Uint32(first[32:]))
	for seen := int64(0); trunk != 0; seen++ {
		if trunk > s.pageCount || kinds[trunk] != pageOther || seen > s.pageCount {
			return nil, nil, fmt.Errorf("the freelist names page %d of %d twice or out of the file", trunk, s.pageCount)
		}
		data, err := page(trunk)
		if err != nil {
			return nil, nil, err
		}
		kinds[trunk] = pageTrunk
		k := int(binary.BigEndian.Uint32(data[4:]))
		if k > (usable-8)/4 {
			return nil, nil, fmt.Errorf("freelist trunk page %d lists %d pages", trunk, k)
		}
		for i := 0; i < k; i++ {
			leaf := int64(binary.BigEndian.Uint32(data[8+4*i:]))
			if leaf < 2 || leaf > s.pageCount || kinds[leaf] != pageOther {
				return nil, nil, fmt.Errorf("freelist trunk page %d names page %d", trunk, leaf)
			}
			kinds[leaf] = pageFree
		}
		trunk = int64(binary.BigEndian.Uint32(data))
	}
	return kinds, unused, nil
}

// scrubBtree zeroes the free space of a b-tree page whose header starts
// at hdr: the gap between the cell pointers and the cell content, and
// each freeblock past its own 4-byte header. Anything that does not add
// up leaves the rest of the page as it is.
func scrubBtree(p []byte, hdr, usable int) {
	if usable > len(p) || hdr+12 > usable {
		return
	}
	size := 8
	switch p[hdr] {
	case 2, 5: // interior pages carry the right-most pointer
		size = 12
	case 10, 13:
	default:
		return
	}
	cells := int(binary.BigEndian.Uint16(p[hdr+3:]))
	content := int(binary.BigEndian.Uint16(p[hdr+5:]))
	if content == 0 {
		content = 65536
	}
	gap := hdr + size + 2*cells
	if gap > content || content > usable {
		return
	}
	clear(p[gap:content])
	for fb, last := int(binary.BigEndian.Uint16(p[hdr+1:])), 0; fb != 0; {
		if fb < content || fb <= last || fb+4 > usable {
			return
		}
		n := int(binary.BigEndian.Uint16(p[fb+2:]))
		if n < 4 || fb+n > usable {
			return
		}
		next := int(binary.BigEndian.Uint16(p[fb:]))
		clear(p[fb+4 : fb+n])
		last, fb = fb+n-1, next
	}
}
