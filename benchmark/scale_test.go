package benchmark

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/internal/pgtest"
)

// TestScale runs pista bench --scale at 2,000 conversations on SQLite and
// PostgreSQL, on a `pista serve` built from ./cmd/pista, and checks that
// the report has every row with a sane number: not the goals, which are
// for the real size.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds pista, fills two databases and starts servers")
	}
	exe := filepath.Join(t.TempDir(), "pista")
	build := exec.Command("go", "build", "-o", exe, "github.com/pista-tips/pista/cmd/pista")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("cannot build a pista binary to run (go build ./cmd/pista: %v):\n%s", err, out)
	}
	o := DefaultScaleOptions()
	o.Items, o.Database, o.Exe, o.Dir, o.Requests, o.TipTime = 2000, pgtest.Server(t), exe, t.TempDir(), 3, 2*time.Second
	rep, err := MeasureScale(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())

	rows := map[string]ScaleRow{}
	for _, r := range rep.Rows {
		rows[r.Backend+" / "+r.What] = r
	}
	want := func(key string) ScaleRow {
		t.Helper()
		r, ok := rows[key]
		if !ok {
			t.Errorf("no row %q", key)
		}
		return r
	}
	for _, b := range []string{"sqlite", "postgres"} {
		if r := want(b + " / build 2000 conversations (rows and objects)"); r.Value <= 0 {
			t.Errorf("%s: build took %v s", b, r.Value)
		}
		if r := want(b + " / pista serve start-up (exec to first answer)"); r.Value <= 0 || r.Value > 30000 {
			t.Errorf("%s: start-up %v ms", b, r.Value)
		}
		if r := want(b + " / pista serve peak RSS (start and its sweep)"); r.Value < 1 || r.Value > 1024 {
			t.Errorf("%s: peak RSS %v MiB", b, r.Value)
		}
		for _, f := range inboxFilters {
			for _, depth := range []string{"first page", "deep page"} {
				r := want(b + " / inbox " + depth + ": " + f.Name)
				if r.Value <= 0 || r.Value > 5000 || r.Goal == "" {
					t.Errorf("%s: inbox %s %s: %v ms, goal %q", b, depth, f.Name, r.Value, r.Goal)
				}
				// Every filter matches conversations on its first page
				// (the rare tag: 2 of 2,000).
				if depth == "first page" && r.Note == "0 rows" {
					t.Errorf("%s: inbox %s: an empty first page", b, f.Name)
				}
			}
		}
		if r := want(b + " / new-source tips/s (proof of work, 4 at once)"); r.Value <= 0 {
			t.Errorf("%s: %v tips/s", b, r.Value)
		}
	}
	if r := want("both / new-source tips/s, PostgreSQL / SQLite"); r.Skipped || r.Value <= 0 {
		t.Errorf("tips ratio: %+v", r)
	}
	if r := want("s3 / 1 GiB upload to the bucket / baseline"); !r.Skipped {
		t.Errorf("the bucket row without a bucket: %+v", r)
	}
	if r := want("both / search"); !r.Skipped || !strings.Contains(table.String(), SearchHook) {
		t.Errorf("the search row: %+v", r)
	}
}

// TestScaleBucketUpload measures the upload to a bucket, and its
// baseline, at 8 MiB on MinIO.
func TestScaleBucketUpload(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MinIO")
	}
	m := blobtest.MinIO(t)
	t.Setenv("AWS_ACCESS_KEY_ID", m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Pass)
	o := DefaultScaleOptions()
	o.Objects, o.Dir, o.Upload = m.URL(m.Bucket(t)), t.TempDir(), 8*MiB
	rep := &ScaleReport{Options: o}
	if err := measureBucketUpload(context.Background(), o, rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 3 {
		t.Fatalf("%d rows, want 3: %+v", len(rep.Rows), rep.Rows)
	}
	for _, r := range rep.Rows {
		if r.Value <= 0 {
			t.Errorf("%s: %v", r.What, r.Value)
		}
	}
}
