package benchmark

// Hostile files for goal (d): files of at most 2 MB whose compressed
// parts inflate to hundreds of MiB, as a source (or anyone who can reach
// the submission form) can send them, made by package internal/hostile.

import (
	"fmt"
	"sync"

	"github.com/pista-tips/pista/internal/hostile"
)

// File is a file sent with a tip, held in memory.
type File struct {
	Name, Type string
	Data       []byte
}

// MaxHostileSize is the most a hostile file of goal (d) may weigh.
const MaxHostileSize = 2_000_000

// HostileFiles returns the four files goal (d) scrubs at once: a PDF
// whose object streams inflate to 300 MiB, a PDF whose metadata and
// content streams inflate to 192 MiB each, a DOCX whose document.xml is
// 300 MiB and a PNG that declares 100000 × 100000 pixels. They are made
// once per process.
var HostileFiles = sync.OnceValues(func() ([]File, error) {
	files := []File{
		{"report.pdf", "application/pdf", hostile.PDFBomb(300 * MiB)},
		{"minutes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", hostile.DOCXBomb(300 * MiB)},
		{"annex.pdf", "application/pdf", hostile.PDFStreamsBomb(2, 192*MiB)},
		{"scan.png", "image/png", hostile.PNGBomb(100000, 100000)},
	}
	for _, f := range files {
		if len(f.Data) > MaxHostileSize {
			return nil, fmt.Errorf("benchmark: hostile file %s is %d bytes, over %d", f.Name, len(f.Data), MaxHostileSize)
		}
	}
	return files, nil
})
