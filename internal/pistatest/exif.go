package pistatest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// GPSJPEG is a small JPEG photo whose EXIF carries what a phone's camera
// leaves in it: a make, a model and a GPS position (48°51'29.5" N,
// 2°17'40" E), the metadata that must not reach the newsroom unless the
// source chose to keep it.
func GPSJPEG(t testing.TB) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for y := range 24 {
		for x := range 32 {
			m.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 10), 120, 255})
		}
	}
	var pic bytes.Buffer
	if err := jpeg.Encode(&pic, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	// A little-endian TIFF: IFD0 (make, model, GPS pointer) at 8, then
	// the GPS IFD, then the values that do not fit in their entries.
	le := binary.LittleEndian
	type entry struct {
		tag, typ uint16
		count    uint32
		val      []byte
	}
	ascii := func(tag uint16, s string) entry { return entry{tag, 2, uint32(len(s) + 1), append([]byte(s), 0)} }
	rationals := func(tag uint16, v ...uint32) entry {
		var b []byte
		for _, x := range v {
			b = le.AppendUint32(b, x)
		}
		return entry{tag, 5, uint32(len(v) / 2), b}
	}
	gps := []entry{
		{0, 1, 4, []byte{2, 3, 0, 0}},
		ascii(1, "N"), rationals(2, 48, 1, 51, 1, 2950, 100),
		ascii(3, "E"), rationals(4, 2, 1, 17, 1, 4000, 100),
	}
	ifd0 := []entry{ascii(0x010F, "Pista Phones"), ascii(0x0110, "Whistle 7"), {0x8825, 4, 1, nil}}
	ifdSize := func(es []entry) int { return 2 + 12*len(es) + 4 }
	gpsAt := 8 + ifdSize(ifd0)
	extraAt := gpsAt + ifdSize(gps)
	var extra []byte
	write := func(out []byte, es []entry) []byte {
		out = le.AppendUint16(out, uint16(len(es)))
		for _, e := range es {
			out = le.AppendUint16(out, e.tag)
			out = le.AppendUint16(out, e.typ)
			out = le.AppendUint32(out, e.count)
			switch {
			case e.tag == 0x8825:
				out = le.AppendUint32(out, uint32(gpsAt))
			case len(e.val) <= 4:
				out = append(out, append(append([]byte{}, e.val...), make([]byte, 4-len(e.val))...)...)
			default:
				out = le.AppendUint32(out, uint32(extraAt+len(extra)))
				extra = append(extra, e.val...)
				if len(extra)%2 != 0 {
					extra = append(extra, 0)
				}
			}
		}
		return le.AppendUint32(out, 0)
	}
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0}
	tiff = write(tiff, ifd0)
	tiff = write(tiff, gps)
	tiff = append(tiff, extra...)
	app1 := append([]byte("Exif\x00\x00"), tiff...)
	out := append([]byte{}, pic.Bytes()[:2]...)
	out = append(out, 0xFF, 0xE1, byte((len(app1)+2)>>8), byte(len(app1)+2))
	out = append(out, app1...)
	return append(out, pic.Bytes()[2:]...)
}

// ExifGPS returns the GPS tags exiftool finds in data ("GPS:GPSLatitude"
// → its value, and so on), as a journalist would see them. Without
// exiftool it skips t, or fails it when $PISTA_TEST_REQUIRE requires
// exiftool.
func ExifGPS(t testing.TB, data []byte, ext string) map[string]any {
	t.Helper()
	tool, err := exec.LookPath("exiftool")
	Need(t, "exiftool", err, "Install it: apt-get install -y libimage-exiftool-perl")
	path := filepath.Join(t.TempDir(), "file"+ext)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-j", "-a", "-G1", path).Output()
	if err != nil {
		t.Fatalf("exiftool: %v\n%s", err, out)
	}
	var tags []map[string]any
	if err := json.Unmarshal(out, &tags); err != nil || len(tags) != 1 {
		t.Fatalf("exiftool's output: %v\n%s", err, out)
	}
	gps := map[string]any{}
	for k, v := range tags[0] {
		if strings.Contains(strings.ToUpper(k), "GPS") {
			gps[k] = v
		}
	}
	return gps
}
