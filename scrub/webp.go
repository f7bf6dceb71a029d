package scrub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// webpScrubber removes metadata from WebP files (simple lossy, lossless
// and extended, still or animated) by filtering the chunks of their RIFF
// container; the image data is copied byte for byte, never decoded or
// re-encoded.
//
// Removed: the EXIF chunk (camera, serial numbers, dates, GPS position,
// thumbnail), the XMP chunk, every chunk the WebP container does not
// define (vendors' additions), and anything after the RIFF data. The EXIF
// and XMP flags of the VP8X header are cleared and the RIFF size is
// fixed. The EXIF orientation is not kept: the WebP specification says
// viewers must not use it, and they do not.
//
// Kept: VP8X (canvas size and flags), VP8, VP8L, ALPH, ANIM and ANMF
// (animation frames, copied whole) and the ICCP colour profile, kept
// because removing it would change the colours; it is normally a stock
// profile, but it names its creator and, for a calibrated profile, may
// identify a device. It is not reported.
type webpScrubber struct{}

func init() { register(webpScrubber{}) }

func (webpScrubber) Format() string { return "WebP" }

func (webpScrubber) Match(head []byte, name, contentType string) bool {
	return len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP"
}

func webpBad(format string, a ...any) error {
	return &FormatError{Format: "WebP", Err: fmt.Errorf(format, a...)}
}

// webpKept lists the chunks that are kept.
var webpKept = map[string]bool{
	"VP8X": true, "VP8 ": true, "VP8L": true, "ALPH": true,
	"ANIM": true, "ANMF": true, "ICCP": true,
}

// webpChunk is a chunk of the RIFF container: its type, the offset of
// its data and the length of its data (without the pad byte).
type webpChunk struct {
	typ string
	off int64
	n   int64
}

// webpWalk calls fn for each chunk of the RIFF data that ends at end.
func webpWalk(r io.ReaderAt, end int64, fn func(c webpChunk) error) error {
	var h [8]byte
	for off, first := int64(12), true; off < end; first = false {
		if end-off < 8 {
			return webpBad("%d stray bytes at the end of the RIFF data", end-off)
		}
		if err := mediaReadAt("WebP", r, off, h[:]); err != nil {
			return err
		}
		c := webpChunk{typ: string(h[:4]), off: off + 8, n: int64(binary.LittleEndian.Uint32(h[4:]))}
		if c.n > end-c.off {
			return webpBad("chunk %q is longer than the file", c.typ)
		}
		if c.typ == "VP8X" && !first {
			return webpBad("VP8X chunk after the first")
		}
		if first {
			switch {
			case c.typ == "VP8X" && c.n >= 10, c.typ == "VP8 ", c.typ == "VP8L":
			default:
				return webpBad("the first chunk is %q", c.typ)
			}
		}
		if err := fn(c); err != nil {
			return err
		}
		off = c.off + c.n + c.n&1 // a missing pad byte at the very end is tolerated
	}
	return nil
}

func (webpScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	var rep Report
	var h [12]byte
	if err := mediaReadAt("WebP", r, 0, h[:]); err != nil {
		return rep, err
	}
	if string(h[:4]) != "RIFF" || string(h[8:]) != "WEBP" {
		return rep, webpBad("not a RIFF WEBP file")
	}
	end := 8 + int64(binary.LittleEndian.Uint32(h[4:]))
	if end > size {
		return rep, &FormatError{Format: "WebP", Err: fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)}
	}
	if end < 12+8 {
		return rep, webpBad("no chunks")
	}
	// First pass: what there is, and the size of the result.
	outSize := int64(4)
	err := webpWalk(r, end, func(c webpChunk) error {
		if webpKept[c.typ] {
			outSize += 8 + c.n + c.n&1
			return nil
		}
		switch c.typ {
		case "EXIF", "XMP ":
			p := make([]byte, min(c.n, pngInspect))
			if err := mediaReadAt("WebP", r, c.off, p); err != nil {
				return err
			}
			if c.typ == "EXIF" {
				rep.found(KindEXIF)
				mediaParseExif(bytes.TrimPrefix(p, []byte("Exif\x00\x00")), &rep)
			} else {
				rep.found(KindXMP)
				mediaScanXMP(p, &rep)
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if outSize > 0xFFFFFFFF {
		return rep, webpBad("too large") // cannot happen: the result is smaller
	}
	// Second pass: write the kept chunks.
	bw := bufio.NewWriterSize(w, mediaBufSize(size, 64<<10))
	buf := make([]byte, mediaBufSize(size, 32<<10))
	binary.LittleEndian.PutUint32(h[4:], uint32(outSize))
	if _, err := bw.Write(h[:]); err != nil {
		return rep, err
	}
	err = webpWalk(r, end, func(c webpChunk) error {
		if !webpKept[c.typ] {
			return nil
		}
		ch := binary.LittleEndian.AppendUint32([]byte(c.typ), uint32(c.n))
		if _, err := bw.Write(ch); err != nil {
			return err
		}
		data := c.off
		if c.typ == "VP8X" {
			var x [10]byte // flags, reserved, canvas size
			if err := mediaReadAt("WebP", r, c.off, x[:]); err != nil {
				return err
			}
			x[0] &^= 0x08 | 0x04 // EXIF, XMP
			if _, err := bw.Write(x[:]); err != nil {
				return err
			}
			data += 10
		}
		if err := mediaCopy("WebP", bw, r, data, c.off+c.n-data, buf); err != nil {
			return err
		}
		if c.n&1 != 0 {
			return bw.WriteByte(0)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if err := bw.Flush(); err != nil {
		return rep, err
	}
	if rest := size - end; rest > 0 {
		rep.Note = fmt.Sprintf("%d bytes after the end of the image were removed", rest)
	}
	return rep, nil
}
