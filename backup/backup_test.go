package backup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/backup"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// fixture is a running instance with a desk and tips, and an admin key.
type fixture struct {
	in    *pistatest.Instance
	j     *pistatest.Journalist
	desk  pista.Desk
	deskK *age.HybridIdentity
	admin *age.HybridIdentity
	dir   string
	// objects is the bucket of the objects, if they are not in the
	// data folder.
	objects string
}

func newFixture(t *testing.T, tips int) *fixture {
	t.Helper()
	in := pistatest.New(t, server.Config{})
	j := in.Journalist("alice")
	desk, id := in.DeskWithIdentity("americas", j)
	admin, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{in: in, j: j, desk: desk, deskK: id, admin: admin, dir: t.TempDir()}
	for range tips {
		in.StoreTip(desk)
	}
	if err := os.WriteFile(filepath.Join(in.Data, "onion-source.key"), []byte("== ed25519v1-secret: type0 ==\x00\x00\x00not a real key"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) backup(t *testing.T, name string, since *backup.Catalog) *backup.Result {
	t.Helper()
	res, err := backup.Create(context.Background(), backup.Options{
		Data: f.in.Data, Out: filepath.Join(f.dir, name), Recipients: []age.Recipient{f.admin.Recipient()}, Since: since, Version: "test",
	})
	if err != nil {
		t.Fatalf("backup %s: %v", name, err)
	}
	return res
}

func (f *fixture) catalog(t *testing.T, name string) *backup.Catalog {
	t.Helper()
	fh, err := os.Open(backup.CatalogFile(filepath.Join(f.dir, name)))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	c, err := backup.ReadCatalog(fh)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) restore(target string, names ...string) (*backup.Restored, error) {
	var in []string
	for _, n := range names {
		in = append(in, filepath.Join(f.dir, n))
	}
	return backup.Restore(context.Background(), backup.RestoreOptions{In: in, Identities: []age.Identity{f.admin}, Data: target})
}

// messages opens a data folder and decrypts every item of the desk with
// its key: the texts of the messages.
func (f *fixture) messages(t *testing.T, data string) []string {
	t.Helper()
	ctx := context.Background()
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if f.objects != "" {
		if err := st.UseObjects(ctx, f.objects, ""); err != nil {
			t.Fatal(err)
		}
	}
	var texts []string
	for after := int64(0); ; {
		items, err := st.Tips.ItemsFor(ctx, f.j.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			break
		}
		for _, it := range items {
			rc, err := st.Blobs.Open(ctx, it.Object)
			if err != nil {
				t.Fatalf("item %d: %v", it.ID, err)
			}
			r, err := age.Decrypt(rc, f.deskK)
			if err != nil {
				t.Fatalf("item %d: %v", it.ID, err)
			}
			b, err := io.ReadAll(r)
			rc.Close()
			if err != nil {
				t.Fatalf("item %d: %v", it.ID, err)
			}
			texts = append(texts, string(b))
		}
		after = items[len(items)-1].ID
	}
	return texts
}

func TestFullBackupRestores(t *testing.T) {
	f := newFixture(t, 5)
	res := f.backup(t, "full.age", nil)
	if res.Counts.Conversations != 5 || res.Counts.Items != 5 || res.Copied != 5 || res.Skipped != 0 {
		t.Errorf("backup: %+v", res)
	}
	target := filepath.Join(f.dir, "restored")
	got, err := f.restore(target, "full.age")
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts.Conversations != 5 || got.Counts.Items != 5 || got.Counts.Objects != 5 || got.Counts.Bytes == 0 {
		t.Errorf("restore: %+v", got.Counts)
	}
	if texts := f.messages(t, target); len(texts) != 5 {
		t.Errorf("restored messages: %q", texts)
	}
	// The secrets came along: the codename salt is the same.
	ctx := context.Background()
	st, err := server.OpenStores(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	salt, err := st.CodenameSalt(ctx)
	st.Close()
	want, _ := f.in.Srv.Stores.CodenameSalt(ctx)
	if err != nil || !bytes.Equal(salt, want) {
		t.Errorf("codename salt: %v, equal %v", err, bytes.Equal(salt, want))
	}
	key, err := os.ReadFile(filepath.Join(target, "onion-source.key"))
	if err != nil || !strings.HasSuffix(string(key), "not a real key") {
		t.Errorf("onion key: %q, %v", key, err)
	}

	// A target that holds something is refused.
	if _, err := f.restore(target, "full.age"); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore over a data folder: %v", err)
	}
}

func TestDamagedBackupIsRefused(t *testing.T) {
	f := newFixture(t, 3)
	f.backup(t, "full.age", nil)
	good, err := os.ReadFile(filepath.Join(f.dir, "full.age"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateHybridIdentity()
	for _, tc := range []struct {
		name  string
		body  func() []byte
		ids   []age.Identity
		error string
	}{
		{"flipped byte", func() []byte { b := bytes.Clone(good); b[len(b)/2] ^= 1; return b }, nil, "damaged or cut short"},
		{"flipped last byte", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 0x80; return b }, nil, "damaged or cut short"},
		{"cut", func() []byte { return good[:len(good)*2/3] }, nil, "damaged or cut short"},
		{"cut at a chunk's end", func() []byte { return good[:len(good)-(len(good)-2000)%(64<<10+16)] }, nil, "damaged or cut short"},
		{"cut in the header", func() []byte { return good[:100] }, nil, "start is damaged"},
		{"empty", func() []byte { return nil }, nil, "start is damaged"},
		{"other key", func() []byte { return good }, []age.Identity{other}, "not encrypted to this identity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(f.dir, "bad.age")
			if err := os.WriteFile(file, tc.body(), 0o600); err != nil {
				t.Fatal(err)
			}
			ids := tc.ids
			if ids == nil {
				ids = []age.Identity{f.admin}
			}
			target := filepath.Join(f.dir, "target")
			_, err := backup.Restore(context.Background(), backup.RestoreOptions{In: []string{file}, Identities: ids, Data: target})
			var be *backup.Error
			if !errors.As(err, &be) || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("restore: %v; want a refusal saying %q", err, tc.error)
			}
			t.Logf("refused: %v", err)
			left, _ := filepath.Glob(filepath.Join(f.dir, "target*"))
			if len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

func TestIncrementalBackup(t *testing.T) {
	f := newFixture(t, 4)
	full := f.backup(t, "full.age", nil)
	for range 3 {
		f.in.StoreTip(f.desk)
	}
	inc := f.backup(t, "inc1.age", f.catalog(t, "full.age"))
	if inc.Copied != 3 || inc.Skipped != 4 || !inc.Header.Incremental() || inc.Header.Chain[0] != full.Header.ID {
		t.Errorf("first incremental: copied %d, skipped %d, chain %v", inc.Copied, inc.Skipped, inc.Header.Chain)
	}
	// A conversation deleted after the full backup: its object is in
	// the full backup, its rows are in no later snapshot.
	ctx := context.Background()
	items, err := f.in.Srv.Stores.Tips.ItemsFor(ctx, f.j.ID, 0, 1)
	if err != nil || len(items) != 1 {
		t.Fatal(err)
	}
	gone, err := f.in.Srv.Stores.Tips.DeleteConversation(ctx, f.j.ID, items[0].ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range gone {
		f.in.Srv.Stores.Blobs.Delete(ctx, it.Object)
	}
	f.in.StoreTip(f.desk)
	inc2 := f.backup(t, "inc2.age", f.catalog(t, "inc1.age"))
	if inc2.Copied != 1 || inc2.Skipped != 6 || len(inc2.Header.Chain) != 3 {
		t.Errorf("second incremental: copied %d, skipped %d, chain %v", inc2.Copied, inc2.Skipped, inc2.Header.Chain)
	}

	target := filepath.Join(f.dir, "restored")
	got, err := f.restore(target, "full.age", "inc1.age", "inc2.age")
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts.Conversations != 7 || got.Counts.Objects != 7 || got.Dropped != 1 {
		t.Errorf("restore of the chain: %+v, dropped %d", got.Counts, got.Dropped)
	}
	if texts := f.messages(t, target); len(texts) != 7 {
		t.Errorf("restored messages: %d", len(texts))
	}
	// A prefix of the chain restores an earlier state.
	got, err = f.restore(filepath.Join(f.dir, "earlier"), "full.age", "inc1.age")
	if err != nil || got.Counts.Conversations != 7 {
		t.Errorf("restore of the chain's prefix: %v, %+v", err, got)
	}

	for _, tc := range []struct {
		name  string
		files []string
		error string
	}{
		{"incremental alone", []string{"inc1.age"}, "give its full backup first"},
		{"out of order", []string{"full.age", "inc2.age", "inc1.age"}, "not the next backup of the chain"},
		{"a gap", []string{"full.age", "inc2.age"}, "not the next backup of the chain"},
		{"two full", []string{"full.age", "full.age"}, "only the first --in may be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := filepath.Join(f.dir, "bad")
			_, err := f.restore(target, tc.files...)
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("restore: %v; want %q", err, tc.error)
			}
			if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the target exists: %v", err)
			}
		})
	}
}

// An object a row names that is not in the folder (objects kept in S3,
// or lost) is named in the error, not taken for one deleted meanwhile.
func TestMissingObjectIsNamed(t *testing.T) {
	f := newFixture(t, 2)
	ctx := context.Background()
	items, err := f.in.Srv.Stores.Tips.ItemsFor(ctx, f.j.ID, 0, 1)
	if err != nil || len(items) != 1 {
		t.Fatal(err)
	}
	f.in.Srv.Stores.Blobs.Delete(ctx, items[0].Object)
	out := filepath.Join(f.dir, "b.age")
	_, err = backup.Create(ctx, backup.Options{Data: f.in.Data, Out: out, Recipients: []age.Recipient{f.admin.Recipient()}})
	if err == nil || !strings.Contains(err.Error(), items[0].Object) {
		t.Errorf("backup with an object missing: %v", err)
	}
	if left, _ := filepath.Glob(out + "*"); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
