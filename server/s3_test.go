package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/blob/s3"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// A server with --objects s3://… keeps the objects of a tip sent through
// the form without JavaScript in the bucket, where the desk's key opens
// them, and none in the data folder.
func TestObjectsInS3(t *testing.T) {
	m := blobtest.MinIO(t)
	bucket := m.Bucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Pass)
	in := pistatest.New(t, server.Config{Objects: "s3://" + bucket + "/pista?endpoint=" + m.Endpoint + "&tls=false"})
	alice := in.Journalist("alice")
	_, deskID := in.DeskWithIdentity("americas", alice)

	// A file of more than one part, which no scrubber knows.
	file := make([]byte, s3.PartSize+123)
	rand.Read(file)
	r := in.Browser().Submit("americas", "the ledger is attached", pistatest.Part{Name: "files", Value: string(file), Filename: "ledger.bin"})
	if r.Status != http.StatusOK || r.Codename(t) == "" {
		t.Fatalf("submission: %d\n%s", r.Status, r.Body)
	}

	ctx := context.Background()
	items, err := in.Srv.Stores.Tips.ItemsFor(ctx, alice.ID, 0, 100)
	if err != nil || len(items) != 2 {
		t.Fatalf("ItemsFor = %d items, %v; want a message and a file", len(items), err)
	}
	open := func(key string) []byte {
		t.Helper()
		obj, err := m.Client.GetObject(ctx, bucket, "pista/"+key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		r, err := age.Decrypt(obj, deskID)
		if err != nil {
			t.Fatalf("object %s in the bucket: %v", key, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var kinds []pista.ItemKind
	for _, it := range items {
		kinds = append(kinds, it.Kind)
		switch it.Kind {
		case pista.KindMessage:
			if got := string(open(it.Object)); !strings.Contains(got, "the ledger is attached") {
				t.Errorf("the message in the bucket reads %q", got)
			}
		case pista.KindFile:
			if got := open(it.Object); !bytes.Equal(got[:min(len(got), len(file))], file) {
				t.Errorf("the file in the bucket is not the file sent (%d bytes, sent %d)", len(got), len(file))
			}
			if it.Meta != "" && !strings.Contains(string(open(it.Meta)), "ledger.bin") {
				t.Errorf("the file's name is not in its metadata object")
			}
		}
	}
	if len(kinds) != 2 || kinds[0] != pista.KindMessage || kinds[1] != pista.KindFile {
		t.Fatalf("items %v, want a message and a file", kinds)
	}
	// Nothing in the data folder but the database: no object, no spool.
	filepath.WalkDir(filepath.Join(in.Data, "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("an object in the data folder: %s", p)
		}
		return nil
	})
	if tmp := in.TempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	// What the bucket holds is what the rows name.
	keys, err := in.Srv.Stores.Blobs.Keys(ctx)
	if err != nil || len(keys) != 2+countMeta(items) {
		t.Errorf("the bucket holds %q, %v", keys, err)
	}
}

func countMeta(items []pista.Item) int {
	n := 0
	for _, it := range items {
		if it.Meta != "" {
			n++
		}
	}
	return n
}

// A bucket's orphans are swept an hour at a time, and only once older
// than server.OrphanGrace: a younger object may be a submission still
// arriving at another instance.
func TestSweepRecentOrphans(t *testing.T) {
	m := blobtest.MinIO(t)
	bucket := m.Bucket(t)
	t.Setenv("AWS_ACCESS_KEY_ID", m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Pass)
	in := pistatest.New(t, server.Config{Objects: m.URL(bucket)})
	in.StoreTip(in.Desk("americas", in.Journalist("alice")))
	ctx := context.Background()
	used, err := in.Srv.Stores.Blobs.Keys(ctx)
	if err != nil || len(used) == 0 {
		t.Fatalf("Keys = %q, %v", used, err)
	}
	fresh, _, err := in.Srv.Stores.Blobs.Put(ctx, strings.NewReader("age-encryption.org/v1 a write in flight"))
	if err != nil {
		t.Fatal(err)
	}
	// Left by a crash three days ago (keys begin with their hour).
	hour := time.Now().Add(-72*time.Hour).Unix() / 3600
	old := fmt.Sprintf("%08x", hour) + "0123456789abcdef01234567"
	if _, err := m.Client.PutObject(ctx, bucket, old, strings.NewReader("age-encryption.org/v1 orphan"), -1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	recent := in.Srv.Stores.Blobs.(server.RecentKeyer)
	now := time.Now()
	n, err := server.SweepRecentOrphans(ctx, in.Srv.Stores.Tips, recent, now.Add(-server.SweepBack), now.Add(-server.OrphanGrace))
	if err != nil || n != 1 {
		t.Fatalf("SweepRecentOrphans = %d, %v; want 1", n, err)
	}
	keys, _ := in.Srv.Stores.Blobs.Keys(ctx)
	if len(keys) != len(used)+1 || !slices.Contains(keys, fresh) || slices.Contains(keys, old) {
		t.Fatalf("after the sweep: %q; want the tip's %q and the write in flight %s", keys, used, fresh)
	}
}
