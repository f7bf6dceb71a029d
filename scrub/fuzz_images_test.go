package scrub

import (
	"bytes"
	"errors"
	"testing"
)

// mediaFuzz checks a scrubber on any input: it must not panic, must fail
// only with a *FormatError, and what it writes must scrub again to the
// same bytes (for ISO BMFF files, with the size of the input); and it
// must allocate no more than fuzzBudget allows.
func mediaFuzz(f *testing.F, s Scrubber, sameSize bool, seeds ...[]byte) {
	for _, seed := range seeds {
		f.Add(seed)
		if len(seed) > 16 {
			f.Add(seed[:len(seed)/2])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		_, err := fuzzWithin(t, s, data, &out)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		if sameSize && out.Len() != len(data) {
			t.Fatalf("%d bytes in, %d out", len(data), out.Len())
		}
		var again bytes.Buffer
		if _, err := s.Scrub(bytes.NewReader(out.Bytes()), int64(out.Len()), &again); err != nil {
			t.Fatalf("the scrubbed file cannot be scrubbed again: %v", err)
		}
		if !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("scrubbing the scrubbed file changes it")
		}
	})
}

func FuzzJPEG(f *testing.F) {
	clean, dirty := jpegTestFile(f)
	mediaFuzz(f, jpegScrubber{}, false, clean, dirty)
}

func FuzzPNG(f *testing.F) {
	clean, dirty := pngTestFile(f)
	mediaFuzz(f, pngScrubber{}, false, clean, dirty)
}

func FuzzWebP(f *testing.F) {
	simple, dirty, _ := webpTestFile(f)
	mediaFuzz(f, webpScrubber{}, false, simple, dirty)
}

func FuzzMP4(f *testing.F) {
	mediaFuzz(f, bmffScrubber{format: "MP4"}, true,
		mp4TestFile(f, "isom").file, mp4TestFile(f, "qt  ", true).file)
}

func FuzzHEIC(f *testing.F) {
	mediaFuzz(f, heifScrubber{format: "HEIC"}, true,
		heicTestFile(f, "heic", false).file, heicTestFile(f, "heic", true).file)
}
