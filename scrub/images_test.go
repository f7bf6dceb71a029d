package scrub

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// The test files are made here: an image encoded with the standard
// library (or, for WebP, a lossless bitstream written by hand), into
// which metadata is inserted by hand, byte by byte, as cameras and
// editors write it.

// mediaRequired reports whether $PISTA_TEST_REQUIRE asks for tool: it is
// "all", or a comma-separated list that names tool.
func mediaRequired(tool string) bool {
	for _, s := range strings.Split(os.Getenv("PISTA_TEST_REQUIRE"), ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "all" || s == tool {
			return true
		}
	}
	return false
}

// mediaExiftool returns what exiftool finds in data, as "Group:Tag" →
// value (exiftool -j -a -G1). Without exiftool it returns false after
// logging why, or fails the test when PISTA_TEST_REQUIRE requires it.
func mediaExiftool(t *testing.T, data []byte, ext string) (map[string]any, bool) {
	t.Helper()
	path, err := exec.LookPath("exiftool")
	if err != nil {
		if mediaRequired("exiftool") {
			t.Fatalf("exiftool is required (PISTA_TEST_REQUIRE=%q) but not found: %v. Install it: apt-get install -y libimage-exiftool-perl", os.Getenv("PISTA_TEST_REQUIRE"), err)
		}
		t.Logf("skipping the exiftool checks: exiftool is not installed (apt-get install -y libimage-exiftool-perl; set PISTA_TEST_REQUIRE=exiftool to make this a failure)")
		return nil, false
	}
	f := filepath.Join(t.TempDir(), "file."+ext)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "-j", "-a", "-G1", f).Output()
	if err != nil {
		t.Fatalf("exiftool: %v\n%s", err, out)
	}
	var tags []map[string]any
	if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
		t.Fatalf("exiftool output: %v\n%s", err, out)
	}
	return tags[0], true
}

// mediaTagCheck says what exiftool must find before scrubbing and must
// not find after.
type mediaTagCheck struct {
	before []string // "Group:Tag" present in the original
	groups []string // groups (prefixes) absent after
	tags   []string // tag names (after the colon; a trailing * is a prefix) absent after
}

func mediaCheckTags(t *testing.T, before, after map[string]any, c mediaTagCheck) {
	t.Helper()
	for _, k := range c.before {
		if _, ok := before[k]; !ok {
			t.Errorf("the test file lacks %s before scrubbing (the test is broken); exiftool found: %v", k, before)
		}
	}
	for k, v := range after {
		group, tag, _ := strings.Cut(k, ":")
		for _, g := range c.groups {
			if strings.HasPrefix(group, g) {
				t.Errorf("after scrubbing, exiftool finds %s = %v", k, v)
			}
		}
		for _, n := range c.tags {
			if tag == n || strings.HasSuffix(n, "*") && strings.HasPrefix(tag, strings.TrimSuffix(n, "*")) {
				t.Errorf("after scrubbing, exiftool finds %s = %v", k, v)
			}
		}
		if strings.Contains(k, "Warning") || strings.Contains(k, "Error") {
			t.Errorf("after scrubbing, exiftool says %s: %v", k, v)
		}
	}
}

// mediaScrub runs the top-level Scrub on data.
func mediaScrub(t *testing.T, data []byte, name string) (Report, []byte, error) {
	t.Helper()
	var out bytes.Buffer
	rep, err := Scrub(bytes.NewReader(data), int64(len(data)), name, "", &out)
	return rep, out.Bytes(), err
}

func mediaWantKinds(t *testing.T, rep Report, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		if !slices.Contains(rep.Found, k) {
			t.Errorf("report %+v does not name %q", rep, k)
		}
	}
}

// mediaSamePixels fails unless a and b decode to the same pixels.
func mediaSamePixels(t *testing.T, a, b []byte) {
	t.Helper()
	ia, fa, err := image.Decode(bytes.NewReader(a))
	if err != nil {
		t.Fatalf("decoding the original: %v", err)
	}
	ib, fb, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decoding the scrubbed file: %v", err)
	}
	if fa != fb || ia.Bounds() != ib.Bounds() {
		t.Fatalf("decoded %s %v, then %s %v", fa, ia.Bounds(), fb, ib.Bounds())
	}
	r := ia.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if ca, cb := color.NRGBA64Model.Convert(ia.At(x, y)), color.NRGBA64Model.Convert(ib.At(x, y)); ca != cb {
				t.Fatalf("pixel (%d,%d) was %v, is %v", x, y, ca, cb)
			}
		}
	}
}

// mediaPicture is a test picture with detail in every channel.
func mediaPicture(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x * y) % 256), 255})
		}
	}
	return m
}

// TIFF (EXIF) structures, big-endian, laid out as blocks one after the
// other from offset 8: IFDs, then raw data.
type tiffTag struct {
	tag, typ uint16
	count    uint32
	val      []byte // encoded value
	ptr      int    // if > 0: the value is the offset of block ptr
}

type tiffBlock struct {
	tags []tiffTag
	next int    // block of the next IFD, or 0
	raw  []byte // a data block, not an IFD
}

func tiffASCII(tag uint16, s string) tiffTag {
	return tiffTag{tag: tag, typ: 2, count: uint32(len(s) + 1), val: append([]byte(s), 0)}
}

func tiffShort(tag, v uint16) tiffTag {
	return tiffTag{tag: tag, typ: 3, count: 1, val: binary.BigEndian.AppendUint16(nil, v)}
}

func tiffLong(tag uint16, v uint32) tiffTag {
	return tiffTag{tag: tag, typ: 4, count: 1, val: binary.BigEndian.AppendUint32(nil, v)}
}

func tiffRationals(tag uint16, v ...uint32) tiffTag {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return tiffTag{tag: tag, typ: 5, count: uint32(len(v) / 2), val: b}
}

func tiffBuild(blocks []tiffBlock) []byte {
	size := func(b tiffBlock) int {
		if b.raw != nil {
			return len(b.raw) + len(b.raw)%2
		}
		n := 2 + 12*len(b.tags) + 4
		for _, t := range b.tags {
			if t.ptr == 0 && len(t.val) > 4 {
				n += len(t.val) + len(t.val)%2
			}
		}
		return n
	}
	offs := make([]int, len(blocks))
	o := 8
	for i, b := range blocks {
		offs[i] = o
		o += size(b)
	}
	out := []byte{'M', 'M', 0, 42, 0, 0, 0, 8}
	for i, b := range blocks {
		if b.raw != nil {
			out = append(out, b.raw...)
			if len(b.raw)%2 != 0 {
				out = append(out, 0)
			}
			continue
		}
		data := offs[i] + 2 + 12*len(b.tags) + 4
		var extra []byte
		out = binary.BigEndian.AppendUint16(out, uint16(len(b.tags)))
		for _, t := range b.tags {
			out = binary.BigEndian.AppendUint16(out, t.tag)
			out = binary.BigEndian.AppendUint16(out, t.typ)
			if t.ptr > 0 {
				out = binary.BigEndian.AppendUint32(out, t.count)
				out = binary.BigEndian.AppendUint32(out, uint32(offs[t.ptr]))
				continue
			}
			out = binary.BigEndian.AppendUint32(out, t.count)
			if len(t.val) <= 4 {
				out = append(out, append(t.val, make([]byte, 4-len(t.val))...)...)
				continue
			}
			out = binary.BigEndian.AppendUint32(out, uint32(data+len(extra)))
			extra = append(extra, t.val...)
			if len(t.val)%2 != 0 {
				extra = append(extra, 0)
			}
		}
		next := 0
		if b.next > 0 {
			next = offs[b.next]
		}
		out = binary.BigEndian.AppendUint32(out, uint32(next))
		out = append(out, extra...)
	}
	return out
}

// mediaTestExif is a camera's EXIF: make, model, orientation, serial
// number, maker notes, date, a GPS position and an IFD1 thumbnail.
func mediaTestExif(t testing.TB) []byte {
	var thumb bytes.Buffer
	if err := jpeg.Encode(&thumb, mediaPicture(8, 8), nil); err != nil {
		t.Fatal(err)
	}
	return tiffBuild([]tiffBlock{
		{tags: []tiffTag{ // 0: IFD0
			tiffASCII(0x010F, "Pista Optics"),
			tiffASCII(0x0110, "Whistle 3000"),
			tiffShort(0x0112, 6),
			{tag: 0x8769, typ: 4, count: 1, ptr: 1},
			{tag: 0x8825, typ: 4, count: 1, ptr: 2},
		}, next: 3},
		{tags: []tiffTag{ // 1: EXIF IFD
			tiffASCII(0x9003, "2024:05:01 10:00:00"),
			{tag: 0x927C, typ: 7, count: 16, val: []byte("PISTA-MAKERNOTE\x00")},
			tiffASCII(0xA431, "SN-123456789"),
		}},
		{tags: []tiffTag{ // 2: GPS IFD
			{tag: 0x0000, typ: 1, count: 4, val: []byte{2, 3, 0, 0}},
			tiffASCII(0x0001, "N"),
			tiffRationals(0x0002, 48, 1, 51, 1, 2950, 100),
			tiffASCII(0x0003, "E"),
			tiffRationals(0x0004, 2, 1, 17, 1, 4000, 100),
		}},
		{tags: []tiffTag{ // 3: IFD1
			tiffShort(0x0103, 6),
			{tag: 0x0201, typ: 4, count: 1, ptr: 4},
			tiffLong(0x0202, uint32(thumb.Len())),
		}},
		{raw: thumb.Bytes()}, // 4: thumbnail
	})
}

const mediaTestXMP = `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:exif="http://ns.adobe.com/exif/1.0/"><dc:creator><rdf:Seq><rdf:li>Jane Source</rdf:li></rdf:Seq></dc:creator><exif:GPSLatitude>48,51.5N</exif:GPSLatitude></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`

// mediaTestICC is a minimal ICC profile: a header and a copyright tag.
func mediaTestICC() []byte {
	p := make([]byte, 128)
	copy(p[4:], "lcms")
	binary.BigEndian.PutUint32(p[8:], 0x04300000)
	copy(p[12:], "mntrRGB XYZ ")
	copy(p[36:], "acsp")
	p = append(p, be32(1)...)
	p = append(p, "cprt"...)
	text := []byte("text\x00\x00\x00\x00Public Domain\x00")
	p = append(p, be32(uint32(len(p)+8), uint32(len(text)))...)
	p = append(p, text...)
	binary.BigEndian.PutUint32(p, uint32(len(p)))
	return p
}

func jpegSeg(m byte, p []byte) []byte {
	return append([]byte{0xFF, m, byte((len(p) + 2) >> 8), byte(len(p) + 2)}, p...)
}

// jpegTestFile returns a clean JPEG and the same with metadata inserted
// after SOI, and data appended after EOI.
func jpegTestFile(t testing.TB) (clean, dirty []byte) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, mediaPicture(64, 48), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	clean = b.Bytes()
	var iptc []byte
	for _, ds := range []struct {
		n byte
		v string
	}{{80, "Jane Source"}, {90, "Paris"}} {
		iptc = append(iptc, 0x1C, 2, ds.n, 0, byte(len(ds.v)))
		iptc = append(iptc, ds.v...)
	}
	ps := append([]byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00"), binary.BigEndian.AppendUint32(nil, uint32(len(iptc)))...)
	ps = append(ps, iptc...)
	if len(iptc)%2 != 0 {
		ps = append(ps, 0)
	}
	dirty = append([]byte(nil), clean[:2]...)
	dirty = append(dirty, jpegSeg(0xE0, []byte("JFIF\x00\x01\x01\x01\x00\x48\x00\x48\x00\x00"))...)
	dirty = append(dirty, jpegSeg(0xE1, append([]byte("Exif\x00\x00"), mediaTestExif(t)...))...)
	dirty = append(dirty, jpegSeg(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), mediaTestXMP...))...)
	dirty = append(dirty, jpegSeg(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), mediaTestICC()...))...)
	dirty = append(dirty, jpegSeg(0xE2, []byte("MPF\x00MM\x00\x2a\x00\x00\x00\x08"))...)
	dirty = append(dirty, jpegSeg(0xEC, []byte("Ducky\x00\x01\x00\x04\x00\x00\x00\x50\x00\x02\x00\x10\x00\x00\x00\x0cJane Source!\x00\x00"))...)
	dirty = append(dirty, jpegSeg(0xED, ps)...)
	dirty = append(dirty, jpegSeg(0xFE, []byte("taken by Jane Source at the ministry"))...)
	dirty = append(dirty, clean[2:]...)
	dirty = append(dirty, "\xFF\xD8\xFF\xE1\x00\x10Exif\x00\x00secondpic\xFF\xD9"...)
	return clean, dirty
}

func TestJPEG(t *testing.T) {
	clean, dirty := jpegTestFile(t)
	rep, out, err := mediaScrub(t, dirty, "photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "JPEG" || !rep.Scrubbed {
		t.Errorf("report %+v", rep)
	}
	mediaWantKinds(t, rep, KindEXIF, KindGPS, KindThumbnail, KindXMP, KindIPTC, KindComment, KindMakerNotes)
	if rep.Note == "" {
		t.Errorf("no note about the data after EOI: %+v", rep)
	}
	mediaSamePixels(t, clean, out)
	mediaSamePixels(t, dirty, out)
	// The entropy-coded data and tables are copied as they are.
	if !bytes.HasSuffix(out, clean[2:]) {
		t.Error("the image data is not copied unchanged")
	}
	if !bytes.Contains(out, mediaTestICC()) {
		t.Error("the ICC profile is gone")
	}
	for _, s := range []string{"Jane", "Pista Optics", "SN-123", "PISTA-MAKERNOTE", "ministry", "secondpic", "MPF", "Ducky"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%q is still in the file", s)
		}
	}
	before, ok := mediaExiftool(t, dirty, "jpg")
	if !ok {
		return
	}
	after, _ := mediaExiftool(t, out, "jpg")
	mediaCheckTags(t, before, after, mediaTagCheck{
		before: []string{"GPS:GPSLatitude", "IFD0:Make", "IFD0:Model", "ExifIFD:SerialNumber", "XMP-dc:Creator",
			"IPTC:By-line", "File:Comment", "IFD1:ThumbnailImage", "Ducky:Quality", "ICC_Profile:ProfileCopyright"},
		groups: []string{"GPS", "XMP", "IPTC", "ExifIFD", "IFD1", "MakerNotes", "Photoshop", "MPF", "Ducky"},
		tags:   []string{"GPS*", "Make", "Model", "SerialNumber", "Comment", "ThumbnailImage", "DateTimeOriginal", "Creator", "By-line"},
	})
	if after["IFD0:Orientation"] == nil || after["ICC_Profile:ProfileCopyright"] == nil {
		t.Errorf("the orientation or the ICC profile is gone: %v", after)
	}
}

func TestJPEGKeepsCleanFile(t *testing.T) {
	clean, _ := jpegTestFile(t)
	rep, out, err := mediaScrub(t, clean, "x.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, clean) || len(rep.Found) != 0 || rep.Note != "" {
		t.Errorf("a JPEG without metadata changed: %+v", rep)
	}
}

// pngChunkAfterIHDR inserts chunks after the IHDR of a PNG.
func pngInsert(file []byte, chunks ...[]byte) []byte {
	const ihdrEnd = 8 + 8 + 13 + 4
	out := append([]byte(nil), file[:ihdrEnd]...)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return append(out, file[ihdrEnd:]...)
}

func pngTestFile(t testing.TB) (clean, dirty []byte) {
	var b bytes.Buffer
	if err := png.Encode(&b, mediaPicture(40, 30)); err != nil {
		t.Fatal(err)
	}
	clean = b.Bytes()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte("sent from the ministry by Jane Source"))
	zw.Close()
	dirty = pngInsert(clean,
		pngChunk("pHYs", []byte{0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1}),
		pngChunk("tEXt", []byte("Author\x00Jane Source")),
		pngChunk("zTXt", append([]byte("Comment\x00\x00"), z.Bytes()...)),
		pngChunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), mediaTestXMP...)),
		pngChunk("eXIf", mediaTestExif(t)),
		pngChunk("tIME", []byte{0x07, 0xE8, 5, 1, 10, 0, 0}),
		pngChunk("prVW", []byte("a private chunk")),
	)
	return clean, dirty
}

func TestPNG(t *testing.T) {
	clean, dirty := pngTestFile(t)
	dirty = append(dirty, "trailing secret"...)
	rep, out, err := mediaScrub(t, dirty, "shot.png")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "PNG" || !rep.Scrubbed || rep.Note == "" {
		t.Errorf("report %+v", rep)
	}
	mediaWantKinds(t, rep, KindText, KindXMP, KindEXIF, KindGPS, KindThumbnail, KindMakerNotes, KindModTime)
	mediaSamePixels(t, clean, out)
	for _, s := range []string{"Jane", "tEXt", "zTXt", "iTXt", "tIME", "prVW", "Pista", "trailing"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%q is still in the file", s)
		}
	}
	if !bytes.Contains(out, []byte("pHYs")) {
		t.Error("pHYs is gone")
	}
	before, ok := mediaExiftool(t, dirty, "png")
	if !ok {
		return
	}
	after, _ := mediaExiftool(t, out, "png")
	mediaCheckTags(t, before, after, mediaTagCheck{
		before: []string{"PNG:Author", "PNG:Comment", "XMP-dc:Creator", "GPS:GPSLatitude", "IFD0:Make", "PNG:ModifyDate", "IFD1:ThumbnailImage"},
		groups: []string{"GPS", "XMP", "ExifIFD", "IFD1", "MakerNotes"},
		tags:   []string{"GPS*", "Make", "Model", "SerialNumber", "Comment", "Author", "ModifyDate", "ThumbnailImage", "Creator"},
	})
	if after["IFD0:Orientation"] == nil {
		t.Errorf("the orientation is gone: %v", after)
	}
}

// webpBits writes a VP8L bitstream, least significant bit first.
type webpBits struct {
	b   []byte
	acc uint64
	n   uint
}

func (w *webpBits) put(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

func (w *webpBits) bytes() []byte {
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
	}
	return w.b
}

// webpLossless encodes a picture as a VP8L bitstream, written by hand
// from the WebP lossless specification (RFC 9649): no transform, no
// colour cache, and for each channel a "simple" prefix code of two
// symbols (one bit per channel per pixel), so that every pixel takes one
// of two green, two red and two blue values; alpha is always 255. It
// returns the bitstream and the picture it encodes.
func webpLossless(w, h int) ([]byte, *image.NRGBA) {
	greens, reds, blues := [2]uint8{0x20, 0xC0}, [2]uint8{0x10, 0xF0}, [2]uint8{0x40, 0x80}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	var bw webpBits
	bw.put(0x2F, 8)
	bw.put(uint64(w-1), 14)
	bw.put(uint64(h-1), 14)
	bw.put(0, 1)              // alpha_is_used
	bw.put(0, 3)              // version
	bw.put(0, 1)              // no transform
	bw.put(0, 1)              // no colour cache
	bw.put(0, 1)              // no meta prefix codes
	two := func(a, b uint8) { // simple code, two 8-bit symbols
		bw.put(1, 1)
		bw.put(1, 1)
		bw.put(1, 1)
		bw.put(uint64(a), 8)
		bw.put(uint64(b), 8)
	}
	one := func(a uint8) { // simple code, one 8-bit symbol: zero bits per use
		bw.put(1, 1)
		bw.put(0, 1)
		bw.put(1, 1)
		bw.put(uint64(a), 8)
	}
	two(greens[0], greens[1])
	two(reds[0], reds[1])
	two(blues[0], blues[1])
	one(255) // alpha
	one(0)   // distance
	for y := range h {
		for x := range w {
			g, r, b := (x/2)%2, (y/3)%2, (x+y)%2
			bw.put(uint64(g), 1)
			bw.put(uint64(r), 1)
			bw.put(uint64(b), 1)
			m.SetNRGBA(x, y, color.NRGBA{reds[r], greens[g], blues[b], 255})
		}
	}
	return bw.bytes(), m
}

func webpChunkBytes(typ string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(typ), uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 != 0 {
		b = append(b, 0)
	}
	return b
}

func webpFile(chunks ...[]byte) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c...)
	}
	b := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(body)))
	return append(append(b, "WEBP"...), body...)
}

// webpTestFile returns a simple lossless WebP, the same in an extended
// file with an ICC profile, EXIF, XMP and an unknown chunk, and the
// picture they hold.
func webpTestFile(t testing.TB) (simple, dirty []byte, pic *image.NRGBA) {
	const w, h = 13, 9
	bits, pic := webpLossless(w, h)
	vp8l := webpChunkBytes("VP8L", bits)
	simple = webpFile(vp8l)
	x := []byte{0x20 | 0x08 | 0x04, 0, 0, 0, w - 1, 0, 0, h - 1, 0, 0}
	exif := append(mediaTestExif(t), 0xAA) // odd length: a pad byte follows
	dirty = webpFile(webpChunkBytes("VP8X", x), webpChunkBytes("ICCP", mediaTestICC()), vp8l,
		webpChunkBytes("EXIF", exif), webpChunkBytes("XMP ", []byte(mediaTestXMP)), webpChunkBytes("JUNK", []byte("Jane Source")))
	return simple, dirty, pic
}

func webpSamePicture(t *testing.T, file []byte, want *image.NRGBA) {
	t.Helper()
	m, err := webp.Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if m.Bounds() != want.Bounds() {
		t.Fatalf("decoded %v, want %v", m.Bounds(), want.Bounds())
	}
	for y := range want.Bounds().Dy() {
		for x := range want.Bounds().Dx() {
			if got, exp := color.NRGBAModel.Convert(m.At(x, y)), want.NRGBAAt(x, y); got != exp {
				t.Fatalf("pixel (%d,%d) is %v, want %v", x, y, got, exp)
			}
		}
	}
}

func TestWebP(t *testing.T) {
	simple, dirty, pic := webpTestFile(t)
	webpSamePicture(t, simple, pic) // the hand-made encoder is right
	webpSamePicture(t, dirty, pic)
	rep, out, err := mediaScrub(t, dirty, "x.webp")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Format != "WebP" || !rep.Scrubbed {
		t.Errorf("report %+v", rep)
	}
	mediaWantKinds(t, rep, KindEXIF, KindXMP, KindGPS, KindThumbnail)
	webpSamePicture(t, out, pic)
	if got := int(binary.LittleEndian.Uint32(out[4:])) + 8; got != len(out) {
		t.Errorf("RIFF size says %d bytes, the file has %d", got, len(out))
	}
	if out[20] != 0x20 {
		t.Errorf("VP8X flags are %#x, want only the ICC flag", out[20])
	}
	for _, s := range []string{"EXIF", "XMP ", "JUNK", "Jane", "Pista"} {
		if bytes.Contains(out, []byte(s)) {
			t.Errorf("%q is still in the file", s)
		}
	}
	if !bytes.Contains(out, mediaTestICC()) {
		t.Error("the ICC profile is gone")
	}
	// A file without metadata is left as it is.
	rep, out2, err := mediaScrub(t, simple, "x.webp")
	if err != nil || !bytes.Equal(out2, simple) || len(rep.Found) != 0 {
		t.Errorf("simple WebP: %+v, %v, changed %v", rep, err, !bytes.Equal(out2, simple))
	}
	before, ok := mediaExiftool(t, dirty, "webp")
	if !ok {
		return
	}
	after, _ := mediaExiftool(t, out, "webp")
	mediaCheckTags(t, before, after, mediaTagCheck{
		before: []string{"GPS:GPSLatitude", "IFD0:Make", "XMP-dc:Creator", "IFD1:ThumbnailImage"},
		groups: []string{"GPS", "XMP", "IFD0", "ExifIFD", "IFD1", "MakerNotes"},
		tags:   []string{"GPS*", "Make", "Model", "SerialNumber", "ThumbnailImage", "Creator"},
	})
}

// TestBroken checks that broken files of each format are refused with a
// *FormatError, without a panic.
func TestBroken(t *testing.T) {
	_, jpg := jpegTestFile(t)
	_, pngf := pngTestFile(t)
	_, wbp, _ := webpTestFile(t)
	mp4 := mp4TestFile(t, "isom").file
	heic := heicTestFile(t, "heic", false).file
	badCRC := append([]byte(nil), pngf...)
	badCRC[len(badCRC)-20] ^= 1 // in the last IDAT
	sos := bytes.Index(jpg, []byte{0xFF, 0xDA})
	eoi := bytes.LastIndex(jpg[:len(jpg)-20], []byte{0xFF, 0xD9})
	for _, tt := range []struct {
		name, file string
		data       []byte
	}{
		{"JPEG truncated in a segment", "a.jpg", jpg[:40]},
		{"JPEG truncated in the scan", "a.jpg", jpg[:sos+200]},
		{"JPEG without EOI", "a.jpg", jpg[:eoi]},
		{"JPEG with a segment of length 1", "a.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 1}, jpg[2:]...)},
		{"JPEG with junk between segments", "a.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xFE, 0, 2, 'x'}, jpg[2:]...)},
		{"JPEG with a second SOI", "a.jpg", append([]byte{0xFF, 0xD8, 0xFF, 0xD8}, jpg[2:]...)},
		{"PNG truncated", "a.png", pngf[:len(pngf)/2]},
		{"PNG without IEND", "a.png", pngf[:len(pngf)-12]},
		{"PNG with a bad CRC", "a.png", badCRC},
		{"PNG without IHDR", "a.png", append(append([]byte(nil), pngSignature...), pngChunk("IEND", nil)...)},
		{"PNG with a huge chunk", "a.png", append(append([]byte(nil), pngf[:33]...), 0xFF, 0xFF, 0xFF, 0xF0, 't', 'E', 'X', 't')},
		{"WebP truncated", "a.webp", wbp[:len(wbp)/2]},
		{"WebP with a chunk longer than the file", "a.webp", webpFile(webpChunkBytes("VP8L", []byte{1, 2}), []byte("EXIF\xFF\xFF\x00\x00"))},
		{"WebP starting with EXIF", "a.webp", webpFile(webpChunkBytes("EXIF", []byte{1, 2}))},
		{"WebP with no chunk", "a.webp", webpFile()},
		{"WebP with stray bytes", "a.webp", webpFile(webpChunkBytes("VP8L", []byte{1, 2}), []byte{1, 2, 3})},
		{"MP4 truncated", "a.mp4", mp4[:len(mp4)/2]},
		{"MP4 truncated in a header", "a.mp4", mp4[:len(mp4)-3]},
		{"MP4 with a box of size 3", "a.mp4", append(append([]byte(nil), mp4[:32]...), 0, 0, 0, 3, 'f', 'r', 'e', 'e')},
		{"MP4 with a huge box", "a.mp4", append(append([]byte(nil), mp4[:32]...), 0, 0, 0, 1, 'f', 'r', 'e', 'e', 0xFF, 0, 0, 0, 0, 0, 0, 0)},
		{"HEIC truncated", "a.heic", heic[:len(heic)-10]},
		{"HEIC with EXIF outside the file", "a.heic", heicPatch(heic, heicItem2, heicItem2+"\x7f\xff\xff\x00")},
		{"HEIC with EXIF outside mdat", "a.heic", heicPatch(heic, heicItem2, heicItem2+"\x00\x00\x00\x00")},
		{"HEIC with EXIF built from items", "a.heic", heicPatch(heic, heicItem2, "\x00\x02\x00\x02\x00\x00\x00\x01")},
		{"HEIC with iloc version 3", "a.heic", heicPatch(heic, "iloc\x01", "iloc\x03")},
		{"HEIC with a bad iloc field size", "a.heic", heicPatch(heic, "iloc\x01\x00\x00\x00\x44", "iloc\x01\x00\x00\x00\x34")},
		{"HEIC with a broken infe", "a.heic", heicPatch(heic, "\x00\x00\x00\x15infe", "\x00\x00\x00\xf5infe")},
		{"MOV with a compressed header", "a.mov", append(bmffBoxBytes("ftyp", []byte("qt  \x00\x00\x00\x00qt  ")), bmffBoxBytes("moov", bmffBoxBytes("cmov", make([]byte, 8)))...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, _, err := mediaScrub(t, tt.data, tt.file)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v (%+v), want a *FormatError", err, rep)
			}
			if rep.Scrubbed || rep.Format == "" {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

// heicTest is a HEIF file made by heicTestFile.
type heicTest struct {
	file       []byte
	img        []byte
	imgOff     int
	metaRanges [][2]int // where the EXIF and XMP items are
}

// heicTestFile builds a HEIC file as phones write them, but with fake
// image data: a meta box listing the image (item 1), an EXIF item (2, in
// mdat) and an XMP item (3, in mdat or, with xmpInIdat, in the meta
// box's idat), and mdat.
func heicTestFile(t testing.TB, brand string, xmpInIdat bool) heicTest {
	img := []byte("HEVC-IMAGE-DATA-NOT-REALLY")
	exif := append(be32(0), mediaTestExif(t)...)
	xmp := []byte(mediaTestXMP)
	u16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	infe := func(id uint16, typ, rest string) []byte {
		return bmffBoxBytes("infe", be32(2<<24), u16(id), u16(0), []byte(typ), []byte(rest))
	}
	var idat []byte
	xmpLoc := func(mdat int) []byte { // the XMP's construction method and extent
		return slices.Concat(u16(0), u16(0), u16(1), be32(uint32(mdat+len(img)+len(exif)), uint32(len(xmp))))
	}
	if xmpInIdat {
		idat = bmffBoxBytes("idat", xmp)
		xmpLoc = func(int) []byte { return slices.Concat(u16(1), u16(0), u16(1), be32(0, uint32(len(xmp)))) }
	}
	meta := func(mdat int) []byte {
		return bmffBoxBytes("meta", be32(0),
			bmffBoxBytes("hdlr", be32(0, 0), []byte("pict"), be32(0, 0, 0), []byte{0}),
			bmffBoxBytes("pitm", be32(0), u16(1)),
			bmffBoxBytes("iinf", be32(0), u16(3),
				infe(1, "hvc1", "\x00"),
				infe(2, "Exif", "\x00"),
				infe(3, "mime", "XMP\x00application/rdf+xml\x00")),
			bmffBoxBytes("iref", be32(0), bmffBoxBytes("cdsc", u16(2), u16(1), u16(1))),
			bmffBoxBytes("iprp",
				bmffBoxBytes("ipco", bmffBoxBytes("ispe", be32(0, 64, 48))),
				bmffBoxBytes("ipma", be32(0, 1), u16(1), []byte{1, 1})),
			bmffBoxBytes("iloc", be32(1<<24), []byte{0x44, 0x00}, u16(3),
				u16(1), u16(0), u16(0), u16(1), be32(uint32(mdat), uint32(len(img))),
				u16(2), u16(0), u16(0), u16(1), be32(uint32(mdat+len(img)), uint32(len(exif))),
				u16(3), xmpLoc(mdat)),
			idat,
		)
	}
	ftyp := bmffBoxBytes("ftyp", []byte(brand), be32(0), []byte("mif1"+brand))
	h := heicTest{img: img, imgOff: len(ftyp) + len(meta(0)) + 8}
	mdat := slices.Concat(img, exif)
	h.metaRanges = [][2]int{{h.imgOff + len(img), h.imgOff + len(mdat)}}
	if xmpInIdat {
		h.metaRanges = append(h.metaRanges, [2]int{len(ftyp) + len(meta(0)) - len(xmp), len(ftyp) + len(meta(0))})
	} else {
		h.metaRanges = append(h.metaRanges, [2]int{h.imgOff + len(mdat), h.imgOff + len(mdat) + len(xmp)})
		mdat = append(mdat, xmp...)
	}
	h.file = slices.Concat(ftyp, meta(h.imgOff), bmffBoxBytes("mdat", mdat))
	return h
}

func TestHEIF(t *testing.T) {
	for _, tt := range []struct {
		name, brand, format string
		xmpInIdat           bool
	}{
		{"HEIC", "heic", "HEIC", false},
		{"AVIF", "avif", "AVIF", false},
		{"HEIC with XMP in idat", "heic", "HEIC", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := heicTestFile(t, tt.brand, tt.xmpInIdat)
			dirty := h.file
			rep, out, err := mediaScrub(t, dirty, "IMG_0001."+strings.ToLower(tt.format))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != tt.format || !rep.Scrubbed {
				t.Errorf("report %+v", rep)
			}
			mediaWantKinds(t, rep, KindEXIF, KindGPS, KindXMP, KindThumbnail, KindMakerNotes)
			if len(out) != len(dirty) {
				t.Fatalf("the size changed from %d to %d", len(dirty), len(out))
			}
			for i := range out {
				inItem := false
				for _, r := range h.metaRanges {
					inItem = inItem || r[0] <= i && i < r[1]
				}
				if out[i] != dirty[i] && !inItem {
					t.Fatalf("byte %d changed, outside the EXIF and XMP items", i)
				}
			}
			for _, s := range []string{"Jane", "Pista", "SN-123", "rdf:Description"} {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("%q is still in the file", s)
				}
			}
			rep2, out2, err := mediaScrub(t, out, "x")
			if err != nil || !bytes.Equal(out, out2) || slices.Contains(rep2.Found, KindGPS) {
				t.Errorf("scrubbing again: %+v, %v, changed %v", rep2, err, !bytes.Equal(out, out2))
			}
			if tt.xmpInIdat {
				return // exiftool 12 does not read XMP from idat
			}
			before, ok := mediaExiftool(t, dirty, "heic")
			if !ok {
				return
			}
			after, _ := mediaExiftool(t, out, "heic")
			mediaCheckTags(t, before, after, mediaTagCheck{
				before: []string{"GPS:GPSLatitude", "IFD0:Make", "ExifIFD:SerialNumber", "XMP-dc:Creator", "IFD1:ThumbnailImage"},
				groups: []string{"GPS", "XMP", "ExifIFD", "IFD0", "IFD1", "MakerNotes"},
				tags:   []string{"GPS*", "Make", "Model", "SerialNumber", "ThumbnailImage", "Creator", "DateTimeOriginal"},
			})
		})
	}
}

// heicItem2 is the start of the location of the EXIF item in iloc: item
// 2, construction method 0, data reference 0, one extent.
const heicItem2 = "\x00\x02\x00\x00\x00\x00\x00\x01"

// heicPatch returns file with the bytes at the first occurrence of old
// overwritten by new.
func heicPatch(file []byte, old, new string) []byte {
	i := bytes.Index(file, []byte(old))
	if i < 0 || i+len(new) > len(file) {
		panic("heicPatch: " + old + " not found")
	}
	out := slices.Clone(file)
	copy(out[i:], new)
	return out
}
