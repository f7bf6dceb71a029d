package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/emersion/go-smtp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/server"
)

// mailbox is a test SMTP relay on loopback that keeps what it receives.
type mailbox struct {
	mu   sync.Mutex
	msgs []string
	rcpt []string
}

func (m *mailbox) NewSession(c *smtp.Conn) (smtp.Session, error) { return &mailSession{m: m}, nil }

type mailSession struct {
	m    *mailbox
	rcpt string
}

func (s *mailSession) AuthMechanisms() []string                       { return nil }
func (s *mailSession) Mail(from string, opts *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, opts *smtp.RcptOptions) error {
	s.rcpt = to
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, string(b))
	s.m.rcpt = append(s.m.rcpt, s.rcpt)
	s.m.mu.Unlock()
	return nil
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

func (m *mailbox) received() ([]string, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...), append([]string(nil), m.rcpt...)
}

func startRelay(t *testing.T) (string, *mailbox) {
	mb := &mailbox{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), mb
}

// hook is a test webhook receiver.
type hook struct {
	mu     sync.Mutex
	bodies []string
	fail   bool
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h.bodies = append(h.bodies, string(b))
}

func (h *hook) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

type fixture struct {
	st    *server.Stores
	alice pista.Journalist
	desk  pista.Desk
	other pista.Desk
}

func setUp(t *testing.T) *fixture {
	st, err := server.OpenStores(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return setUpOn(t, st)
}

// setUpOn makes the fixture's journalists and desks in st.
func setUpOn(t *testing.T, st *server.Stores) *fixture {
	ctx := context.Background()
	f := &fixture{st: st}
	for _, name := range []string{"alice", "omar"} {
		id, _ := age.GenerateHybridIdentity()
		j := &pista.Journalist{Name: name, Recipient: id.Recipient().String(), TOTPSecret: "x"}
		if err := st.Journalists.CreateJournalist(ctx, j); err != nil {
			t.Fatal(err)
		}
		d := &pista.Desk{Slug: name + "-desk", Title: name, Recipient: id.Recipient().String()}
		if err := st.Desks.CreateDesk(ctx, d, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: []byte("w")}}); err != nil {
			t.Fatal(err)
		}
		if name == "alice" {
			f.alice, f.desk = *j, *d
		} else {
			f.other = *d
		}
	}
	return f
}

var tipCount int

// tip stores a tip (rows only: the notifier never reads objects) whose
// message object is named after a marker, to show it never leaks.
func (f *fixture) tip(t *testing.T, desk pista.Desk, marker string) {
	tipCount++
	lookup := make([]byte, 32)
	copy(lookup, marker)
	lookup[31] = byte(tipCount)
	err := f.st.Tips.CreateTip(context.Background(), &pista.NewTip{
		Conversation: pista.Conversation{ID: strings.Repeat("a", 25) + string(rune('a'+tipCount)), DeskID: desk.ID},
		Source:       pista.Source{Lookup: lookup, Recipient: "age1pq1source"},
		Items:        []pista.Item{{Kind: pista.KindMessage, Object: strings.Repeat("0", 31) + string(rune('a'+tipCount%6)), Size: 10}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDigest(t *testing.T) {
	ctx := context.Background()
	f := setUp(t)
	relayAddr, mb := startRelay(t)
	h := &hook{}
	ws := httptest.NewServer(h)
	defer ws.Close()
	if err := f.st.Journalists.SetNotify(ctx, f.alice.ID, "alice@newsroom.example", ws.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	n := &Notifier{
		Journalists: f.st.Journalists, Tips: f.st.Tips, InboxURL: "https://tips.example.org/newsroom/",
		Relay: &Relay{Addr: relayAddr, From: "pista@newsroom.example", Plaintext: true},
		Log:   slog.New(slog.DiscardHandler), Backoff: 10 * time.Millisecond,
	}

	n.RunOnce(ctx)
	if msgs, _ := mb.received(); len(msgs) != 0 || len(h.received()) != 0 {
		t.Fatalf("notified with nothing new: %d mails, %d hooks", len(msgs), len(h.received()))
	}

	f.tip(t, f.desk, "MARKER-one")
	f.tip(t, f.desk, "MARKER-two")
	f.tip(t, f.other, "MARKER-other")
	n.RunOnce(ctx)
	msgs, rcpts := mb.received()
	if len(msgs) != 1 || rcpts[0] != "alice@newsroom.example" {
		t.Fatalf("want one digest mail to alice, got %d to %v", len(msgs), rcpts)
	}
	hooks := h.received()
	if len(hooks) != 1 {
		t.Fatalf("want one webhook call, got %d", len(hooks))
	}
	var wh Webhook
	if err := json.Unmarshal([]byte(hooks[0]), &wh); err != nil || wh.Inbox != n.InboxURL || wh.Text != n.Text() {
		t.Fatalf("webhook body %q: %v", hooks[0], err)
	}
	for _, s := range append(msgs, hooks...) {
		for _, leak := range []string{"MARKER", "alice-desk", "omar", "2 ", "two"} {
			if strings.Contains(s, leak) {
				t.Errorf("notification reveals %q:\n%s", leak, s)
			}
		}
		if !strings.Contains(s, n.InboxURL) {
			t.Errorf("notification does not say where the inbox is:\n%s", s)
		}
	}

	// Nothing new: nothing sent. A new tip: one more digest.
	n.RunOnce(ctx)
	if msgs, _ := mb.received(); len(msgs) != 1 {
		t.Fatalf("a second round with nothing new sent %d mails in all", len(msgs))
	}
	f.tip(t, f.desk, "MARKER-three")
	n.RunOnce(ctx)
	if msgs, _ := mb.received(); len(msgs) != 2 || len(h.received()) != 2 {
		t.Fatalf("after a new tip: %d mails, %d hooks; want 2 and 2", len(msgs), len(h.received()))
	}
}

func TestFailedDeliveryIsRetriedNextRound(t *testing.T) {
	ctx := context.Background()
	f := setUp(t)
	h := &hook{fail: true}
	ws := httptest.NewServer(h)
	defer ws.Close()
	f.st.Journalists.SetNotify(ctx, f.alice.ID, "", ws.URL)
	n := &Notifier{Journalists: f.st.Journalists, Tips: f.st.Tips, InboxURL: "https://x/newsroom/",
		Log: slog.New(slog.DiscardHandler), Attempts: 3, Backoff: time.Millisecond}
	f.tip(t, f.desk, "MARKER")
	n.RunOnce(ctx)
	j, _ := f.st.Journalists.JournalistByID(ctx, f.alice.ID)
	if j.NotifiedItem != 0 {
		t.Fatal("a failed delivery was recorded as notified")
	}
	h.mu.Lock()
	h.fail = false
	h.mu.Unlock()
	n.RunOnce(ctx)
	if len(h.received()) != 1 {
		t.Fatalf("the next round delivered %d notifications, want 1", len(h.received()))
	}
}

// A relay that accepts connections and never answers holds up only the
// notifier, which gives up after its timeout; delivering to it fails.
func TestDeadRelay(t *testing.T) {
	ctx := context.Background()
	f := setUp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	f.st.Journalists.SetNotify(ctx, f.alice.ID, "alice@newsroom.example", "")
	n := &Notifier{Journalists: f.st.Journalists, Tips: f.st.Tips, InboxURL: "https://x/newsroom/",
		Relay: &Relay{Addr: ln.Addr().String(), From: "pista@x", Plaintext: true},
		Log:   slog.New(slog.DiscardHandler), Attempts: 2, Backoff: time.Millisecond, Timeout: 200 * time.Millisecond}
	f.tip(t, f.desk, "MARKER")
	done := make(chan struct{})
	go func() { n.RunOnce(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the notifier hung on a dead relay instead of timing out")
	}
	if j, _ := f.st.Journalists.JournalistByID(ctx, f.alice.ID); j.NotifiedItem != 0 {
		t.Fatal("an undelivered notification was recorded")
	}
	j, _ := f.st.Journalists.JournalistByID(ctx, f.alice.ID)
	if err := n.notify(ctx, j); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("notifying through a dead relay: %v, want a time-out", err)
	}
}
