package smtp_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/smtp"
)

// allocated is the bytes allocated on the heap so far by the whole
// process, from runtime/metrics (runtime.ReadMemStats stops the world,
// which stalls fuzzing workers).
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// foldedField is a header field of about n bytes: name, then words
// separated by spaces, folded into lines shorter than the server's line
// limit.
func foldedField(name string, n int, word func(i int) string) string {
	var b strings.Builder
	b.WriteString(name + ":")
	line := 0
	for i := 0; b.Len() < n; i++ {
		w := word(i)
		if line+len(w) > 900 {
			b.WriteString("\r\n")
			line = 0
		}
		b.WriteString(" " + w)
		line += len(w) + 1
	}
	return b.String() + "\r\n"
}

// headerBombs are messages of about smtp.MaxHeaderBytes whose header
// fields are RFC 2047 encoded words, each of a few bytes, where the
// parser decodes them: go-message decoded each word through 40 KiB of
// buffers, so that one such message of 4 MiB allocated 7 to 13 GB and
// took seconds of CPU.
func headerBombs() map[string][]byte {
	const n = smtp.MaxHeaderBytes - 4<<10
	word := func(int) string { return "=?UTF-16?B?AGEAYgBj?=" }
	return map[string][]byte{
		"subject": []byte(foldedField("Subject", n, word) + "\r\nhello\r\n"),
		"from names": []byte("Subject: x\r\n" + foldedField("From", n, func(i int) string {
			return fmt.Sprintf("=?UTF-16?B?AGEAYgBj?= <a%d@example.net>,", i)
		}) + "\r\nhello\r\n"),
		"text part's parameters": []byte("Subject: x\r\n" + foldedField("Content-Type", n, func(i int) string {
			if i == 0 {
				return "text/plain; charset=utf-8;"
			}
			return fmt.Sprintf("a%d=\"=?UTF-16?B?AGEAYgBj?= =?UTF-16?B?AGEAYgBj?=\";", i)
		}) + "\r\nhello\r\n"),
		"file name": []byte("Subject: x\r\nContent-Type: application/octet-stream\r\n" +
			foldedField("Content-Disposition", n, func(i int) string {
				if i == 0 {
					return "attachment; filename=\""
				}
				return "=?UTF-16?B?AGEAYgBj?="
			}) + " \"\r\n\r\nhello\r\n"),
	}
}

// headerAllocLimit is the most a delivery of a message of n bytes may
// allocate, garbage included: a fixed cost (a delivery encrypts to
// post-quantum keys), reading a header block costs go-message about 8
// times its size, decoding a field's first maxHeaderRawBytes a little
// more.
func headerAllocLimit(n int) uint64 { return raceFactor * (4<<20 + 32*uint64(n)) }

// A message whose header fields are made of thousands of tiny encoded
// words, sent over a socket, is stored at a cost proportional to its
// size.
func TestHeaderBombsWithinBudget(t *testing.T) {
	e := newEnv(t)
	addr := serve(t, smtp.NewServer(e.config()))
	for name, msg := range headerBombs() {
		t.Run(name, func(t *testing.T) {
			before := allocated()
			r := send(t, addr, mailOpts{}, "x@example.net", []string{"americas@" + domain}, msg)
			got := allocated() - before
			if r.err != nil {
				t.Fatalf("refused at %s: %v", r.stage, r.err)
			}
			if limit := headerAllocLimit(len(msg)); got > limit {
				t.Errorf("a %d KiB message allocated %d MiB, more than %d MiB", len(msg)>>10, got>>20, limit>>20)
			}
			t.Logf("%d KiB: %d MiB allocated", len(msg)>>10, got>>20)
		})
	}
}

// countingBlobs counts the objects written.
type countingBlobs struct {
	*memBlobs
	puts atomic.Int64
}

func (c *countingBlobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	c.puts.Add(1)
	return c.memBlobs.Put(ctx, r)
}

// deliverAllocLimit is the most one message of n bytes that wrote
// objects objects may allocate: a fixed cost, 128 times its size (a
// multipart of empty parts, each parsed and counted past the 100
// extracted, costs go-message about 70 bytes per byte, and writing each
// again into the e-mail item's evidence copy about 23 more), and
// encryption to a post-quantum key per object. A bomb costs thousands of
// times its size.
func deliverAllocLimit(n int, objects int64) uint64 {
	return raceFactor * (1<<20 + 128*uint64(n) + 256<<10*uint64(objects))
}

// FuzzDeliverBudget feeds arbitrary messages to the intake path and fails
// when one allocates more than deliverAllocLimit: a header, a MIME
// structure or an encoding whose cost grows with what it declares rather
// than with its size.
func FuzzDeliverBudget(f *testing.F) {
	e := &env{t: f, desks: map[string]*desk{}}
	for _, c := range acceptedMails(e) {
		if len(c.msg) <= 1<<10 {
			f.Add(c.msg)
		}
	}
	f.Add(crlf("Subject: =?UTF-16?B?AGEAYgBj?= =?UTF-16?B?AGEAYgBj?= =?koi8-r?q?=C1?=\nFrom: =?UTF-16?B?AGE=?= <a@b.c>, (c) d@e.f\n\nhi\n"))
	f.Add(crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=\"=?UTF-16?B?AGE=?=\"; a=\"=?UTF-16?B?AGE=?=\"\n\nx\n--b\nContent-Disposition: attachment; filename*0*=utf-8''%41; filename*1=\"=?UTF-16?B?AGE=?=\"\nContent-Transfer-Encoding: base64\n\nQUJD\n--b--\n"))

	blobs := &countingBlobs{memBlobs: &memBlobs{objects: map[string][]byte{}}}
	tips := &memTips{blobs: blobs.memBlobs}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		f.Fatal(err)
	}
	desks := []pista.Desk{{ID: 1, Slug: "desk", Recipient: id.Recipient().String()}}
	s := smtp.NewServer(smtp.Config{Domain: domain, Tips: tips, Blobs: blobs})
	f.Fuzz(func(t *testing.T, msg []byte) {
		blobs.puts.Store(0)
		before := allocated()
		s.Deliver(context.Background(), desks, "fuzz@example.net", bytes.NewReader(msg))
		got, objects := allocated()-before, blobs.puts.Load()
		if limit := deliverAllocLimit(len(msg), objects); got > limit {
			t.Fatalf("%d bytes in, %d objects: allocated %d bytes, more than the %d allowed", len(msg), objects, got, limit)
		}
		for _, tip := range tips.take() {
			for _, it := range tip.Items {
				blobs.Delete(context.Background(), it.Object)
				blobs.Delete(context.Background(), it.Meta)
			}
		}
	})
}

// The fuzz target's limit holds for the header bombs once they are
// defused (they allocated 7.5 GB and more before), and for the many parts
// whose cost is linear.
func TestDeliverAllocLimit(t *testing.T) {
	blobs := &countingBlobs{memBlobs: &memBlobs{objects: map[string][]byte{}}}
	tips := &memTips{blobs: blobs.memBlobs}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	desks := []pista.Desk{{ID: 1, Slug: "desk", Recipient: id.Recipient().String()}}
	s := smtp.NewServer(smtp.Config{Domain: domain, Tips: tips, Blobs: blobs})
	cases := headerBombs()
	parts := []byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n\r\n\r\n", 1<<20/9) + "--b--\r\n")
	cases["1 MiB of empty parts"] = parts
	for name, msg := range cases {
		t.Run(name, func(t *testing.T) {
			blobs.puts.Store(0)
			before := allocated()
			if rep := s.Deliver(context.Background(), desks, "x@example.net", bytes.NewReader(msg)); rep != nil {
				t.Fatalf("refused: %d %s", rep.Code, rep.Message)
			}
			got, objects := allocated()-before, blobs.puts.Load()
			if limit := deliverAllocLimit(len(msg), objects); got > limit {
				t.Errorf("%d KiB, %d objects: allocated %d MiB, more than %d MiB", len(msg)>>10, objects, got>>20, limit>>20)
			}
			t.Logf("%d KiB, %d objects: %d MiB allocated", len(msg)>>10, objects, got>>20)
			tips.take()
		})
	}
}
