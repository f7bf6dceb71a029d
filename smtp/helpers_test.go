package smtp_test

// Helpers shared by this package's tests: stores in a temporary data
// folder (server.OpenStores), a journalist and desks made through them, the
// desk identities kept to decrypt what the server stored, servers on
// 127.0.0.1:0, and a client that speaks real SMTP to them.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/smtp"
)

const domain = "mail.example.org"

// logBuffer collects a server's log, written from its goroutines.
type logBuffer = pistatest.LogBuffer

// desk is a desk with its identity, which only its members hold.
type desk struct {
	pista.Desk
	id *age.HybridIdentity
}

// env is a data folder with a journalist who is a member of every desk.
type env struct {
	t       testing.TB
	dir     string
	st      *server.Stores
	j       pista.Journalist
	desks   map[string]*desk
	log     *logBuffer
	markers [][]byte // plaintext that must never be found on disk or in the log
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := server.OpenStores(ctx, dir)
	if err != nil {
		t.Fatalf("OpenStores: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	jid, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := keys.NewTOTP("pista test", "ana")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, st: st, desks: map[string]*desk{}, log: &logBuffer{}}
	e.j = pista.Journalist{Name: "ana", Recipient: jid.Recipient().String(), TOTPSecret: secret}
	if err := st.Journalists.CreateJournalist(ctx, &e.j); err != nil {
		t.Fatalf("CreateJournalist: %v", err)
	}
	for _, slug := range []string{"americas", "maghreb"} {
		id, err := age.GenerateHybridIdentity()
		if err != nil {
			t.Fatal(err)
		}
		w, err := keys.Wrap(id, e.j.Recipient)
		if err != nil {
			t.Fatal(err)
		}
		d := pista.Desk{Slug: slug, Title: "Desk " + slug, Recipient: id.Recipient().String()}
		if err := st.Desks.CreateDesk(ctx, &d, []pista.KeyWrap{{JournalistID: e.j.ID, Wrapped: w}}); err != nil {
			t.Fatalf("CreateDesk: %v", err)
		}
		e.desks[slug] = &desk{Desk: d, id: id}
	}
	if err := st.Desks.AddAlias(ctx, e.desks["maghreb"].ID, "Tips"); err != nil {
		t.Fatalf("AddAlias: %v", err)
	}
	return e
}

// config is a server configuration on e's stores.
func (e *env) config() smtp.Config {
	return smtp.Config{
		Domain: domain, Desks: e.st.Desks, Tips: e.st.Tips, Blobs: e.st.Blobs, SpoolDir: e.st.Local.TempDir(),
		Log: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// serve runs s on 127.0.0.1:0 until the test ends, and returns its address.
func serve(t testing.TB, s *smtp.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// mark records plaintext that must not reach the disk, and returns it.
func (e *env) mark(s string) string {
	e.markers = append(e.markers, []byte(s))
	return s
}

// token is a random marker.
func token() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// stage is where an SMTP exchange stopped.
type stage string

const (
	atDial stage = "dial"
	atTLS  stage = "starttls"
	atMail stage = "MAIL"
	atRcpt stage = "RCPT"
	atData stage = "DATA"
	atEnd  stage = "end of data"
	ok     stage = ""
)

// sent is the outcome of sending one mail.
type sent struct {
	stage stage
	err   error
}

// code is the SMTP reply code of a refusal, or 0.
func (s sent) code() int {
	var se *gosmtp.SMTPError
	if errors.As(s.err, &se) {
		return se.Code
	}
	return 0
}

// mailOpts are how a client sends.
type mailOpts struct {
	tls  *tls.Config // STARTTLS with it
	size int64       // SIZE to declare
}

// send sends msg from from to rcpts over a new connection to addr.
func send(t testing.TB, addr string, o mailOpts, from string, rcpts []string, msg []byte) sent {
	t.Helper()
	if o.tls != nil {
		c, err := gosmtp.DialStartTLS(addr, o.tls)
		if err != nil {
			return sent{atTLS, err}
		}
		defer c.Close()
		if _, ok := c.TLSConnectionState(); !ok {
			t.Fatal("STARTTLS succeeded without TLS")
		}
		return sendOn(c, o, from, rcpts, msg)
	}
	c, err := dialHello(addr)
	if err != nil {
		return sent{atDial, err}
	}
	defer c.Close()
	return sendOn(c, o, from, rcpts, msg)
}

// dialHello connects to addr and greets it.
func dialHello(addr string) (*gosmtp.Client, error) {
	c, err := gosmtp.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Hello("client.example.net"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// sendOn sends one mail on an open connection.
func sendOn(c *gosmtp.Client, o mailOpts, from string, rcpts []string, msg []byte) sent {
	var mo *gosmtp.MailOptions
	if o.size > 0 {
		mo = &gosmtp.MailOptions{Size: o.size}
	}
	if err := c.Mail(from, mo); err != nil {
		return sent{atMail, err}
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			c.Reset()
			return sent{atRcpt, err}
		}
	}
	w, err := c.Data()
	if err != nil {
		return sent{atData, err}
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return sent{atEnd, err}
	}
	if err := w.Close(); err != nil {
		return sent{atEnd, err}
	}
	return sent{ok, nil}
}

// state is what a refused mail must leave unchanged.
type state struct {
	lastItem int64
	objects  []string
}

func (e *env) snapshot() state {
	e.t.Helper()
	ctx := context.Background()
	var s state
	for {
		items, err := e.st.Tips.ItemsFor(ctx, e.j.ID, s.lastItem, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(items) == 0 {
			break
		}
		s.lastItem = items[len(items)-1].ID
	}
	keys, err := e.st.Blobs.Keys(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(keys)
	s.objects = keys
	return s
}

// tempFiles lists what is left in the data folder's tmp/.
func (e *env) tempFiles() []string {
	es, err := os.ReadDir(filepath.Join(e.dir, "tmp"))
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, x := range es {
		names = append(names, x.Name())
	}
	return names
}

// checkUnchanged fails unless nothing was stored since before.
func (e *env) checkUnchanged(t testing.TB, before state) {
	t.Helper()
	after := e.snapshot()
	if after.lastItem != before.lastItem {
		t.Errorf("items were stored (last item %d → %d)", before.lastItem, after.lastItem)
	}
	if !slices.Equal(after.objects, before.objects) {
		t.Errorf("objects changed: %d before, %d after", len(before.objects), len(after.objects))
	}
	if tmp := e.tempFiles(); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// file is an attachment as stored.
type file struct {
	Name, Type string
	Data       []byte
}

// conv is a conversation as its desk reads it, decrypted.
type conv struct {
	pista.Conversation
	kinds   []pista.ItemKind
	message string
	files   []file
	scrubs  []*pista.ScrubReport // each file's scrub report
	contact string
	email   []byte
	source  pista.Source
}

// newConversations decrypts the conversations with items after before, by
// desk slug.
func (e *env) newConversations(t testing.TB, before state) map[string][]*conv {
	t.Helper()
	ctx := context.Background()
	items, err := e.st.Tips.ItemsFor(ctx, e.j.ID, before.lastItem, 10000)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*conv{}
	var order []string
	for _, it := range items {
		c := byID[it.ConversationID]
		if c == nil {
			cv, err := e.st.Tips.ConversationFor(ctx, e.j.ID, it.ConversationID)
			if err != nil {
				t.Fatalf("ConversationFor: %v", err)
			}
			src, err := e.st.Tips.SourceByID(ctx, cv.SourceID)
			if err != nil {
				t.Fatalf("SourceByID: %v", err)
			}
			c = &conv{Conversation: cv, source: src}
			byID[it.ConversationID] = c
			order = append(order, it.ConversationID)
		}
		d := e.desks[c.DeskSlug]
		if d == nil {
			t.Fatalf("conversation of unknown desk %q", c.DeskSlug)
		}
		plain := e.decrypt(t, d, it.Object)
		c.kinds = append(c.kinds, it.Kind)
		switch it.Kind {
		case pista.KindMessage:
			c.message = string(plain)
		case pista.KindContact:
			c.contact = string(plain)
		case pista.KindEmail:
			c.email = plain
		case pista.KindFile:
			var m pista.FileMeta
			if err := json.Unmarshal(e.decrypt(t, d, it.Meta), &m); err != nil {
				t.Fatalf("file meta: %v", err)
			}
			// Files are padded inside their encryption (pista.Padme); the
			// exact size is in their name-and-type object.
			if m.Size == nil || int64(len(plain)) != pista.Padme(*m.Size) {
				t.Fatalf("file %q: %d bytes stored, size %v: not padded as pista.Padme says", m.Name, len(plain), m.Size)
			}
			c.files = append(c.files, file{Name: m.Name, Type: m.Type, Data: plain[:*m.Size]})
			c.scrubs = append(c.scrubs, m.Scrub)
		default:
			t.Errorf("item of kind %q", it.Kind)
		}
	}
	out := map[string][]*conv{}
	for _, id := range order {
		c := byID[id]
		out[c.DeskSlug] = append(out[c.DeskSlug], c)
	}
	return out
}

// decrypt opens an object with a desk's identity.
func (e *env) decrypt(t testing.TB, d *desk, key string) []byte {
	t.Helper()
	rc, err := e.st.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("opening object: %v", err)
	}
	defer rc.Close()
	r, err := age.Decrypt(rc, d.id)
	if err != nil {
		t.Fatalf("decrypting an object of desk %s: %v", d.Slug, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scan fails if any marker is in a file of the data folder or in the log.
func (e *env) scan(t testing.TB) {
	t.Helper()
	found := 0
	err := filepath.WalkDir(e.dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range e.markers {
			if bytes.Contains(b, m) {
				t.Errorf("%s holds plaintext %q", p, shorten(m))
				found++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	log := e.log.String()
	for _, m := range e.markers {
		if strings.Contains(log, string(m)) {
			t.Errorf("the log holds plaintext %q", shorten(m))
		}
	}
	for _, s := range []string{"127.0.0.1", "client.example.net", "@"} {
		if strings.Contains(log, s) {
			t.Errorf("the log names a peer or an address (%q):\n%s", s, log)
		}
	}
	if len(e.markers) == 0 {
		t.Error("no markers: the scan proves nothing")
	}
}

func shorten(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// selfSigned makes a certificate for domain and 127.0.0.1, and a client
// configuration that trusts it.
func selfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	client = &tls.Config{RootCAs: pool, ServerName: domain}
	return server, client
}
