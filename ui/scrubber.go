package ui

import (
	"encoding/binary"
	"io/fs"
)

// The browser's metadata scrubber (static/scrub.wasm, built by
// cmd/scrubwasm): what a source's browser downloads when it sends files
// to be scrubbed (gzipped, as the server sends it) and what that unpacks
// to (gzip's trailer holds it), for the page's text and its progress bar.
var scrubberGzip, scrubberBytes = func() (int64, int64) {
	b, err := fs.ReadFile(staticFS, "static/scrub.wasm.gz")
	if err != nil || len(b) < 4 {
		return 0, 0
	}
	return int64(len(b)), int64(binary.LittleEndian.Uint32(b[len(b)-4:]))
}()

// ScrubberSize is what the browser's metadata scrubber costs to download,
// for people: "4.5 MB".
func (p *Page) ScrubberSize() string { return HumanSize(scrubberGzip) }

// ScrubberBytes is the size of the browser's metadata scrubber unpacked:
// the bytes its download delivers to the page's script.
func (p *Page) ScrubberBytes() int64 { return scrubberBytes }
