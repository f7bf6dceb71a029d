// Command pista is a secure tip line for newsrooms: one binary that runs
// the server and the journalists' tools.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

const usage = `pista is a secure tip line for newsrooms.

Usage:
    pista serve [--data DIR] [--listen ADDR]      run the tip line
    pista demo [--data DIR] [--listen ADDR]       run it with a ready demo desk and journalist
    pista keygen [-o FILE]                        make a journalist's key
    pista journalist add --data DIR --name NAME --recipient AGE1PQ… --password-file FILE
    pista journalist passphrase --data DIR --name NAME --password-file FILE [--identity FILE]   set a new passphrase
    pista journalist suspend --data DIR --name NAME                    end every session and API token of an account
    pista journalist unsuspend --data DIR --name NAME                  restore it
    pista invite --data DIR --url BASE (--admin | --desk SLUG)         print a one-time link that makes an account in the browser
    pista desk add --data DIR --name SLUG --title TITLE --member NAME…
    pista desk text --data DIR --name SLUG --lang LANG --title TITLE   a desk's title in another language
    pista newsroom text --data DIR --lang LANG --name NAME             the newsroom's name in another language
    pista desk retention --data DIR --name SLUG --days N               delete a desk's conversations N days after their last activity
    pista desk questions --data DIR --name SLUG --file FILE            the questions a desk asks its sources (JSON; --show prints them)
    pista audit retention --data DIR --days N                          keep the audit log N days (default 365)
    pista journalist notify --data DIR --name NAME --email ADDRESS     tell a journalist of new tips
    pista pull --server URL --user NAME --password-file FILE --totp CODE --out DIR
    pista open --identity FILE --in DIR --out DIR
    pista sort --server URL --user NAME --password-file FILE --totp CODE --identity FILE   make intake keys, move tips under their conversation's key
    pista reply --server URL --user NAME --password-file FILE --totp CODE --conversation ID --message-file FILE   answer a source, encrypted here
    pista totp FILE                               print the current code of an otpauth:// URI
    pista submit --server URL --desk SLUG --message-file FILE [--file F]…   send a tip, encrypted here
    pista follow --server URL [--message-file FILE] [--file F]…   codename on stdin: read replies, send more
    pista bench [--size SIZE] [--runs N]          measure uploads: throughput against a baseline, peak memory
    pista migrate --data DIR --to-database URL --to-objects URL   move a stopped instance to PostgreSQL and S3
    pista backup --data DIR --out FILE --recipient AGE1… [--since FILE.catalog]   online encrypted backup
    pista restore --in FILE --identity KEY --data DIR                  restore a backup into a new data folder

Run "pista COMMAND --help" for a command's flags and examples.

Getting started:
    $ pista demo
    (then open http://127.0.0.1:8080/ to send a tip, and follow what it prints)
`

// env is what a command runs with, so tests can run commands in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command func(ctx context.Context, e env, args []string) error

var commands = map[string]command{
	"serve":      runServe,
	"demo":       runDemo,
	"keygen":     runKeygen,
	"journalist": runJournalist,
	"desk":       runDesk,
	"audit":      runAudit,
	"newsroom":   runNewsroom,
	"pull":       runPull,
	"open":       runOpen,
	"sort":       runSort,
	"reply":      runReply,
	"totp":       runTOTP,
	"submit":     runSubmit,
	"follow":     runFollow,
	"bench":      runBench,
	"invite":     runInvite,
	"migrate":    runMigrate,
}

// errUsage marks an error whose message is the whole story; flag has
// already printed the usage.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, env{os.Stdin, os.Stdout, os.Stderr}, os.Args[1:]))
}

// run runs a command line and returns the exit code.
func run(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		var names []string
		for n := range commands {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(e.stderr, "pista: unknown command %q\npista: hint: the commands are %s; see pista --help\n", args[0], strings.Join(names, ", "))
		return 2
	}
	err := cmd(ctx, e, args[1:])
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		msg := err.Error()
		fmt.Fprintf(e.stderr, "pista: %s\n", strings.ReplaceAll(msg, "\n", "\npista: "))
		return 1
	}
}

// hint is an error with a suggestion of what to do, printed on its own line.
func hint(err error, h string) error { return fmt.Errorf("%w\nhint: %s", err, h) }

// newFlags makes a flag set whose usage text is the command's help.
func newFlags(e env, name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "%s\nFlags:\n", strings.TrimSpace(help))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags, turning a parse error into errUsage (flag printed
// it) and refusing stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "pista %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// required checks that the named string flags were given.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			fmt.Fprintf(fs.Output(), "pista %s: --%s is required\n", fs.Name(), n)
			fs.Usage()
			return errUsage
		}
	}
	return nil
}

// multi is a flag that may be given several times.
type multi []string

func (m *multi) String() string { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*m = append(*m, v)
		}
	}
	return nil
}

// readSecretFile reads a password from the first line of a file.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("%s: the first line is empty", path)
	}
	return line, nil
}
