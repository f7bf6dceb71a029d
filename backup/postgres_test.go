package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/backup"
	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A tip line on PostgreSQL with its objects in a bucket is backed up
// (rows from the database the folder names, objects from the bucket),
// restored into an empty schema and another bucket, and serves there:
// every tip decrypts to what was sent, new tips are taken (the sequences
// moved), the journalist's unread conversations are as they were. A
// damaged backup is refused with the database left empty and no object
// left in the bucket; a database that holds tables is refused.
func TestPostgresBackupRestores(t *testing.T) {
	m := blobtest.MinIO(t)
	t.Setenv("AWS_ACCESS_KEY_ID", m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Pass)
	ctx := context.Background()
	srcBucket := m.URL(m.Bucket(t))
	in := pistatest.New(t, server.Config{Database: pgtest.URL(t), Objects: srcBucket})
	j := in.Journalist("alice")
	desk, deskK := in.DeskWithIdentity("americas", j)
	for range 6 {
		in.StoreTip(desk)
	}
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, j.ID, pista.Page{Limit: 50})
	if err != nil || len(convs) != 6 {
		t.Fatalf("conversations: %d, %v", len(convs), err)
	}
	if err := in.Srv.Stores.Tips.MarkRead(ctx, j.ID, convs[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.Data, "onion-source.key"), []byte("not a real onion key"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{in: in, j: j, desk: desk, deskK: deskK, admin: admin, dir: t.TempDir()}
	want := f.messagesOn(t, in.Data, srcBucket)
	unreadBefore := unread(t, in.Srv.Stores, j.ID)

	out := filepath.Join(f.dir, "pg.age")
	res, err := backup.Create(ctx, backup.Options{Data: in.Data, Out: out, Recipients: []age.Recipient{admin.Recipient()}, Objects: srcBucket, Version: "test"})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if res.Counts.Conversations != 6 || res.Counts.Items != 6 || res.Copied != 6 {
		t.Errorf("backup: %+v", res)
	}

	// Restored into an empty schema and a new bucket.
	dbURL := pgtest.URL(t)
	dstBucket := m.URL(m.Bucket(t))
	target := filepath.Join(f.dir, "restored")
	got, err := backup.Restore(ctx, backup.RestoreOptions{In: []string{out}, Identities: []age.Identity{admin}, Data: target, Database: dbURL, Objects: dstBucket})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got.Counts.Conversations != 6 || got.Counts.Items != 6 || got.Counts.Objects != 6 {
		t.Errorf("restored: %+v", got.Counts)
	}
	if key, err := os.ReadFile(filepath.Join(target, "onion-source.key")); err != nil || string(key) != "not a real onion key" {
		t.Errorf("the onion key: %q, %v", key, err)
	}
	if texts := f.messagesOn(t, target, dstBucket); !slices.Equal(texts, want) {
		t.Errorf("restored messages: %q, want %q", texts, want)
	}
	again := pistatest.New(t, server.Config{Data: target, Objects: dstBucket})
	if u := unread(t, again.Srv.Stores, j.ID); u != unreadBefore || u != 5 {
		t.Errorf("unread conversations after the restore: %d, before %d (want 5)", u, unreadBefore)
	}
	again.StoreTip(desk)
	if texts := f.messagesOn(t, target, dstBucket); len(texts) != 7 {
		t.Errorf("after a new tip on the restored tip line: %d messages", len(texts))
	}

	// A damaged backup: refused, nothing in the database or the bucket.
	good, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(f.dir, "bad.age")
	b := slices.Clone(good)
	b[len(b)-len(b)/5] ^= 1 // in the rows, after the objects
	os.WriteFile(bad, b, 0o600)
	emptyDB := pgtest.URL(t)
	emptyBucket := m.Bucket(t)
	_, err = backup.Restore(ctx, backup.RestoreOptions{In: []string{bad}, Identities: []age.Identity{admin}, Data: filepath.Join(f.dir, "bad"), Database: emptyDB, Objects: m.URL(emptyBucket)})
	if err == nil || !strings.Contains(err.Error(), "damaged or cut short") {
		t.Errorf("restore of a damaged backup: %v", err)
	}
	if n := tables(t, emptyDB); n != 0 {
		t.Errorf("the refused restore left %d tables", n)
	}
	var left []string
	for o := range m.Client.ListObjects(ctx, emptyBucket, minio.ListObjectsOptions{Recursive: true}) {
		left = append(left, o.Key)
	}
	if len(left) != 0 {
		t.Errorf("the refused restore left objects in the bucket: %v", left)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "bad")); err == nil {
		t.Error("the refused restore made the data folder")
	}

	// A bucket that holds objects is refused, and keeps them: a
	// refused restore deletes what it put there.
	_, err = backup.Restore(ctx, backup.RestoreOptions{In: []string{out}, Identities: []age.Identity{admin}, Data: filepath.Join(f.dir, "into-live"), Database: pgtest.URL(t), Objects: srcBucket})
	if err == nil || !strings.Contains(err.Error(), "already holds objects") {
		t.Errorf("restore into the live bucket: %v", err)
	}
	if texts := f.messagesOn(t, in.Data, srcBucket); !slices.Equal(texts, want) {
		t.Errorf("the live tip line after a refused restore into its bucket: %q", texts)
	}

	// A database that holds tables is refused.
	_, err = backup.Restore(ctx, backup.RestoreOptions{In: []string{out}, Identities: []age.Identity{admin}, Data: filepath.Join(f.dir, "full"), Database: dbURL})
	if err == nil || !strings.Contains(err.Error(), "already holds tables") {
		t.Errorf("restore into a database with tables: %v", err)
	}

	// An embedded tip line's backup wants no --database, and the other way.
	_, err = backup.Restore(ctx, backup.RestoreOptions{In: []string{out}, Identities: []age.Identity{admin}, Data: filepath.Join(f.dir, "nodb")})
	if err == nil || !strings.Contains(err.Error(), "--database") {
		t.Errorf("restore of a PostgreSQL backup without --database: %v", err)
	}
}

// messagesOn is messages with the objects in a bucket.
func (f *fixture) messagesOn(t *testing.T, data, bucket string) []string {
	t.Helper()
	f.objects = bucket
	defer func() { f.objects = "" }()
	return f.messages(t, data)
}

func unread(t *testing.T, st *server.Stores, journalist int64) int {
	t.Helper()
	p := pista.Page{Limit: 100}
	p.Unread = true
	convs, err := st.Tips.ConversationsFor(context.Background(), journalist, p)
	if err != nil {
		t.Fatal(err)
	}
	return len(convs)
}

func tables(t *testing.T, url string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
