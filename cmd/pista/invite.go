package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/newsroom"
	"github.com/pista-tips/pista/server"
)

const inviteHelp = `
pista invite makes a one-time link to make a newsroom account, and prints
it. Whoever opens it chooses a name and a passphrase; their browser makes
their key, so no identity file is needed. An admin invitation makes an
instance admin (accounts, desks; reads nothing); a desk invitation makes a
pending member of the desk, whom a coordinator of the desk approves in the
browser. The link works once, for seven days; the server keeps only a hash
of it, so send it through a safe channel and do not lose it.

Usage:
    pista invite --data DIR --url BASE --admin
    pista invite --data DIR --url BASE --desk SLUG [--role journalist|coordinator]

Examples:
    $ pista invite --data ./pista-data --url https://tips.example.org --admin
    https://tips.example.org/newsroom/invite/…
    $ pista invite --data ./pista-data --url https://tips.example.org --desk americas --role coordinator
`

func runInvite(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "invite", inviteHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	base := fs.String("url", "", "the newsroom's address as journalists reach it, `BASE` (https://…)")
	slug := fs.String("desk", "", "the desk's `SLUG`, for a desk invitation")
	role := fs.String("role", "journalist", "the `ROLE` on the desk: journalist or coordinator")
	admin := fs.Bool("admin", false, "invite an instance admin (on no desk)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "url"); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return hint(fmt.Errorf("%q is not the newsroom's address", *base), "give scheme and host, like https://tips.example.org")
	}
	if *admin == (*slug != "") {
		return hint(errors.New("choose --admin or --desk"), "an invitation is either for an instance admin or for one desk")
	}
	inv := pista.Invitation{Admin: *admin, Role: pista.Role(*role)}
	if !inv.Role.Valid() {
		return hint(fmt.Errorf("%q is not a role", *role), "use journalist or coordinator")
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if *slug != "" {
		d, err := st.Desks.DeskBySlug(ctx, *slug)
		if errors.Is(err, pista.ErrNotFound) {
			return hint(fmt.Errorf("no desk named %q", *slug), "an admin makes desks on the newsroom's admin page, or with pista desk add")
		} else if err != nil {
			return err
		}
		inv.DeskID = d.ID
	} else {
		inv.Role = pista.RoleJournalist
	}
	token, err := newsroom.NewInvitation(ctx, st.Team, &inv)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, strings.TrimSuffix(u.Scheme+"://"+u.Host, "/")+newsroom.InvitePath+token)
	return nil
}
