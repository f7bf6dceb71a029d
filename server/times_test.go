package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/upload"
)

// timeAllowed lists the time columns that may still be finer than
// pista.TimeGranularity, and why.
var timeAllowed = map[string]string{}

// timeColumn names what a column holding a time is called; any integer
// column whose values look like unix seconds is checked too, so a new
// time column is caught whatever its name.
var timeColumn = regexp.MustCompile(`(^|_)(created|updated|expires|applied|time|at|date|when|step|until|since)$`)

// textTime finds a time written as text (RFC 3339 and the like) in a text
// or blob column: JSON of credentials, settings.
var textTime = regexp.MustCompile(`\d{4}-\d\d-\d\d[T ](\d\d):(\d\d):(\d\d)(\.\d+)?`)

// Nothing in the data folder says when something happened more precisely
// than pista.TimeGranularity: after tips with files, a login, reads and
// downloads (audited), a reply, an invitation, a source coming back and an
// upload in flight, every time in every table, and the modification and
// access time of every file and folder, is at the hour.
//
// Access times are checked too: objects are read with O_NOATIME, and the
// server coarsens what it lists or reads (the database) on its timer
// (Config.CoarsenEvery). Change times (ctime) cannot be set by a program
// and are not checked: they say when each file last changed, to the
// nanosecond, on any file system; an encrypted disk is the answer.
func TestTimesAreCoarse(t *testing.T) {
	const every = 100 * time.Millisecond
	in := pistatest.New(t, server.Config{CoarsenEvery: every})
	alice := in.Journalist("alice")
	d := in.Desk("americas", alice)
	ctx := context.Background()

	// A source sends a tip with two files.
	src := in.Browser()
	r := src.Submit("americas", "a tip", pistatest.Part{Name: "files", Value: "first file", Filename: "a.pdf"},
		pistatest.Part{Name: "files", Value: "second file", Filename: "b.txt"})
	if r.Status != http.StatusOK {
		t.Fatalf("submit: %d", r.Status)
	}
	codename := r.Codename(t)

	// Alice logs in, reads the tip, downloads its items and replies.
	b := in.Browser()
	b.LoginJournalist(alice)
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, alice.ID, pista.Page{})
	if err != nil || len(convs) != 1 {
		t.Fatalf("inbox: %v, %v", convs, err)
	}
	conv := "/newsroom/c/" + convs[0].ID
	page := b.Get(conv)
	if page.Status != http.StatusOK {
		t.Fatalf("conversation: %d", page.Status)
	}
	items, _ := in.Srv.Stores.Tips.ItemsOfConversation(ctx, convs[0].ID)
	for _, it := range items {
		if r := b.Get(conv + "/items/" + strconv.FormatInt(it.ID, 10)); r.Status != http.StatusOK {
			t.Fatalf("download: %d", r.Status)
		}
	}
	if r := b.Post(conv+"/reply", url.Values{"csrf": {page.CSRF(t)}, "reply": {"thank you"}}); r.Status >= 400 {
		t.Fatalf("reply: %d\n%s", r.Status, r.Text())
	}

	// The source comes back and reads it.
	home := in.Browser()
	if r := home.Post("/login", url.Values{"csrf": {home.Get("/").CSRF(t)}, "codename": {codename}}); r.Status >= 400 {
		t.Fatalf("source login: %d", r.Status)
	}

	// An invitation, expiring at an exact time.
	inv := pista.Invitation{TokenHash: []byte("0123456789abcdef0123456789abcdef"), DeskID: d.ID,
		Role: pista.RoleJournalist, CreatedBy: alice.ID, Expires: time.Now().Add(72*time.Hour + 17*time.Minute + 3*time.Second)}
	if err := in.Srv.Stores.Team.CreateInvitation(ctx, &inv); err != nil {
		t.Fatal(err)
	}

	// A resumable upload in flight.
	req, _ := http.NewRequest(http.MethodPost, in.TS.URL+upload.BasePath, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", "100000")
	req.Header.Set(pow.Header, pistatest.Prove(t, in.TS.URL))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	req, _ = http.NewRequest(http.MethodPatch, in.TS.URL+upload.BasePath+loc[strings.LastIndex(loc, "/")+1:], bytes.NewReader(make([]byte, 5000)))
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload patch: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// The server's timer coarsens what the database and the uploads
	// changed: wait for it to run twice.
	time.Sleep(3 * every)

	// Files and folders first: reading the tables would touch the
	// database's files.
	checkFileTimes(t, in.Data)
	checkTableTimes(t, filepath.Join(in.Data, server.DBFile))
}

func checkFileTimes(t *testing.T, data string) {
	t.Helper()
	g := int64(pista.TimeGranularity)
	n := 0
	// WalkDir stats each entry before it lists it: the walk does not move
	// the access times it reads.
	err := filepath.WalkDir(data, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		n++
		rel, _ := filepath.Rel(data, p)
		if m := st.Mtim.Nano(); m%g != 0 {
			t.Errorf("%s: modification time %s is finer than %s", rel, time.Unix(0, m).UTC().Format(time.RFC3339Nano), pista.TimeGranularity)
		}
		if a := st.Atim.Nano(); a%g != 0 {
			t.Errorf("%s: access time %s is finer than %s", rel, time.Unix(0, a).UTC().Format(time.RFC3339Nano), pista.TimeGranularity)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("only %d files and folders in the data folder", n)
	}
}

func checkTableTimes(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	g := int64(pista.TimeGranularity / time.Second)
	checked := map[string]bool{}
	for _, table := range tables {
		cols := queryStrings(t, db, `SELECT name FROM pragma_table_info(?)`, table)
		rows, err := db.Query(`SELECT * FROM "` + table + `"`)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				name := table + "." + cols[i]
				if _, ok := timeAllowed[name]; ok {
					continue
				}
				switch v := v.(type) {
				case int64:
					unixLike := v >= 1_000_000_000 && v < 5_000_000_000
					if !unixLike && !timeColumn.MatchString(cols[i]) {
						continue
					}
					checked[name] = true
					if v == 0 {
						continue // no time
					}
					if !unixLike {
						t.Errorf("%s = %d: a time column whose unit is not unix seconds; check it is coarse and teach this test", name, v)
					} else if v%g != 0 {
						t.Errorf("%s = %s: finer than %s", name, time.Unix(v, 0).UTC().Format(time.RFC3339), pista.TimeGranularity)
					}
				case string, []byte:
					s := fmt.Sprintf("%s", v)
					for _, m := range textTime.FindAllStringSubmatch(s, -1) {
						checked[name] = true
						if m[2] != "00" || m[3] != "00" || strings.Trim(strings.TrimPrefix(m[4], "."), "0") != "" {
							t.Errorf("%s holds the time %s: finer than %s", name, m[0], pista.TimeGranularity)
						}
					}
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	// The walk must have met the times it is meant to check.
	for _, want := range []string{"items.created", "conversations.updated", "invitations.expires", "audit.created", "sources.created", "schema_migrations.applied"} {
		if !checked[want] {
			t.Errorf("no value of %s was checked", want)
		}
	}
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
