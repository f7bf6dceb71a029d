package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// TestFormWithoutJavaScriptReportsScrub: a phone's photo sent through the
// form without JavaScript loses its GPS position on arrival, and its
// report says the server removed it as the source chose; with "keep"
// ticked it is stored as sent, and the report says the source chose
// that — the only case in which a report says so.
func TestFormWithoutJavaScriptReportsScrub(t *testing.T) {
	photo := pistatest.GPSJPEG(t)
	if len(pistatest.ExifGPS(t, photo, ".jpg")) == 0 {
		t.Fatal("the test photo has no GPS position (the test is broken)")
	}
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	_, deskID := in.DeskWithIdentity("americas", alice)
	open := func(key string) []byte {
		obj, err := in.Srv.Stores.Blobs.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		r, err := age.Decrypt(obj, deskID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		return b
	}
	for _, tt := range []struct {
		name   string
		keep   bool
		choice string
		gps    bool
	}{
		{"scrubbed on arrival", false, pista.ScrubChoiceScrub, false},
		{"the source keeps the metadata", true, pista.ScrubChoiceKeep, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			parts := []pistatest.Part{{Name: "files", Value: string(photo), Filename: "berth.jpg"}}
			if tt.keep {
				parts = append([]pistatest.Part{{Name: "keep_metadata", Value: "1"}}, parts...)
			}
			if r := in.Browser().Submit("americas", "the berth", parts...); r.Status != http.StatusOK {
				t.Fatalf("status %d\n%s", r.Status, r.Body)
			}
			items, err := in.Srv.Stores.Tips.ItemsFor(ctx, alice.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for i := len(items) - 1; i >= 0 && !found; i-- { // this tip's file: the newest
				it := items[i]
				if it.Kind != pista.KindFile {
					continue
				}
				found = true
				var meta pista.FileMeta
				if err := json.Unmarshal(open(it.Meta), &meta); err != nil {
					t.Fatal(err)
				}
				data := open(it.Object)[:*meta.Size]
				if gps := pistatest.ExifGPS(t, data, ".jpg"); (len(gps) > 0) != tt.gps {
					t.Errorf("exiftool finds GPS tags %v; want them: %v", gps, tt.gps)
				}
				r := meta.Scrub
				if r == nil || r.By != pista.ScrubByServer || r.Choice != tt.choice || r.Scrubbed == tt.keep {
					t.Errorf("report %+v, want by the server, choice %q, scrubbed %v", r, tt.choice, !tt.keep)
				}
			}
			if !found {
				t.Fatal("no file stored")
			}
		})
	}
}
