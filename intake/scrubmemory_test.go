package intake_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/pulled"
	"github.com/pista-tips/pista/server"
)

// largePDF is an ordinary PDF of about size bytes, the most of it one
// uncompressed image (as a scanner makes them), with an author in its
// Info dictionary.
func largePDF(size int) []byte {
	pixels := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range pixels {
		pixels[i] = byte(rng.Uint32())
	}
	side := 1024
	rows := size / side
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>",
		fmt.Sprintf("<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 /Length %d >>\nstream\n%s\nendstream", side, rows, side*rows, pixels[:side*rows]),
		"<< /Length 29 >>\nstream\nq 612 0 0 792 0 0 cm /Im1 Do Q\nendstream",
		"<< /Author (A Source) /Producer (scanner) >>",
	}
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// A 12 MB scanned PDF is over the default budget of a file scrubbed on
// arrival: stored as sent and flagged too complex. A server given more
// memory for scrubbing (pista serve --scrub-memory 64MiB) scrubs it.
func TestScrubMemoryTakesLargerPDFs(t *testing.T) {
	pdf := largePDF(12 << 20)
	for _, tc := range []struct {
		name     string
		memory   int64
		scrubbed bool
	}{
		{"default budget", 0, false},
		{"scrub-memory 64MiB", 64 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := pistatest.New(t, server.Config{ScrubMemory: tc.memory})
			j := in.Journalist("alice")
			desk, deskID := deskWithIdentity(t, in, "americas", j)
			r := in.Browser().Submit(desk.Slug, "the scan", pistatest.Part{Name: "files", Filename: "scan.pdf", Value: string(pdf)})
			if r.Status != 200 {
				t.Fatalf("submit: %d", r.Status)
			}
			items, err := in.Srv.Stores.Tips.ItemsFor(context.Background(), j.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				if it.Kind != pista.KindFile {
					continue
				}
				meta, err := pulled.ParseMeta(decrypt(t, in, deskID, it.Meta))
				if err != nil {
					t.Fatal(err)
				}
				rep := meta.Scrub
				content := decrypt(t, in, deskID, it.Object)[:*meta.Size]
				switch {
				case rep == nil:
					t.Fatal("no scrub report")
				case tc.scrubbed:
					if !rep.Scrubbed || rep.TooComplex || bytes.Contains(content, []byte("A Source")) {
						t.Errorf("report %+v, author kept: %v; want scrubbed", *rep, bytes.Contains(content, []byte("A Source")))
					}
				default:
					if rep.Scrubbed || !rep.TooComplex || !strings.Contains(rep.Note, "too complex") || !bytes.Equal(content, pdf) {
						t.Errorf("report %+v, stored as sent: %v; want too complex, as sent", *rep, bytes.Equal(content, pdf))
					}
				}
				return
			}
			t.Fatal("no file stored")
		})
	}
}
