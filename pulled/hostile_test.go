package pulled

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
)

// liar is a malicious pull server: it follows the API's routes and
// shapes (api.ItemsResponse, api.KeysResponse, age files as octet
// streams) and lies in them as each test says.
type liar struct {
	keys   func(w http.ResponseWriter)
	page   func(w http.ResponseWriter, after int64)
	object func(w http.ResponseWriter, id int64, meta bool)

	sent     atomic.Int64 // bytes of object and list bodies sent
	objects  atomic.Int64 // object requests
	mu       sync.Mutex
	afters   []int64
	loggedIn bool
}

const liarConv = "mfrggzdfmztwq2lk"

func (l *liar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cw := &countingWriter{ResponseWriter: w, n: &l.sent}
	switch {
	case r.URL.Path == "/api/v1/journalist/login/params":
		// The cheapest parameters the client accepts.
		writeJSONTo(w, api.ParamsResponse{Salt: []byte("0123456789abcdef"), KDF: "argon2id$v=19$m=19456,t=1,p=1"})
	case r.URL.Path == "/api/v1/journalist/login":
		writeJSONTo(w, api.LoginResponse{Token: "t"})
	case r.URL.Path == "/api/v1/journalist/logout":
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/api/v1/journalist/keys":
		if l.keys != nil {
			l.keys(cw)
			return
		}
		writeJSONTo(cw, api.KeysResponse{Keys: []api.DeskKey{}})
	case r.URL.Path == "/api/v1/journalist/items":
		after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
		l.mu.Lock()
		l.afters = append(l.afters, after)
		l.mu.Unlock()
		l.page(cw, after)
	case strings.HasPrefix(r.URL.Path, "/api/v1/journalist/items/"):
		l.objects.Add(1)
		rest := strings.TrimPrefix(r.URL.Path, "/api/v1/journalist/items/")
		idText, meta := strings.CutSuffix(rest, "/meta")
		id, _ := strconv.ParseInt(idText, 10, 64)
		l.object(cw, id, meta)
	default:
		http.NotFound(w, r)
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func writeJSONTo(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// endless writes b again and again until the client stops reading, or
// limit bytes.
func endless(w http.ResponseWriter, b []byte, limit int64) {
	for n := int64(0); n < limit; n += int64(len(b)) {
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

// honest serves objects of the size their list declares.
func honest(size int64) func(http.ResponseWriter, int64, bool) {
	return func(w http.ResponseWriter, id int64, meta bool) {
		w.Write(bytes.Repeat([]byte{'x'}, int(size)))
	}
}

// page lists items first..last of size bytes each.
func page(first, last, size int64, more bool) api.ItemsResponse {
	p := api.ItemsResponse{Items: []api.Item{}, More: more}
	for id := first; id <= last; id++ {
		p.Items = append(p.Items, api.Item{ID: id, Conversation: liarConv, Kind: "message", Size: size, Created: time.Now()})
	}
	return p
}

func startLiar(t *testing.T, l *liar) *Client {
	t.Helper()
	ts := httptest.NewServer(l)
	t.Cleanup(ts.Close)
	c, err := NewClient(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(context.Background(), "alice", "a passphrase", "123456"); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// onDisk sums the sizes of the files under dir, and fails on a temporary
// file left behind.
func onDisk(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if strings.Contains(d.Name(), ".part") {
			t.Errorf("a half-written file was left: %s", p)
		}
		if fi, err := d.Info(); err == nil {
			total += fi.Size()
		}
		return nil
	})
	return total
}

// TestPullFromLiar runs a pull against a server that lies in each way a
// broken-into server could, to fill the journalist's disk or memory or to
// write outside the pulled folder. Each lie is refused with a clear error,
// what came before it is kept, and nothing half-written is left.
func TestPullFromLiar(t *testing.T) {
	const mib = 1 << 20
	oneItem := func(it api.Item) func(http.ResponseWriter, int64) {
		return func(w http.ResponseWriter, after int64) {
			if after >= it.ID {
				writeJSONTo(w, page(1, 0, 0, false))
				return
			}
			writeJSONTo(w, api.ItemsResponse{Items: []api.Item{it}})
		}
	}
	msg := func(id, size int64) api.Item {
		return api.Item{ID: id, Conversation: liarConv, Kind: "message", Size: size, Created: time.Now()}
	}
	tests := []struct {
		name      string
		l         *liar
		max       int64
		wantErr   func(error) bool
		wantItems int   // -1: some, within the total
		maxSent   int64 // bytes the server may send before the client stops it
		maxDisk   int64
		// refused from the list, before any download
		refuseFirst bool
	}{
		{
			name: "a download longer than declared",
			l: &liar{page: oneItem(msg(1, 1000)), object: func(w http.ResponseWriter, id int64, meta bool) {
				endless(w, bytes.Repeat([]byte{'x'}, 64<<10), 1<<30)
			}},
			wantErr: isErr(apiclient.ErrWrongSize), maxSent: 32 * mib, maxDisk: 4 << 10,
		},
		{
			name: "a Content-Length longer than declared",
			l: &liar{page: oneItem(msg(1, 1000)), object: func(w http.ResponseWriter, id int64, meta bool) {
				w.Header().Set("Content-Length", strconv.Itoa(1<<30))
				endless(w, bytes.Repeat([]byte{'x'}, 64<<10), 1<<30)
			}},
			wantErr: isErr(apiclient.ErrWrongSize), maxSent: 32 * mib, maxDisk: 4 << 10,
		},
		{
			name:    "a download shorter than declared",
			l:       &liar{page: oneItem(msg(1, 1000)), object: honest(500)},
			wantErr: isErr(apiclient.ErrWrongSize), maxSent: mib, maxDisk: 4 << 10,
		},
		{
			name:    "a declared size beyond the total",
			l:       &liar{page: oneItem(msg(1, 1<<40)), object: honest(10)},
			max:     10 * mib,
			wantErr: isBudget, maxSent: mib, maxDisk: 4 << 10, refuseFirst: true,
		},
		{
			name:    "a declared size beyond any item",
			l:       &liar{page: oneItem(msg(1, 1<<50)), object: honest(10)},
			wantErr: isErr(ErrMalformed), maxSent: mib, maxDisk: 4 << 10, refuseFirst: true,
		},
		{
			name: "the same page for ever",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				writeJSONTo(w, page(1, 3, 100, true))
			}, object: honest(100)},
			wantErr: isErr(ErrMalformed), wantItems: 3, maxSent: mib, maxDisk: 64 << 10,
		},
		{
			name: "endless pages",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				writeJSONTo(w, page(after+1, after+100, 10<<10, true))
			}, object: honest(10 << 10)},
			max:     8 * mib,
			wantErr: isBudget, wantItems: -1, maxSent: 9 * mib, maxDisk: 8 * mib,
		},
		{
			name: "more to come, and an empty page",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				writeJSONTo(w, page(1, 0, 0, true))
			}, object: honest(10)},
			wantErr: isErr(ErrMalformed), maxSent: mib, maxDisk: 4 << 10,
		},
		{
			name: "a page longer than the API's",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				writeJSONTo(w, page(after+1, after+501, 10, false))
			}, object: honest(10)},
			wantErr: isErr(ErrMalformed), maxSent: mib, maxDisk: 4 << 10,
		},
		{
			name: "a huge page of JSON",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				w.Write([]byte(`{"items":[`))
				endless(w, []byte(`{"id":1,"conversation":"`+liarConv+`","kind":"message","size":10},`), 1<<30)
			}, object: honest(10)},
			wantErr: isErr(apiclient.ErrTooLarge), maxSent: 32 * mib, maxDisk: 4 << 10,
		},
		{
			name: "a huge list of keys",
			l: &liar{keys: func(w http.ResponseWriter) {
				w.Write([]byte(`{"keys":[`))
				endless(w, []byte(`{"desk":"x","key_id":1,"wrapped":"`+strings.Repeat("A", 1<<16)+`"},`), 1<<30)
			}, page: oneItem(msg(1, 10)), object: honest(10)},
			wantErr: isErr(apiclient.ErrTooLarge), maxSent: 48 * mib, maxDisk: 4 << 10,
		},
		{
			name: "a huge wrapped key",
			l: &liar{keys: func(w http.ResponseWriter) {
				writeJSONTo(w, api.KeysResponse{Keys: []api.DeskKey{{Desk: "x", KeyID: 1, Wrapped: make([]byte, 1<<20)}}})
			}, page: oneItem(msg(1, 10)), object: honest(10)},
			wantErr: func(err error) bool { return strings.Contains(fmt.Sprint(err), "malformed desk key") }, maxSent: 2 * mib, maxDisk: 4 << 10,
		},
		{
			name:    "a conversation that climbs out",
			l:       &liar{page: oneItem(api.Item{ID: 1, Conversation: "../../../../tmp/pista-escape", Kind: "message", Size: 10}), object: honest(10)},
			wantErr: isErr(ErrMalformed), maxSent: mib, maxDisk: 4 << 10,
		},
		{
			name:    "a kind that climbs out",
			l:       &liar{page: oneItem(api.Item{ID: 1, Conversation: liarConv, Kind: "../../x", Size: 10}), object: honest(10)},
			wantErr: isErr(ErrMalformed), maxSent: mib, maxDisk: 4 << 10,
		},
		{
			name:    "a file name larger than a name",
			l:       &liar{page: oneItem(api.Item{ID: 1, Conversation: liarConv, Kind: "file", Size: 10, HasMeta: true, MetaSize: 1 << 30}), object: honest(10)},
			wantErr: isErr(ErrMalformed), maxSent: mib, maxDisk: 4 << 10,
		},
		{
			// IDs are sealed and carry no order (5 then 3 is fine), but an
			// ID twice in one pull is the server repeating itself.
			name: "an ID again in the same page",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				p := page(5, 5, 10, false)
				p.Items = append(p.Items, page(3, 3, 10, false).Items...)
				p.Items = append(p.Items, page(5, 5, 10, false).Items...)
				writeJSONTo(w, p)
			}, object: honest(10)},
			wantErr: isErr(ErrMalformed), wantItems: 2, maxSent: mib, maxDisk: 64 << 10,
		},
		{
			// Each page moves the cursor, but the third goes back to the
			// first: without ID order, only the IDs seen tell.
			name: "pages in a cycle",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				switch after {
				case 20:
					writeJSONTo(w, page(10, 11, 10, true))
				default:
					writeJSONTo(w, page(19, 20, 10, true))
				}
			}, object: honest(10)},
			wantErr: isErr(ErrMalformed), wantItems: 4, maxSent: mib, maxDisk: 64 << 10,
		},
		{
			name: "the cursor again",
			l: &liar{page: func(w http.ResponseWriter, after int64) {
				if after == 0 {
					writeJSONTo(w, page(8, 9, 10, true))
					return
				}
				writeJSONTo(w, page(after, after, 10, true))
			}, object: honest(10)},
			wantErr: isErr(ErrMalformed), wantItems: 2, maxSent: mib, maxDisk: 64 << 10,
		},
		{
			name: "an error message that drives the terminal",
			l: &liar{page: oneItem(msg(1, 10)), object: func(w http.ResponseWriter, id int64, meta bool) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				json.NewEncoder(w).Encode(api.Error{Code: "internal", Message: "\x1b]0;owned\x07\x1b[2J\u202eexe.pdf"})
			}},
			wantErr: func(err error) bool {
				s := fmt.Sprint(err)
				return strings.Contains(s, "owned") && !strings.ContainsAny(s, "\x1b\x07\u202e")
			}, maxSent: mib, maxDisk: 4 << 10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := startLiar(t, tt.l)
			dir := t.TempDir()
			rep, err := c.Pull(context.Background(), dir, "alice", PullOptions{MaxTotal: tt.max})
			if err == nil || !tt.wantErr(err) {
				t.Fatalf("Pull error = %v; not the refusal expected", err)
			}
			want := tt.wantItems
			if want < 0 {
				if rep.Items == 0 || int64(rep.Items) > tt.max/(10<<10) {
					t.Errorf("pulled %d items, want some within the total", rep.Items)
				}
				want = rep.Items
			}
			if rep.Items != want {
				t.Errorf("pulled %d items before the lie, want %d", rep.Items, want)
			}
			if got := pulledItems(t, dir); len(got) != want {
				t.Errorf("%d item files, want %d", len(got), want)
			}
			if tt.refuseFirst && tt.l.objects.Load() > 0 {
				t.Errorf("the client asked for an object it had to refuse from the list")
			}
			if n := tt.l.sent.Load(); n > tt.maxSent {
				t.Errorf("the server could send %d bytes, more than %d", n, tt.maxSent)
			}
			disk := onDisk(t, dir)
			if disk > tt.maxDisk {
				t.Errorf("%d bytes on disk, more than %d", disk, tt.maxDisk)
			}
			t.Logf("server sent %d bytes, %d on disk: %v", tt.l.sent.Load(), disk, err)
			// The items pulled before the lie are saved: the next pull
			// asks only for what comes after them.
			st, serr := readStateAt(dir)
			if serr != nil || st.LastItem < int64(want) {
				t.Errorf("state after the lie: %+v, %v", st, serr)
			}
		})
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func isBudget(err error) bool {
	_, ok := errors.AsType[*apiclient.BudgetError](err)
	return ok
}

func readStateAt(path string) (State, error) {
	d, err := openDir(path, false)
	if err != nil {
		return State{}, err
	}
	defer d.Close()
	return readState(d)
}

// TestPullResumesAfterTotal: a pull stopped by --max-total keeps what it
// pulled, and the next one goes on from there.
func TestPullResumesAfterTotal(t *testing.T) {
	l := &liar{page: func(w http.ResponseWriter, after int64) {
		if after >= 40 {
			writeJSONTo(w, page(1, 0, 0, false))
			return
		}
		writeJSONTo(w, page(after+1, min(after+10, 40), 100<<10, after+10 < 40))
	}, object: honest(100 << 10)}
	c := startLiar(t, l)
	dir := t.TempDir()
	rep, err := c.Pull(context.Background(), dir, "alice", PullOptions{MaxTotal: 2 << 20})
	if !isBudget(err) || rep.Items == 0 || rep.Items >= 40 {
		t.Fatalf("first pull: %d items, %v; want a stop at the total", rep.Items, err)
	}
	first := rep.Items
	rep, err = c.Pull(context.Background(), dir, "alice", PullOptions{MaxTotal: 64 << 20})
	if err != nil || first+rep.Items != 40 {
		t.Fatalf("second pull: %d items, %v; want the other %d", rep.Items, err, 40-first)
	}
	if got := pulledItems(t, dir); len(got) != 40 {
		t.Fatalf("%d item files, want 40", len(got))
	}
	if n := l.objects.Load(); n != 40 {
		t.Errorf("%d downloads, want 40: none twice", n)
	}
}

// TestSeenIDs: an ID twice in one pull is refused as malformed, and the
// set stops at maxPullItems with ErrManyItems rather than growing.
func TestSeenIDs(t *testing.T) {
	s := seenIDs{}
	if err := s.add(42); err != nil {
		t.Fatal(err)
	}
	if err := s.add(42); !errors.Is(err, ErrMalformed) {
		t.Fatalf("the same ID again: %v", err)
	}
	for id := int64(1); len(s) < maxPullItems; id += 2 {
		s[id] = struct{}{}
	}
	if err := s.add(-7); !errors.Is(err, ErrManyItems) || len(s) != maxPullItems {
		t.Fatalf("one ID past the most: %v, %d held", err, len(s))
	}
}
