package smtp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/smtp"
)

// tipStore counts the tips stored, and fails CreateTip once okLeft tips
// were (okLeft < 0: never).
type tipStore struct {
	pista.TipStore
	mu      sync.Mutex
	okLeft  int
	created int
}

func (f *tipStore) CreateTip(ctx context.Context, t *pista.NewTip) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.okLeft == 0 {
		return errors.New("injected: the database went away")
	}
	if err := f.TipStore.CreateTip(ctx, t); err != nil {
		return err
	}
	f.okLeft--
	f.created++
	return nil
}

// blobStore keeps the keys written and not deleted, and fails the Put
// after okLeft succeeded (okLeft < 0: never), in the middle of writing.
type blobStore struct {
	pista.BlobStore
	mu     sync.Mutex
	okLeft int
	live   map[string]bool
}

func newBlobStore(b pista.BlobStore, okLeft int) *blobStore {
	return &blobStore{BlobStore: b, okLeft: okLeft, live: map[string]bool{}}
}

func (f *blobStore) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	f.mu.Lock()
	fail := f.okLeft == 0
	f.okLeft--
	f.mu.Unlock()
	if fail {
		io.CopyN(io.Discard, r, 100)
		return "", 0, errors.New("injected: disk full")
	}
	k, n, err := f.BlobStore.Put(ctx, r)
	if err == nil {
		f.mu.Lock()
		f.live[k] = true
		f.mu.Unlock()
	}
	return k, n, err
}

func (f *blobStore) Delete(ctx context.Context, key string) error {
	f.mu.Lock()
	delete(f.live, key)
	f.mu.Unlock()
	return f.BlobStore.Delete(ctx, key)
}

func (f *blobStore) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.live))
}

// twoDeskMail is a mail with a text and two attachments: per desk, a raw
// e-mail, a message, two files with their metas and a contact, 7 objects.
func twoDeskMail(e *env) []byte {
	tok := token()
	return crlf("From: " + e.mark("inject-"+tok+"@example.net") + "\nSubject: " + e.mark("Injected "+tok) +
		"\nContent-Type: multipart/mixed; boundary=Q\n\n--Q\n\n" + e.mark("Injected body "+tok) +
		"\n--Q\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n" + b64(randomBytes(70_000)) +
		"--Q\nContent-Type: image/jpeg; name=b.jpg\nContent-Transfer-Encoding: base64\n\n" + b64(randomBytes(5_000)) +
		"--Q--\n")
}

const objectsPerDesk = 7

// TestAllOrNothing makes the stores fail at every step of a delivery to
// two desks, and checks what is left.
func TestAllOrNothing(t *testing.T) {
	e := newEnv(t)
	desks := []pista.Desk{e.desks["americas"].Desk, e.desks["maghreb"].Desk}
	ctx := context.Background()

	t.Run("the second desk's rows fail", func(t *testing.T) {
		tips := &tipStore{TipStore: e.st.Tips, okLeft: 1}
		blobs := newBlobStore(e.st.Blobs, -1)
		cfg := e.config()
		cfg.Tips, cfg.Blobs = tips, blobs
		before := e.snapshot()
		msg := twoDeskMail(e)
		rep := smtp.NewServer(cfg).Deliver(ctx, desks, "", bytes.NewReader(msg))
		if rep == nil || rep.Code != 451 {
			t.Fatalf("got %v, want 451: the sender must try again", rep)
		}
		got := e.newConversations(t, before)
		if len(got["americas"]) != 1 || len(got["maghreb"]) != 0 {
			t.Fatalf("stored for %d and %d conversations, want the first desk's only", len(got["americas"]), len(got["maghreb"]))
		}
		if c := got["americas"][0]; len(c.files) != 2 {
			t.Errorf("the first desk's conversation is incomplete: %v", c.kinds)
		} else {
			checkCopy(t, "americas", c.email, msg, c.files, 2)
		}
		if n := len(blobs.keys()); n != objectsPerDesk {
			t.Errorf("%d objects left, want the first desk's %d", n, objectsPerDesk)
		}
		e.checkNoOrphans(t)
	})

	t.Run("the first desk's rows fail", func(t *testing.T) {
		tips := &tipStore{TipStore: e.st.Tips, okLeft: 0}
		cfg := e.config()
		cfg.Tips = tips
		before := e.snapshot()
		rep := smtp.NewServer(cfg).Deliver(ctx, desks, "", bytes.NewReader(twoDeskMail(e)))
		if rep == nil || rep.Code != 451 {
			t.Fatalf("got %v, want 451", rep)
		}
		e.checkUnchanged(t, before)
	})

	// Every Put of the delivery fails in turn: nothing may be left. Each
	// desk also gets the e-mail as received, written then deleted, as the
	// copy without attachments is kept (evidence.go).
	for n := range 2 * (objectsPerDesk + 1) {
		t.Run("put "+string(rune('a'+n))+" fails", func(t *testing.T) {
			blobs := newBlobStore(e.st.Blobs, n)
			cfg := e.config()
			cfg.Blobs = blobs
			before := e.snapshot()
			rep := smtp.NewServer(cfg).Deliver(ctx, desks, "", bytes.NewReader(twoDeskMail(e)))
			if rep == nil || rep.Code != 451 {
				t.Fatalf("got %v, want 451", rep)
			}
			if k := blobs.keys(); len(k) > 0 {
				t.Errorf("%d objects left", len(k))
			}
			e.checkUnchanged(t, before)
		})
	}

	t.Run("the server closes", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		before := e.snapshot()
		pr, pw := io.Pipe()
		go func() {
			msg := twoDeskMail(e)
			pw.Write(msg[:len(msg)/2])
			cancel()
			pw.Write(msg[len(msg)/2:])
			pw.Close()
		}()
		rep := smtp.NewServer(e.config()).Deliver(cctx, desks, "", pr)
		pr.Close()
		if rep == nil || rep.Code/100 != 4 {
			t.Fatalf("got %v, want a temporary failure", rep)
		}
		e.checkUnchanged(t, before)
	})

	t.Run("the desk lookup fails", func(t *testing.T) {
		cfg := e.config()
		cfg.Desks = failingDesks{e.st.Desks}
		addr := serve(t, smtp.NewServer(cfg))
		local := e.mark("secret-local-" + token())
		r := send(t, addr, mailOpts{}, "x@example.net", []string{local + "@" + domain}, crlf("Subject: x\n\nx\n"))
		if r.stage != atRcpt || r.code() != 451 {
			t.Errorf("got %v at %q, want 451 at RCPT", r.err, r.stage)
		}
		if log := e.log.String(); !strings.Contains(log, "database is locked") {
			t.Errorf("the failure was not logged:\n%s", log)
		}
	})

	if log := e.log.String(); !strings.Contains(log, "stored for some of its desks only") {
		t.Errorf("the partial delivery was not logged:\n%s", log)
	}
	e.scan(t)
}

// failingDesks fails every desk lookup, quoting the address as a store
// may.
type failingDesks struct{ pista.DeskStore }

func (f failingDesks) DeskByAddress(ctx context.Context, local string) (pista.Desk, error) {
	return pista.Desk{}, fmt.Errorf("desk address %q: %w", local, errors.New("database is locked"))
}

// checkNoOrphans fails if an object is not referenced by an item.
func (e *env) checkNoOrphans(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	used, err := e.st.Tips.ObjectKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.st.Blobs.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		if !used[k] {
			t.Errorf("object %s is referenced by no item", k)
		}
	}
	if tmp := e.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// FuzzDeliver feeds arbitrary bytes to the intake path, as the body of a
// DATA command, for one desk or two. It must not panic; it must either
// store one tip per desk or refuse the message as the sender's fault,
// leaving no object behind. The stores are in memory, so that the fuzzer
// runs thousands of messages a second rather than waiting for fsync; the
// tests above run the same path on the real ones.
//
// Seeds are small: the fuzzer minimizes every input that finds new code,
// running the target over and over, and minimizing a large one would take
// the whole run.
func FuzzDeliver(f *testing.F) {
	const maxSeed = 1 << 10
	e := &env{t: f, desks: map[string]*desk{}}
	for _, c := range acceptedMails(e) {
		if len(c.msg) <= maxSeed {
			f.Add(c.msg)
		}
	}
	for _, c := range refusedMails(e) {
		if len(c.msg) <= maxSeed {
			f.Add(c.msg)
		}
	}
	f.Add([]byte(""))
	// A boundary go-message reads but will not write: the copy gets a new one.
	f.Add(crlf("Subject: b\nContent-Type: multipart/mixed; boundary=\"a#b\"\n\n--a#b\n\ntext\n--a#b\nContent-Type: image/png; name=x.png\n\nPNG\n--a#b--\n"))
	f.Add(crlf("Subject: x\nContent-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>x</p>\n--b--\n--a--\n"))
	f.Add(crlf("From: =?ISO-8859-1?Q?Jos=E9?= <a@b.c>\nSubject: =?UTF-8?B?2KrYs9ix2YrYqA==?=\nContent-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nA=F1o\n--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename*=UTF-8''a%C3%B1o.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjcK\n--m\nContent-Type: message/rfc822\n\nSubject: inner\n\nhi\n--m--\n"))
	f.Add(crlf("From: x@y.z\nReply-To: r@y.z\nContent-Type: text/html; charset=utf-8\n\n<div>a<br>b<a href=\"https://e.x/\">l</a><script>s</script><pre> p  q </pre><table><tr><td>1<td>2</table></div>\n"))

	blobs := &memBlobs{objects: map[string][]byte{}}
	tips := &memTips{blobs: blobs}
	var desks []pista.Desk
	var ids []age.Identity
	for i := range 2 {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			f.Fatal(err)
		}
		ids = append(ids, id)
		desks = append(desks, pista.Desk{ID: int64(i + 1), Slug: fmt.Sprint("desk", i), Recipient: id.Recipient().String()})
	}
	s := smtp.NewServer(smtp.Config{Domain: domain, Tips: tips, Blobs: blobs})
	email := func(t *testing.T, tip *pista.NewTip) []byte {
		rc, err := blobs.Open(context.Background(), tip.Items[len(tip.Items)-1].Object)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		r, err := age.Decrypt(rc, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		n := 1 + len(msg)%2
		rep := s.Deliver(context.Background(), desks[:n], "fuzz@example.net", bytes.NewReader(msg))
		stored := tips.take()
		if rep != nil {
			if rep.Code != 554 && rep.Code != 552 {
				t.Fatalf("refused with %d %v: only a malformed or oversized message may be", rep.Code, rep.Message)
			}
			if len(stored) > 0 {
				t.Fatalf("refused, yet %d tips were stored", len(stored))
			}
		} else if len(stored) != n {
			t.Fatalf("accepted, and %d tips stored for %d desks", len(stored), n)
		}
		for _, tip := range stored {
			if err := tips.check(tip); err != nil {
				t.Fatal(err)
			}
		}
		// The e-mail item is the message as received, or its copy without
		// attachments (evidence.go); the copy has nothing left to replace:
		// delivered again, it is kept as it is.
		if len(stored) > 0 {
			if eml := email(t, stored[0]); !bytes.Equal(eml, msg) {
				if !bytes.HasPrefix(eml, []byte("X-Pista-Evidence: attachments-replaced;")) {
					t.Fatalf("the e-mail item is neither the message nor a marked copy: %q", eml)
				}
				rep := s.Deliver(context.Background(), desks[:1], "fuzz@example.net", bytes.NewReader(eml))
				again := tips.take()
				if rep != nil || len(again) != 1 {
					t.Fatalf("the copy, delivered again, is refused: %v\n%q", rep, eml)
				}
				if eml2 := email(t, again[0]); !bytes.Equal(eml2, eml) {
					t.Fatalf("the copy, delivered again, is not kept as it is:\n%q\nthen\n%q", eml, eml2)
				}
				stored = append(stored, again...)
			}
		}
		for _, tip := range stored {
			for _, it := range tip.Items {
				blobs.Delete(context.Background(), it.Object)
				blobs.Delete(context.Background(), it.Meta)
			}
		}
		if k, _ := blobs.Keys(context.Background()); len(k) > 0 {
			t.Fatalf("%d objects left that no tip refers to", len(k))
		}
	})
}

// memBlobs is a BlobStore in memory.
type memBlobs struct {
	mu      sync.Mutex
	objects map[string][]byte
}

func (m *memBlobs) Put(ctx context.Context, r io.Reader) (string, int64, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", 0, err
	}
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	k := token() + token()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[k] = b
	return k, int64(len(b)), nil
}

func (m *memBlobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objects[key]
	if !ok {
		return nil, pista.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memBlobs) Delete(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

func (m *memBlobs) Keys(ctx context.Context) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Keys(m.objects)), nil
}

// memTips takes tips and keeps them until take.
type memTips struct {
	pista.TipStore // every other method panics: deliver must not call them
	blobs          *memBlobs
	mu             sync.Mutex
	tips           []*pista.NewTip
}

func (m *memTips) CreateTip(ctx context.Context, t *pista.NewTip) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tips = append(m.tips, t)
	return nil
}

// IntakeFor answers that the desks have no intake key of the day: their
// items go to the desk's key (forward_test.go has intake keys, in the
// real store).
func (m *memTips) IntakeFor(ctx context.Context, deskID, day int64) (pista.IntakeKey, []byte, error) {
	return pista.IntakeKey{}, nil, pista.ErrNotFound
}

func (m *memTips) take() []*pista.NewTip {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tips
	m.tips = nil
	return t
}

// check fails a tip that the real stores would refuse or that breaks
// what the package promises.
func (m *memTips) check(t *pista.NewTip) error {
	items := t.Items
	if t.Conversation.ID == "" || t.Conversation.Channel != pista.ChannelEmail || len(t.Source.Lookup) != 32 || t.Source.Recipient != "" {
		return fmt.Errorf("tip %+v", t)
	}
	if len(items) == 0 || items[len(items)-1].Kind != pista.KindEmail {
		return fmt.Errorf("tip without its e-mail item last")
	}
	for _, it := range items {
		if _, err := m.blobs.Open(context.Background(), it.Object); err != nil {
			return fmt.Errorf("item %s: object missing", it.Kind)
		}
		if (it.Kind == pista.KindFile) != (it.Meta != "") {
			return fmt.Errorf("item %s with meta %q", it.Kind, it.Meta)
		}
	}
	return nil
}
