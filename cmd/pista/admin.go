package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

const journalistHelp = `
pista journalist add makes a journalist's account. The passphrase is
stretched here (Argon2id, then HKDF: see package keys) and the server
keeps only a hash of the authentication key it yields; the passphrase
itself is never stored. With --identity instead of --recipient, the
journalist's identity file is also stored, wrapped with a key only the
passphrase makes, so that they can read in the browser. A TOTP second
factor is always required: scan the printed otpauth:// URI into an
authenticator app (or turn it into a QR code).

pista journalist passphrase sets a new passphrase for an account (also for
accounts made before passphrases were stretched on the journalist's
device, which must be reset this way once); with --identity it also
stores the identity wrapped with the new passphrase. It ends every web
session and API token of the account, on a running server too, as
changing the passphrase in the settings page ends the other ones.

pista journalist notify sets where a journalist is told that their desks
have new tips (see pista serve --help for the digest interval and relay).

pista journalist suspend ends every access of an account at once: its
web sessions and API tokens are refused from their next request, on a
running server too (each request reads the account from the database),
and it cannot log in. pista journalist unsuspend lets it log in again;
the sessions and tokens of before stay ended. Both are recorded in the
audit log. A suspended account stays a member of its desks: remove it
from a desk (rotating the desk key) in the desk's page.

Usage:
    pista journalist add --data DIR --name NAME (--recipient AGE1PQ… | --identity FILE) --password-file FILE [--admin]
    pista journalist passphrase --data DIR --name NAME --password-file FILE [--identity FILE]
    pista journalist notify --data DIR --name NAME [--email ADDRESS] [--webhook URL]
    pista journalist suspend --data DIR --name NAME
    pista journalist unsuspend --data DIR --name NAME

Examples:
    $ pista keygen -o alice.key          (on Alice's computer)
    age1pq1…
    $ pista journalist add --data ./pista-data --name alice --recipient age1pq1… --password-file alice.pass
    otpauth://totp/pista:alice?…
    $ pista journalist add --data ./pista-data --name bob --identity bob.key --password-file bob.pass --admin
    otpauth://totp/pista:bob?…
    $ pista journalist passphrase --data ./pista-data --name alice --password-file alice-new.pass --identity alice.key
    $ pista journalist suspend --data ./pista-data --name bob       (works beside a running pista serve)
    Suspended bob: every session and API token of the account has ended.
    $ pista journalist unsuspend --data ./pista-data --name bob
`

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// dispatch runs the subcommand that args name, or prints help.
func dispatch(ctx context.Context, e env, args []string, help string, subs map[string]command) error {
	if len(args) > 0 {
		if c, ok := subs[args[0]]; ok {
			return c(ctx, e, args[1:])
		}
	}
	fmt.Fprint(e.stderr, strings.TrimLeft(help, "\n"))
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		return nil
	}
	return errUsage
}

// subcommands are the commands that take a subcommand, and theirs; a
// test checks that pista --help and the README name only these.
var subcommands = map[string]map[string]command{
	"journalist": {
		"add": runJournalistAdd, "passphrase": runJournalistPassphrase, "notify": runJournalistNotify,
		"suspend": runJournalistSuspend(true), "unsuspend": runJournalistSuspend(false),
	},
	"desk":     {"add": runDeskAdd, "text": runDeskText, "retention": runDeskRetention, "questions": runDeskQuestions},
	"newsroom": {"text": runNewsroomText},
	"audit":    {"retention": runAuditRetention},
}

func runJournalist(ctx context.Context, e env, args []string) error {
	return dispatch(ctx, e, args, journalistHelp, subcommands["journalist"])
}

// readPassphrase reads a new passphrase from the first line of a file.
func readPassphrase(path string) (string, error) {
	pw, err := readSecretFile(path)
	if err != nil {
		return "", err
	}
	if len(pw) < keys.MinPassphraseLen || len(pw) > keys.MaxPassphraseLen {
		return "", hint(fmt.Errorf("%s: a passphrase needs %d to %d characters", path, keys.MinPassphraseLen, keys.MaxPassphraseLen), "a few random words make a good one")
	}
	return pw, nil
}

// readIdentity reads a hybrid age identity file (pista keygen's).
func readIdentity(path string) (*age.HybridIdentity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, hint(fmt.Errorf("%s: %w", path, err), "use the file pista keygen wrote")
	}
	for _, id := range ids {
		if h, ok := id.(*age.HybridIdentity); ok {
			return h, nil
		}
	}
	return nil, hint(fmt.Errorf("%s holds no post-quantum identity", path), "its key must start with AGE-SECRET-KEY-PQ-1; make one with pista keygen")
}

func runJournalistAdd(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "journalist add", journalistHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	name := fs.String("name", "", "the account's user `NAME` (lowercase letters, digits, . _ -)")
	recipient := fs.String("recipient", "", "the journalist's public key, `AGE1PQ…`, from pista keygen")
	idFile := fs.String("identity", "", "instead of --recipient: the journalist's identity `FILE`, stored wrapped with the passphrase so the browser can use it")
	pwFile := fs.String("password-file", "", "a `FILE` whose first line is the passphrase (at least 12 characters)")
	admin := fs.Bool("admin", false, "make the account an instance admin (accounts, desks; reads nothing by being admin)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name", "password-file"); err != nil {
		return err
	}
	if (*recipient == "") == (*idFile == "") {
		fmt.Fprintln(e.stderr, "pista journalist add: give either --recipient or --identity")
		fs.Usage()
		return errUsage
	}
	if !nameRE.MatchString(*name) {
		return hint(fmt.Errorf("%q is not a valid user name", *name), "use 1 to 64 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit")
	}
	var id *age.HybridIdentity
	if *idFile != "" {
		var err error
		if id, err = readIdentity(*idFile); err != nil {
			return err
		}
		*recipient = id.Recipient().String()
	} else if _, err := age.ParseHybridRecipient(*recipient); err != nil {
		return hint(errors.New("--recipient is not a post-quantum age public key"), "it starts with age1pq1; make one with pista keygen")
	}
	pw, err := readPassphrase(*pwFile)
	if err != nil {
		return err
	}
	auth, err := keys.NewJournalistAuth(ctx, pw, id)
	if err != nil {
		return err
	}
	secret, uri, err := keys.NewTOTP("pista", *name)
	if err != nil {
		return err
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	j := &pista.Journalist{Name: *name, Recipient: *recipient, TOTPSecret: secret, Auth: auth, Admin: *admin}
	if err := st.Journalists.CreateJournalist(ctx, j); errors.Is(err, pista.ErrExists) {
		return hint(fmt.Errorf("a journalist named %q already exists", *name), "choose another name")
	} else if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, uri)
	fmt.Fprintf(e.stderr, "Added %s. Add the TOTP URI above to their authenticator app; it is not shown again.\n", *name)
	return nil
}

func runJournalistPassphrase(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "journalist passphrase", journalistHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	name := fs.String("name", "", "the account's user `NAME`")
	idFile := fs.String("identity", "", "the journalist's identity `FILE`, to store wrapped with the new passphrase")
	pwFile := fs.String("password-file", "", "a `FILE` whose first line is the new passphrase (at least 12 characters)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name", "password-file"); err != nil {
		return err
	}
	pw, err := readPassphrase(*pwFile)
	if err != nil {
		return err
	}
	var id *age.HybridIdentity
	if *idFile != "" {
		if id, err = readIdentity(*idFile); err != nil {
			return err
		}
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	j, err := journalistNamed(ctx, st, *name)
	if err != nil {
		return err
	}
	if id != nil && id.Recipient().String() != j.Recipient {
		return hint(fmt.Errorf("%s is not %s's identity", *idFile, *name), "its public key differs from the account's")
	}
	auth, err := keys.NewJournalistAuth(ctx, pw, id)
	if err != nil {
		return err
	}
	if err := st.Journalists.SetAuth(ctx, j.ID, auth); err != nil {
		return err
	}
	if id == nil && len(j.Auth.WrappedIdentity) > 0 {
		fmt.Fprintf(e.stderr, "Set %s's passphrase. The identity stored for the browser was wrapped with the old passphrase and is gone: give --identity to store it again.\n", *name)
		return nil
	}
	fmt.Fprintf(e.stderr, "Set %s's passphrase.\n", *name)
	return nil
}

// runJournalistSuspend suspends an account (or lifts it): the stores
// change the account's session epoch, which a running server compares on
// every request.
func runJournalistSuspend(suspend bool) command {
	verb := map[bool]string{true: "suspend", false: "unsuspend"}[suspend]
	return func(ctx context.Context, e env, args []string) error {
		fs := newFlags(e, "journalist "+verb, journalistHelp)
		data := fs.String("data", "./pista-data", "the server's data `DIR`")
		name := fs.String("name", "", "the account's user `NAME`")
		if err := parse(fs, args); err != nil {
			return err
		}
		if err := required(fs, "name"); err != nil {
			return err
		}
		st, err := server.OpenStores(ctx, *data)
		if err != nil {
			return err
		}
		defer st.Close()
		j, err := journalistNamed(ctx, st, *name)
		if err != nil {
			return err
		}
		if j.Suspended == suspend {
			fmt.Fprintf(e.stderr, "%s is already %sed.\n", *name, verb)
			return nil
		}
		if err := st.Journalists.SetSuspended(ctx, j.ID, suspend); err != nil {
			return err
		}
		subject := j.Name
		if !suspend {
			subject += " (lifted)"
		}
		if err := st.Team.AddAudit(ctx, pista.AuditEntry{ActorName: "(command line)", Action: pista.AuditSuspend, Subject: subject}); err != nil {
			fmt.Fprintf(e.stderr, "pista: the audit log could not record it: %v\n", err)
		}
		if suspend {
			fmt.Fprintf(e.stderr, "Suspended %s: every session and API token of the account has ended.\n", *name)
		} else {
			fmt.Fprintf(e.stderr, "Lifted the suspension of %s: they can log in again.\n", *name)
		}
		return nil
	}
}

const deskHelp = `
pista desk add makes a desk: it makes the desk's key, wraps it to each
member's public key, stores only the wrapped copies and forgets the key.
The server can never read the desk's tips.

Coordinators (--coordinator) are members who also invite, approve and
remove the desk's members in the web inbox; a desk needs one for that.

With --alias, mail to ALIAS@DOMAIN also reaches the desk when the server
takes tips by e-mail (pista serve --smtp-listen … --mail-domain DOMAIN);
mail to SLUG@DOMAIN always does.

pista desk text gives a desk its title and description in another
language of the source pages.

pista desk retention sets how many days the desk keeps a conversation
after its last message or reply (0, the default: until someone deletes
it). A running server deletes expired conversations within the hour,
rows and encrypted files; held conversations are kept. Coordinators can
also set it on the desk's page.

pista desk questions sets the questions the desk asks its sources, from
a JSON file (see pista desk questions --help for its format).

Usage:
    pista desk add --data DIR --name SLUG --title TITLE --member NAME [--member NAME…] [--coordinator NAME…] [--alias NAME…]
    pista desk text --data DIR --name SLUG --lang LANG --title TITLE [--description TEXT]
    pista desk retention --data DIR --name SLUG --days N
    pista desk questions --data DIR --name SLUG (--file FILE | --show)

Examples:
    $ pista desk add --data ./pista-data --name americas --title "Americas" --coordinator alice --member bob
    $ pista desk add --data ./pista-data --name maghreb --title "Maghreb" --member karim,leila --alias afrique-du-nord
    $ pista desk text --data ./pista-data --name maghreb --lang ar --title "المغرب العربي"
    $ pista desk retention --data ./pista-data --name americas --days 180
    $ pista desk questions --data ./pista-data --name americas --file questions.json
`

var slugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func runDesk(ctx context.Context, e env, args []string) error {
	return dispatch(ctx, e, args, deskHelp, subcommands["desk"])
}

func runDeskAdd(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "desk add", deskHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	slug := fs.String("name", "", "the desk's short `SLUG` (lowercase letters, digits, dashes), used in forms and addresses")
	title := fs.String("title", "", "the desk's `TITLE`, shown to sources")
	desc := fs.String("description", "", "a sentence shown to sources under the title")
	var members, coordinators, aliases multi
	fs.Var(&members, "member", "a journalist `NAME` (repeat, or separate with commas)")
	fs.Var(&coordinators, "coordinator", "a member `NAME` who also manages the desk's members (repeatable)")
	fs.Var(&aliases, "alias", "another mail address `NAME` for the desk (repeatable)")
	// "--member alice bob": names after the flags are members too.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	for _, a := range fs.Args() {
		members.Set(a)
	}
	if err := required(fs, "name", "title"); err != nil {
		return err
	}
	isCoordinator := map[string]bool{}
	for _, c := range coordinators {
		isCoordinator[c] = true
	}
	members = append(coordinators, members...)
	if len(members) == 0 {
		fmt.Fprintln(e.stderr, "pista desk add: at least one --member or --coordinator is required")
		fs.Usage()
		return errUsage
	}
	if !slugRE.MatchString(*slug) {
		return hint(fmt.Errorf("%q is not a valid desk name", *slug), "use 1 to 32 lowercase letters, digits or dashes, e.g. americas")
	}
	for _, a := range aliases {
		if !slugRE.MatchString(a) {
			return hint(fmt.Errorf("%q is not a valid alias", a), "use 1 to 32 lowercase letters, digits or dashes")
		}
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return err
	}
	var wraps []pista.KeyWrap
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m] {
			continue
		}
		seen[m] = true
		j, err := journalistNamed(ctx, st, m)
		if err != nil {
			return err
		}
		w, err := keys.Wrap(id, j.Recipient)
		if err != nil {
			return err
		}
		role := pista.RoleJournalist
		if isCoordinator[m] {
			role = pista.RoleCoordinator
		}
		wraps = append(wraps, pista.KeyWrap{JournalistID: j.ID, Wrapped: w, Role: role})
	}
	d := &pista.Desk{Slug: *slug, Title: *title, Description: *desc, Recipient: id.Recipient().String()}
	if err := st.Desks.CreateDesk(ctx, d, wraps); errors.Is(err, pista.ErrExists) {
		return hint(fmt.Errorf("a desk named %q already exists", *slug), "choose another name")
	} else if err != nil {
		return err
	}
	for _, a := range aliases {
		if err := st.Desks.AddAlias(ctx, d.ID, a); errors.Is(err, pista.ErrExists) {
			return hint(fmt.Errorf("the alias %q is already a desk's name or alias", a), "the desk was added; choose another alias")
		} else if err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "Added desk %s with %d member(s). Its key exists only wrapped to them.\n", *slug, len(wraps))
	fmt.Fprintln(e.stdout, d.Recipient)
	return nil
}

func runJournalistNotify(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "journalist notify", journalistHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	name := fs.String("name", "", "the journalist's user `NAME`")
	email := fs.String("email", "", "send digests to this e-mail `ADDRESS` (\"\" to stop)")
	webhook := fs.String("webhook", "", "POST digests to this `URL` (\"\" to stop)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name"); err != nil {
		return err
	}
	if *email != "" {
		a, err := mail.ParseAddress(*email)
		if err != nil || a.Name != "" {
			return hint(fmt.Errorf("%q is not an e-mail address", *email), "write it as name@example.org")
		}
	}
	if *webhook != "" {
		u, err := url.Parse(*webhook)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return hint(fmt.Errorf("%q is not a web address", *webhook), "write it as https://chat.example.org/hooks/…")
		}
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	j, err := journalistNamed(ctx, st, *name)
	if err != nil {
		return err
	}
	if err := st.Journalists.SetNotify(ctx, j.ID, *email, *webhook); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "Notifications for %s: e-mail %q, webhook %q.\n", *name, *email, *webhook)
	return nil
}

func runDeskText(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "desk text", deskHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	slug := fs.String("name", "", "the desk's `SLUG`")
	lang := fs.String("lang", "", "the `LANG`uage: "+strings.Join(i18n.Tags(), ", "))
	title := fs.String("title", "", "the desk's `TITLE` in that language")
	desc := fs.String("description", "", "a sentence shown to sources under the title")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "name", "lang", "title"); err != nil {
		return err
	}
	if err := checkLang(*lang); err != nil {
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
	return st.Desks.SetDeskText(ctx, d.ID, pista.DeskText{Lang: *lang, Title: *title, Description: *desc})
}

const newsroomHelp = `
pista newsroom text sets the newsroom's own name and a paragraph for the
landing page in one language of the source pages (the default name is
pista serve --newsroom).

Usage:
    pista newsroom text --data DIR --lang LANG [--name NAME] [--intro TEXT]

Examples:
    $ pista newsroom text --data ./pista-data --lang es --name "El Diario" --intro "Cuéntenos lo que sabe."
`

func runNewsroom(ctx context.Context, e env, args []string) error {
	return dispatch(ctx, e, args, newsroomHelp, subcommands["newsroom"])
}

func runNewsroomText(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "newsroom text", newsroomHelp)
	data := fs.String("data", "./pista-data", "the server's data `DIR`")
	lang := fs.String("lang", "", "the `LANG`uage: "+strings.Join(i18n.Tags(), ", "))
	name := fs.String("name", "", "the newsroom's `NAME` in that language")
	intro := fs.String("intro", "", "a paragraph for the top of the landing page (`TEXT`)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "lang"); err != nil {
		return err
	}
	if err := checkLang(*lang); err != nil {
		return err
	}
	st, err := server.OpenStores(ctx, *data)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Settings.SetNewsroomText(ctx, pista.NewsroomText{Lang: *lang, Name: *name, Intro: *intro})
}

// journalistNamed finds an account, or says how to make it.
func journalistNamed(ctx context.Context, st *server.Stores, name string) (pista.Journalist, error) {
	j, err := st.Journalists.JournalistByName(ctx, name)
	if errors.Is(err, pista.ErrNotFound) {
		return j, hint(fmt.Errorf("no journalist named %q", name), "add them first with pista journalist add")
	}
	return j, err
}

// checkLang refuses a language the pages do not have.
func checkLang(lang string) error {
	if _, ok := i18n.Get(lang); !ok {
		return hint(fmt.Errorf("no language %q", lang), "the languages are "+strings.Join(i18n.Tags(), ", "))
	}
	return nil
}
