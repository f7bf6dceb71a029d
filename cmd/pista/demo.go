package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

const demoHelp = `
pista demo runs the tip line with a demo desk and a demo journalist, so
you can try the whole journey at once: send a tip at /, then read it as a
journalist. The demo journalist's key, password and TOTP secret are
written to DIR/demo/, which a real journalist would never leave on a server.

Usage:
    pista demo [--data DIR] [--listen ADDR]

Examples:
    $ pista demo
    $ pista demo --data /tmp/pista-demo --listen 127.0.0.1:9090
`

func runDemo(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "demo", demoHelp)
	var f serveFlags
	addServeFlags(fs, &f, "./pista-demo")
	if err := parse(fs, args); err != nil {
		return err
	}
	if f.database != "" {
		return errors.New("pista demo runs on SQLite in its --data folder: --database is for pista serve")
	}
	if f.newsroom == "pista" {
		f.newsroom = "pista demo newsroom"
	}
	dir := filepath.Join(f.data, "demo")
	if err := setUpDemo(ctx, f.data, dir); err != nil {
		return err
	}
	return serve(ctx, e, f, func(addr string) {
		fmt.Fprintf(e.stderr, `
Demo desk "demo" and journalist "demo" are ready. Their files are in %[1]s:
  identity (the journalist's private key): %[2]s
  password:                                %[3]s
  TOTP secret:                             %[4]s
Try it:
  1. Send a tip at http://%[5]s/
  2. Sign in at http://%[5]s/newsroom/ as "demo", with the password above and
     the code from: %[6]s totp %[4]s
  3. Or pull and decrypt everything on the command line:
       %[6]s pull --server http://%[5]s --user demo --password-file %[3]s --totp $(%[6]s totp %[4]s) --out ~/pista-pulled
       %[6]s open --identity %[2]s --in ~/pista-pulled --out ~/pista-opened
`, dir, filepath.Join(dir, "journalist.key"), filepath.Join(dir, "password.txt"), filepath.Join(dir, "totp-uri.txt"), addr, selfCommand())
	})
}

// setUpDemo makes the demo journalist and desk once; later runs reuse them.
func setUpDemo(ctx context.Context, data, dir string) error {
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Journalists.JournalistByName(ctx, "demo"); err == nil {
		return nil
	} else if !errors.Is(err, pista.ErrNotFound) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return err
	}
	var pw [15]byte
	rand.Read(pw[:])
	password := base32.StdEncoding.EncodeToString(pw[:])
	auth, err := keys.NewJournalistAuth(ctx, password, id)
	if err != nil {
		return err
	}
	secret, uri, err := keys.NewTOTP("pista demo", "demo")
	if err != nil {
		return err
	}
	files := map[string]string{
		"journalist.key": fmt.Sprintf("# demo journalist's identity; public key: %s\n%s\n", id.Recipient(), id),
		"password.txt":   password + "\n",
		"totp-uri.txt":   uri + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	// The demo journalist is an admin and the demo desk's coordinator, so
	// that every page of the inbox can be tried.
	j := &pista.Journalist{Name: "demo", Recipient: id.Recipient().String(), TOTPSecret: secret, Auth: auth, Admin: true}
	if err := st.Journalists.CreateJournalist(ctx, j); err != nil {
		return err
	}
	desk, err := age.GenerateHybridIdentity()
	if err != nil {
		return err
	}
	w, err := keys.Wrap(desk, j.Recipient)
	if err != nil {
		return err
	}
	return st.Desks.CreateDesk(ctx, &pista.Desk{
		Slug: "demo", Title: "Demo desk", Description: "Tips sent here go to the demo journalist.",
		Recipient: desk.Recipient().String(),
	}, []pista.KeyWrap{{JournalistID: j.ID, Wrapped: w, Role: pista.RoleCoordinator}})
}
