package intake_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/hostile"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/pulled"
	"github.com/pista-tips/pista/server"
)

// A 12 MB scanned PDF is over the default budget of a file scrubbed on
// arrival: stored as sent and flagged too complex. A server given more
// memory for scrubbing (pista serve --scrub-memory 64MiB) scrubs it.
func TestScrubMemoryTakesLargerPDFs(t *testing.T) {
	pdf := hostile.ScannedPDF(12 << 20)
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
			desk, deskID := in.DeskWithIdentity("americas", j)
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
