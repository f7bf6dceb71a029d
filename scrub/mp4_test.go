package scrub

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
)

func bmffBoxBytes(typ string, parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

func be32(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// qtString is a QuickTime user data string: length, language, text.
func qtString(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s)), 0x15, 0xC7}, s...)
}

// mp4Test is a movie made by mp4TestFile, and where its samples are.
type mp4Test struct {
	file                []byte
	video, meta         [][]byte // samples
	videoOffs, metaOffs []int    // where each sample is in file
}

const mp4Time = 0xE1A2B3C4 // a 2023 QuickTime time stamp

// mp4TestFile builds a movie with the given major brand: ftyp, a moov
// with a video track, a GoPro-like timed metadata track, udta (©xyz,
// ©day, ©mak, ©mod, ©swr) and a QuickTime meta box (keys with a
// location), then mdat, then an XMP uuid box. With moovLast, mdat comes
// before moov, as cameras write it.
func mp4TestFile(t testing.TB, brand string, moovLast ...bool) mp4Test {
	last := len(moovLast) > 0 && moovLast[0]
	m := mp4Test{
		video: [][]byte{[]byte("VIDEO-SAMPLE-ONE"), []byte("VIDEO-2"), []byte("VIDEO-SAMPLE-THREE!"), []byte("V4")},
		meta:  [][]byte{[]byte("GPS5 +48.8577+002.2950"), []byte("GPS5 +48.8578+002.2951")},
	}
	// mdat: video chunk 1 (samples 0, 1), metadata chunk 1, video chunk 2
	// (samples 2, 3), metadata chunk 2.
	var mdat []byte
	var vOff, mOff []int
	chunk := func(samples [][]byte, offs *[]int) int {
		start := len(mdat)
		for _, s := range samples {
			*offs = append(*offs, len(mdat))
			mdat = append(mdat, s...)
		}
		return start
	}
	vc1 := chunk(m.video[:2], &vOff)
	mc1 := chunk(m.meta[:1], &mOff)
	vc2 := chunk(m.video[2:], &vOff)
	mc2 := chunk(m.meta[1:], &mOff)
	matrix := be32(0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
	track := func(id uint32, handler string, samples [][]byte, spc uint32, chunks []uint32) []byte {
		var sizes []uint32
		for _, s := range samples {
			sizes = append(sizes, uint32(len(s)))
		}
		return bmffBoxBytes("trak",
			bmffBoxBytes("tkhd", be32(3, mp4Time, mp4Time+1, id, 0, 2000, 0, 0, 0, 0), matrix, be32(320<<16, 240<<16)),
			bmffBoxBytes("mdia",
				bmffBoxBytes("mdhd", be32(0, mp4Time, mp4Time+1, 1000, 2000), []byte{0x55, 0xC4, 0, 0}),
				bmffBoxBytes("hdlr", be32(0, 0), []byte(handler), be32(0, 0, 0), []byte("Core Media\x00")),
				bmffBoxBytes("minf",
					bmffBoxBytes("stbl",
						bmffBoxBytes("stsd", be32(0, 0)),
						bmffBoxBytes("stts", be32(0, 1, uint32(len(samples)), 500)),
						bmffBoxBytes("stsc", be32(0, 1, 1, spc, 1)),
						bmffBoxBytes("stsz", be32(0, 0, uint32(len(samples))), be32(sizes...)),
						bmffBoxBytes("stco", be32(0, uint32(len(chunks))), be32(chunks...)),
					))),
		)
	}
	keys := [][]byte{[]byte("com.apple.quicktime.location.ISO6709"), []byte("com.apple.quicktime.make")}
	var keysBody []byte
	keysBody = append(keysBody, be32(0, uint32(len(keys)))...)
	for _, k := range keys {
		keysBody = append(keysBody, be32(uint32(8+len(k)))...)
		keysBody = append(keysBody, "mdta"...)
		keysBody = append(keysBody, k...)
	}
	item := func(i uint32, v string) []byte {
		return bmffBoxBytes(string(be32(i)), bmffBoxBytes("data", be32(1, 0), []byte(v)))
	}
	moov := func(base int) []byte {
		o := func(c int) uint32 { return uint32(base + c) }
		return bmffBoxBytes("moov",
			bmffBoxBytes("mvhd", be32(0, mp4Time, mp4Time+1, 1000, 2000, 0x10000), []byte{1, 0}, make([]byte, 10), matrix, make([]byte, 24), be32(3)),
			track(1, "vide", m.video, 2, []uint32{o(vc1), o(vc2)}),
			track(2, "meta", m.meta, 1, []uint32{o(mc1), o(mc2)}),
			bmffBoxBytes("udta",
				bmffBoxBytes("\xa9xyz", qtString("+48.8577+002.2950/")),
				bmffBoxBytes("\xa9day", qtString("2024-05-01T10:00:00+0200")),
				bmffBoxBytes("\xa9mak", qtString("Pista Optics")),
				bmffBoxBytes("\xa9mod", qtString("Whistle 3000")),
				bmffBoxBytes("\xa9swr", qtString("Pista Firmware 1.0")),
			),
			bmffBoxBytes("meta",
				bmffBoxBytes("hdlr", be32(0, 0), []byte("mdta"), be32(0, 0, 0), []byte{0}),
				bmffBoxBytes("keys", keysBody),
				bmffBoxBytes("ilst", item(1, "+48.8577+002.2950+035.000/"), item(2, "Pista Optics")),
			),
		)
	}
	ftyp := bmffBoxBytes("ftyp", []byte(brand), be32(0x200), []byte(brand+"isommp41"))
	xmp := bmffBoxBytes("uuid", []byte("\xbe\x7a\xcf\xcb\x97\xa9\x42\xe8\x9c\x71\x99\x94\x91\xe3\xaf\xac"), []byte(mediaTestXMP))
	var base int
	if last {
		base = len(ftyp) + 8
		m.file = slices.Concat(ftyp, bmffBoxBytes("mdat", mdat), moov(base), xmp)
	} else {
		base = len(ftyp) + len(moov(0)) + 8
		m.file = slices.Concat(ftyp, moov(base), bmffBoxBytes("mdat", mdat), xmp)
	}
	for _, o := range vOff {
		m.videoOffs = append(m.videoOffs, base+o)
	}
	for _, o := range mOff {
		m.metaOffs = append(m.metaOffs, base+o)
	}
	return m
}

// mp4ChunkOffsets returns the offsets in the first stco box of file.
func mp4ChunkOffsets(t *testing.T, file []byte) []uint32 {
	i := bytes.Index(file, []byte("stco"))
	if i < 0 {
		t.Fatal("no stco box")
	}
	n := binary.BigEndian.Uint32(file[i+8:])
	var offs []uint32
	for k := range n {
		offs = append(offs, binary.BigEndian.Uint32(file[i+12+4*int(k):]))
	}
	return offs
}

func TestMP4(t *testing.T) {
	for _, tt := range []struct {
		name, brand, file, format string
		moovLast                  bool
	}{
		{"MP4, moov first", "isom", "clip.mp4", "MP4", false},
		{"MP4, moov last", "mp42", "clip.mp4", "MP4", true},
		{"3GP", "3gp5", "clip.3gp", "MP4", false},
		{"MOV, moov last", "qt  ", "clip.mov", "MOV", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := mp4TestFile(t, tt.brand, tt.moovLast)
			rep, out, err := mediaScrub(t, m.file, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != tt.format || !rep.Scrubbed {
				t.Errorf("report %+v", rep)
			}
			mediaWantKinds(t, rep, KindMovieMeta, KindGPS, KindXMP)
			if len(out) != len(m.file) {
				t.Fatalf("the scrubbed file has %d bytes, the original %d", len(out), len(m.file))
			}
			// The video samples are where they were and unchanged, and
			// the chunk offsets still point at them.
			for i, o := range m.videoOffs {
				if got := out[o : o+len(m.video[i])]; !bytes.Equal(got, m.video[i]) {
					t.Errorf("video sample %d is %q, want %q", i, got, m.video[i])
				}
			}
			offs := mp4ChunkOffsets(t, out)
			if len(offs) != 2 || int(offs[0]) != m.videoOffs[0] || int(offs[1]) != m.videoOffs[2] {
				t.Errorf("chunk offsets %v, want %d and %d", offs, m.videoOffs[0], m.videoOffs[2])
			}
			// The samples of the metadata track are zeroed.
			for i, o := range m.metaOffs {
				if got := out[o : o+len(m.meta[i])]; bytes.Count(got, []byte{0}) != len(got) {
					t.Errorf("metadata sample %d is %q", i, got)
				}
			}
			for _, s := range []string{"48.85", "Pista", "Jane", "2024-05", "udta", "keys", "\xa9xyz", "GPS5", "meta"} {
				if bytes.Contains(out, []byte(s)) {
					t.Errorf("%q is still in the file", s)
				}
			}
			// Scrubbing again finds nothing and changes nothing.
			rep2, out2, err := mediaScrub(t, out, tt.file)
			if err != nil || len(rep2.Found) != 0 || !bytes.Equal(out, out2) {
				t.Errorf("scrubbing again: %+v, %v, changed %v", rep2, err, !bytes.Equal(out, out2))
			}
			before, ok := mediaExiftool(t, m.file, strings.TrimPrefix(tt.file, "clip."))
			if !ok {
				return
			}
			after, _ := mediaExiftool(t, out, strings.TrimPrefix(tt.file, "clip."))
			mediaCheckTags(t, before, after, mediaTagCheck{
				before: []string{"UserData:GPSCoordinates", "Keys:GPSCoordinates", "UserData:Make", "UserData:Model",
					"UserData:ContentCreateDate", "QuickTime:CreateDate", "Track1:TrackCreateDate", "Track1:MediaCreateDate", "XMP-dc:Creator"},
				groups: []string{"UserData", "Keys", "ItemList", "XMP", "Track2"},
				tags:   []string{"GPS*", "Make", "Model", "Software", "Encoder", "Creator", "ContentCreateDate"},
			})
			for k, v := range after {
				if strings.HasPrefix(k, "System:") || strings.HasPrefix(k, "ExifTool:") {
					continue
				}
				if strings.HasSuffix(k, "Date") && v != "0000:00:00 00:00:00" {
					t.Errorf("after scrubbing, exiftool finds %s = %v", k, v)
				}
			}
		})
	}
}

func TestMP4Match(t *testing.T) {
	for _, tt := range []struct {
		name, head, file, want string
	}{
		{"MP4", "\x00\x00\x00\x18ftypisom", "", "MP4"},
		{"M4A", "\x00\x00\x00\x18ftypM4A ", "", "MP4"},
		{"MOV", "\x00\x00\x00\x14ftypqt  ", "", "MOV"},
		{"old MOV", "\x00\x00\x00\x08wide\x00\x00", "", "MOV"},
		{"old MOV with free first, by its name", "\x00\x00\x00\x08free\x00\x00", "clip.mov", "MOV"},
		{"free first, unnamed", "\x00\x00\x00\x08free\x00\x00", "", ""},
		{"CR3 raw", "\x00\x00\x00\x18ftypcrx ", "", ""},
		{"JPEG 2000", "\x00\x00\x00\x14ftypjp2 ", "", ""},
		{"HEIC", "\x00\x00\x00\x18ftypheic", "", "HEIC"},
		{"HEIF", "\x00\x00\x00\x18ftypmif1", "", "HEIC"},
		{"AVIF", "\x00\x00\x00\x18ftypavif", "", "AVIF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := For([]byte(tt.head+"\x00\x00\x00\x00"), tt.file, "")
			got := ""
			if s != nil {
				got = s.Format()
			}
			if got != tt.want {
				t.Errorf("matched %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMP4Fragmented checks that the timed metadata track of a fragmented
// movie, which its fragments would refer to, is kept, and said so.
func TestMP4Fragmented(t *testing.T) {
	m := mp4TestFile(t, "isom")
	i := bytes.Index(m.file, []byte("meta\x00\x00\x00\x21hdlr"))
	if i < 0 {
		t.Fatal("no moov/meta box")
	}
	copy(m.file[i:], "mvex") // now the movie is fragmented
	rep, out, err := mediaScrub(t, m.file, "clip.mp4")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Note == "" || !bytes.Contains(out, m.meta[0]) || len(out) != len(m.file) {
		t.Errorf("report %+v, metadata samples kept %v", rep, bytes.Contains(out, m.meta[0]))
	}
	if bytes.Contains(out, []byte("\xa9xyz")) || bytes.Count(out, []byte("meta")) != 1 {
		t.Error("the user data, or the metadata track's handler, is not as expected")
	}
}
