package backup

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista/postgres"
)

// A tip line whose rows are in PostgreSQL is backed up the same way: the
// objects, then the rows as of one REPEATABLE READ READ ONLY transaction
// (PostgreSQL's snapshot: every query in it sees the database as it was
// at its first), streamed into the encrypted file:
//
//	postgres/schema.json   the schema's version, each table's columns and rows, the sequences
//	postgres/tables/NAME   each table's rows, in COPY's binary format
//
// A table's entry must state its size before its bytes (tar), and
// nothing of it may touch the disk, so each table is read twice in the
// snapshot: once to count and hash its bytes, once to write them,
// checked against the first (sequential scans without
// synchronize_seqscans read a snapshot in the same order).
const (
	pgDir        = "postgres/"
	pgSchemaName = pgDir + "schema.json"
	pgTablesDir  = pgDir + "tables/"
)

// pgSchema is postgres/schema.json.
type pgSchema struct {
	Version   int64        `json:"version"` // the newest migration applied
	Tables    []pgTable    `json:"tables"`
	Sequences []pgSequence `json:"sequences"`
}

type pgTable struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Rows    int64    `json:"rows"`
}

type pgSequence struct {
	Name   string `json:"name"`
	Value  int64  `json:"value"`
	Called bool   `json:"called"`
}

// maxSchema bounds postgres/schema.json (a few KiB).
const maxSchema = 1 << 20

// pgSource is the rows of a PostgreSQL tip line.
type pgSource struct{ conn *pgx.Conn }

func openPostgres(ctx context.Context, rawURL string) (*pgSource, error) {
	if err := postgres.CheckURL(rawURL); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &pgSource{conn}, nil
}

func (s *pgSource) close() { s.conn.Close(context.Background()) }

func (s *pgSource) liveKeys(ctx context.Context) ([]string, error) {
	return pgObjectKeys(ctx, s.conn)
}

type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func pgObjectKeys(ctx context.Context, q pgQuerier) ([]string, error) {
	rows, err := q.Query(ctx, postgres.ObjectKeysQuery)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	for _, k := range keys {
		if !validID(k) {
			return nil, fmt.Errorf("a row names the object %.40q, which is not an object key", k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// pgSnapshot is the read transaction the rows are copied in.
type pgSnapshot struct {
	tx     pgx.Tx
	schema pgSchema
	keys   []string
	counts Counts
	ended  bool
}

func (s *pgSource) begin(ctx context.Context) (_ snapshotter, err error) {
	tx, err := s.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	snap := &pgSnapshot{tx: tx}
	defer func() {
		if err != nil {
			snap.end()
		}
	}()
	if _, err := tx.Exec(ctx, `SET LOCAL synchronize_seqscans = off`); err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	// The first query fixes the snapshot.
	for _, q := range []struct {
		sql string
		to  *int64
	}{
		{`SELECT count(*) FROM conversations`, &snap.counts.Conversations},
		{`SELECT count(*) FROM items`, &snap.counts.Items},
		{`SELECT coalesce(max(version), 0) FROM schema_migrations`, &snap.schema.Version},
	} {
		if err := tx.QueryRow(ctx, q.sql).Scan(q.to); err != nil {
			return nil, fmt.Errorf("database snapshot: %s: %w", q.sql, err)
		}
	}
	if snap.keys, err = pgObjectKeys(ctx, tx); err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	snap.counts.Objects = int64(len(snap.keys))
	tables, err := pgColumns(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	for _, t := range tables {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{t.Name}.Sanitize()).Scan(&t.Rows); err != nil {
			return nil, fmt.Errorf("database snapshot: counting %s: %w", t.Name, err)
		}
		snap.schema.Tables = append(snap.schema.Tables, t)
	}
	// Sequences are not transactional: what is read may be past the
	// snapshot's rows, never behind them, which is what restoring needs.
	names, err := pgSequences(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("database snapshot: %w", err)
	}
	for _, n := range names {
		sq := pgSequence{Name: n}
		if err := tx.QueryRow(ctx, `SELECT last_value, is_called FROM `+pgx.Identifier{n}.Sanitize()).Scan(&sq.Value, &sq.Called); err != nil {
			return nil, fmt.Errorf("database snapshot: sequence %s: %w", n, err)
		}
		snap.schema.Sequences = append(snap.schema.Sequences, sq)
	}
	return snap, nil
}

// pgColumns lists the tables of the current schema (but the record of
// migrations, which the restore makes itself), with their columns in
// order.
func pgColumns(ctx context.Context, q pgQuerier) ([]pgTable, error) {
	rows, err := q.Query(ctx, `SELECT c.table_name::text, c.column_name::text
		FROM information_schema.columns c
		JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []pgTable
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			return nil, err
		}
		if len(tables) == 0 || tables[len(tables)-1].Name != table {
			tables = append(tables, pgTable{Name: table})
		}
		t := &tables[len(tables)-1]
		t.Columns = append(t.Columns, column)
	}
	return tables, rows.Err()
}

func pgSequences(ctx context.Context, q pgQuerier) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT relname::text FROM pg_class
		WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace ORDER BY relname`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (s *pgSnapshot) objectKeys() []string { return s.keys }
func (s *pgSnapshot) rowCounts() Counts    { return s.counts }

func (s *pgSnapshot) end() {
	if s.ended {
		return
	}
	s.ended = true
	s.tx.Rollback(context.Background())
}

func copyOut(t pgTable) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	return `COPY ` + pgx.Identifier{t.Name}.Sanitize() + ` (` + strings.Join(cols, ", ") + `) TO STDOUT (FORMAT binary)`
}

// writeRows writes postgres/schema.json and each table's rows.
func (s *pgSnapshot) writeRows(ctx context.Context, w *writer) error {
	b, err := json.Marshal(&s.schema)
	if err != nil {
		return err
	}
	if err := w.entry(pgSchemaName, int64(len(b)), func(to io.Writer) error {
		_, err := to.Write(b)
		return err
	}); err != nil {
		return err
	}
	pg := s.tx.Conn().PgConn()
	for _, t := range s.schema.Tables {
		h := sha256.New()
		n := &countWriter{w: h}
		if _, err := pg.CopyTo(ctx, n, copyOut(t)); err != nil {
			return fmt.Errorf("postgres: reading %s: %w", t.Name, err)
		}
		var first [32]byte
		h.Sum(first[:0])
		if err := w.entry(pgTablesDir+t.Name, n.n, func(to io.Writer) error {
			_, err := pg.CopyTo(ctx, to, copyOut(t))
			return err
		}); err != nil {
			return err
		}
		if got := w.entries[len(w.entries)-1].SHA256; got != first {
			return fmt.Errorf("postgres: table %s read differently twice in one snapshot", t.Name)
		}
	}
	return nil
}

// pgRestore loads the last backup's rows into an empty database, in one
// transaction that commits only once everything checked out.
type pgRestore struct {
	conn    *pgx.Conn
	tx      pgx.Tx
	schema  *pgSchema
	fks     []pgForeignKey
	loaded  map[string]int64 // table → rows copied
	done    bool
	tableIx map[string]*pgTable
}

type pgForeignKey struct{ table, name, def string }

// startPostgresRestore connects to the target and checks that it holds
// no table.
func startPostgresRestore(ctx context.Context, rawURL string) (*pgRestore, error) {
	if err := postgres.CheckURL(rawURL); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	var tables []string
	rows, err := conn.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() ORDER BY table_name LIMIT 5`)
	if err == nil {
		tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if len(tables) > 0 {
		conn.Close(ctx)
		return nil, fmt.Errorf("the database already holds tables (%s): restore into an empty database or schema (--database …?search_path=SCHEMA)", strings.Join(tables, ", "))
	}
	return &pgRestore{conn: conn, loaded: map[string]int64{}}, nil
}

func (p *pgRestore) close() {
	if p.tx != nil && !p.done {
		p.tx.Rollback(context.Background())
	}
	p.conn.Close(context.Background())
}

// begin makes the schema of the backup's version in a transaction and
// readies its tables for the rows: foreign keys dropped (re-made, and so
// checked, once every row is in), pista's triggers off (the derived
// tables they fill come in the backup), rows the migrations wrote gone.
func (p *pgRestore) begin(ctx context.Context, s *pgSchema) error {
	know, err := postgres.SchemaVersion()
	if err != nil {
		return err
	}
	if s.Version > know || s.Version < 1 {
		return reason("the rows are of schema version %d; this pista knows versions 1 to %d: restore with the pista that made the backup, or a newer one", s.Version, know)
	}
	if p.tx, err = p.conn.Begin(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := postgres.MakeSchema(ctx, p.tx, s.Version); err != nil {
		return err
	}
	have, err := pgColumns(ctx, p.tx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	p.tableIx = map[string]*pgTable{}
	for i := range s.Tables {
		p.tableIx[s.Tables[i].Name] = &s.Tables[i]
	}
	if len(have) != len(s.Tables) {
		return reason("the backup holds %d tables; schema version %d has %d", len(s.Tables), s.Version, len(have))
	}
	for _, t := range have {
		b := p.tableIx[t.Name]
		if b == nil || !slices.Equal(b.Columns, t.Columns) {
			return reason("table %s of the backup is not schema version %d's", t.Name, s.Version)
		}
	}
	rows, err := p.tx.Query(ctx, `SELECT src.relname::text, c.conname::text, pg_get_constraintdef(c.oid)
		FROM pg_constraint c JOIN pg_class src ON src.oid = c.conrelid
		WHERE c.contype = 'f' AND src.relnamespace = current_schema()::regnamespace ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("postgres: foreign keys: %w", err)
	}
	for rows.Next() {
		var fk pgForeignKey
		if err := rows.Scan(&fk.table, &fk.name, &fk.def); err != nil {
			rows.Close()
			return err
		}
		p.fks = append(p.fks, fk)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, fk := range p.fks {
		if _, err := p.tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{fk.table}.Sanitize()+` DROP CONSTRAINT `+pgx.Identifier{fk.name}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	for _, t := range s.Tables {
		name := pgx.Identifier{t.Name}.Sanitize()
		if _, err := p.tx.Exec(ctx, `ALTER TABLE `+name+` DISABLE TRIGGER USER`); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		if _, err := p.tx.Exec(ctx, `DELETE FROM `+name); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	p.schema = s
	return nil
}

// table copies one table's rows from r.
func (p *pgRestore) table(ctx context.Context, name string, r io.Reader) error {
	t := p.tableIx[name]
	if t == nil {
		return reason("the backup's rows of %.100q are of no table its schema lists", name)
	}
	if _, dup := p.loaded[name]; dup {
		return reason("the rows of %s come twice", name)
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	tag, err := p.tx.Conn().PgConn().CopyFrom(ctx, r, `COPY `+pgx.Identifier{name}.Sanitize()+` (`+strings.Join(cols, ", ")+`) FROM STDIN (FORMAT binary)`)
	if err != nil {
		var ce *contentError
		if errors.As(err, &ce) {
			return err
		}
		return reason("the rows of %s do not load: %v", name, err)
	}
	p.loaded[name] = tag.RowsAffected()
	return nil
}

// finish re-makes the foreign keys (checking every row against them),
// turns the triggers back on, moves the sequences, and checks every
// table's rows against the schema's counts. The caller commits.
func (p *pgRestore) finish(ctx context.Context) error {
	for _, t := range p.schema.Tables {
		if n, ok := p.loaded[t.Name]; !ok || n != t.Rows {
			return reason("table %s: %d rows restored, the backup says %d", t.Name, n, t.Rows)
		}
	}
	for _, fk := range p.fks {
		if _, err := p.tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{fk.table}.Sanitize()+` ADD CONSTRAINT `+pgx.Identifier{fk.name}.Sanitize()+` `+fk.def); err != nil {
			return reason("the rows break a foreign key of %s: %v", fk.table, err)
		}
	}
	for _, t := range p.schema.Tables {
		if _, err := p.tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{t.Name}.Sanitize()+` ENABLE TRIGGER USER`); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	have, err := pgSequences(ctx, p.tx)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	for _, sq := range p.schema.Sequences {
		if !slices.Contains(have, sq.Name) {
			return reason("the backup's sequence %.100q is not schema version %d's", sq.Name, p.schema.Version)
		}
		if _, err := p.tx.Exec(ctx, `SELECT setval($1::regclass, $2, $3)`, pgx.Identifier{sq.Name}.Sanitize(), sq.Value, sq.Called); err != nil {
			return reason("sequence %s: %v", sq.Name, err)
		}
	}
	return nil
}

func (p *pgRestore) commit(ctx context.Context) error {
	p.done = true
	return p.tx.Commit(ctx)
}

func parsePgSchema(b []byte) (*pgSchema, error) {
	var s pgSchema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, reason("postgres/schema.json does not parse: %v", err)
	}
	seen := map[string]bool{}
	for _, t := range s.Tables {
		if t.Name == "" || seen[t.Name] || len(t.Columns) == 0 || t.Rows < 0 {
			return nil, reason("postgres/schema.json lists a malformed table")
		}
		seen[t.Name] = true
	}
	return &s, nil
}
