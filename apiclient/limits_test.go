package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"filippo.io/age"

	"github.com/pista-tips/pista/api"
)

func response(body []byte, contentLength int64) *http.Response {
	return &http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: contentLength}
}

func TestExact(t *testing.T) {
	tests := []struct {
		name string
		body string
		cl   int64
		size int64
		ok   bool
	}{
		{"as declared", "0123456789", -1, 10, true},
		{"as declared, with its length", "0123456789", 10, 10, true},
		{"longer", "0123456789x", -1, 10, false},
		{"shorter", "012345678", -1, 10, false},
		{"empty, declared empty", "", -1, 0, true},
		{"a Content-Length other than declared", "0123456789", 11, 10, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := io.ReadAll(Exact(response([]byte(tt.body), tt.cl), tt.size))
			if tt.ok != (err == nil) {
				t.Fatalf("read %q, %v; want ok %v", b, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrWrongSize) {
				t.Errorf("error %v is not ErrWrongSize", err)
			}
			if int64(len(b)) > tt.size {
				t.Errorf("read %d bytes, more than the %d declared", len(b), tt.size)
			}
		})
	}
}

// FuzzExact: whatever a server sends for a download of a declared size,
// the reader gives at most that size, and gives all of it without an
// error only when the body is exactly that size.
func FuzzExact(f *testing.F) {
	f.Add([]byte("0123456789"), int64(10), int64(-1))
	f.Add([]byte("0123456789"), int64(5), int64(10))
	f.Add([]byte(""), int64(3), int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, size, cl int64) {
		if size < 0 {
			size = -size
		}
		if cl < -1 {
			cl = -1
		}
		b, err := io.ReadAll(Exact(response(body, cl), size))
		if int64(len(b)) > size {
			t.Fatalf("read %d bytes of %d declared", len(b), size)
		}
		exact := int64(len(body)) == size && (cl < 0 || cl == size)
		if exact != (err == nil) {
			t.Fatalf("body of %d bytes, declared %d, Content-Length %d: %v", len(body), size, cl, err)
		}
		if err == nil && !bytes.Equal(b, body) {
			t.Fatal("read other bytes than sent")
		}
	})
}

func TestBudget(t *testing.T) {
	b := &Budget{Max: 100}
	if err := b.Reserve(60); err != nil {
		t.Fatal(err)
	}
	if err := b.Reserve(41); err == nil {
		t.Fatal("reserved past the budget")
	}
	if b.Used() != 60 {
		t.Fatalf("a refused reservation took %d", b.Used()-60)
	}
	body := &budgetBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("x", 50))), b: b}
	_, err := io.ReadAll(body)
	if _, ok := errors.AsType[*BudgetError](err); !ok {
		t.Fatalf("reading past the budget: %v", err)
	}
	if b.Used() > 100 {
		t.Fatalf("used %d of 100", b.Used())
	}
}

// FuzzReadError: whatever a server puts in an error answer, what the user
// sees is short and cannot drive the terminal.
func FuzzReadError(f *testing.F) {
	f.Add([]byte(`{"error":"internal","message":"the server failed; try again"}`))
	f.Add([]byte(`{"error":"x\u001b[2J","message":"\u001b]0;owned\u0007\u202eexe.pdf"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		err := readError(&http.Response{StatusCode: 500, Body: io.NopCloser(bytes.NewReader(body))})
		s := err.Error()
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("error %q holds %U", s, r)
			}
		}
		if n := len([]rune(s)); n > maxErrorMessage+20 {
			t.Fatalf("error of %d characters", n)
		}
	})
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{4 << 30: "4 GiB", 1536 << 10: "1.5 MiB", 100: "100 bytes", 1 << 10: "1 KiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// sourceLiar is a malicious server for pista submit and pista follow.
func sourceLiar(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := New(ts.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Token = "t"
	return c
}

// TestSourceClientBounds: what a server sends to a source's client is
// bounded too: the desks, the list of replies, each reply.
func TestSourceClientBounds(t *testing.T) {
	ctx := context.Background()
	t.Run("a huge list of desks", func(t *testing.T) {
		c := sourceLiar(t, func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"desks":[`))
			for range 1 << 14 {
				if _, err := w.Write([]byte(`{"slug":"` + strings.Repeat("a", 4096) + `"},`)); err != nil {
					return
				}
			}
		})
		if _, err := c.Desks(ctx); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Desks: %v, want ErrTooLarge", err)
		}
	})
	t.Run("too many replies", func(t *testing.T) {
		c := sourceLiar(t, func(w http.ResponseWriter, r *http.Request) {
			rr := api.RepliesResponse{}
			for i := range MaxReplies + 1 {
				rr.Replies = append(rr.Replies, api.Reply{ID: int64(i + 1), Size: 100, Created: time.Now()})
			}
			json.NewEncoder(w).Encode(rr)
		})
		if _, err := c.Replies(ctx); err == nil {
			t.Fatal("took more replies than MaxReplies")
		}
	})
	id, _ := age.GenerateHybridIdentity()
	var sealed bytes.Buffer
	w, _ := age.Encrypt(&sealed, id.Recipient())
	w.Write([]byte("a reply"))
	w.Close()
	for _, tt := range []struct {
		name     string
		declared int64
		body     []byte
		want     error
	}{
		{"a reply as declared", int64(sealed.Len()), sealed.Bytes(), nil},
		{"a reply longer than declared", int64(sealed.Len()), append(sealed.Bytes(), make([]byte, 1<<20)...), ErrWrongSize},
		{"a reply shorter than declared", int64(sealed.Len()) + 1, sealed.Bytes(), ErrWrongSize},
		{"a reply declared huge", 1 << 40, sealed.Bytes(), ErrReplyTooLong},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sent int64
			c := sourceLiar(t, func(w http.ResponseWriter, r *http.Request) {
				n, _ := w.Write(tt.body)
				sent += int64(n)
			})
			text, err := c.Reply(ctx, api.Reply{ID: 1, Size: tt.declared}, id, 1<<20)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Reply = %q, %v; want %v", text, err, tt.want)
			}
			if err == nil && string(text) != "a reply" {
				t.Fatalf("Reply = %q", text)
			}
		})
	}
	t.Run("too many keys for a desk", func(t *testing.T) {
		d := api.Desk{Slug: "x"}
		for range MaxRecipients + 1 {
			d.Recipients = append(d.Recipients, id.Recipient().String())
		}
		if _, err := Recipients(d); err == nil || !strings.Contains(err.Error(), strconv.Itoa(MaxRecipients)) {
			t.Fatalf("Recipients: %v", err)
		}
	})
}
