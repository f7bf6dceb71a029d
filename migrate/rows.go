package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista/sqlite"
)

// openSource opens the SQLite database at path as immutable and
// read-only: SQLite then takes no lock and makes no journal or shared
// memory file, and never writes. Only a database closed cleanly (no
// write-ahead log beside it, which Run checks) reads whole that way.
func openSource(ctx context.Context, path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&immutable=1&_query_only=1"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// One connection: every read sees the same file.
	db.SetMaxOpenConns(1)
	var v int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: reading %s: %w", path, err)
	}
	if want := sqlite.SchemaVersion(); v != want {
		db.Close()
		return nil, fmt.Errorf("%w: %s is at schema version %d, this pista's is %d", ErrSchema, path, v, want)
	}
	return db, nil
}

// A column copied: its name in both, its type in PostgreSQL.
type column struct {
	name, pgType string
	nullable     bool
}

type table struct {
	name   string
	rowid  bool // SQLite's table has rowids: rows go in their order
	cols   []column
	pk     []int    // PostgreSQL's primary key, as indexes in cols
	serial []string // PostgreSQL's columns that take their values from a sequence
	// later are indexes in cols copied as NULL and set once the tables
	// they refer to are in (a cycle of foreign keys: desks.key_id);
	// pending holds their values, then the primary key's, row by row.
	later   []int
	pending [][]any
}

type plan struct {
	tables  []*table // in an order that satisfies the foreign keys
	dropped []string
}

// querier is what a connection and a transaction share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// pgTables lists the tables of the target's schema (its search_path's
// first).
func pgTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing tables: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// checkEmpty refuses a database that holds a row in any table p copies
// into, but the ID key postgres.Open makes on first use (which the
// instance's replaces). Tables that only PostgreSQL has are not looked
// at: nothing is copied into them, and a migration may fill them.
func checkEmpty(ctx context.Context, q querier, p *plan) error {
	var full []string
	for _, t := range p.tables {
		where := ""
		if t.name == "settings" {
			where = ` WHERE name <> 'id-key'`
		}
		var n int64
		if err := q.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t.name}.Sanitize()+where).Scan(&n); err != nil {
			return fmt.Errorf("postgres: counting %s: %w", t.name, err)
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s %d", t.name, n))
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w: it has rows (%s)", ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// sqliteIdent quotes a name for SQLite.
func sqliteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// derived are the tables the target's triggers fill as the others' rows
// arrive (unread: postgres migration 0007); copied, they would collide.
var derived = map[string]bool{"unread": true}

// planTables pairs SQLite's tables and columns with PostgreSQL's: every
// table of SQLite's schema that PostgreSQL's has too (but the record of
// migrations, which each keeps for itself), with the columns both have,
// in an order that satisfies PostgreSQL's foreign keys.
func planTables(ctx context.Context, src *sql.DB, conn querier) (*plan, error) {
	type liteTable struct {
		name  string
		rowid bool
	}
	var lite []liteTable
	rows, err := src.QueryContext(ctx, `SELECT name, wr FROM pragma_table_list
		WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing tables: %w", err)
	}
	for rows.Next() {
		var t liteTable
		var wr bool
		if err := rows.Scan(&t.name, &wr); err != nil {
			rows.Close()
			return nil, err
		}
		t.rowid = !wr
		if t.name != "schema_migrations" && !derived[t.name] {
			lite = append(lite, t)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	pgNames, err := pgTables(ctx, conn)
	if err != nil {
		return nil, err
	}
	inPG := map[string]bool{}
	for _, n := range pgNames {
		inPG[n] = true
	}
	p := &plan{}
	byName := map[string]*table{}
	for _, lt := range lite {
		if !inPG[lt.name] {
			p.dropped = append(p.dropped, lt.name+" (the whole table)")
			continue
		}
		t := &table{name: lt.name, rowid: lt.rowid}
		if err := t.pair(ctx, src, conn, &p.dropped); err != nil {
			return nil, err
		}
		p.tables = append(p.tables, t)
		byName[t.name] = t
	}
	if err := p.order(ctx, conn, byName); err != nil {
		return nil, err
	}
	return p, nil
}

// pair finds the columns of t that both databases have.
func (t *table) pair(ctx context.Context, src *sql.DB, conn querier, dropped *[]string) error {
	rows, err := conn.Query(ctx, `SELECT column_name::text, data_type::text, is_nullable = 'YES',
			is_generated = 'ALWAYS', is_identity = 'YES' OR coalesce(column_default, '') LIKE 'nextval(%'
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1`, t.name)
	if err != nil {
		return fmt.Errorf("postgres: columns of %s: %w", t.name, err)
	}
	pg := map[string]column{}
	for rows.Next() {
		var c column
		var generated, serial bool
		if err := rows.Scan(&c.name, &c.pgType, &c.nullable, &generated, &serial); err != nil {
			rows.Close()
			return err
		}
		if serial {
			t.serial = append(t.serial, c.name)
		}
		if !generated {
			pg[c.name] = c
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Strings(t.serial)
	lrows, err := src.QueryContext(ctx, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, t.name)
	if err != nil {
		return fmt.Errorf("sqlite: columns of %s: %w", t.name, err)
	}
	defer lrows.Close()
	for lrows.Next() {
		var name string
		if err := lrows.Scan(&name); err != nil {
			return err
		}
		if c, ok := pg[name]; ok {
			t.cols = append(t.cols, c)
		} else {
			*dropped = append(*dropped, t.name+"."+name)
		}
	}
	if err := lrows.Err(); err != nil {
		return err
	}
	if len(t.cols) == 0 {
		return fmt.Errorf("table %s: no column in common", t.name)
	}
	pkRows, err := conn.Query(ctx, `SELECT a.attname::text FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace AND i.indisprimary`, t.name)
	if err != nil {
		return fmt.Errorf("postgres: primary key of %s: %w", t.name, err)
	}
	pk, err := pgx.CollectRows(pkRows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: primary key of %s: %w", t.name, err)
	}
	for _, name := range pk {
		if i := t.index(name); i >= 0 {
			t.pk = append(t.pk, i)
		}
	}
	if len(t.pk) != len(pk) {
		t.pk = nil // not all copied: no row can be found again
	}
	return nil
}

func (t *table) index(col string) int {
	for i, c := range t.cols {
		if c.name == col {
			return i
		}
	}
	return -1
}

// order sorts p.tables so that each comes after the tables its foreign
// keys refer to. Where the keys go round in a circle (desks.key_id and
// desk_keys.desk_id), a table whose keys into the circle are nullable
// single columns goes first, those columns copied as NULL and set once
// the rest is in (table.later).
func (p *plan) order(ctx context.Context, conn querier, byName map[string]*table) error {
	rows, err := conn.Query(ctx, `SELECT src.relname::text, dst.relname::text,
			array_length(c.conkey, 1), (SELECT attname::text FROM pg_attribute WHERE attrelid = c.conrelid AND attnum = c.conkey[1])
		FROM pg_constraint c
		JOIN pg_class src ON src.oid = c.conrelid
		JOIN pg_class dst ON dst.oid = c.confrelid
		WHERE c.contype = 'f' AND src.relnamespace = current_schema()::regnamespace`)
	if err != nil {
		return fmt.Errorf("postgres: foreign keys: %w", err)
	}
	type fk struct {
		to     string
		column string // "" for a key of several columns
	}
	refs := map[string][]fk{}
	for rows.Next() {
		var from, to, col string
		var n int
		if err := rows.Scan(&from, &to, &n, &col); err != nil {
			rows.Close()
			return err
		}
		if byName[from] == nil || byName[to] == nil {
			continue // a table not copied: nothing to wait for
		}
		if n != 1 {
			col = ""
		}
		refs[from] = append(refs[from], fk{to, col})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	done := map[string]bool{}
	var ordered []*table
	left := append([]*table(nil), p.tables...)
	ready := func(t *table, allowLater bool) bool {
		for _, r := range refs[t.name] {
			if done[r.to] {
				continue
			}
			if !allowLater || r.column == "" {
				return false
			}
			if i := t.index(r.column); i < 0 || !t.cols[i].nullable || len(t.pk) == 0 {
				return false
			}
		}
		return true
	}
	// inCycle reports whether name's foreign keys lead back to it
	// through tables not yet copied.
	inCycle := func(name string) bool {
		seen := map[string]bool{}
		var reach func(string) bool
		reach = func(from string) bool {
			for _, r := range refs[from] {
				if r.to == name {
					return true
				}
				if !done[r.to] && !seen[r.to] {
					seen[r.to] = true
					if reach(r.to) {
						return true
					}
				}
			}
			return false
		}
		return reach(name)
	}
	for len(left) > 0 {
		pick := -1
		for i, t := range left {
			if ready(t, false) {
				pick = i
				break
			}
		}
		if pick < 0 {
			for i, t := range left {
				if inCycle(t.name) && ready(t, true) {
					pick = i
					for _, r := range refs[t.name] {
						if !done[r.to] {
							t.later = append(t.later, t.index(r.column))
						}
					}
					break
				}
			}
		}
		if pick < 0 {
			return fmt.Errorf("postgres: the foreign keys of %s go round in a circle that no nullable column breaks", left[0].name)
		}
		done[left[pick].name] = true
		ordered = append(ordered, left[pick])
		left = append(left[:pick], left[pick+1:]...)
	}
	p.tables = ordered
	return nil
}

// copyRows copies every table of p into tx, then moves the sequences
// past the copied IDs and compares each table's rows with SQLite's.
func copyRows(ctx context.Context, src *sql.DB, tx pgx.Tx, p *plan, sum *Summary, progress func(Progress)) error {
	// No one else writes to these tables until the commit (a server
	// started on the target meanwhile waits), and they are still empty.
	names := make([]string, len(p.tables))
	for i, t := range p.tables {
		names[i] = pgx.Identifier{t.name}.Sanitize()
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(names, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := checkEmpty(ctx, tx, p); err != nil {
		return err
	}
	// The key postgres.Open made gives way to the instance's: item and
	// audit IDs are sealed with it, in links, cursors and pulled folders.
	if _, err := tx.Exec(ctx, `DELETE FROM settings WHERE name = 'id-key'`); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for i, t := range p.tables {
		n, err := copyTable(ctx, src, tx, t)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.name, err)
		}
		sum.Tables = append(sum.Tables, Table{t.name, n})
		progress(Progress{Phase: PhaseRows, Done: i + 1, Total: len(p.tables), Table: t.name, Rows: n})
	}
	for _, t := range p.tables {
		if err := setLater(ctx, tx, t); err != nil {
			return err
		}
	}
	if err := advanceSequences(ctx, src, tx, p); err != nil {
		return err
	}
	for _, t := range sum.Tables {
		var lite, pg int64
		if err := src.QueryRowContext(ctx, `SELECT count(*) FROM `+sqliteIdent(t.Name)).Scan(&lite); err != nil {
			return fmt.Errorf("sqlite: counting %s: %w", t.Name, err)
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t.Name}.Sanitize()).Scan(&pg); err != nil {
			return fmt.Errorf("postgres: counting %s: %w", t.Name, err)
		}
		if lite != pg || pg != t.Rows {
			return fmt.Errorf("table %s: %d rows in SQLite, %d copied, %d in PostgreSQL", t.Name, lite, t.Rows, pg)
		}
	}
	return nil
}

// copyTable copies one table's rows with COPY, streaming them from
// SQLite, and then sets the columns it copied as NULL (table.later).
func copyTable(ctx context.Context, src *sql.DB, tx pgx.Tx, t *table) (int64, error) {
	names := make([]string, len(t.cols))
	quoted := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i], quoted[i] = c.name, sqliteIdent(c.name)
	}
	q := `SELECT ` + strings.Join(quoted, ", ") + ` FROM ` + sqliteIdent(t.name)
	if t.rowid {
		// PostgreSQL's order of creation (conversations.seq) follows.
		q += ` ORDER BY rowid`
	}
	rows, err := src.QueryContext(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	defer rows.Close()
	s := &rowSource{rows: rows, t: t, vals: make([]any, len(t.cols)), ptrs: make([]any, len(t.cols))}
	for i := range s.vals {
		s.ptrs[i] = &s.vals[i]
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, names, s)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	t.pending = s.later
	return n, nil
}

// setLater sets the columns copyTable copied as NULL (table.later), once
// every table is in.
func setLater(ctx context.Context, tx pgx.Tx, t *table) error {
	if len(t.pending) == 0 {
		return nil
	}
	var set, where []string
	for k, i := range t.later {
		set = append(set, fmt.Sprintf("%s = $%d", pgx.Identifier{t.cols[i].name}.Sanitize(), k+1))
	}
	for k, i := range t.pk {
		where = append(where, fmt.Sprintf("%s = $%d", pgx.Identifier{t.cols[i].name}.Sanitize(), len(t.later)+k+1))
	}
	update := `UPDATE ` + pgx.Identifier{t.name}.Sanitize() + ` SET ` + strings.Join(set, ", ") + ` WHERE ` + strings.Join(where, " AND ")
	for _, args := range t.pending {
		tag, err := tx.Exec(ctx, update, args...)
		if err != nil {
			return fmt.Errorf("postgres: table %s: %w", t.name, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("postgres: table %s: a row set after the others was not found", t.name)
		}
	}
	return nil
}

// rowSource streams a table's rows from SQLite to COPY, each value in
// the type PostgreSQL's column has.
type rowSource struct {
	rows       *sql.Rows
	t          *table
	vals, ptrs []any
	out        []any
	err        error
	// later keeps, for each row with a column of t.later that is not
	// NULL, those columns' values then the primary key's.
	later [][]any
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = err
		return false
	}
	s.out = make([]any, len(s.vals))
	for i, v := range s.vals {
		c, err := convert(v, s.t.cols[i].pgType)
		if err != nil {
			s.err = fmt.Errorf("column %s: %w", s.t.cols[i].name, err)
			return false
		}
		s.out[i] = c
	}
	if len(s.t.later) > 0 {
		var args []any
		set := false
		for _, i := range s.t.later {
			args = append(args, s.out[i])
			set = set || s.out[i] != nil
			s.out[i] = nil
		}
		if set {
			for _, i := range s.t.pk {
				args = append(args, s.out[i])
			}
			s.later = append(s.later, args)
		}
	}
	return true
}

func (s *rowSource) Values() ([]any, error) { return s.out, s.err }

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// convert turns a value SQLite answered (int64, float64, string, []byte
// or nil) into one of PostgreSQL's type pgType: SQLite keeps booleans as
// integers, and a column's declared type does not bind what it holds.
func convert(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "boolean":
		if x, ok := v.(int64); ok {
			return x != 0, nil
		}
	case "bigint", "integer", "smallint":
		if x, ok := v.(int64); ok {
			return x, nil
		}
	case "bytea":
		switch x := v.(type) {
		case []byte:
			if x == nil {
				// An empty BLOB (the driver answers nil), not a NULL
				// (nil itself, above): pgx would send nil as NULL.
				return []byte{}, nil
			}
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "text", "character varying":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("SQLite holds a %T where PostgreSQL has %s", v, pgType)
}

// advanceSequences moves each sequence that gives a copied table's IDs
// past the greatest ID copied and past SQLite's AUTOINCREMENT counter of
// the table (above the greatest ID when the newest rows were deleted):
// an item ID is never given twice, which is what lets pista pull ask for
// "everything after N".
func advanceSequences(ctx context.Context, src *sql.DB, tx pgx.Tx, p *plan) error {
	counters := map[string]int64{}
	if rows, err := src.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence`); err == nil {
		for rows.Next() {
			var name string
			var seq int64
			if err := rows.Scan(&name, &seq); err != nil {
				rows.Close()
				return err
			}
			counters[name] = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, t := range p.tables {
		for _, col := range t.serial {
			var seq *string
			if err := tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, $2)`, pgx.Identifier{t.name}.Sanitize(), col).Scan(&seq); err != nil {
				return fmt.Errorf("postgres: the sequence of %s.%s: %w", t.name, col, err)
			}
			if seq == nil {
				continue
			}
			var top int64
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(`+pgx.Identifier{col}.Sanitize()+`), 0) FROM `+pgx.Identifier{t.name}.Sanitize()).Scan(&top); err != nil {
				return fmt.Errorf("postgres: %s.%s: %w", t.name, col, err)
			}
			if len(t.pk) == 1 && t.cols[t.pk[0]].name == col {
				top = max(top, counters[t.name])
			}
			if top > 0 {
				if _, err := tx.Exec(ctx, `SELECT setval($1, $2)`, *seq, top); err != nil {
					return fmt.Errorf("postgres: the sequence of %s.%s: %w", t.name, col, err)
				}
			}
		}
	}
	return nil
}
