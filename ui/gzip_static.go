//go:build ignore

// gzip_static writes NAME.gz beside every file of ui/static that is not
// already compressed (the style sheet and the scripts web/js builds), at
// gzip's best level, with no name or time in the header: the binary
// embeds only the .gz files and sends them as they are, so the server
// compresses nothing at start or per request. Run it (go generate ./ui)
// after changing style.css or rebuilding web/js; TestStaticUpToDate fails
// until the .gz files say what the plain ones say.
package main

import (
	"bytes"
	"compress/gzip"
	"log"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	names, err := filepath.Glob("static/*")
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, ".gz") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			log.Fatal(err)
		}
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := w.Write(b); err != nil {
			log.Fatal(err)
		}
		if err := w.Close(); err != nil {
			log.Fatal(err)
		}
		if old, err := os.ReadFile(name + ".gz"); err == nil && bytes.Equal(old, buf.Bytes()) {
			continue
		}
		if err := os.WriteFile(name+".gz", buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
