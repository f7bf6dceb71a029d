package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/blob/blobtest"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/server"
)

// The test (issue 14): a backup taken while 50 sources submit,
// restored into a fresh folder that a server then runs on, holds every
// tip acknowledged before the backup began, each decrypting with the
// desk's key to what was sent. A damaged and a cut backup are refused
// with a clear message, and the target folder is not created. An
// incremental backup copies only the new objects, and the chain
// restores everything.
func TestBackupWhileSourcesSubmit(t *testing.T) {
	if testing.Short() {
		t.Skip("50 sources submitting")
	}
	backupWhileSourcesSubmit(t, nil)
}

// The same with the rows in PostgreSQL and the objects in a bucket: the
// backup reads both, the restores go to empty schemas and new buckets.
func TestPostgresBackupWhileSourcesSubmit(t *testing.T) {
	if testing.Short() {
		t.Skip("50 sources submitting")
	}
	m := blobtest.MinIO(t)
	t.Setenv("AWS_ACCESS_KEY_ID", m.User)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.Pass)
	backupWhileSourcesSubmit(t, &cluster{
		database: pgtest.URL(t), objects: m.URL(m.Bucket(t)),
		target: func() (string, string) { return pgtest.URL(t), m.URL(m.Bucket(t)) },
	})
}

// cluster is where a tip line on PostgreSQL keeps its rows and objects,
// and where restores of it go (a new empty schema and bucket each).
type cluster struct {
	database, objects string
	target            func() (database, objects string)
}

func backupWhileSourcesSubmit(t *testing.T, pg *cluster) {
	const sources = 50
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var base string
	var objectsFlag []string // --objects for backups and the stores of restored folders
	if pg != nil {
		base, _ = startServer(t, data, func(f *serveFlags) { f.database, f.objects = pg.database, pg.objects })
		objectsFlag = []string{"--objects", pg.objects}
	}
	alice := addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	adminKey := filepath.Join(dir, "admin.key")
	admin := strings.TrimSpace(runPista(t, "keygen", "-o", adminKey))
	if pg == nil {
		base, _ = startServer(t, data)
	}
	// restore restores into a new folder, and with pg a new schema and
	// bucket, and serves it; it answers the objects' bucket.
	restore := func(target string, in ...string) string {
		args := []string{"restore", "--identity", adminKey, "--data", target}
		for _, f := range in {
			args = append(args, "--in", f)
		}
		objects := ""
		if pg != nil {
			var db string
			db, objects = pg.target()
			args = append(args, "--database", db, "--objects", objects)
		}
		out := runPista(t, args...)
		t.Logf("restore: %s", strings.TrimSpace(out))
		if pg != nil {
			startServer(t, target, func(f *serveFlags) { f.objects = objects })
		} else {
			startServer(t, target)
		}
		return objects
	}

	var (
		mu    sync.Mutex
		acked []sent
		fails int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			client := &http.Client{Jar: jar, Timeout: 2 * time.Minute}
			for {
				select {
				case <-stop:
					return
				default:
				}
				file := make([]byte, 1+mrand.IntN(256<<10))
				rand.Read(file)
				marker := "BACKUP-" + rand.Text()
				ok, _ := submit(client, base, marker, file)
				mu.Lock()
				if ok {
					acked = append(acked, sent{marker, sha256.Sum256(file), int64(len(file))})
				} else {
					fails++ // refused while the key stretching queue is full: not acknowledged
				}
				mu.Unlock()
			}
		}()
	}
	ackedSoFar := func() []sent {
		mu.Lock()
		defer mu.Unlock()
		return append([]sent(nil), acked...)
	}
	for deadline := time.Now().Add(2 * time.Minute); len(ackedSoFar()) < 2*sources; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("only %d tips acknowledged in 2 minutes (%d refused)", len(ackedSoFar()), fails)
		}
	}

	// The backup, while the sources go on.
	before := ackedSoFar()
	full := filepath.Join(dir, "backups", "full.age")
	os.Mkdir(filepath.Dir(full), 0o700)
	out := runPista(t, append([]string{"backup", "--data", data, "--out", full, "--recipient", admin}, objectsFlag...)...)
	during := len(ackedSoFar()) - len(before)
	t.Logf("backup: %s", strings.TrimSpace(out))
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "backups", "*.tmp-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left beside the backup: %v", leftovers)
	}

	// More tips, then the incremental backup, once the sources stop.
	for target := len(ackedSoFar()) + sources; len(ackedSoFar()) < target; time.Sleep(50 * time.Millisecond) {
	}
	close(stop)
	wg.Wait()
	all := ackedSoFar()
	t.Logf("%d sources: %d tips acknowledged before the backup began, %d while it ran, %d in all; %d refused (busy)", sources, len(before), during, len(all), fails)
	if during == 0 {
		t.Log("no tip was acknowledged while the backup ran")
	}
	inc := filepath.Join(dir, "backups", "inc.age")
	out = runPista(t, append([]string{"backup", "--data", data, "--out", inc, "--recipient", admin, "--since", full + ".catalog"}, objectsFlag...)...)
	t.Logf("incremental backup: %s", strings.TrimSpace(out))

	// The full backup, restored, serves, and holds every tip acknowledged
	// before it began.
	restored := filepath.Join(dir, "restored")
	fullTips := checkTips(t, restored, restore(restored, full), alice, before)

	// The chain restores everything, and the incremental backup carried
	// only the objects the full one did not: two per tip since.
	chain := filepath.Join(dir, "chain")
	chainObjects := restore(chain, full, inc)
	fullObjects, incObjects := copiedObjects(t, full, adminKey), copiedObjects(t, inc, adminKey)
	chainTips := checkTips(t, chain, chainObjects, alice, all)
	if incObjects != 3*(chainTips-fullTips) {
		t.Errorf("the incremental backup carries %d objects; the %d tips since the full one (%d objects) have %d", incObjects, chainTips-fullTips, fullObjects, 3*(chainTips-fullTips))
	}

	// A damaged backup and a cut one are refused; the target is not made.
	good, err := os.ReadFile(full)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"flipped", func() []byte { b := bytes.Clone(good); b[len(b)/3] ^= 0x10; return b }()},
		{"cut", good[:len(good)-len(good)/4]},
	} {
		bad := filepath.Join(dir, tc.name+".age")
		if err := os.WriteFile(bad, tc.body, 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "from-"+tc.name)
		args := []string{"restore", "--in", bad, "--identity", adminKey, "--data", target}
		if pg != nil {
			db, objects := pg.target()
			args = append(args, "--database", db, "--objects", objects)
		}
		code, _, stderr := runPistaCode(args...)
		if code != 1 || !strings.Contains(stderr, "restore refused") || !strings.Contains(stderr, "damaged or cut short") {
			t.Errorf("restore of a %s backup: exit %d\n%s", tc.name, code, stderr)
		}
		t.Logf("%s: %s", tc.name, strings.TrimSpace(stderr))
		if _, err := os.Stat(target); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("restore of a %s backup made %s: %v", tc.name, target, err)
		}
		if left, _ := filepath.Glob(target + "*"); len(left) != 0 {
			t.Errorf("restore of a %s backup left %v", tc.name, left)
		}
	}
}

// checkTips finds every tip of want in a data folder, each decrypting
// with the desk key (which alice's key unwraps) to what was sent, and
// returns how many tips the folder holds.
func checkTips(t *testing.T, data, objects string, alice journalist, want []sent) int {
	t.Helper()
	st, err := server.OpenStores(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if objects != "" {
		if err := st.UseObjects(context.Background(), objects, ""); err != nil {
			t.Fatal(err)
		}
	}
	found := storedTips(t, st, alice)
	for _, w := range want {
		if sums, ok := found[w.marker]; !ok {
			t.Errorf("%s: acknowledged tip %s is missing", data, w.marker)
		} else if len(sums) != 1 || sums[0] != w.fileSum {
			t.Errorf("%s: tip %s: the file does not decrypt to what was sent", data, w.marker)
		}
	}
	return len(found)
}

// copiedObjects counts the objects a backup carries, as the manifest in
// it lists them.
func copiedObjects(t *testing.T, file, identity string) int {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := readIdentity(identity)
	if err != nil {
		t.Fatal(err)
	}
	r, err := age.Decrypt(f, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	_, manifest, ok := bytes.Cut(b, []byte("pista-backup-manifest 1\n"))
	if !ok {
		t.Fatal("no manifest")
	}
	return strings.Count(string(manifest), "\nentry objects/")
}
