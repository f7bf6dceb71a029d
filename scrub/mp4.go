package scrub

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// bmffScrubber removes metadata from MP4 (and 3GP, M4V, M4A) and
// QuickTime MOV files, which are trees of ISO base media file format
// boxes ("atoms"). Nothing is moved: each box removed is overwritten in
// place by a 'free' box of the same size filled with zeros, and each time
// removed is overwritten by zeros, so the scrubbed file has exactly the
// size of the original and every offset in it (the stco/co64 chunk
// offsets into 'mdat') still points at the same bytes. The audio and
// video data are copied byte for byte.
//
// Removed (made 'free'):
//   - every 'udta' box (user data: ©xyz GPS position, 3GPP 'loci'
//     location, ©day date, ©mak/©mod camera make and model, ©swr
//     software, authors, titles, comments, cover art, XMP_, vendors'
//     atoms such as thumbnails and maker notes);
//   - every 'meta' and 'meco' box in the file, the movie and the tracks
//     (iTunes-style and QuickTime metadata: keys such as
//     com.apple.quicktime.location.ISO6709, make, model, software,
//     creationdate);
//   - 'uuid' boxes at the top level and in the movie and tracks: XMP and
//     vendors' metadata (Sony, Canon…), except Google's spherical-video
//     box and PIFF protection headers, which say how to play the video;
//   - timed metadata tracks (handler 'meta': GoPro GPMF and Sony rtmd
//     GPS telemetry, Apple mebx, camera motion), whose samples in 'mdat'
//     are zeroed as well — except in fragmented files, where they are
//     kept (their times zeroed) and the report's Note says so.
//
// Zeroed: the creation and modification times of the movie (mvhd), the
// tracks (tkhd) and the media (mdhd), which tell when it was filmed.
//
// Kept: everything else, including subtitle and text tracks (content,
// though some drones write their position into one), the handler names
// in 'hdlr' boxes, which may name the software or the camera maker
// ("GoPro AVC", "Core Media Video"), the encoder settings in sample
// descriptions (which may name the encoder), the track matrix (the
// rotation), and metadata inside the audio or video streams themselves
// (such as SEI messages). A movie whose header is compressed ('cmov',
// very old QuickTime) is not readable.
type bmffScrubber struct{ format string }

func init() {
	register(bmffScrubber{format: "MOV"})
	register(bmffScrubber{format: "MP4"})
}

func (s bmffScrubber) Format() string { return s.format }

// bmffImageBrands are the major brands of ISO BMFF files that are not
// movies: HEIF/AVIF images, Canon CR3 raw pictures, JPEG 2000.
var bmffImageBrands = map[string]bool{
	"heic": true, "heix": true, "heim": true, "heis": true, "hevc": true,
	"hevx": true, "hevm": true, "hevs": true, "mif1": true, "mif2": true,
	"msf1": true, "avif": true, "avis": true, "avci": true, "crx ": true,
	"jp2 ": true, "jpx ": true, "jpm ": true,
}

func (s bmffScrubber) Match(head []byte, name, contentType string) bool {
	if len(head) < 12 {
		return false
	}
	if string(head[4:8]) == "ftyp" {
		brand := string(head[8:12])
		if s.format == "MOV" {
			return brand == "qt  "
		}
		return brand != "qt  " && !bmffImageBrands[brand]
	}
	if s.format != "MOV" {
		return false
	}
	switch string(head[4:8]) { // QuickTime files without ftyp
	case "moov", "mdat", "wide", "pnot":
		return true
	case "free", "skip":
		return strings.HasSuffix(name, ".mov") || contentType == "video/quicktime"
	}
	return false
}

// Bounds on the work done for one file.
const (
	bmffMaxBoxes   = 1 << 18 // box headers read
	bmffMaxPatches = 1 << 18 // places overwritten
	bmffMaxDepth   = 12
)

// bmffBox is a box: its type, where it starts, where its content starts
// and where it ends.
type bmffBox struct {
	typ      string
	off, end int64
	hdr      int64 // header length, with a uuid box's user type
	uuid     string
}

func (b bmffBox) body() int64 { return b.off + b.hdr }

// bmffPatch overwrites n bytes at off with head followed by zeros (or by
// fill bytes).
type bmffPatch struct {
	off, n int64
	head   []byte
	fill   byte
}

// bmffTrack is a timed metadata track, and the sample tables that say
// where its chunks are and how many samples each holds.
type bmffTrack struct {
	trak, stsc, stsz, stco bmffBox
}

// bmffScan walks a file, collecting what to overwrite.
type bmffScan struct {
	r         io.ReaderAt
	format    string
	rep       *Report
	boxes     int
	patches   []bmffPatch
	mdats     [][2]int64 // the content of each top-level mdat
	metaTrack []bmffTrack
	fragments bool
	notes     []string
	image     bool  // a HEIF image: the top-level meta box is the image
	size      int64 // of the file
	items     []heifExtent
}

func (s *bmffScan) bad(format string, a ...any) error {
	return &FormatError{Format: s.format, Err: fmt.Errorf(format, a...)}
}

func (s *bmffScan) read(off int64, p []byte) error { return mediaReadAt(s.format, s.r, off, p) }

// box reads the header of the box at off, which must end by end.
func (s *bmffScan) box(off, end int64) (bmffBox, error) {
	s.boxes++
	if s.boxes > bmffMaxBoxes {
		return bmffBox{}, s.bad("more than %d boxes", bmffMaxBoxes)
	}
	if end-off < 8 {
		return bmffBox{}, s.bad("%d stray bytes at offset %d", end-off, off)
	}
	var h [8]byte
	if err := s.read(off, h[:]); err != nil {
		return bmffBox{}, err
	}
	b := bmffBox{typ: string(h[4:]), off: off, hdr: 8}
	switch sz := binary.BigEndian.Uint32(h[:]); sz {
	case 0: // to the end of the file (or of the parent)
		b.end = end
	case 1:
		if end-off < 16 {
			return b, s.bad("box %q at offset %d is cut short", b.typ, off)
		}
		if err := s.read(off+8, h[:]); err != nil {
			return b, err
		}
		large := binary.BigEndian.Uint64(h[:])
		if large < 16 || large > uint64(end-off) {
			return b, s.bad("box %q at offset %d has size %d, %d bytes are left", b.typ, off, large, end-off)
		}
		b.hdr, b.end = 16, off+int64(large)
	default:
		if sz < 8 || int64(sz) > end-off {
			return b, s.bad("box %q at offset %d has size %d, %d bytes are left", b.typ, off, sz, end-off)
		}
		b.end = off + int64(sz)
	}
	if b.typ == "uuid" {
		if b.end-b.off < b.hdr+16 {
			return b, s.bad("uuid box at offset %d is cut short", off)
		}
		var u [16]byte
		if err := s.read(b.off+b.hdr, u[:]); err != nil {
			return b, err
		}
		b.uuid = fmt.Sprintf("%x", u)
		b.hdr += 16
	}
	return b, nil
}

// children calls fn for each box in b's content from its offset start.
// Fewer than 8 bytes left at the end (QuickTime's 32-bit terminator) are
// ignored.
func (s *bmffScan) children(b bmffBox, start int64, fn func(c bmffBox) error) error {
	for off := start; b.end-off >= 8; {
		c, err := s.box(off, b.end)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
		off = c.end
	}
	return nil
}

func (s *bmffScan) patch(p bmffPatch) error {
	if len(s.patches) >= bmffMaxPatches {
		return s.bad("more than %d places to overwrite", bmffMaxPatches)
	}
	s.patches = append(s.patches, p)
	return nil
}

// blank overwrites b with a 'free' box of the same size.
func (s *bmffScan) blank(b bmffBox) error {
	h := make([]byte, min(b.hdr, 16))
	if err := s.read(b.off, h); err != nil {
		return err
	}
	copy(h[4:], "free")
	return s.patch(bmffPatch{off: b.off, n: b.end - b.off, head: h})
}

// Well-known uuid box types.
const (
	bmffUUIDXMP       = "be7acfcb97a942e89c71999491e3afac"
	bmffUUIDSpherical = "ffcc8263f8554a938814587a02521fdd"
	bmffUUIDPSSH      = "d08a4f1810f34a82b6c832d8aba1830d"
)

// metadata removes b if it is a metadata box, and reports whether it was.
func (s *bmffScan) metadata(b bmffBox) (bool, error) {
	switch b.typ {
	case "udta", "meta", "meco":
	case "uuid":
		if b.uuid == bmffUUIDSpherical || b.uuid == bmffUUIDPSSH {
			return false, nil
		}
	default:
		return false, nil
	}
	s.rep.found(KindMovieMeta)
	s.inspect(b, 0)
	return true, s.blank(b)
}

func (s *bmffScan) top(size int64) error {
	for off := int64(0); off < size; {
		b, err := s.box(off, size)
		if err != nil {
			return err
		}
		switch b.typ {
		case "moov":
			if err := s.moov(b); err != nil {
				return err
			}
		case "mdat":
			s.mdats = append(s.mdats, [2]int64{b.body(), b.end})
		case "moof":
			s.fragments = true
		case "meta":
			if s.image { // the image itself: remove only its metadata items
				if err := s.heifMeta(b); err != nil {
					return err
				}
				break
			}
			if _, err := s.metadata(b); err != nil {
				return err
			}
		default:
			if _, err := s.metadata(b); err != nil {
				return err
			}
		}
		off = b.end
	}
	return nil
}

func (s *bmffScan) moov(b bmffBox) error {
	return s.children(b, b.body(), func(c bmffBox) error {
		switch c.typ {
		case "mvhd":
			return s.times(c)
		case "trak":
			return s.trak(c)
		case "mvex":
			s.fragments = true
		case "cmov":
			return s.bad("compressed movie header (cmov) is not supported")
		default:
			_, err := s.metadata(c)
			return err
		}
		return nil
	})
}

func (s *bmffScan) trak(b bmffBox) error {
	var t bmffTrack
	meta := false
	var walk func(c bmffBox, depth int) error
	walk = func(c bmffBox, depth int) error {
		switch c.typ {
		case "tkhd", "mdhd":
			return s.times(c)
		case "mdia", "minf", "stbl":
			if depth >= 3 {
				return s.bad("%s boxes nested too deep", c.typ)
			}
			return s.children(c, c.body(), func(d bmffBox) error { return walk(d, depth+1) })
		case "hdlr":
			var h [12]byte // version, flags, pre_defined, handler_type
			if c.end-c.body() >= 12 {
				if err := s.read(c.body(), h[:]); err != nil {
					return err
				}
				meta = meta || string(h[8:]) == "meta"
			}
		case "stsc":
			t.stsc = c
		case "stsz", "stz2":
			t.stsz = c
		case "stco", "co64":
			t.stco = c
		default:
			_, err := s.metadata(c)
			return err
		}
		return nil
	}
	if err := s.children(b, b.body(), func(c bmffBox) error { return walk(c, 0) }); err != nil {
		return err
	}
	if meta {
		t.trak = b
		s.metaTrack = append(s.metaTrack, t)
		s.rep.found(KindMovieMeta)
	}
	return nil
}

// times zeroes the creation and modification times of an mvhd, tkhd or
// mdhd box.
func (s *bmffScan) times(b bmffBox) error {
	var v [1]byte
	if b.end-b.body() < 4 {
		return nil
	}
	if err := s.read(b.body(), v[:]); err != nil {
		return err
	}
	n := int64(8)
	if v[0] == 1 {
		n = 16
	}
	if b.end-b.body() < 4+n {
		return nil
	}
	t := make([]byte, n)
	if err := s.read(b.body()+4, t); err != nil {
		return err
	}
	if bytes.Count(t, []byte{0}) == len(t) {
		return nil
	}
	s.rep.found(KindMovieMeta)
	return s.patch(bmffPatch{off: b.body() + 4, n: n})
}

// inspect reports what a metadata box holds (GPS positions, XMP). It
// only reads, and stops quietly at anything it cannot read: the box is
// removed whole either way.
func (s *bmffScan) inspect(b bmffBox, depth int) {
	if depth > bmffMaxDepth {
		return
	}
	switch b.typ {
	case "udta", "ilst":
		s.children(b, b.body(), func(c bmffBox) error {
			s.inspect(c, depth+1)
			return nil
		})
	case "meta":
		// An ISO meta box is a full box (version and flags first); a
		// QuickTime one is not and starts with its hdlr.
		var h [8]byte
		if s.read(b.body(), h[:]) != nil {
			return
		}
		start := b.body() + 4
		if string(h[4:]) == "hdlr" {
			start = b.body()
		}
		s.children(b, start, func(c bmffBox) error {
			s.inspect(c, depth+1)
			return nil
		})
	case "\xa9xyz", "loci":
		s.rep.found(KindGPS)
	case "keys", "XMP_", "xml ", "uuid":
		p := make([]byte, min(b.end-b.body(), pngInspect))
		if s.read(b.body(), p) != nil {
			return
		}
		if b.typ == "keys" {
			if bytes.Contains(bytes.ToLower(p), []byte("location")) {
				s.rep.found(KindGPS)
			}
			return
		}
		if b.typ != "uuid" || b.uuid == bmffUUIDXMP {
			s.rep.found(KindXMP)
			mediaScanXMP(p, s.rep)
		}
	}
}

// metaSamples removes the timed metadata tracks: it replaces each by a
// 'free' box and adds patches zeroing their samples that lie in an mdat
// box. In a fragmented movie, where the fragments refer to the tracks,
// they are kept.
func (s *bmffScan) metaSamples() error {
	if len(s.metaTrack) == 0 {
		return nil
	}
	if s.fragments {
		s.notes = append(s.notes, "the timed metadata tracks of this fragmented movie (which may hold GPS positions) were kept")
		return nil
	}
	for _, t := range s.metaTrack {
		// The whole track goes, with what was to be overwritten in it.
		s.patches = slices.DeleteFunc(s.patches, func(p bmffPatch) bool { return p.off >= t.trak.off && p.off < t.trak.end })
		if err := s.blank(t.trak); err != nil {
			return err
		}
		if t.stsc.typ == "" || t.stsz.typ == "" || t.stco.typ == "" {
			continue // no samples
		}
		err := s.chunks(t, func(off, n int64) error {
			for _, m := range s.mdats {
				if off >= m[0] && n <= m[1]-off {
					if n > 0 {
						return s.patch(bmffPatch{off: off, n: n})
					}
					return nil
				}
			}
			return nil // not in an mdat: nothing there to remove
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// bmffTable reads the entries of a sample table box sequentially.
type bmffTable struct {
	br    *bufio.Reader
	count uint32
	s     *bmffScan
}

// table opens the entries of a full box whose content, after version,
// flags and skip bytes, is a 32-bit count and entries of width bytes.
func (s *bmffScan) table(b bmffBox, skip, width int64) (*bmffTable, error) {
	var h [4]byte
	body := b.body() + 4 + skip
	if b.end-body < 4 {
		return nil, s.bad("%s box is cut short", b.typ)
	}
	if err := s.read(body, h[:]); err != nil {
		return nil, err
	}
	t := &bmffTable{count: binary.BigEndian.Uint32(h[:]), s: s}
	if width > 0 && int64(t.count) > (b.end-body-4)/width {
		return nil, s.bad("%s box has %d entries, it has room for %d", b.typ, t.count, (b.end-body-4)/width)
	}
	t.br = bufio.NewReaderSize(io.NewSectionReader(s.r, body+4, b.end-body-4), mediaBufSize(b.end-body-4, 16<<10))
	return t, nil
}

func (t *bmffTable) uint(width int) (uint64, error) {
	var b [8]byte
	if _, err := io.ReadFull(t.br, b[:width]); err != nil {
		return 0, t.s.bad("sample table is cut short")
	}
	var v uint64
	for _, c := range b[:width] {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// chunks calls fn with the offset and length of each chunk of track t.
func (s *bmffScan) chunks(t bmffTrack, fn func(off, n int64) error) error {
	width := 4
	if t.stco.typ == "co64" {
		width = 8
	}
	co, err := s.table(t.stco, 0, int64(width))
	if err != nil {
		return err
	}
	sc, err := s.table(t.stsc, 0, 12)
	if err != nil {
		return err
	}
	// Sample sizes: stsz has a constant size or 32-bit sizes; stz2 has
	// 4-, 8- or 16-bit ones.
	var fixed uint64
	var field int
	var sz *bmffTable
	var nibble int = -1
	if t.stsz.typ == "stsz" {
		var h [4]byte
		if t.stsz.end-t.stsz.body() < 8 {
			return s.bad("stsz box is cut short")
		}
		if err := s.read(t.stsz.body()+4, h[:]); err != nil {
			return err
		}
		fixed = uint64(binary.BigEndian.Uint32(h[:]))
		w := int64(4)
		if fixed != 0 {
			w = 0
		}
		if sz, err = s.table(t.stsz, 4, w); err != nil {
			return err
		}
		field = 32
	} else {
		var h [4]byte // reserved (3), field_size
		if t.stsz.end-t.stsz.body() < 8 {
			return s.bad("stz2 box is cut short")
		}
		if err := s.read(t.stsz.body()+4, h[:]); err != nil {
			return err
		}
		field = int(h[3])
		if field != 4 && field != 8 && field != 16 {
			return s.bad("stz2 field size %d", field)
		}
		if sz, err = s.table(t.stsz, 4, 0); err != nil {
			return err
		}
		if int64(sz.count)*int64(field)/8 > t.stsz.end-t.stsz.body()-12 {
			return s.bad("stz2 box is cut short")
		}
	}
	samplesLeft := sz.count
	sampleSize := func() (int64, error) {
		if samplesLeft == 0 {
			return 0, s.bad("chunks hold more samples than the track has")
		}
		samplesLeft--
		switch {
		case field == 4:
			if nibble < 0 {
				v, err := sz.uint(1)
				if err != nil {
					return 0, err
				}
				nibble = int(v & 0xF)
				return int64(v >> 4), nil
			}
			v := nibble
			nibble = -1
			return int64(v), nil
		default:
			v, err := sz.uint(field / 8)
			return int64(v), err
		}
	}
	// stsc runs: from chunk first (1-based), spc samples per chunk.
	var next [3]uint64
	readRun := func() error {
		for i := range next {
			v, err := sc.uint(4)
			if err != nil {
				return err
			}
			next[i] = v
		}
		return nil
	}
	runsLeft := sc.count
	if runsLeft == 0 {
		return nil
	}
	if err := readRun(); err != nil {
		return err
	}
	runsLeft--
	var spc uint64
	for chunk := uint64(1); chunk <= uint64(co.count); chunk++ {
		for next[0] <= chunk && next[0] != 0 {
			spc = next[1]
			next[0] = 0
			if runsLeft > 0 {
				if err := readRun(); err != nil {
					return err
				}
				runsLeft--
				if next[0] <= chunk {
					return s.bad("stsc entries are out of order")
				}
			}
		}
		off, err := co.uint(width)
		if err != nil {
			return err
		}
		var n int64
		if fixed != 0 {
			if spc > uint64(samplesLeft) {
				return s.bad("chunks hold more samples than the track has")
			}
			samplesLeft -= uint32(spc)
			if spc > 1<<30 || fixed > 1<<32 {
				return s.bad("chunk too large")
			}
			n = int64(spc) * int64(fixed)
		} else {
			for range spc {
				v, err := sampleSize()
				if err != nil {
					return err
				}
				n += v
				if n > 1<<62 {
					return s.bad("chunk too large")
				}
			}
		}
		if off > 1<<62 {
			continue
		}
		if err := fn(int64(off), n); err != nil {
			return err
		}
	}
	return nil
}

func (s bmffScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	return bmffScrub(s.format, false, r, size, w)
}

// bmffScrub scrubs a movie, or a HEIF image.
func bmffScrub(format string, image bool, r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	var rep Report
	sc := &bmffScan{r: r, format: format, rep: &rep, image: image, size: size}
	if err := sc.top(size); err != nil {
		return rep, err
	}
	if err := sc.metaSamples(); err != nil {
		return rep, err
	}
	if err := sc.heifExtents(); err != nil {
		return rep, err
	}
	rep.Note = strings.Join(sc.notes, "; ")
	return rep, bmffWrite(format, r, size, w, sc.patches)
}

// bmffWrite copies r (size bytes) to w with the patches applied.
func bmffWrite(format string, r io.ReaderAt, size int64, w io.Writer, patches []bmffPatch) error {
	sort.Slice(patches, func(i, j int) bool { return patches[i].off < patches[j].off })
	bw := bufio.NewWriterSize(w, mediaBufSize(size, 64<<10))
	buf := make([]byte, mediaBufSize(size, 256<<10))
	zeros := make([]byte, mediaBufSize(size, 32<<10))
	fill := make([]byte, 0, mediaBufSize(size, 32<<10))
	var pos int64
	for _, p := range patches {
		if p.off < pos { // overlapping sample chunks: zero what is left
			if p.head != nil {
				return &FormatError{Format: format, Err: fmt.Errorf("boxes overlap at offset %d", p.off)}
			}
			p.n -= pos - p.off
			p.off = pos
			if p.n <= 0 {
				continue
			}
		}
		if err := mediaCopy(format, bw, r, pos, p.off-pos, buf); err != nil {
			return err
		}
		if _, err := bw.Write(p.head); err != nil {
			return err
		}
		pad := zeros
		if p.fill != 0 {
			if len(fill) == 0 || fill[0] != p.fill {
				fill = bytes.Repeat([]byte{p.fill}, cap(fill))
			}
			pad = fill
		}
		for left := p.n - int64(len(p.head)); left > 0; {
			k := min(left, int64(len(pad)))
			if _, err := bw.Write(pad[:k]); err != nil {
				return err
			}
			left -= k
		}
		pos = p.off + p.n
	}
	if err := mediaCopy(format, bw, r, pos, size-pos, buf); err != nil {
		return err
	}
	return bw.Flush()
}
