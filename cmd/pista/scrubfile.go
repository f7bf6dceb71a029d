package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/scrub"
)

// sourceFile is a file pista submit or pista follow sends. Unless keep,
// its hidden metadata is removed on this computer, while it streams into
// the encryption (package scrub, with a computer's budget, as pista open
// --scrub): no scrubbed copy is written anywhere. A first pass into
// nothing checks that the scrubber can read the whole file, so that one it
// gives up on half way is sent as it is, and said so, rather than cut.
// What happened goes into the file's encrypted name-and-type object, and
// a line on stderr tells the source.
func sourceFile(ctx context.Context, e env, path, name, typ string, keep bool) apiclient.File {
	var rep *pista.ScrubReport
	return apiclient.File{
		Name: name, Type: typ,
		Open: func() (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			if keep {
				rep = intake.KeptReport(pista.ScrubBySubmit)
				return f, nil
			}
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return nil, err
			}
			size := fi.Size()
			r, err := scrub.ScrubWithin(ctx, scrub.DeviceBudget, f, size, name, typ, io.Discard)
			if err != nil {
				if !intake.Unscrubbable(err) {
					f.Close()
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				rep = intake.ScrubReportOf(r, err, pista.ScrubBySubmit, pista.ScrubChoiceScrub)
				return f, nil
			}
			pr, pw := io.Pipe()
			s := &scrubbing{pr: pr, f: f, done: make(chan struct{})}
			go func() {
				defer close(s.done)
				r, err := scrub.ScrubWithin(ctx, scrub.DeviceBudget, f, size, name, typ, pw)
				rep = intake.ScrubReportOf(r, nil, pista.ScrubBySubmit, pista.ScrubChoiceScrub)
				pw.CloseWithError(err)
			}()
			return s, nil
		},
		Scrub: func() *pista.ScrubReport {
			fmt.Fprintf(e.stderr, "pista: %s: %s\n", apiclient.Printable(name, 200), describeSent(rep))
			return rep
		},
	}
}

// describeSent tells the source what was done to a file's metadata.
func describeSent(r *pista.ScrubReport) string {
	switch {
	case r == nil:
		return "sent as it is"
	case r.Choice == pista.ScrubChoiceKeep:
		return "sent with its metadata, as you asked (--keep-metadata)"
	case r.Scrubbed && len(r.Found) == 0:
		return "checked here: no metadata found"
	case r.Scrubbed:
		return "metadata removed here: " + strings.Join(r.Found, ", ")
	default:
		return "sent as it is, hidden metadata may remain: " + r.Note
	}
}

// scrubbing is a file being scrubbed into a pipe.
type scrubbing struct {
	pr   *io.PipeReader
	f    *os.File
	done chan struct{}
}

func (s *scrubbing) Read(p []byte) (int, error) { return s.pr.Read(p) }

// Close stops the scrubber if it still runs, and closes the file.
func (s *scrubbing) Close() error {
	s.pr.CloseWithError(errors.New("the upload ended"))
	<-s.done
	return s.f.Close()
}
