package scrub

import (
	"encoding/binary"
	"io"
)

// heifScrubber removes metadata from HEIF images: HEIC (the photos of
// iPhones and many Android phones) and AVIF. A HEIF file is an ISO BMFF
// file whose top-level 'meta' box lists items (the image, its tiles,
// thumbnails, depth and gain maps, EXIF, XMP) and says where their bytes
// are ('iloc'), most often in 'mdat'. Nothing is moved, as for MP4: the
// bytes of each metadata item are overwritten in place, so every offset
// in the file stays valid, the file keeps its size and the image data is
// copied byte for byte.
//
// Removed: the content of every EXIF item (camera make, model and serial
// numbers, dates, GPS position, maker notes, the EXIF thumbnail), which
// becomes an empty EXIF structure followed by zeros, and of every XMP
// item (MIME type application/rdf+xml), which becomes an empty XMP packet
// followed by spaces; the items themselves stay listed, empty. Also removed: 'xml ' and 'bxml' boxes in
// the top-level meta box, and, as for MP4, top-level 'udta', 'uuid' and
// 'meco' boxes and, in image sequences, the movie's metadata.
//
// Kept: the images, their tiles, the thumbnail images (which show the
// picture, smaller), depth maps, HDR gain maps and other auxiliary
// images, and the item properties (size, rotation and mirroring, the
// colour profile in 'colr', which may name its creator). An EXIF or XMP
// item built from other items (iloc construction method 2) or stored in
// another file is not supported: such a file is left as it is, with a
// *FormatError.
type heifScrubber struct{ format string }

func init() {
	register(heifScrubber{format: "HEIC"})
	register(heifScrubber{format: "AVIF"})
}

func (s heifScrubber) Format() string { return s.format }

func (s heifScrubber) Match(head []byte, name, contentType string) bool {
	if len(head) < 12 || string(head[4:8]) != "ftyp" {
		return false
	}
	brand := string(head[8:12])
	if brand == "avif" || brand == "avis" {
		return s.format == "AVIF"
	}
	return s.format == "HEIC" && bmffImageBrands[brand] && brand != "crx " && brand[:2] != "jp"
}

func (s heifScrubber) Scrub(r io.ReaderAt, size int64, w io.Writer) (Report, error) {
	return bmffScrub(s.format, true, r, size, w)
}

// heifMaxTable bounds the size of the iinf and iloc boxes read into
// memory.
const heifMaxTable = 4 << 20

// heifCursor reads big-endian fields from b; reading past its end sets
// short and returns zeros.
type heifCursor struct {
	b     []byte
	short bool
}

func (c *heifCursor) uint(n int) uint64 {
	if n > len(c.b) {
		c.short = true
		c.b = nil
		return 0
	}
	var v uint64
	for _, x := range c.b[:n] {
		v = v<<8 | uint64(x)
	}
	c.b = c.b[n:]
	return v
}

func (c *heifCursor) str() string {
	for i, x := range c.b {
		if x == 0 {
			s := string(c.b[:i])
			c.b = c.b[i+1:]
			return s
		}
	}
	c.short = true
	c.b = nil
	return ""
}

// box returns the type and content of the next box in c.
func (c *heifCursor) box() (string, []byte) {
	size := c.uint(4)
	typ := string(binary.BigEndian.AppendUint32(nil, uint32(c.uint(4))))
	if c.short || size < 8 || size-8 > uint64(len(c.b)) {
		c.short = true
		return "", nil
	}
	body := c.b[:size-8]
	c.b = c.b[size-8:]
	return typ, body
}

// heifMeta finds the EXIF and XMP items of the top-level meta box b and
// adds patches overwriting their bytes.
func (s *bmffScan) heifMeta(b bmffBox) error {
	var iinf, iloc, idat bmffBox
	err := s.children(b, b.body()+4, func(c bmffBox) error {
		switch c.typ {
		case "iinf":
			iinf = c
		case "iloc":
			iloc = c
		case "idat":
			idat = c
		case "xml ", "bxml":
			s.rep.found(KindXMP)
			return s.blank(c)
		}
		return nil
	})
	if err != nil || iinf.typ == "" {
		return err
	}
	items, err := s.heifItems(iinf)
	if err != nil || len(items) == 0 {
		return err
	}
	if iloc.typ == "" {
		return s.bad("items without locations")
	}
	return s.heifLocations(iloc, idat, items)
}

// readBox returns the content of b, which must be at most heifMaxTable
// bytes.
func (s *bmffScan) readBox(b bmffBox) ([]byte, error) {
	if b.end-b.body() > heifMaxTable {
		return nil, s.bad("%s box of %d bytes", b.typ, b.end-b.body())
	}
	p := make([]byte, b.end-b.body())
	return p, s.read(b.body(), p)
}

// heifItems returns the IDs of the EXIF and XMP items listed in iinf,
// with their kinds.
func (s *bmffScan) heifItems(iinf bmffBox) (map[uint32]string, error) {
	p, err := s.readBox(iinf)
	if err != nil {
		return nil, err
	}
	c := &heifCursor{b: p}
	n := 2
	if c.uint(4)>>24 != 0 { // version
		n = 4
	}
	c.uint(n) // entry count: the boxes that follow are read instead
	items := map[uint32]string{}
	for len(c.b) > 0 && !c.short {
		typ, body := c.box()
		if typ != "infe" {
			continue
		}
		e := &heifCursor{b: body}
		v := e.uint(4) >> 24
		var id uint32
		var itemType, contentType string
		switch {
		case v < 2:
			id = uint32(e.uint(2))
			e.uint(2) // protection index
			e.str()   // name
			contentType = e.str()
		default:
			w := 2
			if v > 2 {
				w = 4
			}
			id = uint32(e.uint(w))
			e.uint(2) // protection index
			itemType = string(binary.BigEndian.AppendUint32(nil, uint32(e.uint(4))))
			e.str() // name
			if itemType == "mime" {
				contentType = e.str()
			}
		}
		switch {
		case itemType == "Exif":
			items[id] = KindEXIF
		case contentType == "application/rdf+xml":
			items[id] = KindXMP
		}
	}
	if c.short {
		return nil, s.bad("malformed iinf box")
	}
	return items, nil
}

// heifEmptyExif is an EXIF item without tags: the offset of the TIFF
// header (0), and a TIFF header with an empty IFD0.
var heifEmptyExif = []byte{0, 0, 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0}

// heifEmptyXMP is an XMP packet without properties; it is followed by
// spaces, which XMP allows as padding.
var heifEmptyXMP = []byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"/>`)

// heifLocations adds patches overwriting the extents of items, as iloc
// places them (in the file, or in idat).
func (s *bmffScan) heifLocations(iloc, idat bmffBox, items map[uint32]string) error {
	p, err := s.readBox(iloc)
	if err != nil {
		return err
	}
	c := &heifCursor{b: p}
	v := c.uint(4) >> 24
	if v > 2 {
		return s.bad("iloc version %d", v)
	}
	sizes := c.uint(2)
	offSize, lenSize, baseSize, indexSize := int(sizes>>12), int(sizes>>8&0xF), int(sizes>>4&0xF), int(sizes&0xF)
	if v == 0 {
		indexSize = 0
	}
	for _, n := range []int{offSize, lenSize, baseSize, indexSize} {
		if n != 0 && n != 4 && n != 8 {
			return s.bad("iloc field size %d", n)
		}
	}
	idW := 2
	if v == 2 {
		idW = 4
	}
	count := c.uint(idW)
	for range count {
		if c.short {
			break
		}
		id := uint32(c.uint(idW))
		method := uint64(0)
		if v > 0 {
			method = c.uint(2) & 0xF
		}
		ref := c.uint(2)
		base := c.uint(baseSize)
		extents := c.uint(2)
		kind := items[id]
		first := true
		for range extents {
			c.uint(indexSize)
			off, n := c.uint(offSize), c.uint(lenSize)
			if c.short || kind == "" {
				continue
			}
			if ref != 0 || method > 1 {
				return s.bad("%s item %d is not stored in this file as data", kind, id)
			}
			start, end := int64(0), s.size
			if method == 1 {
				if idat.typ == "" {
					return s.bad("item %d is in a missing idat box", id)
				}
				start, end = idat.body(), idat.end
			}
			if n == 0 || base > uint64(end-start) || off > uint64(end-start)-base || n > uint64(end-start)-base-off {
				return s.bad("%s item %d has an extent outside the file", kind, id)
			}
			s.items = append(s.items, heifExtent{kind: kind, off: start + int64(base+off), n: int64(n), first: first, inIdat: method == 1})
			first = false
		}
	}
	if c.short {
		return s.bad("malformed iloc box")
	}
	return nil
}

// heifExtent is an extent of an EXIF or XMP item.
type heifExtent struct {
	kind   string
	off, n int64
	first  bool // the item's first extent
	inIdat bool
}

// heifExtents reports and overwrites the extents of the EXIF and XMP items,
// which must be in an mdat or idat box.
func (s *bmffScan) heifExtents() error {
	for _, e := range s.items {
		in := e.inIdat
		for _, m := range s.mdats {
			in = in || e.off >= m[0] && e.n <= m[1]-e.off
		}
		if !in {
			return s.bad("%s item outside the media data", e.kind)
		}
		if err := s.heifItem(e.kind, e.off, e.n, e.first); err != nil {
			return err
		}
	}
	return nil
}

// heifItem reports and overwrites the extent of n bytes at off of an
// EXIF or XMP item (first: its first extent).
func (s *bmffScan) heifItem(kind string, off, n int64, first bool) error {
	s.rep.found(kind)
	var head []byte
	if first {
		p := make([]byte, min(n, pngInspect))
		if err := s.read(off, p); err != nil {
			return err
		}
		if kind == KindXMP {
			mediaScanXMP(p, s.rep)
			if n >= int64(len(heifEmptyXMP)) {
				head = heifEmptyXMP
			}
			return s.patch(bmffPatch{off: off, n: n, head: head, fill: ' '})
		} else if len(p) >= 4 {
			if skip := int64(binary.BigEndian.Uint32(p)); skip <= int64(len(p))-4 {
				mediaParseExif(p[4+skip:], s.rep)
			}
			if n >= int64(len(heifEmptyExif)) {
				head = heifEmptyExif
			}
		}
	}
	return s.patch(bmffPatch{off: off, n: n, head: head})
}
