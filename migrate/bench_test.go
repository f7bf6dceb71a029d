package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/blob/s3"
)

// BenchmarkCopyObjects copies 200 objects of 16 KiB (the size of most of
// an instance's objects: messages, metadata, replies) from a data folder
// to a MinIO on this machine and reads them back, one at a time and
// DefaultWorkers at a time:
//
//	go test ./migrate/ -run '^$' -bench CopyObjects -benchtime 3x -count 5
func BenchmarkCopyObjects(b *testing.B) {
	m := blobtest.MinIO(b)
	bucket := m.Bucket(b)
	dir := b.TempDir()
	local, err := blob.OpenLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var keys []string
	obj := make([]byte, 16<<10)
	for range 200 {
		rand.Read(obj)
		k, _, err := local.Put(ctx, bytes.NewReader(obj))
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k)
	}
	run := 0
	for _, workers := range []int{1, DefaultWorkers} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				run++
				cfg, err := s3.ParseURL(fmt.Sprintf("s3://%s/run%d?endpoint=%s&tls=false", bucket, run, m.Endpoint))
				if err != nil {
					b.Fatal(err)
				}
				cfg.Creds = credentials.NewStaticV4(m.User, m.Pass, "")
				store, err := s3.Open(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				var sum Summary
				b.StartTimer()
				if err := copyObjects(ctx, keys, dir, store, workers, &sum, func(Progress) {}); err != nil {
					b.Fatal(err)
				}
				if sum.Objects != len(keys) {
					b.Fatalf("%d objects sent, want %d", sum.Objects, len(keys))
				}
			}
		})
	}
}
