package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista/pulled"
)

const pullHelp = `
pista pull downloads the tips of your desks, still encrypted, into a
folder: the first half of the air-gap workflow. Run it on an online
computer; carry the folder to an offline one and run pista open there.
A second pull into the same folder fetches only what is new. Set
ALL_PROXY=socks5://127.0.0.1:9050 to go through Tor.

Each login answers a device token, which pull keeps in a file (by
default the password file's name with .device added; --device-file
chooses another) and sends at the next login: the server then lets this
computer log in even while someone guessing at your account from
elsewhere has spent the allowance of unknown devices. Keep it with the
password file; alone, it opens nothing.

Usage:
    pista pull --server URL --user NAME --password-file FILE --totp CODE --out DIR [--device-file FILE]

Examples:
    $ pista pull --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 --out pulled
    pulled 3 items (1 new key) into pulled
`

func runPull(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "pull", pullHelp)
	srv := fs.String("server", "", "the tip line's `URL`")
	user := fs.String("user", "", "your user `NAME`")
	pwFile := fs.String("password-file", "", "a `FILE` whose first line is your password")
	code := fs.String("totp", "", "the current six-digit `CODE` of your authenticator app")
	out := fs.String("out", "", "the `DIR` to pull into (made if missing)")
	deviceFile := fs.String("device-file", "", "the `FILE` keeping this computer's device token (default: the password file's name + .device)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "user", "password-file", "totp", "out"); err != nil {
		return err
	}
	pw, err := readSecretFile(*pwFile)
	if err != nil {
		return err
	}
	c, err := pulled.NewClient(*srv)
	if err != nil {
		return err
	}
	if *deviceFile == "" {
		*deviceFile = *pwFile + ".device"
	}
	c.Device = readDeviceFile(*deviceFile)
	if err := c.Login(ctx, *user, pw, *code); err != nil {
		return hint(err, "check the user name, the password file and that the code is current (each code works once)")
	}
	if err := writeDeviceFile(*deviceFile, c.Device); err != nil {
		fmt.Fprintf(e.stderr, "pista: could not keep the device token: %v\n", err)
	}
	defer c.Logout(context.WithoutCancel(ctx))
	rep, err := c.Pull(ctx, *out, *user)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "pulled %d items (%d new keys) into %s\n", rep.Items, rep.Keys, *out)
	return nil
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
	if len(tok) > 256 || strings.ContainsAny(tok, " \n") {
		return ""
	}
	return tok
}

// writeDeviceFile keeps a new device token, readable by its owner only,
// replacing the file whole (a temporary file renamed over it).
func writeDeviceFile(path, tok string) error {
	if tok == "" {
		return nil
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
with message-N.txt, reply-N.txt, contact.txt (if the source gave one),
the files under their original names, made safe for your file system,
and metadata-report.txt, which says for each file whether its hidden
metadata was removed when it arrived. With --scrub, files are written
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
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "opened %d items of %d conversations into %s\n", rep.Items, rep.Conversations, *out)
	if len(rep.Failed) > 0 {
		for _, f := range rep.Failed {
			fmt.Fprintf(e.stderr, "pista: cannot decrypt %s with this identity\n", f)
		}
		return hint(fmt.Errorf("%d items could not be decrypted", len(rep.Failed)), "they were encrypted to a desk key you were never given")
	}
	return nil
}
