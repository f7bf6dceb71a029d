package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/pulled"
)

const pullHelp = `
pista pull downloads the tips of your desks, still encrypted, into a
folder: the first half of the air-gap workflow. Run it on an online
computer; carry the folder to an offline one and run pista open there.
A second pull into the same folder fetches only what is new. Set
ALL_PROXY=socks5://127.0.0.1:9050 to go through Tor.

pull does not trust the server: each file must have the size the server
declared, and one pull takes at most --max-total (default 8GiB) from it,
files and lists together. A pull that reaches it stops cleanly; the next
pull goes on from there. An item whose file the server has lost is
reported, and asked for again at the next pull.

Each login answers a device token, which pull keeps in a file (by
default the password file's name with .device added; --device-file
chooses another) and sends at the next login: the server then lets this
computer log in even while someone guessing at your account from
elsewhere has spent the allowance of unknown devices. Keep it with the
password file; alone, it opens nothing.

Usage:
    pista pull --server URL --user NAME --password-file FILE --totp CODE --out DIR [--max-total SIZE] [--device-file FILE]

Examples:
    $ pista pull --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 --out pulled
    pulled 3 items (1 new key) into pulled
    $ pista pull --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 --out pulled --max-total 20GiB
`

func runPull(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "pull", pullHelp)
	srv := fs.String("server", "", "the tip line's `URL`")
	user := fs.String("user", "", "your user `NAME`")
	pwFile := fs.String("password-file", "", "a `FILE` whose first line is your password")
	code := fs.String("totp", "", "the current six-digit `CODE` of your authenticator app")
	out := fs.String("out", "", "the `DIR` to pull into (made if missing)")
	maxTotal := fs.String("max-total", "8GiB", "the most one pull takes from the server, files and lists together (`SIZE`: 500MiB, 20GiB…)")
	deviceFile := fs.String("device-file", "", "the `FILE` keeping this computer's device token (default: the password file's name + .device)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "user", "password-file", "totp", "out"); err != nil {
		return err
	}
	total, err := parseSize(*maxTotal)
	if err != nil {
		return hint(fmt.Errorf("--max-total %q: %w", *maxTotal, err), "write a size such as 500MiB or 20GiB")
	}
	c, err := journalistLogin(ctx, e, *srv, *user, *pwFile, *code, *deviceFile)
	if err != nil {
		return err
	}
	defer c.Logout(context.WithoutCancel(ctx))
	rep, err := c.Pull(ctx, *out, *user, pulled.PullOptions{MaxTotal: total})
	fmt.Fprintf(e.stdout, "pulled %d items (%d new keys) into %s\n", rep.Items, rep.Keys, *out)
	if err != nil {
		return pullError(err, rep, total)
	}
	if len(rep.Missing) > 0 {
		for _, it := range rep.Missing {
			fmt.Fprintf(e.stderr, "pista: item %d of conversation %s is missing on the server\n", it.ID, it.Conversation)
		}
		return hint(fmt.Errorf("%d items are missing on the server: their files were lost there; everything else was pulled", len(rep.Missing)),
			"ask the server's admin to restore them from a backup; the next pull asks for them again")
	}
	return nil
}

// pullError explains why a pull stopped.
func pullError(err error, rep pulled.Report, total int64) error {
	if _, ok := errors.AsType[*apiclient.BudgetError](err); ok {
		return hint(fmt.Errorf("stopped after %s, at the most one pull takes (--max-total %s): %w; what was pulled is kept", apiclient.FormatSize(rep.Received), apiclient.FormatSize(total), err),
			"run pull again to go on from there, or give a larger --max-total if you expect that much; a server that keeps sending more may be lying")
	}
	switch {
	case errors.Is(err, pulled.ErrManyItems):
		return hint(fmt.Errorf("stopped: %w; what was pulled is kept", err), "run pull again to go on from there")
	case errors.Is(err, apiclient.ErrWrongSize), errors.Is(err, apiclient.ErrTooLarge), errors.Is(err, pulled.ErrMalformed):
		return hint(fmt.Errorf("the server's answer was refused: %w", err), "what was pulled before is kept and nothing half-written was left; if this goes on, tell the server's admin: the server may be broken into")
	}
	return err
}

// readDeviceFile reads a device token kept by an earlier login ("" if
// there is none or it is not one).
func readDeviceFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 1024)
	n, _ := io.ReadFull(f, b)
	tok := strings.TrimSpace(string(b[:n]))
	if !validDeviceToken(tok) {
		return ""
	}
	return tok
}

// validDeviceToken reports whether tok looks like a device token: at most
// 256 characters of base64url.
func validDeviceToken(tok string) bool {
	if tok == "" || len(tok) > 256 {
		return false
	}
	for _, c := range tok {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// writeDeviceFile keeps a new device token, readable by its owner only,
// replacing the file whole (a temporary file renamed over it).
func writeDeviceFile(path, tok string) error {
	if tok == "" {
		return nil
	}
	// The server's word: a token is short base64url text, and nothing
	// else is written into the user's folder.
	if !validDeviceToken(tok) {
		return errors.New("the server sent a malformed device token: not kept")
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".pista-device-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

const openHelp = `
pista open decrypts a pulled folder: the second half of the air-gap
workflow, meant for an offline computer. Each conversation gets a folder
with message-N.txt, reply-N.txt, note-N.txt (the desk's internal notes,
never shown to the source), contact.txt (if the source gave one), the
files under their original names, made safe for your file system,
and metadata-report.txt, which says for each file whether its hidden
metadata was removed when it arrived, and forward-secrecy.txt, which
names the items received without forward secrecy (the desk had no fresh
intake key) or from before it. With --scrub, files are written
with their metadata removed: use it for copies you will share.

Usage:
    pista open --identity FILE --in DIR --out DIR

Examples:
    $ pista open --identity alice.key --in pulled --out opened
    $ pista open --identity alice.key --in pulled --out to-share --scrub
`

func runOpen(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "open", openHelp)
	idFile := fs.String("identity", "", "your identity `FILE`, from pista keygen")
	in := fs.String("in", "", "the pulled `DIR`")
	out := fs.String("out", "", "the `DIR` to write decrypted conversations to")
	scrub := fs.Bool("scrub", false, "write files with their hidden metadata removed (JPEG, PNG, WebP, MP4/MOV, PDF, DOCX/XLSX/PPTX, ODT/ODS/ODP)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "identity", "in", "out"); err != nil {
		return err
	}
	f, err := os.Open(*idFile)
	if err != nil {
		return err
	}
	ids, err := age.ParseIdentities(f)
	f.Close()
	if err != nil {
		return hint(fmt.Errorf("%s: %w", *idFile, err), "use the file pista keygen wrote")
	}
	if _, err := os.Stat(*in); err != nil {
		return err
	}
	rep, err := pulled.Open(ids, *in, *out, pulled.Options{Scrub: *scrub})
	for _, s := range rep.Skipped {
		fmt.Fprintf(e.stderr, "pista: skipped %s: a link or a special file, not a file pull writes\n", s)
	}
	if err != nil {
		var ee *pulled.ExistsError
		var le *pulled.LinkError
		if errors.As(err, &ee) || errors.As(err, &le) {
			return hint(err, "nothing was written through it; open into a new, empty folder")
		}
		return err
	}
	fmt.Fprintf(e.stdout, "opened %d items of %d conversations into %s\n", rep.Items, rep.Conversations, *out)
	if len(rep.NoForward) > 0 || len(rep.Legacy) > 0 {
		fmt.Fprintf(e.stdout, "%d items were received without forward secrecy and %d are from before it: forward-secrecy.txt in their conversations names them\n", len(rep.NoForward), len(rep.Legacy))
	}
	if len(rep.Failed) > 0 {
		for _, f := range rep.Failed {
			fmt.Fprintf(e.stderr, "pista: cannot decrypt %s with this identity\n", f)
		}
		return hint(fmt.Errorf("%d items could not be decrypted", len(rep.Failed)), "they were encrypted to a desk key you were never given")
	}
	return nil
}

// journalistLogin signs in to the journalist API as pull and reply do:
// the passphrase from its file, the device token kept beside it (or in
// deviceFile) so that this computer keeps its own login allowance.
func journalistLogin(ctx context.Context, e env, server, user, pwFile, code, deviceFile string) (*pulled.Client, error) {
	pw, err := readSecretFile(pwFile)
	if err != nil {
		return nil, err
	}
	c, err := pulled.NewClient(server)
	if err != nil {
		return nil, err
	}
	if deviceFile == "" {
		deviceFile = pwFile + ".device"
	}
	c.Device = readDeviceFile(deviceFile)
	if err := c.Login(ctx, user, pw, code); err != nil {
		return nil, hint(err, "check the user name, the password file and that the code is current (each code works once)")
	}
	if err := writeDeviceFile(deviceFile, c.Device); err != nil {
		fmt.Fprintf(e.stderr, "pista: could not keep the device token: %v\n", err)
	}
	return c, nil
}
