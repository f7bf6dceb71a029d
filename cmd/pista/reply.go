package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/pulled"
)

const replyHelp = `
pista reply answers a source from the command line. It logs in as pista
pull does, asks the server for the keys of the conversation (the
source's, the desk's and the newsroom's archive keys), encrypts the
reply on this computer to all of them and sends only the encrypted file:
the server never sees the text. The source reads it on the tip line's
page with their codename, or with pista follow; the desk reads it in the
inbox or with pista pull and pista open.

Files go with the reply with --file (repeat it for more): each is
encrypted here too, to the same keys, padded as a source's files are,
its name and size inside the encryption. The source downloads them from
their page, or saves them with pista follow --out DIR.

The conversation is named by its ID: the name of its folder in a pulled
folder (pista pull), or the last part of its address in the web inbox
(/newsroom/c/ID).

Usage:
    pista reply --server URL --user NAME --password-file FILE --totp CODE --conversation ID --message-file FILE [--file F]… [--device-file FILE]

Examples:
    $ pista reply --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 \
        --conversation 7f3kq2m5xw4hbc6d --message-file answer.txt
    sent a reply to conversation 7f3kq2m5xw4hbc6d of desk americas: 214 bytes, encrypted here to 3 keys (the source's, the desk's, the archive's) into 5180 bytes
    $ pista reply --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 \
        --conversation 7f3kq2m5xw4hbc6d --message-file - < answer.txt
    $ pista reply --server https://tips.example.org --user alice --password-file alice.pass --totp 492039 \
        --conversation 7f3kq2m5xw4hbc6d --message-file answer.txt --file questions.pdf --file map.png
`

func runReply(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "reply", replyHelp)
	srv := fs.String("server", "", "the tip line's `URL`")
	user := fs.String("user", "", "your user `NAME`")
	pwFile := fs.String("password-file", "", "a `FILE` whose first line is your password")
	code := fs.String("totp", "", "the current six-digit `CODE` of your authenticator app")
	conv := fs.String("conversation", "", "the conversation's `ID` (its folder's name in a pulled folder)")
	msgFile := fs.String("message-file", "", "a `FILE` holding the reply (UTF-8 text; - for standard input)")
	var files multi
	fs.Var(&files, "file", "a `FILE` to send with the reply, encrypted here; repeat for more")
	deviceFile := fs.String("device-file", "", "the `FILE` keeping this computer's device token (default: the password file's name + .device)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "user", "password-file", "totp", "conversation", "message-file"); err != nil {
		return err
	}
	if !pulled.ValidConversation(*conv) {
		return hint(fmt.Errorf("--conversation %q is not a conversation ID", apiclient.Printable(*conv, 80)),
			"give the name of the conversation's folder in a pulled folder, or the end of its address in the inbox")
	}
	text, err := readReply(e, *msgFile)
	if err != nil {
		return err
	}
	// The newsroom's own files go as they are: scrubbing is for sources.
	attached, err := readSealed(ctx, e, "", files, true)
	if err != nil {
		return err
	}
	var sizes []int64
	for _, name := range files {
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		sizes = append(sizes, fi.Size())
	}
	c, err := journalistLogin(ctx, e, *srv, *user, *pwFile, *code, *deviceFile)
	if err != nil {
		return err
	}
	defer c.Logout(context.WithoutCancel(ctx))
	to, err := c.Recipients(ctx, *conv)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Code == "not_found" {
			return hint(fmt.Errorf("no conversation %s among your desks'", *conv), "check the ID: pista pull names each conversation's folder by it")
		}
		return err
	}
	if err := pulled.CheckReplyFiles(to, sizes); err != nil {
		return hint(err, "send fewer or smaller files, or send them in several replies")
	}
	size, err := c.ReplyWithFiles(ctx, to, text, attached.Files)
	if err != nil {
		var ae *apiclient.Error
		if errors.As(err, &ae) && ae.Code == "malformed" {
			return hint(fmt.Errorf("the reply was refused: %w", err), "the desk's key may have just changed: try again")
		}
		return hint(fmt.Errorf("sending the reply failed: %w", err), "nothing was sent in the clear; check the connection and try again")
	}
	withFiles := ""
	if len(files) > 0 {
		withFiles = fmt.Sprintf(" and %d file(s)", len(files))
	}
	fmt.Fprintf(e.stdout, "sent a reply%s to conversation %s of desk %s: %d bytes, encrypted here to %d keys (the source's, the desk's, the archive's) into %d bytes\n",
		withFiles, to.Conversation, apiclient.Printable(to.Desk, 64), len(text), len(to.To), size)
	return nil
}

// readReply reads a reply's text: UTF-8, not blank, at most a message's
// length.
func readReply(e env, name string) (string, error) {
	var r io.Reader = e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, httpx.MaxMessageBytes+1))
	if err != nil {
		return "", err
	}
	switch {
	case len(b) > httpx.MaxMessageBytes || utf8.RuneCount(b) > httpx.MaxMessageChars:
		return "", fmt.Errorf("%s: a reply may have at most %d characters", name, httpx.MaxMessageChars)
	case !utf8.Valid(b):
		return "", fmt.Errorf("%s is not UTF-8 text", name)
	case strings.TrimSpace(string(b)) == "":
		return "", fmt.Errorf("%s is empty", name)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}
