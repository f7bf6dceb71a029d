package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// csrfPlaceholder in a raw fuzzed body is replaced by a valid token of the
// running server: a token written into the corpus would not be valid in
// another process, whose server has another secret.
const csrfPlaceholder = "CSRF-TOKEN"

const rawBoundary = "fuzzboundary"

// rawSeed writes a multipart body with rawBoundary, parts given as
// name, value pairs; a name "FIELD:NAME" makes a file part (files:a.pdf).
func rawSeed(pairs ...string) []byte {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("--" + rawBoundary + "\r\n")
		if field, name, ok := strings.Cut(pairs[i], ":"); ok {
			b.WriteString(`Content-Disposition: form-data; name="` + field + `"; filename="` + name + "\"\r\nContent-Type: application/octet-stream\r\n\r\n")
		} else {
			b.WriteString(`Content-Disposition: form-data; name="` + pairs[i] + "\"\r\n\r\n")
		}
		b.WriteString(pairs[i+1] + "\r\n")
	}
	b.WriteString("--" + rawBoundary + "--\r\n")
	return []byte(b.String())
}

// FuzzSubmitForm posts fuzzed multipart forms to POST /submit: forms built
// from fuzzed field names, values and file names, and raw fuzzed bodies.
// Whatever arrives, the server answers 200 with a codename, or an error
// page; and a refused submission leaves nothing behind: no conversation,
// no object, no temporary file.
func FuzzSubmitForm(f *testing.F) {
	data := f.TempDir()
	log := &pistatest.LogBuffer{}
	srv, err := server.New(context.Background(), server.Config{
		Data: data, MaxUpload: 64 << 10, Log: slog.New(slog.NewTextHandler(log, nil)),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	in := &pistatest.Instance{T: f, Srv: srv, Data: data, Log: log}
	j := in.Journalist("ana")
	in.Desk("americas", j)
	maghreb := in.Desk("maghreb", j)
	// maghreb asks questions, one required (see questions.go).
	q, err := pista.ParseQuestionnaire([]byte(`{"questions": [
	  {"id": "where", "kind": "text", "required": true, "label": {"en": "Where?", "ar": "أين؟"}},
	  {"id": "pick", "kind": "choices", "label": {"en": "Pick"}, "choices": [{"id": "a", "label": {"en": "A"}}, {"id": "b", "label": {"en": "B"}}]},
	  {"id": "when", "kind": "date", "label": {"en": "When?"}},
	  {"id": "doc", "kind": "file", "label": {"en": "A document"}}]}`), i18n.Tags(), i18n.Default)
	if err != nil {
		f.Fatal(err)
	}
	if err := srv.Stores.Desks.SetQuestions(context.Background(), maghreb.ID, q); err != nil {
		f.Fatal(err)
	}

	// The landing page's token, read as a browser would.
	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	token := (&pistatest.Response{Status: rec.Code, Body: rec.Body.String()}).CSRF(f)

	// Built forms: withCSRF, desk, field name, field value, file name,
	// file content; and a raw body.
	f.Add(true, "americas", "message", "a tip", "", []byte(nil), []byte(nil))
	f.Add(true, "americas", "message", "a tip", "report.pdf", []byte("%PDF-1.7"), []byte(nil))
	f.Add(true, "maghreb", "contact", "+1 555 0100", "../../etc/passwd", []byte("x"), []byte(nil))
	f.Add(true, "americas", "keep_metadata", "1", "", []byte("not empty"), []byte(nil))
	f.Add(true, "atlantis", "message", "a tip", "", []byte(nil), []byte(nil))
	f.Add(false, "americas", "message", "a tip", "a.pdf", []byte("x"), []byte(nil))
	f.Add(true, "americas", "message", strings.Repeat("é", 1000), "名前.txt", bytes.Repeat([]byte{0}, 70<<10), []byte(nil))
	f.Add(true, "", "desk", "americas", "a\"b.pdf", []byte("x"), []byte(nil))
	f.Add(true, "americas", "csrf", "again", "x", []byte("y"), []byte(nil))
	f.Add(true, "americas", "message", "\xff\xfe", "", []byte(nil), []byte(nil))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "message", "a raw tip"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "maghreb", "files:a.txt", "hello", "contact", "me"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "files:", "", "message", "x"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "files:a.txt", "before the desk"))
	f.Add(false, "", "", "", "", []byte(nil), []byte("--"+rawBoundary+"\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n"+csrfPlaceholder))
	f.Add(false, "", "", "", "", []byte(nil), []byte("--"+rawBoundary+"\r\nContent-Disposition: form-data; name=\"message\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=FF=\r\n--"+rawBoundary+"--"))
	f.Add(false, "", "", "", "", []byte(nil), []byte("garbage"))
	// Answers to maghreb's questions (q.DESK.QUESTION), and to americas',
	// which asks none.
	f.Add(true, "maghreb", "q.maghreb.where", "Tangier", "", []byte(nil), []byte(nil))
	f.Add(true, "maghreb", "message", "no answer to the required question", "", []byte(nil), []byte(nil))
	f.Add(true, "americas", "q.maghreb.where", "another desk's", "", []byte(nil), []byte(nil))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "maghreb", "q.maghreb.where", "x", "q.maghreb.pick", "a", "q.maghreb.pick", "b", "q.maghreb.when", "2026-01-02", "q.maghreb.doc:a.pdf", "%PDF"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "maghreb", "q.maghreb.where", "x", "q.maghreb.when", "tomorrow"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "q.maghreb.where", "before the desk", "desk", "maghreb"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "maghreb", "encrypted", "1", "q.maghreb.where", "plain beside sealed"))
	// Forms the browser encrypted (the "encrypted" field): the parts must
	// be age files for the desk's keys.
	const ageHead = "age-encryption.org/v1\n-> mlkem768x25519 AAAA\nAAAA\n--- AAAA\n"
	f.Add(true, "americas", "encrypted", "1", "", []byte(nil), []byte(nil))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "encrypted", "1", "message", ageHead+"x"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "encrypted", "1", "files:x", ageHead, "file_meta", ageHead))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "message", "plain", "encrypted", "1"))
	// Files uploaded resumably are named by their upload's ID.
	f.Add(true, "americas", "upload", "0123456789abcdef0123456789abcdef", "", []byte(nil), []byte(nil))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "encrypted", "1", "upload", "0123456789abcdef0123456789abcdef", "file_meta", ageHead))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "encrypted", "1", "upload", "../pista.db", "upload", "../pista.db"))
	f.Add(false, "", "", "", "", []byte(nil), rawSeed("csrf", csrfPlaceholder, "desk", "americas", "encrypted", "1", "file_meta", ageHead, "upload", ""))

	f.Fuzz(func(t *testing.T, withCSRF bool, desk, field, value, filename string, content, raw []byte) {
		in.T = t
		// A built form, in the order a browser sends the landing form.
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		if withCSRF {
			mw.WriteField("csrf", token)
		}
		if desk != "" {
			mw.WriteField("desk", desk)
		}
		if field != "" {
			mw.WriteField(field, value)
		}
		if filename != "" || len(content) > 0 {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="files"; filename="`+strings.NewReplacer(`"`, `\"`, "\\", "\\\\").Replace(filename)+`"`)
			h.Set("Content-Type", "application/octet-stream")
			if w, err := mw.CreatePart(h); err == nil {
				w.Write(content)
			}
		}
		mw.Close()
		post(in, t, body.Bytes(), mw.FormDataContentType(), j)

		if len(raw) > 0 {
			raw = bytes.ReplaceAll(raw, []byte(csrfPlaceholder), []byte(token))
			post(in, t, raw, "multipart/form-data; boundary="+rawBoundary, j)
		}
	})
}

// post sends one body to POST /submit and checks what the server did.
func post(in *pistatest.Instance, t *testing.T, body []byte, contentType string, j *pistatest.Journalist) {
	t.Helper()
	before := in.Snapshot(j)
	req := httptest.NewRequest(http.MethodPost, "/submit", bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	in.Srv.Handler.ServeHTTP(rec, req)
	page := rec.Body.String()
	ct := rec.Header().Get("Content-Type")

	if tmp := in.TempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	after := in.Snapshot(j)
	if rec.Code == http.StatusOK {
		if !strings.Contains(page, `id="codename"`) {
			t.Fatalf("200 without a codename:\n%s", page)
		}
		if after.LastItem <= before.LastItem {
			t.Fatalf("200 but no new item")
		}
		// Every new object belongs to an item.
		used, err := in.Srv.Stores.Tips.ObjectKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range after.Objects {
			if !used[k] {
				t.Errorf("object %s belongs to no item", k)
			}
		}
		return
	}
	if rec.Code < 400 || rec.Code > 599 {
		t.Fatalf("status %d, want 200 or an error", rec.Code)
	}
	if rec.Code == http.StatusBadRequest && strings.Contains(page, `id="questions-refused"`) {
		// The landing form again: the answers were refused.
		if !strings.Contains(page, `id="q-maghreb-where-error"`) && !strings.Contains(page, `-error"`) {
			t.Fatalf("the form shown again says nothing beside a question:\n%.500s", page)
		}
	} else if !strings.HasPrefix(ct, "text/html") || !strings.Contains(page, `class="card error"`) {
		t.Fatalf("status %d without the error page (Content-Type %q):\n%.500s", rec.Code, ct, page)
	}
	if after.LastItem != before.LastItem {
		t.Errorf("status %d, but items were stored (last item %d → %d)", rec.Code, before.LastItem, after.LastItem)
	}
	if !slices.Equal(after.Objects, before.Objects) {
		t.Errorf("status %d, but objects changed: %d → %d", rec.Code, len(before.Objects), len(after.Objects))
	}
}
