package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/keys"
)

const followHelp = `
pista follow reads the newsroom's replies to a tip sent with pista submit
(or the web form), and with --message-file or --file sends more. It reads
the codename from standard input, derives your keys from it on this
computer, and proves it to the server with a key derived from it: the
codename never leaves this computer, and the replies are decrypted here.
Replies go to standard output. Files you add lose their hidden metadata on
this computer before they are encrypted, as with pista submit, unless you
add --keep-metadata. Files the newsroom sent with a reply are
listed under it; with --out DIR they are decrypted here and saved in DIR
(which must exist), under their names made safe (no folders, no hidden
or control characters), never outside DIR and never over a file already
there: a name taken gets " (2)", " (3)"… before its extension. Opening a
file on a computer you use for other things can reveal you.

To hide that you are talking to the newsroom, go through Tor: add
--proxy socks5://127.0.0.1:9150 (Tor Browser; 9050 for the tor daemon),
or set ALL_PROXY.

Usage:
    pista follow --server URL [--out DIR] [--message-file FILE] [--file F]… [--keep-metadata] [--proxy URL]

Examples:
    $ pista follow --server https://tips.example.org
    codename: 4821 0937 5521 8804 1937 6650 2041
    --- reply 1, 2026-05-04 14:00 UTC ---
    Thank you. Can you tell us more?
    $ pista follow --server https://tips.example.org --message-file more.txt --file page2.pdf < codename.txt
    $ pista follow --server https://tips.example.org --out replies/ < codename.txt
    --- reply 2, 2026-05-05 09:00 UTC ---
    Here is the form we mentioned.
    file: form.pdf, 48.2 KiB, saved as replies/form.pdf
`

// maxReplyBytes bounds a reply as decrypted here: a reply is as long as a
// message at most.
const maxReplyBytes = 1 << 20

func runFollow(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "follow", followHelp)
	srv := fs.String("server", "", "the tip line's `URL`")
	msgFile := fs.String("message-file", "", "a `FILE` holding a message to add (UTF-8 text)")
	var files multi
	fs.Var(&files, "file", "a `FILE` to add; repeat for more")
	out := fs.String("out", "", "save the files sent with replies in this `DIR` (it must exist)")
	proxy := fs.String("proxy", "", "send everything through this proxy `URL`, e.g. socks5://127.0.0.1:9150 for Tor Browser (default: $ALL_PROXY)")
	keep := fs.Bool("keep-metadata", false, "send files with their hidden metadata as they are, instead of removing it here first (as pista submit)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server"); err != nil {
		return err
	}
	if *msgFile == "-" {
		return errors.New("--message-file -: standard input carries the codename; give a file")
	}
	sealed, err := readSealed(ctx, e, *msgFile, files, *keep)
	if err != nil {
		return err
	}
	var outDir *os.Root
	if *out != "" {
		if outDir, err = os.OpenRoot(*out); err != nil {
			return hint(fmt.Errorf("--out %s: %w", *out, err), "give a folder that exists")
		}
		defer outDir.Close()
	}
	c, err := apiclient.New(*srv, *proxy)
	if err != nil {
		return err
	}
	codename, err := readCodename(e)
	if err != nil {
		return err
	}
	desks, err := fetchDesks(ctx, c)
	if err != nil {
		return err
	}
	derived, err := deriveCodename(ctx, codename, desks.Codename)
	if err != nil {
		return err
	}
	slug, err := c.LoginSource(ctx, derived.Auth)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Code == "login_failed" {
			return hint(errors.New("that codename was not recognised"), "check it digit by digit; it is the one shown when you sent the tip, on this server")
		}
		return err
	}
	defer c.LogoutSource(context.WithoutCancel(ctx))

	replies, err := c.Replies(ctx)
	if err != nil {
		return err
	}
	n := 0
	for _, r := range replies {
		if r.Kind == pista.KindFile {
			if err := followFile(ctx, e, c, r, derived.Identity, outDir, *out); err != nil {
				return err
			}
			continue
		}
		text, err := c.Reply(ctx, r, derived.Identity, maxReplyBytes)
		if err != nil {
			return err
		}
		n++
		fmt.Fprintf(e.stdout, "--- reply %d, %s ---\n%s\n", n, r.Created.UTC().Format("2006-01-02 15:04 UTC"), printable(string(text)))
	}
	if len(replies) == 0 {
		fmt.Fprintln(e.stderr, "pista: no reply yet")
	}

	if sealed.Message == "" && len(sealed.Files) == 0 {
		return nil
	}
	d, err := findDesk(desks, slug)
	if err != nil {
		return err
	}
	seal, err := apiclient.SealingFor(d)
	if err != nil {
		return err
	}
	noForward(e, "follow-up", seal)
	if err := c.FollowUp(ctx, seal, sealed); err != nil {
		return sendError(err)
	}
	fmt.Fprintf(e.stderr, "pista: sent, encrypted on this computer to the %s desk.\n", apiclient.Printable(d.Title, 200))
	return nil
}

// readCodename reads the codename from the first line of standard input,
// prompting for it on a terminal.
func readCodename(e env) (keys.Codename, error) {
	if f, ok := e.stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprint(e.stderr, "codename: ")
		}
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 1024)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	c, err := keys.ParseCodename(strings.TrimSpace(line))
	if err != nil {
		return "", hint(errors.New("standard input holds no codename"), "type the 28 digits of your codename, or pipe them in: pista follow --server URL < codename.txt")
	}
	return c, nil
}

// printable replaces control characters but line breaks and tabs, so that
// a reply cannot drive the terminal: whoever holds the source's public
// key, the server included, can encrypt a "reply" to it.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || (r >= 0x20 && r != 0x7f && (r < 0x80 || r > 0x9f)) {
			return r
		}
		return '\uFFFD'
	}, s)
}
