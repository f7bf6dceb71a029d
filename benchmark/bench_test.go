package benchmark

import (
	"context"
	"flag"
	"io/fs"
	"path/filepath"
	"testing"
)

var uploadMiB = flag.Int64("upload-mib", 64, "MiB of the file of each upload in BenchmarkUpload")

// BenchmarkUpload sends a file without JavaScript (one streamed multipart
// POST) to the real server (pista) and to the baseline handler, both in
// this process, on 127.0.0.1, writing into the same temporary folder.
// The file is 64 MiB unless -upload-mib says otherwise:
//
//	go test -run '^$' -bench Upload -benchtime 3x ./benchmark/
//	go test -run '^$' -bench Upload -count 6 ./benchmark/ -args -upload-mib 1024 | benchstat -
//
// Compare pista with the baseline of the same run; `pista bench` does
// that, and measures memory too.
func BenchmarkUpload(b *testing.B) {
	ctx := context.Background()
	size := *uploadMiB * MiB
	data := filepath.Join(b.TempDir(), "pista")
	p, err := StartPista(ctx, data, max(4*GiB, size+MiB), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	base, err := StartBaseline(filepath.Join(data, "baseline"))
	if err != nil {
		b.Fatal(err)
	}
	defer base.Close()
	for _, t := range []*Server{p, base} {
		b.Run(t.Name, func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				if _, err := t.Upload(ctx, size, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := t.Clean(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// TestUpload checks the harness: a small file reaches both servers, pista
// answers with its receipt page, each stores the file encrypted, and Clean
// leaves no file behind.
func TestUpload(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "pista")
	p, err := StartPista(ctx, data, 4*GiB, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	base, err := StartBaseline(filepath.Join(data, "baseline"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	const size = 3*MiB + 12345
	for _, s := range []*Server{p, base} {
		sent := false
		if _, err := s.Upload(ctx, size, func() { sent = true }); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if !sent {
			t.Errorf("%s: the body was not reported sent", s.Name)
		}
		// The file's object is age: a header, then 16 bytes of tag per
		// 64 KiB chunk.
		if n := largest(t, s.Files); n < size+16*(size/(64<<10)) || n > size+64<<10 {
			t.Errorf("%s: the largest file stored is %d bytes, for a file of %d", s.Name, n, size)
		}
		if err := s.Clean(); err != nil {
			t.Fatal(err)
		}
		if n := largest(t, s.Files); n >= 0 {
			t.Errorf("%s: Clean left a file of %d bytes", s.Name, n)
		}
	}
	if got := Human(GiB); got != "1 GiB" {
		t.Errorf("Human(GiB) = %q", got)
	}
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("Median = %v", m)
	}
}

// largest is the size of the largest file under dir, or -1.
func largest(t *testing.T, dir string) int64 {
	t.Helper()
	n := int64(-1)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n = max(n, fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
