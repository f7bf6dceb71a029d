package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/pulled"
)

const sortHelp = `
pista sort keeps your desks' forward secrecy going, as the web inbox does
while it is open: it makes the intake keys your desks will need for the
coming days (sources' tips are encrypted to the day's key, whose secret
the server destroys a few days later), then moves every tip that arrived
under an intake key, or under the desk key, to its conversation's own key,
which goes when the conversation is deleted. Only the short header of
each encrypted file changes, on this computer; the server copies the rest
without being able to read it.

It logs in as pista pull does and needs your identity file (from pista
keygen) to open your desks' keys. It checks what the server lists against
those keys: a desk whose intake keys are signed by a key your desk key
does not give stops it, with an error, since someone other than a desk
member made them.

By default it runs once and exits (for cron, or whenever you come in);
with --every it goes on, sorting again at that interval, for as long as
its login lasts: the code of --totp is used once, and the server ends a
login after twelve hours (or one hour without a request), so --every is
at most 50m and the command stops, with an error, once the login ends.

Usage:
    pista sort --server URL --user NAME --password-file FILE --totp CODE --identity FILE [--every DURATION] [--device-file FILE]

Examples:
    $ pista sort --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 --identity alice.key
    sorted 12 items of 3 conversations; made 7 intake keys
    $ pista sort --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 --identity alice.key --every 10m
`

func runSort(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "sort", sortHelp)
	srv := fs.String("server", "", "the tip line's `URL`")
	user := fs.String("user", "", "your user `NAME`")
	pwFile := fs.String("password-file", "", "a `FILE` whose first line is your password")
	code := fs.String("totp", "", "the current six-digit `CODE` of your authenticator app")
	idFile := fs.String("identity", "", "your identity `FILE`, from pista keygen")
	every := fs.Duration("every", 0, "sort again every `DURATION` (10m, 30m…; at most 50m) while the login lasts; default: once")
	deviceFile := fs.String("device-file", "", "the `FILE` keeping this computer's device token (default: the password file's name + .device)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "user", "password-file", "totp", "identity"); err != nil {
		return err
	}
	if *every != 0 && (*every < time.Second || *every > maxSortEvery) {
		return hint(fmt.Errorf("--every %s is out of range", *every), "sort every few minutes, at most every 50m: the login ends after an hour without a request")
	}
	ids, err := readIdentities(*idFile)
	if err != nil {
		return err
	}
	c, err := journalistLogin(ctx, e, *srv, *user, *pwFile, *code, *deviceFile)
	if err != nil {
		return err
	}
	defer c.Logout(context.WithoutCancel(ctx))
	for {
		rep, err := c.Sort(ctx, ids)
		fmt.Fprintf(e.stdout, "sorted %d items of %d conversations; made %d intake keys\n", rep.Items, rep.Conversations, rep.IntakeKeys)
		if err == nil && len(rep.Failed) > 0 {
			err = hint(fmt.Errorf("%d items could not be opened with your keys and stay unsorted (first: item %d)", len(rep.Failed), rep.Failed[0]),
				"they were encrypted to a desk key you were never given, or to an intake key the server no longer lists; another member of the desk may sort them")
		}
		if err != nil {
			if ae, ok := errors.AsType[*apiclient.Error](err); ok && ae.Status == http.StatusUnauthorized {
				return hint(fmt.Errorf("the login ended: %w", err), "run pista sort again with a new code")
			}
			err = sortError(err)
			if *every == 0 {
				return err
			}
			fmt.Fprintf(e.stderr, "pista: %s\n", err)
		}
		if *every == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*every):
		}
	}
}

// maxSortEvery keeps --every under the API's idle timeout of a login.
const maxSortEvery = 50 * time.Minute

// sortError explains why a sort stopped.
func sortError(err error) error {
	switch {
	case errors.Is(err, pulled.ErrServerLies):
		return hint(err, "nothing was sent with these keys; tell your security team and the server's admin")
	case errors.Is(err, pulled.ErrMalformed):
		return hint(fmt.Errorf("the server's answer was refused: %w", err), "if this goes on, tell the server's admin: the server may be broken into")
	}
	return err
}

// readIdentities reads an identity file from pista keygen.
func readIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, hint(fmt.Errorf("%s: %w", path, err), "use the file pista keygen wrote")
	}
	return ids, nil
}
