package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pquerna/otp/totp"
)

const totpHelp = `
pista totp prints the current six-digit code of a TOTP secret, read from a
file holding its otpauth:// URI (as pista journalist add prints it). It is
for the demo and for scripts; keep real secrets in an authenticator app.

Usage:
    pista totp FILE

Examples:
    $ pista totp pista-demo/demo/totp-uri.txt
    492039
`

func runTOTP(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "totp", totpHelp)
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	u, err := url.Parse(strings.TrimSpace(string(b)))
	if err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") == "" {
		return hint(errors.New("the file does not hold an otpauth:// URI"), "use the URI that pista journalist add printed")
	}
	code, err := totp.GenerateCode(u.Query().Get("secret"), time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, code)
	return nil
}
