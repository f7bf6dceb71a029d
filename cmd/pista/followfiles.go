package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/pulled"
)

// maxSameName bounds the " (n)" suffixes tried for a name already taken.
const maxSameName = 1000

// followFile lists a file sent with a reply and, with --out, decrypts it
// into dir under a safe name that no file there has yet.
func followFile(ctx context.Context, e env, c *apiclient.Client, r api.Reply, identity age.Identity, dir *os.Root, dirName string) error {
	meta, err := c.ReplyFileMeta(ctx, r, identity)
	if err != nil {
		return err
	}
	name := pulled.SafeName(meta.Name, "file-"+strconv.FormatInt(r.ID, 10))
	size := int64(-1)
	shown := "size unknown"
	if meta.Size != nil {
		size = *meta.Size
		shown = apiclient.FormatSize(size)
	}
	if dir == nil {
		fmt.Fprintf(e.stdout, "file: %s, %s (save it with --out DIR)\n", printable(name), shown)
		return nil
	}
	f, saved, err := createNew(dir, name)
	if err != nil {
		return fmt.Errorf("saving %s: %w", printable(name), err)
	}
	err = c.SaveReplyFile(ctx, r, identity, size, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		dir.Remove(saved) // nothing half-written stays
		return err
	}
	fmt.Fprintf(e.stdout, "file: %s, %s, saved as %s\n", printable(name), shown, printable(filepath.Join(dirName, saved)))
	return nil
}

// createNew creates name in dir, or "stem (2).ext", "stem (3).ext"… if it
// is taken: O_EXCL, so an existing file (or a link) is never opened, and
// os.Root, so nothing is created outside dir.
func createNew(dir *os.Root, name string) (*os.File, string, error) {
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 1; i <= maxSameName; i++ {
		try := name
		if i > 1 {
			try = fmt.Sprintf("%s (%d)%s", stem, i, ext)
		}
		f, err := dir.OpenFile(try, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, try, err
	}
	return nil, "", fmt.Errorf("%d files of that name are already there", maxSameName)
}
