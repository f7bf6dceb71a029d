package httpx

import (
	"context"
	"errors"
	"log/slog"
)

// QuietAborts wraps a log handler so that it drops the records whose
// error is a cancelled context: a request whose client went away (or
// which the server cut on stopping) fails wherever its handler was, in a
// store, a template, a decryption, and the handler's error path would log
// that as a failure of the server. A client's abort is not one, and every
// such line would be a trace of a source's visit. One filter here, rather
// than a check beside each of the handlers' log calls, so that a new
// handler cannot forget it.
func QuietAborts(h slog.Handler) slog.Handler { return quiet{h} }

type quiet struct{ slog.Handler }

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	aborted := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Resolve().Any().(error); ok && errors.Is(err, context.Canceled) {
			aborted = true
			return false
		}
		return true
	})
	if aborted {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.Handler.WithAttrs(as)} }
func (q quiet) WithGroup(name string) slog.Handler    { return quiet{q.Handler.WithGroup(name)} }
