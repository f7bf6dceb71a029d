package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"filippo.io/age"
)

const keygenHelp = `
pista keygen makes a journalist's key: an age post-quantum identity. Run it
on the journalist's own computer; give only the public key (age1pq1…) to
the server's administrator. The identity file never goes to the server.

Usage:
    pista keygen [-o FILE]

Examples:
    $ pista keygen -o alice.key
    age1pq1…
`

func runKeygen(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "keygen", keygenHelp)
	out := fs.String("o", "", "write the identity to `FILE` (mode 0600) instead of standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return err
	}
	pub := id.Recipient().String()
	body := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", time.Now().UTC().Format(time.RFC3339), pub, id)
	if *out == "" {
		fmt.Fprint(e.stdout, body)
		fmt.Fprintf(e.stderr, "Public key: %s\n", pub)
		return nil
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if os.IsExist(err) {
		return hint(fmt.Errorf("%s already exists", *out), "choose another file name; pista keygen never overwrites a key")
	} else if err != nil {
		return err
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, pub)
	return nil
}
