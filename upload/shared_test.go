package upload_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/internal/pgtest"
	"github.com/pista-tips/pista/postgres"
	"github.com/pista-tips/pista/upload"
)

// twoInstances opens two stores on one database and one object store, as
// two instances of a tip line have them, each served on 127.0.0.1:0.
func twoInstances(t *testing.T) (a, b *upload.Store, baseA, baseB string, blobs *blob.Local, shared pista.Shared) {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	shared = postgres.NewShared(db)
	blobs, err = blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serve := func() (*upload.Store, string) {
		s, err := upload.OpenShared(shared, blobs, upload.Config{MaxSize: 64 << 20, MaxPending: 3})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		if err := s.Register(mux); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(mux)
		t.Cleanup(ts.Close)
		return s, ts.URL
	}
	a, baseA = serve()
	b, baseB = serve()
	return a, b, baseA, baseB, blobs, shared
}

func offset(t *testing.T, base, id string) int {
	t.Helper()
	resp := request(t, http.MethodHead, base+upload.BasePath+id, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	n, _ := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	return n
}

func patch(t *testing.T, base, id string, off int, data []byte) {
	t.Helper()
	resp := request(t, http.MethodPatch, base+upload.BasePath+id, data,
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH at %d: %d", off, resp.StatusCode)
	}
}

func TestSharedUploadMovesBetweenInstances(t *testing.T) {
	pgtest.Server(t)
	a, _, baseA, baseB, blobs, shared := twoInstances(t)
	ctx := context.Background()
	data := make([]byte, 9<<20+123) // more than two pieces
	rand.Read(data)
	id := create(t, baseA, len(data), 0)
	patch(t, baseA, id, 0, data[:5<<20]) // two pieces: 4 MiB and 1 MiB
	if got := offset(t, baseB, id); got != 5<<20 {
		t.Fatalf("the other instance sees offset %d, want %d", got, 5<<20)
	}
	patch(t, baseB, id, 5<<20, data[5<<20:])

	c, err := a.Claim(ctx, id)
	if err != nil {
		t.Fatalf("claiming on the first instance what the second finished: %v", err)
	}
	r, err := c.Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the claimed upload reads %d bytes (err %v), not the %d sent", len(got), err, len(data))
	}
	keys, _ := blobs.Keys(ctx)
	if len(keys) != 4 {
		t.Fatalf("%d pieces stored for 4 PATCHed pieces", len(keys))
	}
	if err := c.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if keys, _ := blobs.Keys(ctx); len(keys) != 0 {
		t.Fatalf("%d pieces left after the claimed upload was deleted", len(keys))
	}
	if n, _ := shared.Count(ctx, "upload"); n != 0 {
		t.Fatalf("%d records left", n)
	}
	if resp := request(t, http.MethodHead, baseB+upload.BasePath+id, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of a deleted upload: %d", resp.StatusCode)
	}
}

func TestSharedUploadCapAndSweep(t *testing.T) {
	pgtest.Server(t)
	a, _, baseA, baseB, blobs, _ := twoInstances(t)
	ctx := context.Background()
	full := create(t, baseA, 10, 10)
	create(t, baseB, 10, 3)
	empty := create(t, baseA, 10, 0)
	resp := request(t, http.MethodPost, baseB+upload.BasePath, nil, "Upload-Length", "10")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a fourth upload across both instances (cap 3): %d", resp.StatusCode)
	}
	// An hour on, the empty one goes; a day on, all of them.
	if n, err := a.Sweep(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep an hour later removed %d (%v), want the empty one", n, err)
	}
	if resp := request(t, http.MethodHead, baseB+upload.BasePath+empty, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the swept empty upload answers %d", resp.StatusCode)
	}
	if offset(t, baseB, full) != 10 {
		t.Fatal("the full upload changed")
	}
	if n, err := a.Sweep(ctx, time.Now().Add(25*time.Hour)); err != nil || n != 2 {
		t.Fatalf("sweep a day later removed %d (%v), want 2", n, err)
	}
	if keys, _ := blobs.Keys(ctx); len(keys) != 0 {
		t.Fatalf("%d pieces left after every upload expired", len(keys))
	}
}

// A PATCH stuck on one instance (its client gone silent) must not keep
// the upload from the instance the client resumes on: asked, the holder
// lets go; and an instance that died holding a lease loses it when the
// lease runs out.
func TestSharedUploadLeases(t *testing.T) {
	pgtest.Server(t)
	upload.SetLeases(t, 2*time.Second, 500*time.Millisecond)
	_, _, baseA, baseB, _, shared := twoInstances(t)
	ctx := context.Background()
	id := create(t, baseA, 1<<20, 0)

	// A slow PATCH on A: 1000 bytes, then nothing.
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseA, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "PATCH " + upload.BasePath + id + " HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n" +
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: 1048576\r\n\r\n"
	conn.Write([]byte(head))
	conn.Write(make([]byte, 1000))
	time.Sleep(500 * time.Millisecond)

	start := time.Now()
	got := offset(t, baseB, id) // waits for A to let go
	if got != 1000 {
		t.Fatalf("after A let go, B sees offset %d, want the 1000 bytes A received", got)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("B waited %v for the upload", d)
	}

	// A lease whose holder died: nobody renews it, it runs out.
	key, _ := hexID(id)
	if ok, err := shared.Add(ctx, "upload-lock", key, []byte("dead instance"), time.Now().Add(2*time.Second)); err != nil || !ok {
		t.Fatalf("taking the lease as a dead instance would: %v %v", ok, err)
	}
	start = time.Now()
	patch(t, baseB, id, 1000, make([]byte, 1<<20-1000))
	if d := time.Since(start); d < time.Second {
		t.Fatalf("B wrote after %v, while a lease was held", d)
	}
	if got := offset(t, baseA, id); got != 1<<20 {
		t.Fatalf("offset %d after the last PATCH", got)
	}
}

func hexID(id string) ([]byte, error) {
	b := make([]byte, len(id)/2)
	for i := range b {
		v, err := strconv.ParseUint(id[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(v)
	}
	return b, nil
}
