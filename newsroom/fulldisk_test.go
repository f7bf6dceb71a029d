package newsroom_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// fillDisk writes to a file in dir until the disk is full (ENOSPC), then
// a little more in smaller pieces, so that not one more block is free.
func fillDisk(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 64 << 10, 4 << 10, 512, 1} {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				var errno syscall.Errno
				if !errors.As(err, &errno) || errno != syscall.ENOSPC {
					t.Fatalf("filling the disk: %v", err)
				}
				break
			}
		}
	}
}

// TestLoginOnFullDisk: with the data folder's disk completely full, a
// journalist logs in through the web and the API, and lists and downloads
// through the API (the login wrote the TOTP step to the database, and
// answered 500 "nothing was stored").
func TestLoginOnFullDisk(t *testing.T) {
	dir := pistatest.SmallDisk(t, 16<<20)
	in := pistatest.New(t, server.Config{Data: filepath.Join(dir, "data"), MinFreeDisk: -1})
	ana := in.Journalist("ana")
	desk := in.Desk("americas", ana)
	tip := in.StoreTip(desk)
	fillDisk(t, dir)

	web := in.Browser()
	web.LoginJournalist(ana)
	if r := web.Get("/newsroom/"); r.Status != http.StatusOK {
		t.Errorf("inbox on a full disk: %d", r.Status)
	}
	api := newAPIClient(t, in, ana)
	if status, ids := api.itemIDs(); status != http.StatusOK || len(ids) != 1 {
		t.Errorf("API list on a full disk: %d %v", status, ids)
	}
	if status, body := api.get(fmt.Sprintf("/api/v1/journalist/items/%d", tip.Items[0].ID)); status != http.StatusOK || int64(len(body)) != tip.Items[0].Size {
		t.Errorf("API download on a full disk: %d, %d bytes", status, len(body))
	}
	// The disk was full for real: the audit entries could not be written,
	// and the log says so.
	if !strings.Contains(in.Log.String(), "writing the audit log") {
		t.Errorf("no audit write failed: the disk was not full?\n%s", in.Log.String())
	}
}
