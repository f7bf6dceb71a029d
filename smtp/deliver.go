package smtp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/intake"
)

// Why a message is refused, besides the sizes go-smtp checks.
var (
	// errMalformed: go-message cannot read the message's header, MIME
	// structure or transfer encoding. Errors wrapping it may quote the
	// message: they are never logged.
	errMalformed = errors.New("malformed message")
	// errHeaderTooLarge: a header block over maxHeaderFields or
	// maxHeaderBytes.
	errHeaderTooLarge = errors.New("header too large")
)

// malformed marks err, met while reading the message, as the message's
// fault.
func malformed(err error) error {
	if err == nil || errors.Is(err, errMalformed) {
		return err
	}
	return fmt.Errorf("%w: %w", errMalformed, err)
}

// delivery is one message being stored for its desks.
type delivery struct {
	s     *Server
	ctx   context.Context
	desks []pista.Desk
	from  string // the envelope sender

	// Per desk: the recipients its items are encrypted to (the desk's
	// intake key of the day, or its own key, and the archive keys), the
	// intake key's ID (0: the desk's key), the batch of its message,
	// files and contact, and its raw e-mail item.
	recipients [][]age.Recipient
	intakeKeys []int64
	batches    []*intake.Batch
	raw        []pista.Item
	// Per desk, the evidence copy of the message (see evidence.go), and
	// where the parser writes it.
	copies []pista.Item
	copyW  *lazyCopy
	// copyBuf copies the texts not extracted into the copy.
	copyBuf []byte

	fail failure

	// What the parser found; see parse.go.
	subject   string
	contact   string
	text      text
	parts     int
	skipped   int
	textSpent int
	// Parts replaced in the copy (files, and parts not extracted but for
	// texts); files extracted; the name of the last.
	replaced int
	files    int
	lastName string
}

// failure keeps the first error of a delivery's goroutines, the cause of
// the others, and stops them all.
type failure struct {
	mu     sync.Mutex
	err    error
	cancel context.CancelFunc
}

func (f *failure) set(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
		f.cancel()
	}
}

func (f *failure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// deliver stores the message r, sent by from (the envelope sender, "" for
// none), for each of desks: a new conversation per desk, all or nothing.
//
// The message streams once through the server: a goroutine per desk
// encrypts the raw bytes (the e-mail item) while the parser reads the same
// bytes, encrypting each attachment as it is decoded and keeping the text
// in memory. The rows are written only when every object is: if anything
// fails before, every object is deleted and no row is written. See the
// package documentation for the failure of a later desk's rows.
//
// It answers nil, or an error that Server.reply turns into an SMTP reply.
func (s *Server) deliver(ctx context.Context, desks []pista.Desk, from string, r io.Reader) (err error) {
	if len(desks) == 0 {
		return errors.New("smtp: no desk to deliver to")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &delivery{s: s, ctx: ctx, desks: desks, from: from, fail: failure{cancel: cancel}}
	day := s.cfg.Clock.Day(time.Now())
	for _, desk := range desks {
		seal, err := intake.SealFor(ctx, s.cfg.Tips, s.log, desk, day, s.cfg.Archive)
		if err != nil {
			return fmt.Errorf("smtp: desk %d: %w", desk.ID, err)
		}
		d.recipients = append(d.recipients, seal.Recipients)
		d.intakeKeys = append(d.intakeKeys, seal.IntakeKey)
		d.batches = append(d.batches, intake.NewBatch(s.cfg.Blobs, seal.Recipients, -1))
	}
	d.raw = make([]pista.Item, len(desks))
	d.copies = make([]pista.Item, len(desks))
	defer func() {
		if err != nil {
			d.abort()
		}
	}()

	if err := d.read(r); err != nil {
		return err
	}
	if err := d.evidence(); err != nil {
		return err
	}
	tips, err := d.tips()
	if err != nil {
		return err
	}
	return d.commit(tips)
}

// read tees r to the raw encryptions and the parser, and waits for them.
func (d *delivery) read(r io.Reader) error {
	var wg sync.WaitGroup
	var pipes []*io.PipeWriter
	// Written by the parser's goroutine only (lazyCopy.start).
	var copyPipes []*io.PipeWriter
	for i := range d.desks {
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		wg.Go(func() {
			key, size, err := intake.Encrypt(d.ctx, d.s.cfg.Blobs, pr, d.recipients[i])
			if err != nil {
				d.fail.set(err)
				pr.CloseWithError(err)
				return
			}
			d.raw[i] = pista.Item{Kind: pista.KindEmail, Object: key, Size: size}
		})
	}
	// The evidence copy, encrypted by one goroutine per desk once it is
	// needed (lazyCopy), written by the parser.
	d.copyW = &lazyCopy{start: func() io.Writer {
		var ws []io.Writer
		for i := range d.desks {
			pr, pw := io.Pipe()
			copyPipes, ws = append(copyPipes, pw), append(ws, pw)
			wg.Go(func() {
				key, size, err := intake.Encrypt(d.ctx, d.s.cfg.Blobs, pr, d.recipients[i])
				if err != nil {
					d.fail.set(err)
					pr.CloseWithError(err)
					return
				}
				d.copies[i] = pista.Item{Kind: pista.KindEmail, Object: key, Size: size}
			})
		}
		return io.MultiWriter(ws...)
	}}
	pr, pw := io.Pipe()
	pipes = append(pipes, pw)
	wg.Go(func() {
		err := d.parse(pr)
		if err == nil {
			// The epilogue, or whatever extraction skipped.
			_, err = io.Copy(io.Discard, pr)
		}
		// The parser's error first: the copy's encryptions fail because
		// of it.
		d.fail.set(err)
		for _, p := range copyPipes {
			p.CloseWithError(err)
		}
		if err != nil {
			pr.CloseWithError(err)
		}
	})

	ws := make([]io.Writer, len(pipes))
	for i, p := range pipes {
		ws[i] = p
	}
	_, err := io.Copy(io.MultiWriter(ws...), &sourceReader{r: r, fail: &d.fail})
	for _, p := range pipes {
		p.CloseWithError(err)
	}
	wg.Wait()
	// A reader or writer failed first and said why; err is a consequence.
	d.fail.set(err)
	return d.fail.get()
}

// sourceReader records an error reading the message (too large, a line
// too long, the peer gone) before anything else can fail because of it.
type sourceReader struct {
	r    io.Reader
	fail *failure
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.fail.set(err)
	}
	return n, err
}

// tips encrypts the message text and the contact for each desk, and
// makes the desks' tips from every item: message, files, contact, and
// the raw e-mail last.
func (d *delivery) tips() ([]*pista.NewTip, error) {
	message := d.message()
	var tips []*pista.NewTip
	for i, desk := range d.desks {
		b := d.batches[i]
		var preview []byte // what the inbox shows of the message, encrypted like it
		var previewIntake int64
		if message != "" {
			if err := b.AddText(d.ctx, pista.KindMessage, message); err != nil {
				return nil, err
			}
			var err error
			if preview, err = intake.SealPreview(message, d.recipients[i]); err != nil {
				return nil, err
			}
			if preview != nil {
				previewIntake = d.intakeKeys[i]
			}
		}
		if d.contact != "" {
			if err := b.AddText(d.ctx, pista.KindContact, d.contact); err != nil {
				return nil, err
			}
		}
		b.Sort()
		items := append(append([]pista.Item(nil), b.Items()...), d.raw[i])
		intake.Seal{IntakeKey: d.intakeKeys[i]}.Mark(items)
		lookup := make([]byte, 32)
		rand.Read(lookup)
		tips = append(tips, &pista.NewTip{
			// A source by e-mail has no codename: the lookup is random, so
			// no one can log in as them; replies go by e-mail.
			Source: pista.Source{Lookup: lookup},
			Conversation: pista.Conversation{
				ID: pista.NewConversationID(), Channel: pista.ChannelEmail, DeskID: desk.ID, Preview: preview,
				PreviewIntake: previewIntake,
			},
			Items: items,
		})
	}
	return tips, nil
}

// commit writes each desk's rows, one transaction per desk. If a desk's
// fails, the desks after it are aborted; those before are kept, and the
// peer told to try again later (see the package documentation).
func (d *delivery) commit(tips []*pista.NewTip) error {
	ctx := context.WithoutCancel(d.ctx)
	for i, t := range tips {
		if err := d.s.cfg.Tips.CreateTip(ctx, t); err != nil {
			if i > 0 {
				d.s.log.Error("smtp: a message was stored for some of its desks only; the sender will retry", "stored", i, "desks", len(tips))
			}
			// Only the desks not stored are aborted.
			d.batches, d.raw = d.batches[i:], d.raw[i:]
			return fmt.Errorf("smtp: storing a tip: %w", err)
		}
	}
	return nil
}

// evidence chooses each desk's e-mail item: the message as received if
// no part of it was replaced in the copy, else the copy (see evidence.go).
// The other is deleted.
func (d *delivery) evidence() error {
	keep, drop := d.raw, d.copies
	if d.replaced > 0 {
		keep, drop = d.copies, d.raw
	}
	for i := range drop {
		if drop[i].Object == "" {
			continue
		}
		if err := d.s.cfg.Blobs.Delete(d.ctx, drop[i].Object); err != nil {
			// abort deletes the rest.
			return fmt.Errorf("smtp: deleting an e-mail copy: %w", err)
		}
		drop[i].Object = ""
	}
	d.raw, d.copies = keep, nil
	return nil
}

// abort deletes every object the delivery wrote (for the desks not
// committed).
func (d *delivery) abort() {
	for _, b := range d.batches {
		b.Abort()
	}
	for _, it := range append(d.raw, d.copies...) {
		if it.Object != "" {
			d.s.cfg.Blobs.Delete(context.Background(), it.Object)
		}
	}
}
