package migrate_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/blob/s3"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/migrate"
	"github.com/pista-tips/pista/server"
)

// instance is an embedded instance, stopped, and what its users know.
type instance struct {
	data     string
	alice    *pistatest.Journalist
	deskID   *age.HybridIdentity
	codename string
	convs    []pista.Conversation // alice's inbox
	items    []pista.Item         // alice's pull
	message  string               // the first tip's message
	// Forward secrecy: americas' key generation, its signing key, and
	// the live intake keys alice lists.
	deskKeyID int64
	signKey   []byte
	intake    []pista.IntakeKey
}

// embedded runs a real server on a new data folder: a journalist and a
// desk, a tip with a file (two parts' worth, which the bucket takes as a
// multipart upload) and one with a small file, intake keys (one
// destroyed), a conversation key and an item sealed to an intake key, a
// reply, a tag, a star, a reply deleted (so SQLite's item counter is past
// the greatest item ID); then stops it cleanly.
func embedded(t *testing.T) *instance {
	t.Helper()
	ctx := context.Background()
	in := pistatest.New(t, server.Config{Data: t.TempDir()})
	alice, bob := in.Journalist("alice"), in.Journalist("bob")
	_, deskID := in.DeskWithIdentity("americas", alice, bob)
	in.Desk("europe", alice)

	const message = "the ledger is attached"
	big := make([]byte, s3.PartSize+1234)
	rand.Read(big)
	r := in.Browser().Submit("americas", message, pistatest.Part{Name: "files", Value: string(big), Filename: "ledger.bin"})
	if r.Status != http.StatusOK {
		t.Fatalf("submission: %d\n%.1000s", r.Status, r.Body)
	}
	codename := r.Codename(t)
	if r := in.Browser().Submit("europe", "another tip", pistatest.Part{Name: "files", Value: "%PDF-1.7 minutes", Filename: "minutes.pdf"}); r.Status != http.StatusOK {
		t.Fatalf("second submission: %d", r.Status)
	}

	// Bob replies from the web inbox. (Alice logs in after the move: a
	// journalist who logged in during the hour before a server starts
	// waits for the next TOTP code, the move being such a start.)
	b := in.Browser()
	b.LoginJournalist(bob)
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, alice.ID, pista.Page{})
	if err != nil || len(convs) != 2 {
		t.Fatalf("inbox: %v, %v", convs, err)
	}
	first := conversationOf(t, in, alice, "americas")
	deskKeyID, signKey := intake(t, in, alice, first)
	page := b.Get("/newsroom/c/" + first)
	for _, reply := range []string{"thank you, we are reading it", "a reply to delete"} {
		if r := b.Post("/newsroom/c/"+first+"/reply", url.Values{"csrf": {page.CSRF(t)}, "reply": {reply}}); r.Status >= 400 {
			t.Fatalf("reply: %d\n%s", r.Status, r.Text())
		}
	}
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Srv.Stores.Tips.DeleteReply(ctx, first, items[len(items)-1].ID); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.SetTags(ctx, alice.ID, first, []string{"ledger"}); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.SetStar(ctx, alice.ID, first, true); err != nil {
		t.Fatal(err)
	}
	if err := in.Srv.Stores.Tips.MarkRead(ctx, alice.ID, first); err != nil {
		t.Fatal(err)
	}
	st := &instance{data: in.Data, alice: alice, deskID: deskID, codename: codename, message: message,
		deskKeyID: deskKeyID, signKey: signKey}
	st.convs, st.items = listing(t, in.Srv.Stores, alice)
	if st.intake, err = in.Srv.Stores.Tips.IntakeKeysFor(ctx, alice.ID); err != nil || len(st.intake) != 1 {
		t.Fatalf("intake keys: %+v, %v", st.intake, err)
	}
	in.TS.Close()
	if err := in.Srv.Close(); err != nil {
		t.Fatal(err)
	}
	return st
}

// intake gives americas two intake keys, destroys the first, gives
// conversation id a key and an item sealed to the second intake key; it
// answers the desk key generation and its signing key.
func intake(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, id string) (int64, []byte) {
	t.Helper()
	ctx := context.Background()
	tips := in.Srv.Stores.Tips
	d, err := in.Srv.Stores.Desks.DeskBySlug(ctx, "americas")
	if err != nil {
		t.Fatal(err)
	}
	sign := bytes.Repeat([]byte{7}, 32)
	if n, err := tips.AddIntakeKeys(ctx, j.ID, d.KeyID, sign, []pista.IntakeKey{
		{Day: 10, Recipient: "age1pq1intake10", Signature: []byte("sig10"), Sealed: []byte("sealed10")},
		{Day: 20, Recipient: "age1pq1intake20", Signature: []byte("sig20"), Sealed: []byte("sealed20")},
	}); err != nil || n != 2 {
		t.Fatalf("AddIntakeKeys = %d, %v", n, err)
	}
	if n, err := tips.DestroyIntakeKeys(ctx, 11); err != nil || n != 1 {
		t.Fatalf("DestroyIntakeKeys = %d, %v", n, err)
	}
	k, _, err := tips.IntakeFor(ctx, d.ID, 20)
	if err != nil {
		t.Fatal(err)
	}
	if errs, err := tips.SetConversationKeys(ctx, j.ID, []pista.ConversationKey{{Conversation: id, DeskID: d.ID, Recipient: "age1pq1conversation", Sealed: []byte("the conversation's key"), Signature: bytes.Repeat([]byte{7}, 64)}}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	obj, size, err := in.Srv.Stores.Blobs.Put(ctx, strings.NewReader("sealed to the intake key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tips.AddItems(ctx, id, []pista.Item{{Kind: pista.KindMessage, Object: obj, Size: size,
		Sealing: pista.SealingIntake, IntakeKey: k.ID}}); err != nil {
		t.Fatal(err)
	}
	return d.KeyID, sign
}

func conversationOf(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, slug string) string {
	t.Helper()
	ctx := context.Background()
	d, err := in.Srv.Stores.Desks.DeskBySlug(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range convs {
		if c.DeskID == d.ID {
			return c.ID
		}
	}
	t.Fatalf("no conversation of %s", slug)
	return ""
}

// listing is what a journalist sees: the inbox, and what pista pull
// fetches.
func listing(t *testing.T, st *server.Stores, j *pistatest.Journalist) ([]pista.Conversation, []pista.Item) {
	t.Helper()
	ctx := context.Background()
	convs, err := st.Tips.ConversationsFor(ctx, j.ID, pista.Page{})
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.Tips.ItemsFor(ctx, j.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return convs, items
}

// target is an empty PostgreSQL schema and bucket.
type target struct {
	m      *blobtest.MinIOServer
	bucket string
	db     string
}

func newTarget(t *testing.T) *target {
	t.Helper()
	db := pgtest.URL(t)
	m := blobtest.MinIO(t)
	return &target{m: m, bucket: m.Bucket(t), db: db}
}

func (tg *target) config(data string) migrate.Config {
	return migrate.Config{
		Data: data, Database: tg.db, Objects: tg.objects(),
		Getenv: func(k string) string {
			switch k {
			case "AWS_ACCESS_KEY_ID":
				return tg.m.User
			case "AWS_SECRET_ACCESS_KEY":
				return tg.m.Pass
			}
			return ""
		},
	}
}

func (tg *target) objects() string {
	return "s3://" + tg.bucket + "/tips?endpoint=" + tg.m.Endpoint + "&tls=false"
}

// serve starts a server on the target with a new data folder.
func (tg *target) serve(t *testing.T) *pistatest.Instance {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", tg.m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", tg.m.Pass)
	return pistatest.New(t, server.Config{Data: t.TempDir(), Database: tg.db, Objects: tg.objects()})
}

// rows counts the rows of every table of the target but the record of
// migrations and the ID key that postgres.Open makes.
func (tg *target) rows(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, tg.db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range names {
		if n == "schema_migrations" {
			continue
		}
		var c int64
		q := `SELECT count(*) FROM ` + pgx.Identifier{n}.Sanitize()
		if n == "settings" {
			q += ` WHERE name <> 'id-key'`
		}
		if err := conn.QueryRow(ctx, q).Scan(&c); err != nil {
			t.Fatal(err)
		}
		total += c
	}
	return total
}

// folderState is every file and folder under dir: name, size, mode,
// modification time and, for files, the SHA-256 of the contents.
func folderState(t *testing.T, dir string) map[string]string {
	t.Helper()
	s := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		rel, _ := filepath.Rel(dir, p)
		s[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func checkSame(t *testing.T, before, after map[string]string) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed: %q → %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s appeared in the data folder", k)
		}
	}
}

// The whole move: an embedded instance, stopped, moved to PostgreSQL and
// a bucket, changes nothing in its folder; a server on the target with a
// new data folder shows the journalist the same inbox and pull, opens the
// same objects with the desk's key, lets the source log in with the old
// codename and read the reply, and takes new tips without reusing an
// ID. A second run into the filled database is refused.
func TestMigrate(t *testing.T) {
	tg := newTarget(t) // first: skips without PostgreSQL or MinIO
	src := embedded(t)
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(src.data, server.DBFile+"-wal")); err == nil {
		t.Fatalf("a server stopped cleanly left %s-wal", server.DBFile)
	}
	before := folderState(t, src.data)

	var phases []migrate.Phase
	cfg := tg.config(src.data)
	cfg.Progress = func(p migrate.Progress) {
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}
	sum, err := migrate.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	checkSame(t, before, folderState(t, src.data))
	if want := []migrate.Phase{migrate.PhaseObjects, migrate.PhaseVerify, migrate.PhaseRows}; !reflect.DeepEqual(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	// Three messages, two files with their metadata, one reply.
	if sum.Objects != 8 || sum.Present != 0 || sum.Orphans != 1 || len(sum.Missing) != 0 {
		t.Errorf("summary %+v: want 8 objects sent, 1 orphan (the deleted reply's)", sum)
	}
	rows := map[string]int64{}
	for _, tb := range sum.Tables {
		rows[tb.Name] = tb.Rows
	}
	for name, want := range map[string]int64{"journalists": 2, "desks": 2, "desk_keys": 2, "key_wraps": 3, "desk_members": 3,
		"sources": 2, "conversations": 2, "items": 6, "stars": 1, "conversation_tags": 1, "reads": 2, "intake_keys": 2} {
		if rows[name] != want {
			t.Errorf("%s: %d rows copied, want %d", name, rows[name], want)
		}
	}
	if rows["settings"] < 4 {
		t.Errorf("settings: %d rows copied; the instance's secrets are missing", rows["settings"])
	}
	if !reflect.DeepEqual(sum.Dropped, []string{"journalists.password_hash"}) {
		t.Errorf("dropped %q", sum.Dropped)
	}
	checkSequences(t, src.data, tg.db)

	// A server on the target, with a new data folder.
	in := tg.serve(t)
	convs, items := listing(t, in.Srv.Stores, src.alice)
	if !reflect.DeepEqual(convs, src.convs) {
		t.Errorf("the inbox after the move:\n%+v\nbefore:\n%+v", convs, src.convs)
	}
	if !reflect.DeepEqual(items, src.items) {
		t.Errorf("the pull after the move (%d items):\n%+v\nbefore (%d):\n%+v", len(items), items, len(src.items), src.items)
	}
	// Forward secrecy's keys: the live intake key (not the destroyed
	// one), the generation's signing key, the conversation's key (in
	// the inbox rows above) and the item sealed to the intake key (in
	// the pull).
	if got, err := in.Srv.Stores.Tips.IntakeKeysFor(ctx, src.alice.ID); err != nil || !reflect.DeepEqual(got, src.intake) {
		t.Errorf("intake keys after the move: %+v, %v; before: %+v", got, err, src.intake)
	}
	if got, err := in.Srv.Stores.Tips.SignKey(ctx, src.deskKeyID); err != nil || !bytes.Equal(got, src.signKey) {
		t.Errorf("the signing key after the move: %x, %v", got, err)
	}
	keyed, sealed := false, false
	for _, c := range convs {
		keyed = keyed || c.KeyRecipient == "age1pq1conversation" && bytes.Equal(c.Key, []byte("the conversation's key"))
	}
	for _, it := range items {
		sealed = sealed || it.Sealing == pista.SealingIntake && it.IntakeKey == src.intake[0].ID
	}
	if !keyed || !sealed {
		t.Errorf("after the move: a conversation with its key %v, an item under the intake key %v", keyed, sealed)
	}
	var ids []string
	for _, c := range convs {
		ids = append(ids, c.ID)
	}
	signed := false
	sc, err := in.Srv.Stores.Tips.SortConversations(ctx, src.alice.ID, ids)
	for _, c := range sc {
		signed = signed || c.KeyRecipient == "age1pq1conversation" && bytes.Equal(c.KeySignature, bytes.Repeat([]byte{7}, 64))
	}
	if err != nil || !signed {
		t.Errorf("after the move: the conversation key's signature carried %v, %v", signed, err)
	}
	for _, it := range items {
		if it.Kind != pista.KindMessage || it.Sealing == pista.SealingIntake { // the intake key's is no age file
			continue
		}
		obj, err := in.Srv.Stores.Blobs.Open(ctx, it.Object)
		if err != nil {
			t.Fatalf("object %s: %v", it.Object, err)
		}
		r, err := age.Decrypt(obj, src.deskID)
		if err == nil {
			b, _ := io.ReadAll(r)
			if !strings.Contains(string(b), src.message) && !strings.Contains(string(b), "another tip") {
				t.Errorf("a message reads %.80q", b)
			}
		} else if it.ConversationID == conversationOf(t, in, src.alice, "americas") {
			t.Errorf("the desk's key does not open the moved message: %v", err)
		}
		obj.Close()
	}
	// The journalist logs in (passphrase and TOTP secret moved) and
	// reads the conversation.
	b := in.Browser()
	b.LoginJournalist(src.alice)
	if p := b.Get("/newsroom/c/" + conversationOf(t, in, src.alice, "americas")); p.Status != http.StatusOK {
		t.Errorf("the conversation in the inbox: %d", p.Status)
	}
	// The source logs in with the old codename and reads the reply.
	home := in.Browser()
	if r := home.Post("/login", url.Values{"csrf": {home.Get("/").CSRF(t)}, "codename": {src.codename}}); r.Status != http.StatusSeeOther {
		t.Fatalf("the source's login after the move: %d\n%.1000s", r.Status, r.Text())
	}
	p := home.Get("/source")
	if p.Status != http.StatusOK || !strings.Contains(p.Text(), "thank you, we are reading it") {
		t.Fatalf("the source's page after the move: %d\n%.2000s", p.Status, p.Text())
	}
	// New tips go on: new rows take IDs after the copied ones.
	if r := home.PostMultipart("/source/submit", []pistatest.Part{{Name: "csrf", Value: p.CSRF(t)}, {Name: "message", Value: "more"}}); r.Status >= 400 {
		t.Fatalf("the source adds more: %d\n%.1000s", r.Status, r.Text())
	}
	if r := in.Browser().Submit("americas", "a new source"); r.Status != http.StatusOK {
		t.Fatalf("a new tip after the move: %d\n%.1000s", r.Status, r.Text())
	}
	after, err := in.Srv.Stores.Tips.ItemsFor(ctx, src.alice.ID, src.items[len(src.items)-1].ID, 100)
	if err != nil || len(after) != 2 {
		t.Errorf("pull after the last item moved: %d items, %v; want the 2 new ones", len(after), err)
	}
	in.TS.Close()
	in.Srv.Close()

	// Again into the same database: refused, nothing sent.
	_, err = migrate.Run(ctx, tg.config(src.data))
	if !errors.Is(err, migrate.ErrNotEmpty) || !strings.Contains(err.Error(), "items") {
		t.Errorf("a second run: %v, want ErrNotEmpty naming items", err)
	}
	checkSame(t, before, folderState(t, src.data))

	// An object lost before the move (a row names it, the folder has it
	// not): the rest moves, and the summary names it.
	lost := src.items[0].Object
	if err := os.Remove(filepath.Join(src.data, "objects", lost[:6], lost[6:8], lost)); err != nil {
		t.Fatal(err)
	}
	other := &target{m: tg.m, bucket: tg.m.Bucket(t), db: pgtest.URL(t)}
	sum, err = migrate.Run(ctx, other.config(src.data))
	if err != nil || !reflect.DeepEqual(sum.Missing, []string{lost}) || sum.Objects != 7 {
		t.Errorf("with an object lost before: %+v, %v; want it missing and the 7 others sent", sum, err)
	}
}

// checkSequences: PostgreSQL's item sequence is where SQLite's counter
// is, past the deleted reply's ID.
func checkSequences(t *testing.T, data, db string) {
	t.Helper()
	ctx := context.Background()
	lite, err := sql.Open("sqlite", "file:"+filepath.Join(data, server.DBFile)+"?mode=ro&immutable=1")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	var counter, top int64
	if err := lite.QueryRow(`SELECT seq FROM sqlite_sequence WHERE name = 'items'`).Scan(&counter); err != nil {
		t.Fatal(err)
	}
	lite.QueryRow(`SELECT max(id) FROM items`).Scan(&top)
	if counter <= top {
		t.Fatalf("SQLite's item counter %d is not past the greatest item %d: the test deletes no newest item", counter, top)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var last int64
	if err := conn.QueryRow(ctx, `SELECT last_value FROM `+pgx.Identifier{"items_id_seq"}.Sanitize()).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if last != counter {
		t.Errorf("PostgreSQL's item sequence is at %d, SQLite's counter at %d", last, counter)
	}
}

// A run cut short, while objects are sent or while rows are copied,
// leaves the database without a row; a run after it succeeds, sending
// only what the bucket lacks.
func TestMigrateInterruptedThenAgain(t *testing.T) {
	tg := newTarget(t) // first: skips without PostgreSQL or MinIO
	src := embedded(t)
	before := folderState(t, src.data)
	for _, at := range []migrate.Phase{migrate.PhaseObjects, migrate.PhaseRows} {
		ctx, cancel := context.WithCancel(context.Background())
		cfg := tg.config(src.data)
		cfg.Progress = func(p migrate.Progress) {
			if p.Phase == at && p.Done == 2 {
				cancel()
			}
		}
		_, err := migrate.Run(ctx, cfg)
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cut short while %s: %v, want context.Canceled", at, err)
		}
		if !strings.Contains(err.Error(), "again") {
			t.Errorf("the error does not say a run again is safe: %v", err)
		}
		if n := tg.rows(t); n != 0 {
			t.Fatalf("cut short while %s: %d rows left in the database", at, n)
		}
		checkSame(t, before, folderState(t, src.data))
	}
	sum, err := migrate.Run(context.Background(), tg.config(src.data))
	if err != nil {
		t.Fatalf("the run after: %v", err)
	}
	if sum.Present != 8 || sum.Objects != 0 {
		t.Errorf("the run after sent %d objects and found %d; want all 8 found", sum.Objects, sum.Present)
	}
	checkSame(t, before, folderState(t, src.data))
	in := tg.serve(t)
	convs, items := listing(t, in.Srv.Stores, src.alice)
	if !reflect.DeepEqual(convs, src.convs) || !reflect.DeepEqual(items, src.items) {
		t.Errorf("after the run after: %d conversations, %d items; want %d, %d", len(convs), len(items), len(src.convs), len(src.items))
	}

	// An admin command (they take no lock) writes to the folder during a
	// run into another database: nothing is committed.
	other := &target{m: tg.m, bucket: tg.bucket, db: pgtest.URL(t)}
	cfg := other.config(src.data)
	cfg.Progress = func(p migrate.Progress) {
		if p.Phase == migrate.PhaseObjects && p.Done == 1 {
			st, err := server.OpenStores(context.Background(), src.data)
			if err != nil {
				t.Fatal(err)
			}
			st.Settings.Secret(context.Background(), "written-meanwhile", 8)
			st.Close()
		}
	}
	if _, err := migrate.Run(context.Background(), cfg); !errors.Is(err, migrate.ErrChanged) {
		t.Fatalf("a write to the folder during the run: %v, want ErrChanged", err)
	}
	if n := other.rows(t); n != 0 {
		t.Errorf("%d rows committed from a folder that changed during the run", n)
	}
}

// What the command refuses before it reads anything, each with a folder
// left as it was: a folder a server runs on, one with a write-ahead log
// left by a crash, one without pista.db, one already on PostgreSQL.
func TestMigrateRefusals(t *testing.T) {
	ctx := context.Background()
	cfg := func(data string) migrate.Config {
		return migrate.Config{Data: data, Database: "postgres://pista@127.0.0.1/none", Objects: "s3://none?endpoint=127.0.0.1:1"}
	}

	t.Run("a server runs", func(t *testing.T) {
		// No coarsening while the folder is compared.
		in := pistatest.New(t, server.Config{Data: t.TempDir(), CoarsenEvery: time.Hour})
		in.Journalist("alice")
		before := folderState(t, in.Data)
		_, err := migrate.Run(ctx, cfg(in.Data))
		if !errors.Is(err, server.ErrInUse) {
			t.Fatalf("with a server running: %v, want server.ErrInUse", err)
		}
		checkSame(t, before, folderState(t, in.Data))
	})

	t.Run("a server starts meanwhile", func(t *testing.T) {
		in := pistatest.New(t, server.Config{Data: t.TempDir()})
		in.TS.Close()
		in.Srv.Close()
		lock, err := server.HoldStopped(in.Data)
		if err != nil || lock == nil {
			t.Fatalf("HoldStopped = %v, %v", lock, err)
		}
		defer lock.Close()
		if _, err := server.New(ctx, server.Config{Data: in.Data}); !errors.Is(err, server.ErrInUse) {
			t.Fatalf("a server on a folder being moved: %v, want ErrInUse", err)
		}
	})

	t.Run("a crash left a write-ahead log", func(t *testing.T) {
		data := crashed(t)
		before := folderState(t, data)
		_, err := migrate.Run(ctx, cfg(data))
		if !errors.Is(err, migrate.ErrJournal) {
			t.Fatalf("with %s-wal: %v, want ErrJournal", server.DBFile, err)
		}
		checkSame(t, before, folderState(t, data))
	})

	t.Run("no database", func(t *testing.T) {
		data := t.TempDir()
		if _, err := migrate.Run(ctx, cfg(data)); !errors.Is(err, migrate.ErrNoDatabase) {
			t.Fatalf("an empty folder: %v, want ErrNoDatabase", err)
		}
		if es, _ := os.ReadDir(data); len(es) != 0 {
			t.Errorf("the empty folder got %v", es)
		}
	})

	t.Run("already on PostgreSQL", func(t *testing.T) {
		data := t.TempDir()
		os.WriteFile(filepath.Join(data, server.PostgresMark), []byte("postgres://pista@db/pista\n"), 0o600)
		if _, err := migrate.Run(ctx, cfg(data)); !errors.Is(err, migrate.ErrMoved) {
			t.Fatalf("a folder of PostgreSQL: %v, want ErrMoved", err)
		}
	})
}

// crashed makes a data folder as a server killed mid-write leaves it:
// pista.db with a write-ahead log beside it that holds a transaction.
func crashed(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	live := t.TempDir()
	st, err := server.OpenStores(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("sqlite", filepath.Join(live, server.DBFile)+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`INSERT INTO settings (name, value) VALUES ('in-the-log', x'00')`); err != nil {
		t.Fatal(err)
	}
	// Copied while both are open: what the disk holds after a kill.
	data := t.TempDir()
	for _, f := range []string{server.DBFile, server.DBFile + "-wal"} {
		b, err := os.ReadFile(filepath.Join(live, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return data
}
