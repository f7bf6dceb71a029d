package scrub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
)

// KindModTime is a file's recorded time of last modification (PNG tIME).
const KindModTime = "modification time"

// pngScrubber removes metadata from PNG (and APNG) files by filtering
// their chunks; the image data is copied byte for byte, never decoded or
// re-encoded. Every chunk's CRC is checked: a file with a bad one is not
// readable PNG and is left as it is.
//
// Kept: the critical chunks (IHDR, PLTE, IDAT, IEND, and any other
// critical chunk, which a viewer needs), the chunks that say how to show
// the pixels (tRNS, gAMA, cHRM, sRGB, iCCP, cICP, mDCV, cLLI, sBIT, bKGD,
// hIST, pHYs), and the APNG animation chunks (acTL, fcTL, fdAT). iCCP
// is kept because removing it would change the colours; it holds a
// profile name chosen by whoever made it, normally a stock one ("ICC
// Profile", "Display P3"). pHYs (the pixel density) is kept: it only says
// how large to print the image, though a density such as 144 dpi hints at
// the kind of screen a screenshot was taken on.
//
// Removed: tEXt, zTXt and iTXt (author, title, software, creation time,
// comments, XMP, and the EXIF, IPTC or XMP that ImageMagick stores as
// "Raw profile type" text), eXIf (EXIF, with GPS positions and camera
// serials), tIME (time of last modification), and every other ancillary
// chunk (sPLT, Apple's iDOT, vendors' chunks), as well as anything after
// IEND. If the EXIF said the picture must be turned to be shown upright,
// a new eXIf chunk holding only the Orientation tag takes its place.
type pngScrubber struct{}

func init() { register(pngScrubber{}) }

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

func (pngScrubber) Format() string { return "PNG" }

func (pngScrubber) Match(head []byte, name, contentType string) bool {
	return bytes.HasPrefix(head, pngSignature)
}

func (pngScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	var rep Report
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), mediaBufSize(size, 64<<10))
	bw := bufio.NewWriterSize(w, mediaBufSize(size, 64<<10))
	n, err := pngFilter(br, bw, size, &rep)
	if err != nil {
		return rep, mediaStreamErr("PNG", err)
	}
	if err := bw.Flush(); err != nil {
		return rep, err
	}
	if rest := size - n; rest > 0 {
		rep.Note = fmt.Sprintf("%d bytes after the end of the image were removed", rest)
	}
	return rep, nil
}

// pngKept lists the ancillary chunks that are kept.
var pngKept = map[string]bool{
	"tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "iCCP": true,
	"cICP": true, "mDCV": true, "cLLI": true, "sBIT": true, "bKGD": true,
	"hIST": true, "pHYs": true, "acTL": true, "fcTL": true, "fdAT": true,
}

// pngInspect is how much of a removed chunk is read to report what it
// was; the rest is only checked against the CRC.
const pngInspect = 1 << 20

func pngBad(format string, a ...any) error {
	return &FormatError{Format: "PNG", Err: fmt.Errorf(format, a...)}
}

// pngFilter copies the kept chunks of the PNG read from br (size bytes)
// to bw, up to and including IEND, and returns how many bytes it read.
func pngFilter(br *bufio.Reader, bw *bufio.Writer, size int64, rep *Report) (int64, error) {
	sig := make([]byte, len(pngSignature))
	if _, err := io.ReadFull(br, sig); err != nil {
		return 0, err
	}
	if !bytes.Equal(sig, pngSignature) {
		return 0, pngBad("no PNG signature")
	}
	if _, err := bw.Write(sig); err != nil {
		return 0, err
	}
	off := int64(len(sig))
	exifWritten := false
	var hdr [8]byte
	var sum [4]byte
	for first := true; ; first = false {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return off, err
		}
		n := int64(binary.BigEndian.Uint32(hdr[:4]))
		typ := string(hdr[4:])
		if n > 0x7FFFFFFF {
			return off, pngBad("chunk %q has length %d", typ, n)
		}
		if off+12+n > size {
			return off, io.ErrUnexpectedEOF
		}
		for _, c := range hdr[4:] {
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
				return off, pngBad("bad chunk type %q", typ)
			}
		}
		if first != (typ == "IHDR") || typ == "IHDR" && n != 13 {
			return off, pngBad("the first chunk is not a 13-byte IHDR")
		}
		crc := crc32.NewIEEE()
		crc.Write(hdr[4:])
		critical := hdr[4] >= 'A' && hdr[4] <= 'Z'
		if critical || pngKept[typ] {
			if _, err := bw.Write(hdr[:]); err != nil {
				return off, err
			}
			if _, err := io.CopyN(io.MultiWriter(bw, crc), br, n); err != nil {
				return off, err
			}
			if _, err := io.ReadFull(br, sum[:]); err != nil {
				return off, err
			}
			if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
				return off, pngBad("chunk %q has a bad CRC", typ)
			}
			if _, err := bw.Write(sum[:]); err != nil {
				return off, err
			}
		} else {
			buf := make([]byte, min(n, pngInspect))
			if _, err := io.ReadFull(br, buf); err != nil {
				return off, err
			}
			crc.Write(buf)
			if _, err := io.CopyN(crc, br, n-int64(len(buf))); err != nil {
				return off, err
			}
			if _, err := io.ReadFull(br, sum[:]); err != nil {
				return off, err
			}
			if binary.BigEndian.Uint32(sum[:]) != crc.Sum32() {
				return off, pngBad("chunk %q has a bad CRC", typ)
			}
			if o := pngReport(typ, buf, rep); o > 1 && o <= 8 && !exifWritten {
				exifWritten = true
				if _, err := bw.Write(pngChunk("eXIf", mediaOrientationTIFF(o))); err != nil {
					return off, err
				}
			}
		}
		off += 12 + n
		if typ == "IEND" {
			return off, nil
		}
	}
}

// pngReport adds to rep what the removed chunk typ (whose data begins
// with p) held, and returns the EXIF orientation if it had one.
func pngReport(typ string, p []byte, rep *Report) uint16 {
	switch typ {
	case "tEXt", "zTXt", "iTXt":
		key, rest, _ := bytes.Cut(p, []byte{0})
		switch k := string(bytes.ToLower(key)); {
		case k == "xml:com.adobe.xmp" || k == "raw profile type xmp":
			rep.found(KindXMP)
			if typ == "iTXt" && len(rest) > 0 && rest[0] == 0 { // uncompressed
				mediaScanXMP(rest, rep)
			}
		case k == "raw profile type exif" || k == "raw profile type app1":
			rep.found(KindEXIF)
		case k == "raw profile type iptc" || k == "raw profile type 8bim":
			rep.found(KindIPTC)
		default:
			rep.found(KindText)
		}
	case "eXIf":
		rep.found(KindEXIF)
		p = bytes.TrimPrefix(p, []byte("Exif\x00\x00"))
		return mediaParseExif(p, rep).orientation
	case "tIME":
		rep.found(KindModTime)
	}
	return 0
}

// pngChunk encodes a chunk.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}
