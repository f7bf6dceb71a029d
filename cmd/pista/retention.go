package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/server"
)

const auditHelp = `
pista audit retention sets how many days the audit log keeps its entries
(0: for ever). Until it is set, entries are kept 365 days. A running
server deletes older entries within the hour, with expired conversations
(see pista desk retention). The change is itself in the audit log.

Usage:
    pista audit retention --data DIR --days N

Examples:
    $ pista audit retention --data ./pista-data --days 730
`

func runAudit(ctx context.Context, e env, args []string) error {
	return dispatch(ctx, e, args, auditHelp, subcommands["audit"])
}

// checkDays checks --days: given, and 0 to pista.MaxRetentionDays.
func checkDays(fs *flag.FlagSet, days int) error {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "days" })
	if !given {
		fmt.Fprintf(fs.Output(), "pista %s: --days is required\n", fs.Name())
		fs.Usage()
		return errUsage
	}
	if !pista.ValidRetention(days) {
		return hint(fmt.Errorf("%d is not a number of days from 0 to %d", days, pista.MaxRetentionDays), "0 keeps for ever")
	}
	return nil
}

func runAuditRetention(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "audit retention", auditHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	days := fs.Int("days", -1, "keep entries `N` days (0: for ever)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkDays(fs, *days); err != nil {
		return err
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Team.SetAuditRetention(ctx, *days); err != nil {
		return err
	}
	if err := st.Team.AddAudit(ctx, pista.AuditEntry{ActorName: "(command line)", Action: pista.AuditAuditRetention, Subject: strconv.Itoa(*days)}); err != nil {
		fmt.Fprintf(e.stderr, "pista: the audit log could not record it: %v\n", err)
	}
	if *days == 0 {
		fmt.Fprintln(e.stderr, "The audit log now keeps its entries for ever.")
	} else {
		fmt.Fprintf(e.stderr, "The audit log now keeps its entries %d days.\n", *days)
	}
	return nil
}

// runDeskRetention sets how long a desk keeps a conversation after its
// last activity.
func runDeskRetention(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "desk retention", deskHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	slug := fs.String("name", "", "the desk's `SLUG`")
	days := fs.Int("days", -1, "delete a conversation `N` days after its last message or reply (0: keep until deleted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name"); err != nil {
		return err
	}
	if err := checkDays(fs, *days); err != nil {
		return err
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Desks.DeskBySlug(ctx, *slug)
	if errors.Is(err, pista.ErrNotFound) {
		return hint(fmt.Errorf("no desk named %q", *slug), "add it first with pista desk add")
	} else if err != nil {
		return err
	}
	if err := st.Desks.SetRetention(ctx, d.ID, *days); err != nil {
		return err
	}
	if err := st.Team.AddAudit(ctx, pista.AuditEntry{ActorName: "(command line)", Action: pista.AuditRetention,
		DeskID: d.ID, DeskSlug: d.Slug, Subject: strconv.Itoa(*days)}); err != nil {
		fmt.Fprintf(e.stderr, "pista: the audit log could not record it: %v\n", err)
	}
	if *days == 0 {
		fmt.Fprintf(e.stderr, "Desk %s now keeps conversations until someone deletes them.\n", d.Slug)
	} else {
		fmt.Fprintf(e.stderr, "Desk %s now deletes a conversation %d days after its last message or reply (within the hour, on a running server).\n", d.Slug, *days)
	}
	return nil
}
