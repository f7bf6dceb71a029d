package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
)

// TestSubmitScrubs sends a phone's photo with pista submit, as a source
// would: the journalist who pulls and opens it finds no GPS position in
// it (exiftool's view), and the metadata report says pista submit removed
// it on the source's computer. With --keep-metadata the photo arrives as
// it was, and the report says the source chose that; a file of a format
// the scrubber does not know is sent as it is, and said so.
func TestSubmitScrubs(t *testing.T) {
	photo := pistatest.GPSJPEG(t)
	if len(pistatest.ExifGPS(t, photo, ".jpg")) == 0 {
		t.Fatal("the test photo has no GPS position (the test is broken)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	base, _ := startServer(t, data)

	tests := []struct {
		name        string
		file        string
		keep        bool
		told        string // what pista submit tells the source on stderr
		report      string // what pista open's metadata report says of the photo
		notInReport string
		gps         bool // exiftool finds the GPS position in what alice opens
	}{
		{name: "scrubbed on the source's computer", file: "site.jpg", told: "site.jpg: metadata removed here: EXIF",
			report: "site.jpg: JPEG, metadata removed by pista submit on the source's computer: EXIF", notInReport: "chose to keep"},
		{name: "the source keeps the metadata", file: "kept.jpg", keep: true, told: "kept.jpg: sent with its metadata, as you asked",
			report: "kept.jpg: kept as sent: the source chose to keep its metadata", gps: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := t.TempDir()
			path := writeFile(t, filepath.Join(sub, tt.file), photo)
			notes := writeFile(t, filepath.Join(sub, "notes.xyz"), []byte("plain notes, no format the scrubber knows"))
			args := []string{"submit", "--server", base, "--desk", "americas", "--file", path, "--file", notes}
			if tt.keep {
				args = append(args, "--keep-metadata")
			}
			_, told := runPistaIn(t, "", args...)
			if !strings.Contains(told, tt.told) {
				t.Errorf("pista submit told the source %q, want %q", told, tt.told)
			}
			pulledDir, openedDir := filepath.Join(sub, "pulled"), filepath.Join(sub, "opened")
			runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", pulledDir)
			runPista(t, "open", "--identity", alice.keyFile, "--in", pulledDir, "--out", openedDir)
			entries, _ := os.ReadDir(openedDir)
			var conv string
			for _, e := range entries {
				if e.IsDir() {
					if _, err := os.Stat(filepath.Join(openedDir, e.Name(), tt.file)); err == nil {
						conv = filepath.Join(openedDir, e.Name())
					}
				}
			}
			if conv == "" {
				t.Fatalf("no conversation holds %s: %v", tt.file, entries)
			}
			got, err := os.ReadFile(filepath.Join(conv, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			gps := pistatest.ExifGPS(t, got, ".jpg")
			if tt.gps != (len(gps) > 0) {
				t.Errorf("exiftool finds GPS tags %v in the photo alice opened; want them: %v", gps, tt.gps)
			}
			if tt.gps && !bytes.Equal(got, photo) {
				t.Errorf("the kept photo was changed: %d bytes, %d sent", len(got), len(photo))
			}
			report, err := os.ReadFile(filepath.Join(conv, "metadata-report.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(report), tt.report) {
				t.Errorf("the metadata report says\n%s\nwant %q", report, tt.report)
			}
			if tt.notInReport != "" && strings.Contains(string(report), tt.notInReport) {
				t.Errorf("the metadata report says %q:\n%s", tt.notInReport, report)
			}
			if !tt.keep && !strings.Contains(string(report), "notes.xyz: not scrubbed by pista submit on the source's computer: format not known to the scrubber") {
				t.Errorf("the report does not say notes.xyz was sent as it is:\n%s", report)
			}
		})
	}
}
