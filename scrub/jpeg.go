package scrub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// jpegScrubber removes metadata from JPEG (JFIF and EXIF) files by
// filtering their segments; the image data is copied byte for byte, never
// decoded or re-encoded, so the pixels are exactly those of the original.
//
// Removed:
//   - APP1: EXIF (camera make, model and serial numbers, dates, GPS
//     position, maker notes, the IFD1 thumbnail) and XMP, including
//     extended XMP. If the EXIF said the picture must be turned to be
//     shown upright (Orientation 2–8), a new minimal EXIF segment holding
//     only that Orientation tag takes its place, so that the picture is
//     not shown on its side; nothing else of the EXIF is kept.
//   - APP13: Photoshop image resources, with IPTC (captions, bylines,
//     locations), Photoshop thumbnails and XMP.
//   - APP2 segments other than ICC_PROFILE: FlashPix (FPXR) and MPF, the
//     index of the extra pictures that phones append after the image.
//   - APP3–APP12 and APP15: vendors' segments (maker notes, Ducky,
//     PictureInfo, JUMBF/C2PA content credentials, JPEG XT/HDR extensions,
//     stereo and motion-photo data…). The base image is unchanged, but an
//     HDR gain map or a stereo pair that lived there is lost.
//   - APP0 other than JFIF (JFXX extension thumbnails, AVI1…); the JFIF
//     thumbnail, if any, is removed from the JFIF segment.
//   - COM comments.
//   - Anything after the end-of-image marker: phones append extra
//     pictures (each with its own EXIF), depth maps and the video of
//     "motion photos" there. The report's Note says how many bytes went.
//
// Kept: SOI/EOI, the JFIF APP0 (version, pixel density), APP14 "Adobe"
// (it says how to convert the colours), the frame, scan, Huffman,
// quantisation and restart segments, the entropy-coded data, and the
// APP2 ICC_PROFILE colour profile: removing it would change the colours
// of the picture. An ICC profile is normally a stock one (sRGB, Display
// P3) but it names its creator and may, when it is a calibrated profile,
// identify a device; it is not reported.
type jpegScrubber struct{}

func init() { register(jpegScrubber{}) }

func (jpegScrubber) Format() string { return "JPEG" }

func (jpegScrubber) Match(head []byte, name, contentType string) bool {
	return len(head) >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF
}

func (jpegScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	var rep Report
	if size < 4 {
		return rep, &FormatError{Format: "JPEG", Err: io.ErrUnexpectedEOF}
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, 0, size), mediaBufSize(size, 64<<10))
	bw := bufio.NewWriterSize(w, mediaBufSize(size, 64<<10))
	n, err := jpegFilter(br, bw, &rep)
	if err != nil {
		return rep, mediaStreamErr("JPEG", err)
	}
	if err := bw.Flush(); err != nil {
		return rep, err
	}
	if rest := size - n; rest > 0 {
		rep.Note = fmt.Sprintf("%d bytes after the end of the image were removed (extra pictures or data appended by the camera or an application)", rest)
	}
	return rep, nil
}

// jpegFilter copies the segments of the JPEG read from br that are kept
// to bw, up to and including EOI, and returns how many bytes it read.
func jpegFilter(br *bufio.Reader, bw *bufio.Writer, rep *Report) (int64, error) {
	var read int64
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil {
		return 0, err
	}
	read += 2
	if soi[0] != 0xFF || soi[1] != 0xD8 {
		return read, jpegBad("no start-of-image marker")
	}
	bw.Write(soi[:])
	inScan := false
	exifWritten := false
	var payload []byte
	for {
		if inScan {
			n, err := jpegCopyScan(br, bw)
			read += n
			if err != nil {
				return read, err
			}
		}
		// A marker: 0xFF, any number of 0xFF fill bytes, the code.
		b, err := br.ReadByte()
		if err != nil {
			return read, err
		}
		read++
		if b != 0xFF {
			return read, jpegBad("byte 0x%02X where a marker was expected", b)
		}
		for b == 0xFF {
			if b, err = br.ReadByte(); err != nil {
				return read, err
			}
			read++
		}
		m := b
		switch {
		case m == 0xD9: // EOI
			if _, err := bw.Write([]byte{0xFF, 0xD9}); err != nil {
				return read, err
			}
			return read, nil
		case m == 0xD8:
			return read, jpegBad("second start-of-image marker")
		case m == 0x00:
			return read, jpegBad("stuffed byte outside entropy-coded data")
		case m == 0x01 || (m >= 0xD0 && m <= 0xD7): // TEM, RSTn: no length
			if _, err := bw.Write([]byte{0xFF, m}); err != nil {
				return read, err
			}
			continue
		}
		var lb [2]byte
		if _, err := io.ReadFull(br, lb[:]); err != nil {
			return read, err
		}
		read += 2
		l := int(binary.BigEndian.Uint16(lb[:]))
		if l < 2 {
			return read, jpegBad("segment 0x%02X has length %d", m, l)
		}
		if cap(payload) < l-2 {
			payload = make([]byte, l-2, max(l-2, 1<<10))
		}
		payload = payload[:l-2]
		if _, err := io.ReadFull(br, payload); err != nil {
			return read, err
		}
		read += int64(l - 2)
		out, keep := jpegSegment(m, payload, rep, &exifWritten)
		inScan = m == 0xDA
		if !keep {
			continue
		}
		if len(out) > 0xFFFF-2 {
			return read, jpegBad("segment too long") // cannot happen: out is the payload, shortened, or a 32-byte EXIF
		}
		hdr := []byte{0xFF, m, byte((len(out) + 2) >> 8), byte(len(out) + 2)}
		if _, err := bw.Write(hdr); err != nil {
			return read, err
		}
		if _, err := bw.Write(out); err != nil {
			return read, err
		}
	}
}

// jpegCopyScan copies entropy-coded data (with its stuffed bytes and
// restart markers) from br to bw, and stops before the next other marker.
func jpegCopyScan(br *bufio.Reader, bw *bufio.Writer) (int64, error) {
	var n int64
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return n, err
			}
		}
		buf, _ := br.Peek(br.Buffered())
		i := bytes.IndexByte(buf, 0xFF)
		if i < 0 {
			i = len(buf)
		}
		if i > 0 {
			if _, err := bw.Write(buf[:i]); err != nil {
				return n, err
			}
			br.Discard(i)
			n += int64(i)
			continue
		}
		two, err := br.Peek(2)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		switch c := two[1]; {
		case c == 0x00 || (c >= 0xD0 && c <= 0xD7): // stuffed 0xFF, RSTn
			if _, err := bw.Write(two); err != nil {
				return n, err
			}
			br.Discard(2)
			n += 2
		case c == 0xFF: // fill byte before a marker
			if err := bw.WriteByte(0xFF); err != nil {
				return n, err
			}
			br.Discard(1)
			n++
		default:
			return n, nil
		}
	}
}

var (
	jpegExifID    = []byte("Exif\x00")
	jpegXMPID     = []byte("http://ns.adobe.com/xap/1.0/\x00")
	jpegXMPExtID  = []byte("http://ns.adobe.com/xmp/extension/\x00")
	jpegICCID     = []byte("ICC_PROFILE\x00")
	jpegPSID      = []byte("Photoshop 3.0\x00")
	jpegJFIFID    = []byte("JFIF\x00")
	jpegJFXXID    = []byte("JFXX\x00")
	jpegAdobeID   = []byte("Adobe")
	mediaXMPGPSes = [][]byte{[]byte("GPSLatitude"), []byte("GPSLongitude"), []byte("LocationShown"), []byte("LocationCreated")}
)

// jpegSegment decides what becomes of one marker segment: it returns the
// payload to write (possibly rewritten) and whether to write it, and adds
// what it found to rep.
func jpegSegment(m byte, p []byte, rep *Report, exifWritten *bool) ([]byte, bool) {
	switch {
	case m == 0xE0: // APP0
		if bytes.HasPrefix(p, jpegJFIFID) && len(p) >= 14 {
			if p[12] != 0 || p[13] != 0 || len(p) > 14 {
				if p[12] != 0 && p[13] != 0 {
					rep.found(KindThumbnail)
				}
				p = p[:14]
				p[12], p[13] = 0, 0 // no thumbnail
			}
			return p, true
		}
		if bytes.HasPrefix(p, jpegJFXXID) {
			rep.found(KindThumbnail)
		}
		return nil, false
	case m == 0xE1: // APP1
		switch {
		case bytes.HasPrefix(p, jpegExifID) && len(p) >= 6:
			rep.found(KindEXIF)
			x := mediaParseExif(p[6:], rep)
			if x.orientation > 1 && x.orientation <= 8 && !*exifWritten {
				*exifWritten = true
				return append(append([]byte(nil), "Exif\x00\x00"...), mediaOrientationTIFF(x.orientation)...), true
			}
		case bytes.HasPrefix(p, jpegXMPID) || bytes.HasPrefix(p, jpegXMPExtID):
			rep.found(KindXMP)
			mediaScanXMP(p, rep)
		}
		return nil, false
	case m == 0xE2: // APP2
		if bytes.HasPrefix(p, jpegICCID) {
			return p, true
		}
		return nil, false
	case m == 0xED: // APP13
		if bytes.HasPrefix(p, jpegPSID) {
			jpegPhotoshop(p[len(jpegPSID):], rep)
		}
		return nil, false
	case m == 0xEE: // APP14
		if bytes.HasPrefix(p, jpegAdobeID) {
			return p, true
		}
		return nil, false
	case m >= 0xE3 && m <= 0xEF: // APP3–APP12, APP15
		rep.found(KindMakerNotes)
		return nil, false
	case m == 0xFE: // COM
		rep.found(KindComment)
		return nil, false
	}
	return p, true
}

// jpegPhotoshop reports what a Photoshop APP13 segment's image resources
// hold (IPTC, thumbnails, XMP).
func jpegPhotoshop(p []byte, rep *Report) {
	seen := false
	for len(p) >= 12 && string(p[:4]) == "8BIM" {
		id := binary.BigEndian.Uint16(p[4:])
		nl := int(p[6]) // Pascal name, padded to an even length with its length byte
		o := 6 + 1 + nl
		if o%2 != 0 {
			o++
		}
		if o+4 > len(p) {
			break
		}
		sz := int64(binary.BigEndian.Uint32(p[o:]))
		o += 4
		switch id {
		case 0x0404:
			rep.found(KindIPTC)
			seen = true
		case 0x0409, 0x040C:
			rep.found(KindThumbnail)
			seen = true
		case 0x0424:
			rep.found(KindXMP)
			seen = true
		}
		if sz%2 != 0 {
			sz++
		}
		if sz > int64(len(p)-o) {
			break
		}
		p = p[o+int(sz):]
	}
	if !seen {
		rep.found(KindIPTC) // Photoshop resources, perhaps in a form not read here
	}
}

// mediaScanXMP reports a GPS position named in an XMP packet.
func mediaScanXMP(p []byte, rep *Report) {
	for _, s := range mediaXMPGPSes {
		if bytes.Contains(p, s) {
			rep.found(KindGPS)
			return
		}
	}
}

// mediaExif is what mediaParseExif found in an EXIF (TIFF) structure.
type mediaExif struct {
	orientation uint16
}

// mediaParseExif reads enough of the TIFF structure b to report a GPS
// position (a GPS IFD with more than a version number), maker notes and a
// thumbnail (IFD1), and returns the orientation. It reads only within b
// and follows a fixed number of links, so it is bounded on any input.
func mediaParseExif(b []byte, rep *Report) mediaExif {
	var x mediaExif
	if len(b) < 8 {
		return x
	}
	var bo binary.ByteOrder
	switch string(b[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return x
	}
	entries, next := mediaIFD(b, bo, bo.Uint32(b[4:]))
	for _, e := range entries {
		tag, typ, count := bo.Uint16(e), bo.Uint16(e[2:]), bo.Uint32(e[4:])
		switch tag {
		case 0x0112: // Orientation
			if typ == 3 && count == 1 {
				x.orientation = bo.Uint16(e[8:])
			}
		case 0x8825: // GPS IFD
			gps, _ := mediaIFD(b, bo, bo.Uint32(e[8:]))
			for _, g := range gps {
				if bo.Uint16(g) != 0 { // not GPSVersionID
					rep.found(KindGPS)
					break
				}
			}
		case 0x8769: // EXIF IFD
			sub, _ := mediaIFD(b, bo, bo.Uint32(e[8:]))
			for _, s := range sub {
				if bo.Uint16(s) == 0x927C { // MakerNote
					rep.found(KindMakerNotes)
				}
			}
		}
	}
	if next != 0 {
		if ifd1, _ := mediaIFD(b, bo, next); len(ifd1) > 0 {
			rep.found(KindThumbnail)
		}
	}
	return x
}

// mediaIFD returns the 12-byte entries of the IFD at off in b (as many as
// fit) and the offset of the next IFD (0 if none or unreadable).
func mediaIFD(b []byte, bo binary.ByteOrder, off uint32) ([][]byte, uint32) {
	if off < 8 || int64(off)+2 > int64(len(b)) {
		return nil, 0
	}
	n := int(bo.Uint16(b[off:]))
	p := b[off+2:]
	if max := len(p) / 12; n > max {
		n = max
	}
	entries := make([][]byte, n)
	for i := range entries {
		entries[i] = p[12*i : 12*i+12]
	}
	var next uint32
	if rest := p[12*n:]; len(rest) >= 4 {
		next = bo.Uint32(rest)
		if next == off {
			next = 0
		}
	}
	return entries, next
}

// mediaOrientationTIFF returns a TIFF structure whose only tag is
// Orientation o.
func mediaOrientationTIFF(o uint16) []byte {
	return []byte{
		'M', 'M', 0, 42, 0, 0, 0, 8, // header, IFD0 at 8
		0, 1, // one entry
		0x01, 0x12, 0, 3, 0, 0, 0, 1, byte(o >> 8), byte(o), 0, 0, // Orientation SHORT 1
		0, 0, 0, 0, // no next IFD
	}
}

// mediaStreamErr turns the error of a scrubber reading a stream into what
// Scrub returns: a short read is a *FormatError, as is (already) a
// malformed structure; the error of a failing reader or writer passes
// through.
func mediaStreamErr(format string, err error) error {
	var fe *FormatError
	switch {
	case errors.As(err, &fe):
		return err
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &FormatError{Format: format, Err: fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)}
	}
	return err
}

// jpegBad is a malformed JPEG.
func jpegBad(format string, a ...any) error {
	return &FormatError{Format: "JPEG", Err: fmt.Errorf(format, a...)}
}

// mediaReadAt fills p from r at off; a short read is a *FormatError.
func mediaReadAt(format string, r io.ReaderAt, off int64, p []byte) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF || err == io.ErrUnexpectedEOF {
		return &FormatError{Format: format, Err: fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)}
	}
	return err
}

// mediaCopy copies the n bytes at off in r to w, using buf; a short read
// is a *FormatError.
func mediaCopy(format string, w io.Writer, r io.ReaderAt, off, n int64, buf []byte) error {
	if n <= 0 {
		return nil
	}
	c, err := io.CopyBuffer(w, io.NewSectionReader(r, off, n), buf)
	if err != nil {
		return err
	}
	if c != n {
		return &FormatError{Format: format, Err: fmt.Errorf("truncated: %w", io.ErrUnexpectedEOF)}
	}
	return nil
}

// mediaBufSize is the size of a buffer for a file of size bytes: the
// file's size, within [16, limit].
func mediaBufSize(size int64, limit int) int {
	return int(min(max(size, 16), int64(limit)))
}
