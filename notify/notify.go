// Package notify tells journalists that their desks have new tips, by
// e-mail through a configured relay or by a webhook, without revealing
// anything of the tips.
//
// # What a notification says
//
// Only that there is new activity in the journalist's pista inbox, and
// where the inbox is. No count, no desk, no date of submission, nothing a
// source wrote: a notification goes through mail providers and chat
// services the newsroom does not control.
//
// # When
//
// Notifications are a digest: a journalist is notified at most once per
// interval, at the interval's boundary (on the hour, for an hour), so the
// time of a notification reveals the time of a submission no more closely
// than the interval. The notifier reads the database on its own schedule;
// intake never waits for it, so a dead relay cannot slow a submission.
//
// # Failures
//
// A delivery that fails is retried with exponential back-off a few times
// within the round; if it still fails, the journalist is not marked
// notified and the next round tries again.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/pista-tips/pista"
)

// DefaultInterval is the digest interval when none is configured.
const DefaultInterval = time.Hour

// Relay is an SMTP relay notifications are sent through.
type Relay struct {
	Addr     string // host:port
	From     string // envelope and header sender
	Username string // for AUTH PLAIN, after STARTTLS; "" for none
	Password string
	// TLS, if set, is the configuration of STARTTLS; by default the
	// system's roots check the relay's name.
	TLS *tls.Config
	// Plaintext sends without STARTTLS: only for a relay on the same
	// machine. By default a relay that does not offer STARTTLS is refused.
	Plaintext bool
}

// Notifier sends the digests.
type Notifier struct {
	Journalists pista.JournalistStore
	Tips        pista.TipStore
	Relay       *Relay       // nil: no e-mail
	HTTP        *http.Client // for webhooks; nil: a client with a 30 s timeout
	InboxURL    string       // where the inbox is, e.g. https://tips.example.org/newsroom/
	Interval    time.Duration
	Log         *slog.Logger
	// Attempts per delivery in one round, and the first back-off.
	Attempts int
	Backoff  time.Duration
	// Timeout bounds one delivery attempt.
	Timeout time.Duration
	// Shared, if set, is where instances of one tip line agree on who
	// sends each round: the first to claim an interval's boundary sends
	// it, the others skip it, so a journalist is told once.
	Shared pista.Shared
}

// roundKind names the last round claimed, in Shared.
const roundKind = "notify-round"

func (n *Notifier) defaults() {
	if n.Interval <= 0 {
		n.Interval = DefaultInterval
	}
	if n.Attempts <= 0 {
		n.Attempts = 4
	}
	if n.Backoff <= 0 {
		n.Backoff = 5 * time.Second
	}
	if n.Timeout <= 0 {
		n.Timeout = 30 * time.Second
	}
	if n.HTTP == nil {
		n.HTTP = &http.Client{Timeout: n.Timeout}
	}
	if n.Log == nil {
		n.Log = slog.Default()
	}
}

// Run sends a digest round at every interval boundary until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	n.defaults()
	for {
		now := time.Now()
		next := now.Truncate(n.Interval).Add(n.Interval)
		select {
		case <-ctx.Done():
			return
		case <-time.After(next.Sub(now)):
		}
		if !n.claim(ctx, next) {
			continue
		}
		n.RunOnce(ctx)
	}
}

// claim reports whether this instance sends the round of boundary: always
// without Shared; with it, only if no other instance claimed it first.
func (n *Notifier) claim(ctx context.Context, boundary time.Time) bool {
	if n.Shared == nil {
		return true
	}
	ok, err := n.Shared.Advance(ctx, roundKind, []byte("round"), boundary.Unix(), boundary.Add(2*n.Interval))
	if err != nil {
		n.Log.Error("notifications: claiming the round", "err", err)
	}
	return ok && err == nil
}

// RunOnce sends one round: every journalist with something new on their
// desks since their last notification is notified, each in parallel so
// that one dead endpoint does not hold up the others.
func (n *Notifier) RunOnce(ctx context.Context) {
	n.defaults()
	js, err := n.Journalists.JournalistsToNotify(ctx)
	if err != nil {
		n.Log.Error("notifications: listing journalists", "err", err)
		return
	}
	var wg sync.WaitGroup
	for _, j := range js {
		count, newest, err := n.Tips.NewSourceItems(ctx, j.ID, j.NotifiedItem)
		if err != nil {
			n.Log.Error("notifications: checking for new tips", "err", err)
			continue
		}
		if count == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.notify(ctx, j); err != nil {
				n.Log.Warn("notification not delivered; next round tries again", "journalist", j.Name, "err", err)
				return
			}
			if err := n.Journalists.SetNotified(ctx, j.ID, newest); err != nil {
				n.Log.Error("notifications: recording", "err", err)
			}
		}()
	}
	wg.Wait()
}

// notify delivers one journalist's notification on each of their
// channels, retrying each with back-off.
func (n *Notifier) notify(ctx context.Context, j pista.Journalist) error {
	var errs []error
	if j.NotifyEmail != "" {
		if n.Relay == nil {
			errs = append(errs, errors.New("e-mail notification set, but no relay is configured (--notify-smtp)"))
		} else if err := n.retry(ctx, func(ctx context.Context) error { return n.sendMail(ctx, j.NotifyEmail) }); err != nil {
			errs = append(errs, fmt.Errorf("e-mail: %w", err))
		}
	}
	if j.NotifyWebhook != "" {
		if err := n.retry(ctx, func(ctx context.Context) error { return n.postWebhook(ctx, j.NotifyWebhook) }); err != nil {
			errs = append(errs, fmt.Errorf("webhook: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) retry(ctx context.Context, f func(context.Context) error) error {
	wait := n.Backoff
	var err error
	for i := 0; i < n.Attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait *= 2
		}
		actx, cancel := context.WithTimeout(ctx, n.Timeout)
		err = f(actx)
		cancel()
		if err == nil {
			return nil
		}
	}
	return err
}

// Text is the whole of what a notification says.
func (n *Notifier) Text() string {
	return "There is new activity in your pista inbox. Sign in to read it: " + n.InboxURL
}

// Subject is a notification e-mail's subject.
const Subject = "New activity in your pista inbox"

func (n *Notifier) message(to string) []byte {
	var id [16]byte
	rand.Read(id[:])
	domain := "pista.invalid"
	if _, d, ok := strings.Cut(n.Relay.From, "@"); ok {
		domain = d
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		n.Relay.From, to, Subject, time.Now().UTC().Truncate(n.Interval).Format(time.RFC1123Z), hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(n.Text() + "\r\n")
	return b.Bytes()
}

func (n *Notifier) sendMail(ctx context.Context, to string) error {
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", n.Relay.Addr)
	if err != nil {
		return err
	}
	// Whatever the relay does, the attempt ends with its context.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var c *smtp.Client
	if n.Relay.Plaintext {
		c = smtp.NewClient(conn)
	} else {
		cfg := n.Relay.TLS
		if cfg == nil {
			host, _, _ := net.SplitHostPort(n.Relay.Addr)
			cfg = &tls.Config{ServerName: host}
		}
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return err
		}
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = n.Timeout, n.Timeout
	if n.Relay.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", n.Relay.Username, n.Relay.Password)); err != nil {
			return err
		}
	}
	if err := c.SendMail(n.Relay.From, []string{to}, bytes.NewReader(n.message(to))); err != nil {
		return err
	}
	return c.Quit()
}

// Webhook is the JSON body of a webhook notification. "text" is what chat
// services (Slack, Mattermost, Matrix bridges) show.
type Webhook struct {
	Event string `json:"event"`
	Text  string `json:"text"`
	Inbox string `json:"inbox"`
}

func (n *Notifier) postWebhook(ctx context.Context, hook string) error {
	body, _ := json.Marshal(Webhook{Event: "new_activity", Text: n.Text(), Inbox: n.InboxURL})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.HTTP.Do(req)
	if err != nil {
		// A *url.Error names the URL, whose path is often the hook's
		// secret: keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("webhook %s: %w", ue.Op, ue.Err)
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
