package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/upload"
)

// tusClient speaks tus 1.0 to an instance, as tus-js-client does.
type tusClient struct {
	t    *testing.T
	base string
}

func (c tusClient) do(method, path string, body []byte, header map[string]string) *http.Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// create starts an upload of n bytes and answers its ID, or "" and the
// status if the server refused it.
func (c tusClient) create(n int64, header map[string]string) (string, int) {
	c.t.Helper()
	h := map[string]string{"Upload-Length": strconv.FormatInt(n, 10), pow.Header: pistatest.Prove(c.t, c.base)}
	for k, v := range header {
		h[k] = v
	}
	resp := c.do(http.MethodPost, upload.BasePath, nil, h)
	if resp.StatusCode != http.StatusCreated {
		return "", resp.StatusCode
	}
	loc := resp.Header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:], resp.StatusCode
}

// patch sends data at offset.
func (c tusClient) patch(id string, offset int64, data []byte) int {
	c.t.Helper()
	return c.do(http.MethodPatch, upload.BasePath+id, data, map[string]string{
		"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.FormatInt(offset, 10),
	}).StatusCode
}

// offset asks the server how much of an upload it has (-1: none such).
func (c tusClient) offset(id string) int64 {
	c.t.Helper()
	resp := c.do(http.MethodHead, upload.BasePath+id, nil, nil)
	if resp.StatusCode != http.StatusOK {
		return -1
	}
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		c.t.Fatalf("HEAD: Upload-Offset %q", resp.Header.Get("Upload-Offset"))
	}
	return n
}

// send uploads data whole, in two pieces with a HEAD between them, as a
// client does that lost its connection halfway.
func (c tusClient) send(data []byte) string {
	c.t.Helper()
	id, status := c.create(int64(len(data)), nil)
	if id == "" {
		c.t.Fatalf("creating an upload of %d bytes: %d", len(data), status)
	}
	half := int64(len(data) / 2)
	if s := c.patch(id, 0, data[:half]); s != http.StatusNoContent {
		c.t.Fatalf("first PATCH: %d", s)
	}
	off := c.offset(id)
	if off != half {
		c.t.Fatalf("HEAD after the first half: offset %d, want %d", off, half)
	}
	if s := c.patch(id, off, data[off:]); s != http.StatusNoContent {
		c.t.Fatalf("second PATCH: %d", s)
	}
	return id
}

// uploadsLeft lists the files in the data folder's uploads/.
func uploadsLeft(t *testing.T, in *pistatest.Instance) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(in.Data, upload.Dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// sealedDesk makes a desk whose identity the test keeps.
func sealedDesk(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, slug string) *age.HybridIdentity {
	t.Helper()
	deskID, _ := age.GenerateHybridIdentity()
	w, _ := keys.Wrap(deskID, j.Recipient)
	desk := pista.Desk{Slug: slug, Title: slug, Recipient: deskID.Recipient().String()}
	if err := in.Srv.Stores.Desks.CreateDesk(context.Background(), &desk, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: w}}); err != nil {
		t.Fatal(err)
	}
	return deskID
}

// A file the browser encrypted and uploaded resumably is stored exactly as
// the same file sent sealed in the form: an item of the same size, kind and
// metadata, which the desk key opens to the same padded bytes; and the
// upload is gone once the tip is stored.
func TestResumableUploadIsStoredAsASealedFile(t *testing.T) {
	ctx := context.Background()
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	deskID := sealedDesk(t, in, alice, "americas")
	file := bytes.Repeat([]byte("ledger "), 300_000) // 2.1 MB: several age chunks
	meta := fmt.Sprintf(`{"name":"ledger.txt","type":"text/plain","size":%d}`, len(file))
	padded := append(bytes.Clone(file), make([]byte, pista.Padme(int64(len(file)))-int64(len(file)))...)

	// Sealed in the form.
	b := in.Browser()
	landing := b.Get("/")
	r := b.PostMultipart("/submit", []pistatest.Part{
		{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"},
		{Name: "message", Value: sealTo(t, landing.Body, []byte("the ledger")), Filename: "message.age"},
		{Name: "files", Value: sealTo(t, landing.Body, padded), Filename: "file.age"},
		{Name: "file_meta", Value: sealTo(t, landing.Body, []byte(meta)), Filename: "meta.age"},
	})
	if r.Status != http.StatusOK {
		t.Fatalf("sealed submission: %d\n%s", r.Status, r.Body)
	}

	// Uploaded with tus, then named in the form.
	b = in.Browser()
	landing = b.Get("/")
	if !strings.Contains(landing.Body, `data-upload-url="/uploads/"`) {
		t.Fatal("the landing page does not offer resumable uploads to its script")
	}
	tus := tusClient{t, in.TS.URL}
	id := tus.send([]byte(sealTo(t, landing.Body, padded)))
	r = b.PostMultipart("/submit", []pistatest.Part{
		{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"},
		{Name: "message", Value: sealTo(t, landing.Body, []byte("the ledger")), Filename: "message.age"},
		{Name: "upload", Value: id},
		{Name: "file_meta", Value: sealTo(t, landing.Body, []byte(meta)), Filename: "meta.age"},
	})
	if r.Status != http.StatusOK || r.Codename(t) == "" {
		t.Fatalf("submission with an upload: %d\n%s", r.Status, r.Body)
	}

	items, err := in.Srv.Stores.Tips.ItemsFor(ctx, alice.ID, 0, 100)
	if err != nil || len(items) != 4 {
		t.Fatalf("ItemsFor = %d items, %v; want 2 + 2", len(items), err)
	}
	open := func(key string) []byte {
		obj, err := in.Srv.Stores.Blobs.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		r, err := age.Decrypt(obj, deskID)
		if err != nil {
			t.Fatalf("the desk key does not open object %s: %v", key, err)
		}
		b, _ := io.ReadAll(r)
		return b
	}
	sealed, uploaded := items[:2], items[2:]
	for i := range sealed {
		s, u := sealed[i], uploaded[i]
		if s.Kind != u.Kind || s.Size != u.Size || s.MetaSize != u.MetaSize || s.EncryptedBy != u.EncryptedBy {
			t.Errorf("item %d: sealed %s of %d+%d bytes by %q, uploaded %s of %d+%d bytes by %q",
				i, s.Kind, s.Size, s.MetaSize, s.EncryptedBy, u.Kind, u.Size, u.MetaSize, u.EncryptedBy)
		}
		if !bytes.Equal(open(s.Object), open(u.Object)) {
			t.Errorf("item %d (%s): the two paths stored different plaintexts", i, s.Kind)
		}
	}
	if u := uploaded[1]; u.Kind != pista.KindFile || u.EncryptedBy != "browser" || string(open(u.Meta)) != meta ||
		!bytes.Equal(open(u.Object)[:len(file)], file) {
		t.Errorf("the uploaded file item is not the file the browser sent")
	}
	if off := tus.offset(id); off != -1 {
		t.Errorf("the upload is still there after the tip was stored (offset %d)", off)
	}
	if left := uploadsLeft(t, in); len(left) > 0 {
		t.Errorf("files left in uploads/: %v", left)
	}
	if tmp := in.TempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	if log := in.Log.String(); strings.Contains(log, id) || strings.Contains(log, "/uploads/") || strings.Contains(log, "127.0.0.1") {
		t.Errorf("the log names an upload or an address:\n%s", log)
	}
}

// A form that names an upload it cannot use is refused whole: nothing is
// stored, and the uploads it named are kept for the source to try again.
func TestUploadClaimRefused(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	in.Desk("americas", alice)
	tus := tusClient{t, in.TS.URL}
	page := in.Browser().Get("/").Body
	good := tus.send([]byte(sealTo(t, page, []byte("a file"))))
	incomplete, _ := tus.create(1000, nil)
	if s := tus.patch(incomplete, 0, []byte(sealTo(t, page, nil))[:500]); s != http.StatusNoContent {
		t.Fatalf("PATCH: %d", s)
	}
	plain := tus.send([]byte("a file the browser did not encrypt, which is refused"))
	other, _ := age.GenerateHybridIdentity()
	var twice bytes.Buffer
	w, _ := age.Encrypt(&twice, other.Recipient(), other.Recipient())
	w.Write([]byte("x"))
	w.Close()
	twoKeys := tus.send(twice.Bytes())

	meta := func(page string) pistatest.Part {
		return pistatest.Part{Name: "file_meta", Value: sealTo(t, page, []byte(`{"name":"a","type":"","size":1}`)), Filename: "meta.age"}
	}
	tests := []struct {
		name    string
		plain   bool // a form the server encrypts, not a sealed one
		uploads []string
		status  int
		key     string
	}{
		{"unknown upload", false, []string{"0123456789abcdef0123456789abcdef"}, http.StatusBadRequest, "upload.error.missing"},
		{"not an upload ID", false, []string{"../pista.db"}, http.StatusBadRequest, "upload.error.missing"},
		{"incomplete upload", false, []string{incomplete}, http.StatusBadRequest, "upload.error.missing"},
		{"the same upload twice", false, []string{good, good}, http.StatusBadRequest, "upload.error.missing"},
		{"a good upload, then an unknown one", false, []string{good, "fedcba9876543210fedcba9876543210"}, http.StatusBadRequest, "upload.error.missing"},
		{"not an age file", false, []string{good, plain}, http.StatusBadRequest, "error.sealed"},
		{"encrypted to other keys", false, []string{twoKeys}, http.StatusBadRequest, "error.sealed"},
		{"in a form the browser did not seal", true, []string{good}, http.StatusBadRequest, "error.form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := in.Snapshot(alice)
			offsets := map[string]int64{}
			for _, id := range []string{good, incomplete, plain, twoKeys} {
				offsets[id] = tus.offset(id)
			}
			b := in.Browser()
			landing := b.Get("/")
			parts := []pistatest.Part{{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}}
			if !tt.plain {
				parts = append(parts, pistatest.Part{Name: "encrypted", Value: "1"})
			}
			for _, id := range tt.uploads {
				parts = append(parts, pistatest.Part{Name: "upload", Value: id})
				if !tt.plain {
					parts = append(parts, meta(landing.Body))
				}
			}
			r := b.PostMultipart("/submit", parts)
			if r.Status != tt.status || !strings.Contains(r.Text(), pistatest.En(tt.key)) {
				t.Fatalf("status %d, want %d with %q\n%s", r.Status, tt.status, pistatest.En(tt.key), r.Body)
			}
			in.CheckUnchanged(t, before, alice)
			for id, off := range offsets {
				if got := tus.offset(id); got != off {
					t.Errorf("upload %s: offset %d after the refusal, %d before", id, got, off)
				}
			}
		})
	}
	// Refused forms unlock what they claimed: the good upload still makes
	// a tip.
	b := in.Browser()
	landing := b.Get("/")
	r := b.PostMultipart("/submit", []pistatest.Part{
		{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"},
		{Name: "upload", Value: good}, meta(landing.Body),
	})
	if r.Status != http.StatusOK {
		t.Fatalf("the good upload after the refusals: %d\n%s", r.Status, r.Body)
	}
}

// Creating an upload is bounded: its length (declared, and at most the
// ciphertext of a file at the form's limit), the free disk it would take,
// and how many uploads exist at once. Whatever metadata the client sends
// is not kept.
func TestUploadCreationLimits(t *testing.T) {
	const maxUpload = 1 << 20
	t.Run("length", func(t *testing.T) {
		in := pistatest.New(t, server.Config{MaxUpload: maxUpload})
		tus := tusClient{t, in.TS.URL}
		limit := in.Srv.Uploads.MaxSize()
		if limit < maxUpload || limit > maxUpload+100<<10 {
			t.Fatalf("MaxSize = %d for a form limit of %d", limit, maxUpload)
		}
		if id, s := tus.create(limit, nil); id == "" {
			t.Errorf("an upload of the largest size was refused: %d", s)
		}
		if _, s := tus.create(limit+1, nil); s != http.StatusRequestEntityTooLarge {
			t.Errorf("an upload one byte too long: %d, want 413", s)
		}
		if _, s := tus.create(-1, nil); s != http.StatusBadRequest {
			t.Errorf("a negative length: %d, want 400", s)
		}
		resp := tus.do(http.MethodPost, upload.BasePath, nil, map[string]string{"Upload-Defer-Length": "1"})
		if resp.StatusCode/100 == 2 {
			t.Errorf("an upload of deferred length was created: %d", resp.StatusCode)
		}
		resp = tus.do(http.MethodPost, upload.BasePath, nil, map[string]string{"Upload-Length": "10", "Upload-Concat": "partial"})
		if resp.StatusCode/100 == 2 && resp.Header.Get("Upload-Concat") != "" {
			t.Errorf("a partial upload for concatenation was created")
		}
		id, _ := tus.create(10, nil)
		if s := tus.patch(id, 0, make([]byte, 11)); s != http.StatusRequestEntityTooLarge && s != http.StatusBadRequest {
			t.Errorf("a PATCH past the declared length: %d", s)
		}
		if s := tus.do(http.MethodGet, upload.BasePath+id, nil, nil).StatusCode; s != http.StatusNotFound && s != http.StatusMethodNotAllowed {
			t.Errorf("GET of an upload: %d, want it not served", s)
		}
	})
	t.Run("metadata is dropped", func(t *testing.T) {
		in := pistatest.New(t, server.Config{})
		tus := tusClient{t, in.TS.URL}
		// "filename" is secret-name.pdf, base64.
		id, s := tus.create(10, map[string]string{"Upload-Metadata": "filename c2VjcmV0LW5hbWUucGRm"})
		if id == "" {
			t.Fatalf("create: %d", s)
		}
		info, err := os.ReadFile(filepath.Join(in.Data, upload.Dir, id+".info"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(info, []byte("c2VjcmV0")) || bytes.Contains(info, []byte("secret-name")) || bytes.Contains(info, []byte("filename")) {
			t.Errorf("the upload's metadata was kept: %s", info)
		}
		fi, err := os.Stat(filepath.Join(in.Data, upload.Dir, id))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("an upload's file has mode %v, want 0600", fi.Mode().Perm())
		}
	})
	t.Run("disk floor", func(t *testing.T) {
		// A floor 1 GiB below the free space now: an upload of 1 MiB fits
		// (twice over), one of 600 MiB does not.
		data := t.TempDir()
		st, err := server.OpenStores(context.Background(), data)
		if err != nil {
			t.Fatal(err)
		}
		free, err := st.Local.Free()
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if free < 2<<30 {
			t.Skipf("only %d bytes free", free)
		}
		in := pistatest.New(t, server.Config{Data: data, MinFreeDisk: free - 1<<30})
		tus := tusClient{t, in.TS.URL}
		if id, s := tus.create(1<<20, nil); id == "" {
			t.Errorf("a 1 MiB upload was refused: %d", s)
		}
		if _, s := tus.create(600<<20, nil); s != http.StatusInsufficientStorage {
			t.Errorf("a 600 MiB upload over the floor: %d, want 507", s)
		}
		if got := uploadsLeft(t, in); len(got) != 2 {
			t.Errorf("uploads/ holds %v, want the one upload's two files", got)
		}
		if r := in.Browser().Get("/"); r.Status != http.StatusOK {
			t.Errorf("the landing page after a refused upload: %d", r.Status)
		}
	})
	t.Run("cap", func(t *testing.T) {
		in := pistatest.New(t, server.Config{MaxPendingUploads: 2})
		tus := tusClient{t, in.TS.URL}
		a, _ := tus.create(10, nil)
		tus.create(10, nil)
		if _, s := tus.create(10, nil); s != http.StatusServiceUnavailable {
			t.Errorf("a third upload over a cap of 2: %d, want 503", s)
		}
		// Once one is gone, there is room again.
		if s := tus.do(http.MethodDelete, upload.BasePath+a, nil, nil).StatusCode; s != http.StatusNoContent {
			t.Fatalf("DELETE: %d", s)
		}
		if id, s := tus.create(10, nil); id == "" {
			t.Errorf("an upload after one was deleted: %d", s)
		}
	})
}

// IDs that are not the store's never reach the disk.
func TestUploadIDsAreChecked(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	tus := tusClient{t, in.TS.URL}
	// An .info file outside uploads/ that a path trick could reach.
	if err := os.WriteFile(filepath.Join(in.Data, "x.info"), []byte(`{"ID":"x","Size":5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"..%2Fx", "%2E%2E%2Fx", "X0123456789ABCDEF0123456789ABCDE", "0123456789abcdef", "0123456789abcdef0123456789abcdef"} {
		for _, m := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete} {
			resp := tus.do(m, upload.BasePath+id, nil, map[string]string{"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
			if resp.StatusCode/100 == 2 {
				t.Errorf("%s %s: %d", m, id, resp.StatusCode)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(in.Data, "x.info")); err != nil {
		t.Errorf("the file outside uploads/ is gone: %v", err)
	}
	if got := uploadsLeft(t, in); !slices.Equal(got, nil) {
		t.Errorf("uploads/ holds %v", got)
	}
}
