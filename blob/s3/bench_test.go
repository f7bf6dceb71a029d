package s3_test

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/internal/pistatest"
)

// BenchmarkPut writes one object of $PISTA_BENCH_SIZE bytes (default 64
// MiB) of random-looking bytes, as ciphertext is, to the local folder
// and to S3 (a MinIO on this machine), and reports the throughput and
// the process's peak resident memory (VmHWM):
//
//	PISTA_BENCH_SIZE=1073741824 go test ./blob/s3/ -run '^$' -bench Put -benchtime 1x
func BenchmarkPut(b *testing.B) {
	size := int64(64 << 20)
	if s := os.Getenv("PISTA_BENCH_SIZE"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	m := blobtest.MinIO(b)
	for _, store := range []struct {
		name string
		open func(b *testing.B) pista.BlobStore
	}{
		{"local", func(b *testing.B) pista.BlobStore {
			l, err := blob.OpenLocal(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return l
		}},
		{"s3", func(b *testing.B) pista.BlobStore { return open(b, m, m.URL(m.Bucket(b))) }},
	} {
		b.Run(store.name, func(b *testing.B) {
			s := store.open(b)
			b.SetBytes(size)
			allocated := pistatest.Allocated()
			for b.Loop() {
				key, _, err := s.Put(context.Background(), io.LimitReader(&cipherLike{rand.NewChaCha8([32]byte{})}, size))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				s.Delete(context.Background(), key)
				b.StartTimer()
			}
			b.ReportMetric(float64(pistatest.Allocated()-allocated)/float64(b.N)/(1<<20), "MiB-alloc/op")
			b.ReportMetric(float64(vmHWM())/(1<<20), "MiB-peak-RSS")
		})
	}
	// The baseline: minio-go's own streaming PutObject, 5 MiB parts.
	b.Run("minio-go", func(b *testing.B) {
		bucket := m.Bucket(b)
		b.SetBytes(size)
		for b.Loop() {
			_, err := m.Client.PutObject(context.Background(), bucket, "x", io.LimitReader(&cipherLike{rand.NewChaCha8([32]byte{})}, size), -1,
				minio.PutObjectOptions{PartSize: 5 << 20})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

type cipherLike struct{ r *rand.ChaCha8 }

func (c *cipherLike) Read(p []byte) (int, error) { return c.r.Read(p) }

// vmHWM is the process's peak resident memory, in bytes.
func vmHWM() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}
