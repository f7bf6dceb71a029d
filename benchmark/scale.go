package benchmark

// # pista bench --scale
//
// The scale benchmark builds an instance of N conversations (one message
// each, a small object each, spread over the past at about 60 an hour)
// in each backend — SQLite in a data folder, PostgreSQL in a schema of
// its own — straight in the database with bulk SQL and the objects as
// files, and then runs a real `pista serve` on it, as a child process:
//
//   - start-up: from exec to the first answer, and the peak RSS (VmHWM)
//     once the background sweep of what the last run left is done;
//   - the inbox, over HTTP, logged in as a member of both desks: every
//     filter the inbox has, at the first page and deep (after 90% of the
//     conversations), the median of several requests;
//   - new sources' tips per second (with the proof of work, as the flood
//     benchmark sends them), on that instance; PostgreSQL's against
//     SQLite's of the same run;
//   - with --objects, a 1 GiB upload to the bucket, against a baseline
//     that streams the same request through age into the same bucket.
//
// Search is not measured here: it will be an encrypted index in the
// journalist's browser (SearchHook).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob/s3"
	"github.com/pista-tips/pista/internal/sealedid"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// Goals of the scale benchmark.
const (
	GoalInbox      = 10 * time.Millisecond // an inbox page, median
	GoalStartup    = time.Second           // pista serve, exec to first answer
	GoalStartupRSS = 32 * MiB              // pista serve's peak RSS at start and its sweep
	GoalTipRatio   = 0.8                   // PostgreSQL's new-source tips/s over SQLite's
	GoalS3Ratio    = 0.9                   // pista's upload to a bucket over the baseline's
)

// SearchHook names who measures search: its row is left for them.
const SearchHook = "search: measured by the encrypted browser index's benchmark (not here)"

// DefaultScaleDatabase is the PostgreSQL server --scale uses by default.
const DefaultScaleDatabase = "postgres://postgres@127.0.0.1:5432/test"

// ScaleOptions are the knobs of MeasureScale.
type ScaleOptions struct {
	Items    int      // conversations per backend
	Backends []string // "sqlite", "postgres"
	Database string   // a PostgreSQL server's URL: a schema is made in it and dropped
	Objects  string   // an S3 URL (s3.ParseURL) for the upload rows, "" for none
	Dir      string   // where data folders go
	Exe      string   // the pista binary run as `pista serve`
	Requests int      // requests per inbox row (the median is shown)
	TipTime  time.Duration
	Upload   int64 // bytes of the bucket upload
	Progress io.Writer
}

// DefaultScaleOptions are `pista bench --scale`'s defaults.
func DefaultScaleOptions() ScaleOptions {
	return ScaleOptions{Items: 1000000, Backends: []string{"sqlite", "postgres"}, Database: DefaultScaleDatabase,
		Dir: os.TempDir(), Requests: 9, TipTime: 10 * time.Second, Upload: GiB, Progress: io.Discard}
}

// ScaleRow is one line of the table.
type ScaleRow struct {
	Backend string
	What    string
	Value   float64 // in Unit
	Unit    string  // "ms", "s", "MiB", "tips/s", "ratio", "MiB/s"
	Goal    string  // "" for a row without a goal
	Met     bool
	Note    string // why a row was not measured, or what it counted
	Skipped bool
}

// ScaleReport is what MeasureScale measured.
type ScaleReport struct {
	Options ScaleOptions
	Rows    []ScaleRow
}

func (r *ScaleReport) add(row ScaleRow) { r.Rows = append(r.Rows, row) }

// inboxFilters are the inbox's filters (newsroom/inbox.go's readPage),
// as the query strings a journalist's browser sends.
var inboxFilters = []struct{ Name, Query string }{
	{"all", ""},
	{"desk", "desk=scale-small"},
	{"unread", "unread=1"},
	{"starred", "starred=1"},
	{"assigned to me", "mine=1"},
	{"status", "status=in_progress"},
	{"tag, common", "tag=lead"},
	{"tag, rare", "tag=rare"},
}

// MeasureScale builds and measures each backend in turn.
func MeasureScale(ctx context.Context, o ScaleOptions) (*ScaleReport, error) {
	rep := &ScaleReport{Options: o}
	rates := map[string]float64{}
	for _, b := range o.Backends {
		rate, err := measureBackend(ctx, o, b, rep)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", b, err)
		}
		rates[b] = rate
	}
	lite, okL := rates["sqlite"]
	pg, okP := rates["postgres"]
	row := ScaleRow{Backend: "both", What: "new-source tips/s, PostgreSQL / SQLite", Unit: "ratio", Goal: fmt.Sprintf("≥ %.1f", GoalTipRatio)}
	if okL && okP && lite > 0 {
		row.Value = pg / lite
		row.Met = row.Value >= GoalTipRatio
	} else {
		row.Skipped, row.Note = true, "needs both backends (--scale-backend both)"
	}
	rep.add(row)
	if o.Objects == "" {
		rep.add(ScaleRow{Backend: "s3", What: "1 GiB upload to the bucket / baseline", Unit: "ratio", Goal: fmt.Sprintf("≥ %.1f", GoalS3Ratio),
			Skipped: true, Note: "no bucket: give --objects s3://BUCKET?endpoint=…"})
	} else if err := measureBucketUpload(ctx, o, rep); err != nil {
		return rep, fmt.Errorf("upload to the bucket: %w", err)
	}
	rep.add(ScaleRow{Backend: "both", What: "search", Skipped: true, Note: SearchHook})
	return rep, nil
}

// scaleData is a built instance.
type scaleData struct {
	dir, database string // the data folder; the PostgreSQL URL, "" for SQLite
	user, pass    string
	totpSecret    string
	deep          int64 // the sealed cursor of a deep page
	drop          func() error
}

func (o ScaleOptions) progress(format string, args ...any) {
	fmt.Fprintf(o.Progress, format+"\n", args...)
}

// measureBackend builds backend's instance, measures it and removes it;
// it returns the new-source tips per second.
func measureBackend(ctx context.Context, o ScaleOptions, backend string, rep *ScaleReport) (float64, error) {
	dir, err := os.MkdirTemp(o.Dir, "pista-scale-"+backend+"-")
	if err != nil {
		return 0, err
	}
	if os.Getenv("PISTA_SCALE_KEEP") == "" {
		// PISTA_SCALE_KEEP=1 keeps the data folder, to look at its plans.
		defer os.RemoveAll(dir)
	}
	start := time.Now()
	d, err := buildScale(ctx, o, backend, dir)
	if d != nil && d.drop != nil {
		defer d.drop()
	}
	if err != nil {
		return 0, fmt.Errorf("building %d conversations: %w", o.Items, err)
	}
	rep.add(ScaleRow{Backend: backend, What: fmt.Sprintf("build %d conversations (rows and objects)", o.Items), Value: time.Since(start).Seconds(), Unit: "s"})
	o.progress("%s: built %d conversations in %.1f s", backend, o.Items, time.Since(start).Seconds())

	// A restart on the data: start-up time and the peak RSS once the
	// background sweep is done.
	args := []string{"serve", "--data", d.dir, "--listen", "127.0.0.1:0", "--min-free-disk", "0"}
	if d.database != "" {
		args = append(args, "--database", d.database)
	}
	t0 := time.Now()
	p, err := startProcess(exec.Command(o.Exe, args...), newTarget("pista", "", "scale-big", ""))
	if err != nil {
		return 0, err
	}
	defer p.Stop()
	if err := waitAnswer(ctx, p.URL, 30*time.Second); err != nil {
		return 0, err
	}
	startup := time.Since(t0)
	rep.add(ScaleRow{Backend: backend, What: "pista serve start-up (exec to first answer)", Value: startup.Seconds() * 1000, Unit: "ms",
		Goal: "≤ " + GoalStartup.String(), Met: startup <= GoalStartup})
	sweepStart := time.Now()
	for !strings.Contains(p.out.String(), "swept the objects written before start") {
		if time.Since(sweepStart) > 10*time.Minute {
			return 0, fmt.Errorf("the start-up sweep did not end within 10 minutes\n%s", p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, hwm, err := MemStatus(p.PID)
	if err != nil {
		return 0, err
	}
	rep.add(ScaleRow{Backend: backend, What: "pista serve peak RSS (start and its sweep)", Value: float64(hwm) / MiB, Unit: "MiB",
		Goal: "≤ " + Human(GoalStartupRSS), Met: hwm <= GoalStartupRSS,
		Note: fmt.Sprintf("sweep done %.1f s after the first answer", time.Since(sweepStart).Seconds())})
	o.progress("%s: started in %v, peak RSS %s", backend, startup.Round(time.Millisecond), Human(hwm))

	c, err := loginJournalist(ctx, p.URL, d)
	if err != nil {
		return 0, err
	}
	for _, f := range inboxFilters {
		for _, deep := range []bool{false, true} {
			q := f.Query
			depth := "first page"
			if deep {
				depth = "deep page"
				q = strings.TrimPrefix(q+"&before="+strconv.FormatInt(d.deep, 10), "&")
			}
			med, rows, err := inboxLatency(ctx, c, p.URL+"/newsroom/?"+q, o.Requests)
			if err != nil {
				return 0, fmt.Errorf("inbox %s, %s: %w", f.Name, depth, err)
			}
			rep.add(ScaleRow{Backend: backend, What: "inbox " + depth + ": " + f.Name, Value: float64(med.Microseconds()) / 1000, Unit: "ms",
				Goal: "≤ " + GoalInbox.String(), Met: med <= GoalInbox, Note: fmt.Sprintf("%d rows", rows)})
		}
	}
	o.progress("%s: inbox measured", backend)

	rate, n, err := tipRate(ctx, p.URL, "scale-big", o.TipTime)
	if err != nil {
		return 0, err
	}
	rep.add(ScaleRow{Backend: backend, What: "new-source tips/s (proof of work, 4 at once)", Value: rate, Unit: "tips/s", Note: fmt.Sprintf("%d tips in %v", n, o.TipTime)})
	o.progress("%s: %.1f new-source tips/s", backend, rate)
	return rate, p.Stop()
}

// waitAnswer polls url until it answers.
func waitAnswer(ctx context.Context, url string, within time.Duration) error {
	end := time.Now().Add(within)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(end) || ctx.Err() != nil {
			return fmt.Errorf("%s does not answer: %w", url, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// scalePass is the benchmark journalist's passphrase.
const scalePass = "scale benchmark passphrase"

// buildScale makes the instance: a journalist, two desks (scale-big with
// four conversations of five, scale-small with the fifth), then the
// conversations, their items, reads, stars and tags in bulk, and the
// objects.
func buildScale(ctx context.Context, o ScaleOptions, backend, dir string) (*scaleData, error) {
	d := &scaleData{dir: filepath.Join(dir, "data"), user: "scale", pass: scalePass}
	if backend == "postgres" {
		u, drop, err := scaleSchema(ctx, o.Database)
		if err != nil {
			return nil, err
		}
		d.database, d.drop = u, drop
	}
	st, err := server.OpenStoresOn(ctx, d.dir, server.Database{URL: d.database})
	if err != nil {
		return d, err
	}
	defer st.Close()
	salt := make([]byte, 16)
	copy(salt, "pista-scale-salt")
	k, err := keys.DeriveJournalist(ctx, scalePass, salt, keys.JournalistKDF)
	if err != nil {
		return d, err
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return d, err
	}
	wrappedID, err := keys.WrapIdentity(k.Wrap, id.String())
	if err != nil {
		return d, err
	}
	if d.totpSecret, _, err = keys.NewTOTP("pista bench", d.user); err != nil {
		return d, err
	}
	j := pista.Journalist{Name: d.user, Recipient: id.Recipient().String(), TOTPSecret: d.totpSecret,
		Auth: pista.JournalistAuth{Salt: salt, KDF: keys.JournalistKDF, Hash: keys.AuthHash(k.Auth), WrappedIdentity: wrappedID}}
	if err := st.Journalists.CreateJournalist(ctx, &j); err != nil {
		return d, err
	}
	var desks [2]int64
	var deskRecipient age.Recipient
	for i, slug := range []string{"scale-big", "scale-small"} {
		did, err := age.GenerateHybridIdentity()
		if err != nil {
			return d, err
		}
		wrapped, err := keys.Wrap(did, j.Recipient)
		if err != nil {
			return d, err
		}
		desk := pista.Desk{Slug: slug, Title: slug, Recipient: did.Recipient().String()}
		if err := st.Desks.CreateDesk(ctx, &desk, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: wrapped}}); err != nil {
			return d, err
		}
		desks[i] = desk.ID
		deskRecipient = did.Recipient()
	}
	idKey, err := st.Settings.Secret(ctx, "id-key", 32)
	if err != nil {
		return d, err
	}
	seal, err := sealedid.New(idKey)
	if err != nil {
		return d, err
	}
	// Deep: a tenth of the way from the oldest, so 90% of the walk is
	// newer.
	d.deep = seal.Seal(sealedid.Item, int64(max(o.Items/10, 2)))

	// One small object, the same bytes for every item: the inbox reads
	// none, the sweep only their names.
	var obj bytes.Buffer
	w, err := age.Encrypt(&obj, deskRecipient)
	if err != nil {
		return d, err
	}
	io.WriteString(w, "A tip of the scale benchmark.")
	w.Close()

	now := time.Now().Unix() / 3600
	p := bulkParams{n: int64(o.Items), nowHour: now, perHour: 60, big: desks[0], small: desks[1], journalist: j.ID,
		recipient: j.Recipient, size: int64(obj.Len())}
	if backend == "postgres" {
		err = bulkPostgres(ctx, d.database, p)
	} else {
		st.Close()
		err = bulkSQLite(ctx, filepath.Join(d.dir, server.DBFile), p)
	}
	if err != nil {
		return d, err
	}
	return d, writeObjects(filepath.Join(d.dir, "objects"), p, obj.Bytes())
}

// bulkParams describe the conversations: conversation x (1…n) has the
// item x, written in hour nowHour - (n-x)/perHour; every fifth is the
// small desk's; a tenth are in progress and a tenth closed; a
// twenty-fifth assigned to the journalist; a twentieth unread, a
// fiftieth starred; a third tagged "lead", a thousandth "rare".
type bulkParams struct {
	n, nowHour, perHour int64
	big, small          int64
	journalist          int64
	recipient           string
	size                int64
}

// objectKey is item x's object key: its hour, then x.
func (p bulkParams) objectKey(x int64) string {
	return fmt.Sprintf("%08x%024x", p.hour(x), x)
}

func (p bulkParams) hour(x int64) int64 { return p.nowHour - (p.n-x)/p.perHour }

// bulkStatements are the bulk inserts, in an order foreign keys accept;
// {{SERIES}} is the numbers 1…n as a table g(x), {{ID}} a random
// conversation ID, {{KEY}} the object key of c.last_item and its hour.
var bulkStatements = []string{
	`INSERT INTO sources (id, lookup, recipient, created)
		SELECT x, {{LOOKUP}}, $rcpt, ($now - ($n - x) / $per) * 3600 FROM {{SERIES}}`,
	`INSERT INTO conversations (id, desk_id, source_id, created, updated, last_item, channel, status, assignee_id)
		SELECT {{ID}}, CASE WHEN x % 5 = 0 THEN $small ELSE $big END, x,
			($now - ($n - x) / $per) * 3600, ($now - ($n - x) / $per) * 3600, x, 'web',
			CASE x % 10 WHEN 1 THEN 'in_progress' WHEN 2 THEN 'closed' ELSE 'new' END,
			CASE WHEN x % 25 = 0 THEN $j ELSE NULL END
		FROM {{SERIES}}`,
	`INSERT INTO items (id, conversation_id, kind, object, size, encrypted_by, created) {{OVERRIDING}}
		SELECT c.last_item, c.id, 'message', {{KEY}}, $size, 'browser', c.created
		FROM conversations c`,
	`INSERT INTO reads (journalist_id, conversation_id, seen_item)
		SELECT $j, c.id, c.last_item FROM conversations c WHERE c.last_item % 20 <> 0`,
	`INSERT INTO stars (journalist_id, conversation_id, desk_id, last_item)
		SELECT $j, c.id, c.desk_id, c.last_item FROM conversations c WHERE c.last_item % 50 = 3`,
	`INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
		SELECT c.id, 'lead', c.desk_id, c.last_item FROM conversations c WHERE c.last_item % 3 = 0`,
	`INSERT INTO conversation_tags (conversation_id, tag, desk_id, last_item)
		SELECT c.id, 'rare', c.desk_id, c.last_item FROM conversations c WHERE c.last_item % 1000 = 7`,
}

// bulkSQL fills a statement for a dialect.
func bulkSQL(stmt string, p bulkParams, dialect map[string]string) string {
	for k, v := range dialect {
		stmt = strings.ReplaceAll(stmt, k, v)
	}
	return strings.NewReplacer("$rcpt", "'"+strings.ReplaceAll(p.recipient, "'", "''")+"'",
		"$now", strconv.FormatInt(p.nowHour, 10), "$n", strconv.FormatInt(p.n, 10), "$per", strconv.FormatInt(p.perHour, 10),
		"$small", strconv.FormatInt(p.small, 10), "$big", strconv.FormatInt(p.big, 10), "$j", strconv.FormatInt(p.journalist, 10),
		"$size", strconv.FormatInt(p.size, 10)).Replace(stmt)
}

func bulkSQLite(ctx context.Context, path string, p bulkParams) error {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	dialect := map[string]string{
		"{{SERIES}}":     fmt.Sprintf("(WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %d) SELECT x FROM g)", p.n),
		"{{LOOKUP}}":     "CAST(printf('scale-source-%020d', x) AS BLOB)",
		"{{ID}}":         "lower(hex(randomblob(13)))",
		"{{KEY}}":        "printf('%08x%024x', c.created / 3600, c.last_item)",
		"{{OVERRIDING}}": "",
	}
	for _, s := range bulkStatements {
		if _, err := tx.ExecContext(ctx, bulkSQL(s, p, dialect)); err != nil {
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	return tx.Commit()
}

func bulkPostgres(ctx context.Context, dbURL string, p bulkParams) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	dialect := map[string]string{
		"{{SERIES}}":     fmt.Sprintf("generate_series(1, %d) g(x)", p.n),
		"{{LOOKUP}}":     "convert_to('scale-source-' || lpad(x::text, 20, '0'), 'UTF8')",
		"{{ID}}":         "substr(md5(random()::text || x::text), 1, 26)",
		"{{KEY}}":        "lpad(to_hex(c.created / 3600), 8, '0') || lpad(to_hex(c.last_item), 24, '0')",
		"{{OVERRIDING}}": "OVERRIDING SYSTEM VALUE",
	}
	stmts := slices.Clone(bulkStatements)
	stmts = append(stmts,
		`SELECT setval(pg_get_serial_sequence('items', 'id'), (SELECT max(id) FROM items))`,
		`SELECT setval(pg_get_serial_sequence('sources', 'id'), (SELECT max(id) FROM sources))`)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, bulkSQL(s, p, dialect)); err != nil {
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	// What autovacuum would have done by the time a database holds this
	// much.
	_, err = conn.Exec(ctx, `VACUUM ANALYZE`)
	return err
}

// writeObjects writes every item's object as blob.Local lays it out.
func writeObjects(objects string, p bulkParams, obj []byte) error {
	made := map[string]bool{}
	for x := int64(1); x <= p.n; x++ {
		k := p.objectKey(x)
		dir := filepath.Join(objects, k[:6], k[6:8])
		if !made[dir] {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			made[dir] = true
		}
		if err := os.WriteFile(filepath.Join(dir, k), obj, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// scaleSchema makes a schema of its own on the server dbURL names and
// returns the URL of it (its search_path) and how to drop it.
func scaleSchema(ctx context.Context, dbURL string) (string, func() error, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("--database: %w", err)
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("pista_scale_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, err
	}
	drop := func() error {
		c, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		return err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// loginJournalist logs in as the newsroom's login page does: the
// parameters, the authentication key derived here, the TOTP code.
func loginJournalist(ctx context.Context, base string, d *scaleData) (*http.Client, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
	token, err := csrfToken(ctx, c, base+"/newsroom/login")
	if err != nil {
		return nil, err
	}
	resp, err := c.PostForm(base+"/newsroom/login/params", url.Values{"csrf": {token}, "name": {d.user}})
	if err != nil {
		return nil, err
	}
	var params struct {
		Salt []byte `json:"salt"`
		KDF  string `json:"kdf"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&params)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("login params: %s: %w", resp.Status, err)
	}
	k, err := keys.DeriveJournalist(ctx, d.pass, params.Salt, params.KDF)
	if err != nil {
		return nil, err
	}
	code, err := totp.GenerateCode(d.totpSecret, time.Now())
	if err != nil {
		return nil, err
	}
	resp, err = c.PostForm(base+"/newsroom/login", url.Values{"csrf": {token}, "name": {d.user},
		"auth": {base64.StdEncoding.EncodeToString(k.Auth)}, "totp": {code}})
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"next":"/newsroom/"`) {
		return nil, fmt.Errorf("journalist login: %s\n%s", resp.Status, snippet(body))
	}
	return c, nil
}

// inboxRowRe counts the conversations of an inbox page.
const inboxRowMark = `href="/newsroom/c/`

// inboxLatency asks for page n+1 times (the first warms up) and returns
// the median time and the rows of the page.
func inboxLatency(ctx context.Context, c *http.Client, page string, n int) (time.Duration, int, error) {
	var times []float64
	rows := 0
	for i := 0; i <= n; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
		if err != nil {
			return 0, 0, err
		}
		start := time.Now()
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("GET %s: %s\n%s", page, resp.Status, snippet(body))
		}
		rows = strings.Count(string(body), inboxRowMark)
		if i > 0 {
			times = append(times, float64(took))
		}
	}
	return time.Duration(Median(times)), rows, nil
}

// tipRate sends new sources' tips with the proof of work, four at once,
// for d, and returns the rate of receipts.
func tipRate(ctx context.Context, base, desk string, d time.Duration) (float64, int, error) {
	rs := &realSources{url: base, desk: desk, end: time.Now().Add(d)}
	var mu sync.Mutex
	var total Tally
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var t Tally
			for time.Now().Before(rs.end) && ctx.Err() == nil {
				rs.tip(ctx, true, &t)
			}
			mu.Lock()
			total.add(t)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if total.OK == 0 {
		return 0, 0, fmt.Errorf("no tip was received (%d attempts): %v", total.Attempts(), total.FirstErr)
	}
	return float64(total.OK) / elapsed.Seconds(), total.OK, nil
}

// measureBucketUpload sends one upload of o.Upload bytes to a pista
// whose objects are in the bucket, and the same request to a baseline
// that streams the file through age into the same bucket.
func measureBucketUpload(ctx context.Context, o ScaleOptions, rep *ScaleReport) error {
	cfg, err := s3.ParseURL(o.Objects)
	if err != nil {
		return err
	}
	if cfg.Creds, err = s3.Credentials("", os.Getenv); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.Dir, "pista-scale-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(ctx, server.Config{Data: filepath.Join(dir, "data"), MaxUpload: o.Upload + MiB, Objects: o.Objects, MinFreeDisk: -1, Log: logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	slug, err := makeDesk(ctx, srv.Stores)
	if err != nil {
		return err
	}
	hs, u, err := listen(srv.Handler)
	if err != nil {
		return err
	}
	defer hs.Close()
	pistaT := newTarget("pista", u, slug, "")

	client, err := minio.New(cfg.Endpoint, &minio.Options{Creds: cfg.Creds, Secure: cfg.TLS, Region: cfg.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	bh, err := bucketBaseline(client, cfg.Bucket, cfg.Prefix+"baseline-")
	if err != nil {
		return err
	}
	bs, bu, err := listen(bh)
	if err != nil {
		return err
	}
	defer bs.Close()
	baseT := newTarget("baseline", bu, "", "")

	mibps := func(t *Target) (float64, error) {
		d, err := t.Upload(ctx, o.Upload, nil)
		if err != nil {
			return 0, err
		}
		return float64(o.Upload) / MiB / d.Seconds(), nil
	}
	// Baseline first, pista second, then each again: the medians of two.
	var ps, bs2 []float64
	for range 2 {
		b, err := mibps(baseT)
		if err != nil {
			return err
		}
		p, err := mibps(pistaT)
		if err != nil {
			return err
		}
		bs2, ps = append(bs2, b), append(ps, p)
	}
	// The baseline's objects go; pista's stay with its rows until the
	// bucket is dropped (they are the benchmark's only).
	for obj := range client.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: cfg.Prefix + "baseline-"}) {
		if obj.Err == nil {
			client.RemoveObject(ctx, cfg.Bucket, obj.Key, minio.RemoveObjectOptions{})
		}
	}
	p, b := Median(ps), Median(bs2)
	rep.add(ScaleRow{Backend: "s3", What: "upload " + Human(o.Upload) + " to the bucket: pista", Value: p, Unit: "MiB/s"})
	rep.add(ScaleRow{Backend: "s3", What: "upload " + Human(o.Upload) + " to the bucket: baseline (age to S3)", Value: b, Unit: "MiB/s"})
	rep.add(ScaleRow{Backend: "s3", What: "upload " + Human(o.Upload) + " to the bucket / baseline", Value: p / b, Unit: "ratio",
		Goal: fmt.Sprintf("≥ %.1f", GoalS3Ratio), Met: p/b >= GoalS3Ratio})
	return nil
}

// bucketBaseline is BaselineHandler with a bucket for a disk: each file
// part streamed through age to one hybrid recipient into a new object,
// in parts of s3.PartSize as pista's store sends them.
func bucketBaseline(c *minio.Client, bucket, prefix string) (http.Handler, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, err
	}
	rcpt := id.Recipient()
	n := 0
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mr, err := r.MultipartReader()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if p.FileName() == "" {
				io.Copy(io.Discard, p)
				continue
			}
			mu.Lock()
			n++
			key := fmt.Sprintf("%s%d", prefix, n)
			mu.Unlock()
			pr, pw := io.Pipe()
			go func() {
				aw, err := age.Encrypt(pw, rcpt)
				if err == nil {
					_, err = io.Copy(aw, p)
				}
				if err == nil {
					err = aw.Close()
				}
				pw.CloseWithError(err)
			}()
			if _, err := c.PutObject(r.Context(), bucket, key, pr, -1, minio.PutObjectOptions{PartSize: s3.PartSize}); err != nil {
				pr.CloseWithError(err)
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	}), nil
}

// WriteTable writes the rows with their goals and verdicts, and returns
// whether every measured goal was met.
func (r *ScaleReport) WriteTable(w io.Writer) bool {
	o := r.Options
	fmt.Fprintf(w, "pista bench --scale: %d conversations per backend; inbox rows are the median of %d requests\n\n", o.Items, o.Requests)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "backend\tmeasure\tvalue\tgoal\tverdict\tnote")
	all := true
	for _, row := range r.Rows {
		value, verdict := "", ""
		switch {
		case row.Skipped:
			value, verdict = "—", "not measured"
		case row.Unit == "ratio":
			value = fmt.Sprintf("%.2f", row.Value)
		default:
			value = fmt.Sprintf("%.1f %s", row.Value, row.Unit)
		}
		if row.Goal != "" && !row.Skipped {
			verdict = "met"
			if !row.Met {
				verdict, all = "NOT MET", false
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Backend, row.What, value, row.Goal, verdict, row.Note)
	}
	tw.Flush()
	return all
}

// ErrScaleGoal is what --check answers when a goal is not met.
var ErrScaleGoal = errors.New("a scale goal is not met")
