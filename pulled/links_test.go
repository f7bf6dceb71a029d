//go:build unix

package pulled

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/keys"
)

// pulledFolder makes a pulled folder as Pull writes it: a desk key
// wrapped to the journalist, and a conversation with a message and a
// file.
type pulledFolder struct {
	t          *testing.T
	dir        string
	journalist *age.HybridIdentity
	desk       *age.HybridIdentity
}

func newPulledFolder(t *testing.T) *pulledFolder {
	t.Helper()
	j, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	desk, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	w, err := keys.Wrap(desk, j.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	p := &pulledFolder{t: t, dir: t.TempDir(), journalist: j, desk: desk}
	must(t, os.MkdirAll(filepath.Join(p.dir, "keys"), 0o700))
	must(t, os.WriteFile(filepath.Join(p.dir, "keys", "americas-1.age"), w, 0o600))
	p.item(5, "message", "THE SECRET MESSAGE")
	p.item(6, "file", "a file's bytes")
	p.write(ItemFile(6, "file", true), p.seal(`{"name":"notes.txt","type":"text/plain"}`))
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (p *pulledFolder) seal(text string) []byte {
	var b bytes.Buffer
	w, err := age.Encrypt(&b, p.desk.Recipient())
	must(p.t, err)
	w.Write([]byte(text))
	must(p.t, w.Close())
	return b.Bytes()
}

func (p *pulledFolder) write(name string, b []byte) {
	must(p.t, os.MkdirAll(filepath.Join(p.dir, liarConv), 0o700))
	must(p.t, os.WriteFile(filepath.Join(p.dir, liarConv, name), b, 0o600))
}

func (p *pulledFolder) item(id int64, kind, text string) {
	p.write(ItemFile(id, kind, false), p.seal(text))
}

func (p *pulledFolder) open(out string) (OpenReport, error) {
	return Open([]age.Identity{p.journalist}, p.dir, out, Options{})
}

// untouched checks that a folder outside holds only what it held.
func untouched(t *testing.T, outside string, want map[string]string) {
	t.Helper()
	entries, _ := os.ReadDir(outside)
	if len(entries) != len(want) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the folder outside holds %v, want only %d files", names, len(want))
	}
	for name, text := range want {
		b, err := os.ReadFile(filepath.Join(outside, name))
		if err != nil || string(b) != text {
			t.Errorf("%s outside now holds %q, %v; want %q", name, b, err, text)
		}
	}
}

// TestOpenPlantedLinks plants links in the output folder, pointing
// outside it, where pista open is about to write: it must write nothing
// through them, and stop with a clear error.
func TestOpenPlantedLinks(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, out, outside string)
		// what the folder outside must still hold
		outside map[string]string
	}{
		{"the conversation's folder is a link to a folder outside", func(t *testing.T, out, outside string) {
			must(t, os.Symlink(outside, filepath.Join(out, liarConv)))
		}, map[string]string{}},
		{"the conversation's folder is a relative link to a folder outside", func(t *testing.T, out, outside string) {
			rel, err := filepath.Rel(out, outside)
			must(t, err)
			must(t, os.Symlink(rel, filepath.Join(out, liarConv)))
		}, map[string]string{}},
		{"the message is a link to a file outside", func(t *testing.T, out, outside string) {
			must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("the victim's file"), 0o600))
			must(t, os.Mkdir(filepath.Join(out, liarConv), 0o700))
			must(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(out, liarConv, "message-1.txt")))
		}, map[string]string{"victim": "the victim's file"}},
		{"the message is a dangling link to outside", func(t *testing.T, out, outside string) {
			must(t, os.Mkdir(filepath.Join(out, liarConv), 0o700))
			must(t, os.Symlink(filepath.Join(outside, "new"), filepath.Join(out, liarConv, "message-1.txt")))
		}, map[string]string{}},
		{"the file's name is a link to outside", func(t *testing.T, out, outside string) {
			must(t, os.Mkdir(filepath.Join(out, liarConv), 0o700))
			must(t, os.Symlink(filepath.Join(outside, "notes.txt"), filepath.Join(out, liarConv, "notes.txt")))
		}, map[string]string{}},
		{"the metadata report is a link to outside", func(t *testing.T, out, outside string) {
			must(t, os.Mkdir(filepath.Join(out, liarConv), 0o700))
			must(t, os.Symlink(filepath.Join(outside, "report"), filepath.Join(out, liarConv, "metadata-report.txt")))
		}, map[string]string{}},
		{"the record of what open wrote is a link to outside", func(t *testing.T, out, outside string) {
			must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte(`{"message-1.txt":"x"}`), 0o600))
			must(t, os.Mkdir(filepath.Join(out, liarConv), 0o700))
			must(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(out, liarConv, ownFile)))
		}, map[string]string{"victim": `{"message-1.txt":"x"}`}},
		{"a hard link to a file outside, as the message", func(t *testing.T, out, outside string) {
			must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("the victim's file"), 0o600))
			must(t, os.Mkdir(filepath.Join(out, liarConv), 0o700))
			must(t, os.Link(filepath.Join(outside, "victim"), filepath.Join(out, liarConv, "message-1.txt")))
		}, map[string]string{"victim": "the victim's file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPulledFolder(t)
			root := t.TempDir()
			out, outside := filepath.Join(root, "opened"), filepath.Join(root, "outside")
			must(t, os.Mkdir(out, 0o700))
			must(t, os.Mkdir(outside, 0o700))
			tt.plant(t, out, outside)
			_, err := p.open(out)
			var ee *ExistsError
			var le *LinkError
			if !errors.As(err, &ee) && !errors.As(err, &le) {
				t.Fatalf("Open error = %v, want a refusal of the planted name", err)
			}
			untouched(t, outside, tt.outside)
			// Nothing half-written either.
			filepath.Walk(out, func(path string, fi os.FileInfo, err error) error {
				if err == nil && strings.Contains(fi.Name(), ".part-") {
					t.Errorf("temporary file left: %s", path)
				}
				return nil
			})
		})
	}
}

// TestOpenPlantedTempName plants a link where earlier versions wrote
// their temporary file (NAME.part): nothing goes through it.
func TestOpenPlantedTempName(t *testing.T) {
	p := newPulledFolder(t)
	root := t.TempDir()
	out, outside := filepath.Join(root, "opened"), filepath.Join(root, "outside")
	must(t, os.MkdirAll(filepath.Join(out, liarConv), 0o700))
	must(t, os.Mkdir(outside, 0o700))
	must(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("the victim's file"), 0o600))
	must(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(out, liarConv, "message-1.txt.part")))
	if _, err := p.open(out); err != nil {
		t.Fatal(err)
	}
	untouched(t, outside, map[string]string{"victim": "the victim's file"})
}

// TestOpenHostileInput gives Open a pulled folder with links and special
// files named like items: they are skipped and reported, never read.
func TestOpenHostileInput(t *testing.T) {
	p := newPulledFolder(t)
	outside := t.TempDir()
	// An age file outside the pulled folder, which the desk key opens: a
	// link must not bring it in.
	other := &pulledFolder{t: t, dir: outside, journalist: p.journalist, desk: p.desk}
	other.item(7, "message", "OUTSIDE THE PULLED FOLDER")
	must(t, os.Symlink(filepath.Join(outside, liarConv, ItemFile(7, "message", false)), filepath.Join(p.dir, liarConv, ItemFile(8, "message", false))))
	// A link as a whole conversation.
	must(t, os.Symlink(filepath.Join(outside, liarConv), filepath.Join(p.dir, "abcdefghijklmnop")))
	// A pipe, which would hang a reader.
	must(t, syscall.Mkfifo(filepath.Join(p.dir, liarConv, ItemFile(9, "message", false)), 0o600))
	// Names that are not pista's.
	p.write(".hidden", []byte("x"))
	p.write("0000000010-message.age.part", p.seal("x"))

	out := filepath.Join(t.TempDir(), "opened")
	done := make(chan struct{})
	var rep OpenReport
	var err error
	go func() {
		rep, err = p.open(out)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Open hangs on a pipe in the pulled folder")
	}
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if rep.Items != 2 || rep.Conversations != 1 || len(rep.Skipped) != 3 {
		t.Errorf("opened %d items of %d conversations, skipped %v; want 2, 1 and 3 skipped", rep.Items, rep.Conversations, rep.Skipped)
	}
	filepath.Walk(out, func(path string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("OUTSIDE")) {
				t.Errorf("%s holds what a link pointed to", path)
			}
		}
		return nil
	})

	// A link as the keys folder: refused.
	q := newPulledFolder(t)
	must(t, os.Rename(filepath.Join(q.dir, "keys"), filepath.Join(outside, "keys")))
	must(t, os.Symlink(filepath.Join(outside, "keys"), filepath.Join(q.dir, "keys")))
	var le *LinkError
	if _, err := q.open(filepath.Join(t.TempDir(), "opened")); !errors.As(err, &le) {
		t.Errorf("Open with keys/ a link: %v, want a *LinkError", err)
	}
}

// TestOpenAgain opens a folder again after more was pulled: files Open
// wrote are replaced when their names move, a file the journalist changed
// is not.
func TestOpenAgain(t *testing.T) {
	p := newPulledFolder(t)
	out := filepath.Join(t.TempDir(), "opened")
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(out, liarConv, name))
		return string(b)
	}
	if _, err := p.open(out); err != nil {
		t.Fatal(err)
	}
	if _, err := p.open(out); err != nil {
		t.Fatalf("opening the same folder again: %v", err)
	}
	// An item lost on the server arrives later, before the others: the
	// numbers move.
	p.item(3, "message", "AN EARLIER MESSAGE")
	if _, err := p.open(out); err != nil {
		t.Fatalf("opening after an earlier item arrived: %v", err)
	}
	if read("message-1.txt") != "AN EARLIER MESSAGE" || read("message-2.txt") != "THE SECRET MESSAGE" {
		t.Fatalf("message-1.txt %q, message-2.txt %q", read("message-1.txt"), read("message-2.txt"))
	}
	// The journalist writes in message-1.txt; then another earlier item.
	must(t, os.WriteFile(filepath.Join(out, liarConv, "message-1.txt"), []byte("my notes"), 0o600))
	p.item(2, "message", "AN EVEN EARLIER MESSAGE")
	_, err := p.open(out)
	var ee *ExistsError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "message-1.txt") {
		t.Fatalf("Open = %v, want an *ExistsError for message-1.txt", err)
	}
	if read("message-1.txt") != "my notes" {
		t.Errorf("the journalist's file was replaced")
	}
}

// TestPullPlantedLinks: links planted in the pulled folder, where pull
// writes, are not followed either.
func TestPullPlantedLinks(t *testing.T) {
	for _, plant := range []string{liarConv, StateFile, filepath.Join(liarConv, "items.jsonl")} {
		t.Run(plant, func(t *testing.T) {
			l := &liar{page: func(w http.ResponseWriter, after int64) {
				writeJSONTo(w, page(after+1, 1, 10, false))
			}, object: honest(10)}
			c := startLiar(t, l)
			root := t.TempDir()
			dir, outside := filepath.Join(root, "pulled"), filepath.Join(root, "outside")
			must(t, os.MkdirAll(filepath.Join(dir, liarConv), 0o700))
			must(t, os.Mkdir(outside, 0o700))
			if plant == liarConv {
				must(t, os.Remove(filepath.Join(dir, liarConv)))
			}
			must(t, os.Symlink(filepath.Join(outside, "target"), filepath.Join(dir, plant)))
			_, err := c.Pull(context.Background(), dir, "alice", PullOptions{})
			var le *LinkError
			if !errors.As(err, &le) {
				t.Fatalf("Pull = %v, want a *LinkError", err)
			}
			untouched(t, outside, map[string]string{})
		})
	}
}

// TestOpenNotes: a desk's internal notes open as note-N.txt, apart from
// the source's messages and the replies.
func TestOpenNotes(t *testing.T) {
	p := newPulledFolder(t)
	p.item(70, "note", "CALL THE DEPUTY FIRST")
	p.item(80, "reply", "THANK YOU")
	p.item(90, "note", "SHE CALLED BACK")
	out := filepath.Join(t.TempDir(), "opened")
	if _, err := p.open(out); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"note-1.txt": "CALL THE DEPUTY FIRST", "note-2.txt": "SHE CALLED BACK", "reply-1.txt": "THANK YOU"} {
		if b, err := os.ReadFile(filepath.Join(out, liarConv, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q (%v), want %q", name, b, err, want)
		}
	}
}
