package pistatest

import "testing"

// TestGPSJPEG: exiftool finds the GPS position the test photo carries.
func TestGPSJPEG(t *testing.T) {
	g := ExifGPS(t, GPSJPEG(t), ".jpg")
	t.Logf("%v", g)
	if g["GPS:GPSLatitude"] == nil {
		t.Fatal("no GPS")
	}
}
