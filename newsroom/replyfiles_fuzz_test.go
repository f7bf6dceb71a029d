package newsroom

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"mime/multipart"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
)

// memBlobs is a BlobStore in memory, for the fuzz target.
type memBlobs struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (m *memBlobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := rand.Text()
	m.objs[k] = b
	return k, int64(len(b)), nil
}

func (m *memBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, pista.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memBlobs) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objs, key)
	return nil
}

func (m *memBlobs) Keys(ctx context.Context) ([]string, error) { return nil, nil }

func sealFor(t testing.TB, data []byte, to ...age.Recipient) []byte {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return buf.Bytes()
}

// FuzzSealedReplyForm: whatever body arrives, the reader of a reply with
// files either refuses it, leaving no object behind once the batch is
// aborted, or accepts a reply first and each file with its meta.
func FuzzSealedReplyForm(f *testing.F) {
	var to []age.Recipient
	for range 2 {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			f.Fatal(err)
		}
		to = append(to, id.Recipient())
	}
	var good bytes.Buffer
	mw := multipart.NewWriter(&good)
	mw.SetBoundary("B")
	for _, p := range []struct {
		name string
		data []byte
	}{{"reply", []byte("hello")}, {"file", make([]byte, pista.Padme(1000))}, {"file_meta", []byte(`{"name":"a","size":1000}`)}} {
		w, _ := mw.CreateFormField(p.name)
		w.Write(sealFor(f, p.data, to...))
	}
	mw.Close()
	f.Add(good.Bytes())
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B--\r\n"))
	f.Add([]byte("--B--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		blobs := &memBlobs{objs: map[string][]byte{}}
		b := intake.NewBatch(blobs, nil, 1<<20)
		items, err := readReplyParts(context.Background(), b, intake.NewPartReader(bytes.NewReader(body), "B"), 2)
		if err != nil {
			b.Abort()
			if len(blobs.objs) != 0 {
				t.Fatalf("%d objects left after a refusal (%v)", len(blobs.objs), err)
			}
			return
		}
		if len(items) == 0 || items[0].Kind != pista.KindReply {
			t.Fatalf("accepted %+v: no reply first", items)
		}
		for _, it := range items[1:] {
			if it.Kind != pista.KindFile || it.Meta == "" {
				t.Fatalf("accepted %+v: a file without its meta", it)
			}
		}
	})
}

// FuzzTransferCopies: whatever body follows a transfer's manifest, the
// reader of the copies either refuses it, leaving no object once the
// batch is aborted, or returns exactly one copy per item, with a meta
// copy where the item has one.
func FuzzTransferCopies(f *testing.F) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		f.Fatal(err)
	}
	to := id.Recipient()
	old := []pista.Item{{ID: 1, Kind: pista.KindMessage, Size: 4000}, {ID: 2, Kind: pista.KindFile, Size: 4000, Meta: "m", MetaSize: 4000}}
	var good bytes.Buffer
	mw := multipart.NewWriter(&good)
	mw.SetBoundary("B")
	for _, p := range []struct {
		name string
		data []byte
	}{{"object", []byte("hello")}, {"object", []byte("file")}, {"meta", []byte(`{"name":"a"}`)}} {
		w, _ := mw.CreateFormField(p.name)
		w.Write(sealFor(f, p.data, to))
	}
	mw.Close()
	f.Add(good.Bytes())
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"object\"\r\n\r\nx\r\n--B--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		blobs := &memBlobs{objs: map[string][]byte{}}
		b := intake.NewBatch(blobs, nil, -1)
		copies, _, err := readCopies(context.Background(), intake.NewPartReader(bytes.NewReader(body), "B"), b, old, 0)
		if err != nil {
			b.Abort()
			if len(blobs.objs) != 0 {
				t.Fatalf("%d objects left after a refusal (%v)", len(blobs.objs), err)
			}
			return
		}
		if len(copies) != len(old) || copies[0].Of != 1 || copies[1].Of != 2 || copies[0].Meta != "" || copies[1].Meta == "" {
			t.Fatalf("accepted %+v", copies)
		}
	})
}
