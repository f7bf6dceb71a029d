package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/apiclient"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
)

const submitHelp = `
pista submit sends a tip from the command line, as a source. Everything is
encrypted on this computer, to the desk's keys, before it leaves: the
server never sees the message, the files, their names or the contact.
It prints a new codename on standard output: write it down and keep it
secret. With it, pista follow reads the newsroom's replies and sends more;
nobody can recover it for you. The codename itself never leaves this
computer either: the keys derived from it do.

If the desk has a key of the day signed by the desk (its intake key),
the tip is encrypted to it: once the newsroom has filed the tip, that
key is destroyed, and old copies of what you sent open with no key. If
it has none, or its signature does not check, the tip is encrypted to
the desk's own key, and a line on stderr says it is sent without forward
secrecy.

Before a file is encrypted, its hidden metadata (a photo's GPS position
and camera, a document's author…) is removed on this computer, for the
formats pista knows (JPEG, PNG, WebP, HEIC, MP4/MOV, PDF, DOCX/XLSX/PPTX,
ODT/ODS/ODP); others, and files too complex to clean, are sent as they
are. A line on stderr says what was done to each. If those details are
part of what you want the newsroom to see, add --keep-metadata.

To hide that you are talking to the newsroom, go through Tor: start Tor
Browser (or the tor daemon) and add --proxy socks5://127.0.0.1:9150 (9050
for the daemon), or set ALL_PROXY. Use the newsroom's onion address if it
has one.

If the desk asks questions, answer them with --answer ID=VALUE, once per
question (repeat it for each choice of a question that takes several): a
choice by its id or its label, yes or no, a date as YYYY-MM-DD, and for a
file question the FILE to send. Required questions are checked here,
before anything is sent; a desk's questions and their ids are listed when
one is missing. The answers are encrypted like the message.

Usage:
    pista submit --server URL --desk SLUG --message-file FILE [--file F]… [--answer ID=VALUE]… [--contact TEXT] [--keep-metadata] [--proxy URL]

Examples:
    $ pista submit --server https://tips.example.org --desk americas --message-file tip.txt --file ledger.pdf
    4821 0937 5521 8804 1937 6650 2041
    $ pista submit --server https://tips.example.org --desk americas --message-file tip.txt --answer where=Tangier --answer seen=yes --answer doc=scan.pdf
    $ pista submit --server http://tips…onion --desk americas --message-file tip.txt --proxy socks5://127.0.0.1:9150
    $ pista submit --server https://tips.example.org --desk americas --file site.jpg --keep-metadata
`

func runSubmit(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "submit", submitHelp)
	srv := fs.String("server", "", "the tip line's `URL`")
	desk := fs.String("desk", "", "the `SLUG` of the desk to send to (a wrong one lists them)")
	msgFile := fs.String("message-file", "", "a `FILE` holding your message (UTF-8 text; - for standard input)")
	var files multi
	fs.Var(&files, "file", "a `FILE` to send; repeat for more")
	var answers answerFlag
	fs.Var(&answers, "answer", "answer the desk's question `ID=VALUE`; repeat for each question")
	contact := fs.String("contact", "", "how the newsroom may reach you, if you wish (`TEXT`; it stays in your shell's history)")
	proxy := fs.String("proxy", "", "send everything through this proxy `URL`, e.g. socks5://127.0.0.1:9150 for Tor Browser (default: $ALL_PROXY)")
	keep := fs.Bool("keep-metadata", false, "send files with their hidden metadata (GPS position, author, camera…) as they are, instead of removing it here first")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "server", "desk"); err != nil {
		return err
	}
	if *msgFile == "" && len(files) == 0 && len(answers) == 0 {
		fmt.Fprintf(e.stderr, "pista submit: give --message-file, --file, --answer or several\n")
		fs.Usage()
		return errUsage
	}
	if utf8.RuneCountInString(*contact) > httpx.MaxContactChars {
		return fmt.Errorf("--contact is too long: at most %d characters", httpx.MaxContactChars)
	}
	sealed, err := readSealed(ctx, e, *msgFile, files, *keep)
	if err != nil {
		return err
	}
	sealed.Contact = *contact

	c, err := apiclient.New(*srv, *proxy)
	if err != nil {
		return err
	}
	desks, err := fetchDesks(ctx, c)
	if err != nil {
		return err
	}
	d, err := findDesk(desks, *desk)
	if err != nil {
		return err
	}
	seal, err := apiclient.SealingFor(d)
	if err != nil {
		return err
	}
	if err := answerQuestions(d, answers, &sealed); err != nil {
		return err
	}
	codename := keys.NewCodename()
	derived, err := deriveCodename(ctx, codename, desks.Codename)
	if err != nil {
		return err
	}
	noForward(e, "tip", seal)
	if err := c.SubmitTip(ctx, d.Slug, derived, seal, sealed); err != nil {
		return sendError(err)
	}
	fmt.Fprintln(e.stdout, codename.String())
	fmt.Fprintf(e.stderr, `pista: your tip was encrypted on this computer and sent to the %s desk.
pista: your codename is the line of digits on standard output. Write it down and keep
pista: it secret: it is the only way to read the newsroom's replies and to send more,
pista: and nobody can recover it. To read replies later, run
pista:     pista follow --server %s
pista: and type the codename.
`, apiclient.Printable(d.Title, 200), c.Server)
	return nil
}

// noForward says, in one line, that what is sent goes without forward
// secrecy, and why.
func noForward(e env, what string, seal apiclient.Sealing) {
	if seal.IntakeKey == 0 {
		fmt.Fprintf(e.stderr, "pista: this %s is sent without forward secrecy: %s.\n", what, seal.NoForward)
	}
}

// fetchDesks fetches the desks and checks that this program can derive
// codenames as the server publishes (apiclient.CodenameKDF).
func fetchDesks(ctx context.Context, c *apiclient.Client) (api.DesksResponse, error) {
	desks, err := c.Desks(ctx)
	if err != nil {
		return desks, hint(err, "check the server's address, and the proxy if you use one")
	}
	if err := apiclient.CheckCodename(desks.Codename); err != nil {
		return desks, hint(err, "use the same version of pista as the server")
	}
	return desks, nil
}

// deriveCodename derives a codename's keys with the parameters the server
// published (checked by fetchDesks): each instance has its own.
func deriveCodename(ctx context.Context, c keys.Codename, p api.Codename) (keys.Derived, error) {
	k, err := apiclient.CodenameKDF(p)
	if err != nil {
		return keys.Derived{}, err
	}
	return keys.DeriveWith(ctx, c, p.Salt, k)
}

func findDesk(desks api.DesksResponse, slug string) (api.Desk, error) {
	var slugs []string
	for _, d := range desks.Desks {
		if d.Slug == slug {
			return d, nil
		}
		slugs = append(slugs, apiclient.Printable(d.Slug, 64))
	}
	if len(slugs) == 0 {
		return api.Desk{}, errors.New("the server has no desk yet")
	}
	if len(slugs) > 50 { // a server's list, shown on a terminal: keep it short
		slugs = append(slugs[:50], "…")
	}
	return api.Desk{}, hint(fmt.Errorf("no desk %q", slug), "the desks are "+strings.Join(slugs, ", "))
}

// readSealed reads the message and checks the files before anything is
// sent, so that a typo fails here and not halfway through an upload.
func readSealed(ctx context.Context, e env, msgFile string, files []string, keepMetadata bool) (apiclient.Sealed, error) {
	var s apiclient.Sealed
	if msgFile != "" {
		var r io.Reader = e.stdin
		if msgFile != "-" {
			f, err := os.Open(msgFile)
			if err != nil {
				return s, err
			}
			defer f.Close()
			r = f
		}
		b, err := io.ReadAll(io.LimitReader(r, httpx.MaxMessageBytes+1))
		if err != nil {
			return s, err
		}
		switch {
		case len(b) > httpx.MaxMessageBytes || utf8.RuneCount(b) > httpx.MaxMessageChars:
			return s, hint(fmt.Errorf("%s: a message may have at most %d characters", msgFile, httpx.MaxMessageChars), "send long texts as a --file")
		case !utf8.Valid(b):
			return s, hint(fmt.Errorf("%s is not UTF-8 text", msgFile), "send it as a --file")
		case strings.TrimSpace(string(b)) == "" && len(files) == 0:
			return s, fmt.Errorf("%s is empty", msgFile)
		}
		s.Message = string(b)
	}
	if len(files) > httpx.MaxFiles {
		return s, fmt.Errorf("at most %d files at a time", httpx.MaxFiles)
	}
	for _, name := range files {
		fi, err := os.Stat(name)
		if err != nil {
			return s, err
		}
		if !fi.Mode().IsRegular() {
			return s, fmt.Errorf("%s is not a file", name)
		}
		typ := mime.TypeByExtension(filepath.Ext(name))
		if typ == "" {
			typ = "application/octet-stream"
		}
		s.Files = append(s.Files, sourceFile(ctx, e, name, filepath.Base(name), typ, keepMetadata))
	}
	return s, nil
}

// sendError adds a hint to a refused submission.
func sendError(err error) error {
	var ae *apiclient.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case "too_large":
			return hint(err, "send fewer or smaller files at a time, then more with pista follow")
		case "malformed_item", "intake_key_expired":
			return hint(err, "the desk's keys may have just changed: try again")
		}
		return err
	}
	return hint(fmt.Errorf("sending failed: %w", err), "nothing was stored; check the connection and try again")
}
