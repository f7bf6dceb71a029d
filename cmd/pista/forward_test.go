package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// The acceptance test of forward secrecy (issue 16): a test-controlled
// clock (--intake-day), tips through the form without JavaScript, pista
// submit and SMTP, and copies of every stored object at three moments:
// before sorting (A), after the intake keys expired (B), after some
// conversations were deleted (C). A checker tries every object of every
// copy with every key that exists at the end (the final database's desk
// keys, intake keys and conversation keys, every member's identity and
// passphrase): intake copies open with none; items of deleted
// conversations open with none; items of live conversations open. The
// same checker on A with the keys of A opens everything, so it can fail.
// And a desk whose members never ran a sorter has no intake key: what it
// receives is stored "received without forward secrecy", and pista open
// says so.
func TestForwardSecrecy(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for intake keys to expire")
	}
	// Eight seconds: the first sort makes forward.Ahead days of keys, so
	// the submissions must come within 56 s of it, even under -race on a
	// loaded machine.
	const period = 8 * time.Second
	clock := forward.Clock{Period: period}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	alice := addJournalist(t, dir, data, "alice")
	bob := addJournalist(t, dir, data, "bob")
	dave := addJournalist(t, dir, data, "dave")
	carol := addJournalist(t, dir, data, "carol")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--coordinator", "alice", "--member", "bob", "--member", "dave", "--alias", "tips")
	runPista(t, "desk", "add", "--data", data, "--name", "maghreb", "--title", "Maghreb", "--member", "carol")
	members := map[string]journalist{"alice": alice, "bob": bob, "dave": dave, "carol": carol}
	base, logs := startServer(t, data, func(f *serveFlags) {
		f.smtpListen = "127.0.0.1:0"
		f.mailDomain = "news.example"
		f.intakeDay = period
	})
	live := openLiveDB(t, filepath.Join(data, server.DBFile))

	// Alice's sorter makes the Americas desk's intake keys, a week ahead;
	// nobody makes the Maghreb desk's.
	out := runPista(t, "sort", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--identity", alice.keyFile)
	if !strings.Contains(out, fmt.Sprintf("made %d intake keys", forward.Ahead)) {
		t.Fatalf("the first sort: %q, want %d intake keys made", out, forward.Ahead)
	}

	// Tips through the three channels, and one to the desk without keys.
	markers := map[string]string{}
	src := newBrowser(t, base)
	markers["form"] = "FORM-" + randText()
	status, page := src.postMultipart("/submit", [][2]string{{"csrf", src.csrf("/")}, {"desk", "americas"},
		{"message", markers["form"] + "\nThe port authority keeps two ledgers."}, {"contact", "signal +1 555 0101"}},
		[]file{{"ledger.txt", []byte("FORMFILE-" + randText())}})
	if status != http.StatusOK || !codenameRE.MatchString(page) {
		t.Fatalf("POST /submit: %d\n%s", status, page)
	}
	markers["submit"] = "SUBMIT-" + randText()
	msg := filepath.Join(dir, "tip.txt")
	attached := filepath.Join(dir, "scan.txt")
	os.WriteFile(msg, []byte(markers["submit"]+"\nThe contract was signed twice."), 0o600)
	os.WriteFile(attached, []byte("SUBMITFILE-"+randText()), 0o600)
	codename, err := keys.ParseCodename(strings.TrimSpace(runPista(t, "submit", "--server", base, "--desk", "americas", "--message-file", msg, "--file", attached)))
	if err != nil {
		t.Fatalf("pista submit printed no codename: %v", err)
	}
	markers["email"] = "MAIL-" + randText()
	smtpAddr := regexp.MustCompile(`smtp://([0-9.:]+)`).FindStringSubmatch(logs.syncBuffer.String())
	if smtpAddr == nil {
		t.Fatalf("serve did not say where it takes mail:\n%s", logs.syncBuffer.String())
	}
	mail := "From: Rosa <rosa@example.org>\r\nTo: tips@news.example\r\nSubject: Ledgers\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n\r\nThe ledgers are in the safe. " + markers["email"] + "\r\n"
	sc, err := gosmtp.Dial(smtpAddr[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SendMail("rosa@example.org", []string{"tips@news.example"}, strings.NewReader(mail)); err != nil {
		t.Fatalf("sending mail: %v", err)
	}
	sc.Close()
	nofs := newBrowser(t, base)
	status, page = nofs.postMultipart("/submit", [][2]string{{"csrf", nofs.csrf("/")}, {"desk", "maghreb"}, {"message", "NOFS-" + randText()}}, nil)
	if status != http.StatusOK {
		t.Fatalf("POST /submit to the Maghreb desk: %d\n%s", status, page)
	}

	convs := conversationsByChannel(t, live)
	if len(convs["americas"]) != 3 || len(convs["maghreb"]) != 1 {
		t.Fatalf("conversations %v, want 3 of the Americas desk (web, api, email) and 1 of the Maghreb desk", convs)
	}
	for _, it := range itemRows(t, live) {
		want := [3]string{pista.SealingIntake, pista.ReceivedForward, "intake key"}
		if it.desk == "maghreb" {
			want = [3]string{pista.SealingDesk, pista.ReceivedNoForward, "no intake key"}
		}
		if it.sealing != want[0] || it.received != want[1] || (it.intakeKey.Valid != (want[2] == "intake key")) {
			t.Errorf("item %d (%s, %s desk, %s): sealing %q received %q intake key %v; want %q, %q, %s", it.id, it.kind, it.desk, it.channel,
				it.sealing, it.received, it.intakeKey, want[0], want[1], want[2])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Alice pulls now, before sorting: her folder keeps what opens the
	// intake-sealed items, to open them offline later.
	alicePulled := filepath.Join(dir, "alice-pulled")
	runPista(t, "pull", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t), "--out", alicePulled)

	// A: every object, and the database, before sorting.
	copyA := snapshot(t, live, data, filepath.Join(dir, "A"))
	usedIntake := intakeKeysUsed(t, copyA.db)

	// Bob's sorter moves every item of the Americas desk under its
	// conversation's key.
	out = runPista(t, "sort", "--server", base, "--user", "bob", "--password-file", bob.pwFile, "--totp", bob.code(t), "--identity", bob.keyFile)
	if !strings.Contains(out, "of 3 conversations") || strings.Contains(out, "sorted 0 items") {
		t.Fatalf("the second sort: %q, want the items of 3 conversations sorted", out)
	}
	for _, it := range itemRows(t, live) {
		if it.desk == "americas" && (it.sealing != pista.SealingConversation || it.intakeKey.Valid) {
			t.Errorf("item %d (%s, %s) after sorting: sealing %q, intake key %v", it.id, it.kind, it.channel, it.sealing, it.intakeKey)
		}
	}

	// A reply is sorted under the conversation's key too, and the source
	// still reads it: its new header wraps to the source's key as well.
	replyText := "REPLY-" + randText() + "\nCan you send the second ledger?"
	replyFile := filepath.Join(dir, "reply.txt")
	os.WriteFile(replyFile, []byte(replyText), 0o600)
	runPista(t, "reply", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", alice.code(t),
		"--conversation", convs["americas"]["api"], "--message-file", replyFile)
	out = runPista(t, "sort", "--server", base, "--user", "bob", "--password-file", bob.pwFile, "--totp", bob.code(t), "--identity", bob.keyFile)
	if !strings.Contains(out, "sorted 1 items") {
		t.Fatalf("the sort after the reply: %q, want the reply sorted", out)
	}
	for _, it := range itemRows(t, live) {
		if it.kind == string(pista.KindReply) && it.sealing != pista.SealingConversation {
			t.Errorf("the reply after sorting: sealing %q", it.sealing)
		}
	}
	if out, _ := runPistaIn(t, codename.String()+"\n", "follow", "--server", base); !strings.Contains(out, replyText) {
		t.Fatalf("the source's follow after the reply was sorted: %q, want the reply", out)
	}

	// The intake keys expire: their day is Grace days past, and nothing
	// waits under them, so the server destroys their secrets.
	deadline := time.Now().Add(time.Duration(forward.Grace+4)*period + time.Minute)
	for liveIntake(t, live, usedIntake) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the intake keys %v were not destroyed in time", usedIntake)
		}
		time.Sleep(period / 4)
	}

	// B: after the intake keys expired.
	copyB := snapshot(t, live, data, filepath.Join(dir, "B"))
	checkNoOldIntake(t, "B", copyB, clock, period)

	// Two conversations are deleted by a member, in the inbox.
	deleted := map[string]bool{convs["americas"]["web"]: true, convs["americas"]["email"]: true}
	nr := newBrowser(t, base)
	if status, page := nr.login("dave", "a long password for dave", dave.code(t)); status != http.StatusOK {
		t.Fatalf("dave's login: %d\n%s", status, page)
	}
	for id := range deleted {
		status, page := nr.postForm("/newsroom/c/"+id+"/delete", url.Values{"csrf": {nr.csrf("/newsroom/c/" + id)}, "confirm": {"1"}})
		if status != http.StatusSeeOther && status != http.StatusOK {
			t.Fatalf("deleting conversation %s: %d\n%s", id, status, page)
		}
	}

	// C: after the deletions, which is also the end.
	copyC := snapshot(t, live, data, filepath.Join(dir, "C"))
	checkNoOldIntake(t, "C", copyC, clock, period)

	var ids []age.Identity
	for _, j := range members {
		ids = append(ids, identityFile(t, j.keyFile))
	}
	passphrases := map[string]string{}
	for name := range members {
		passphrases[name] = "a long password for " + name
	}
	endKeys := keysOf(t, copyC.db, ids, passphrases)
	liveConvs := conversationIDs(t, copyC.db)
	for id := range deleted {
		if liveConvs[id] {
			t.Fatalf("conversation %s was not deleted", id)
		}
	}
	if len(endKeys.intake) == 0 || len(endKeys.conv) != 1 {
		t.Fatalf("the final database has %d live intake keys and %d conversation keys; want some (the days ahead) and 1 (the live conversation of the Americas desk)", len(endKeys.intake), len(endKeys.conv))
	}

	for _, c := range []struct {
		name string
		copy copyAt
	}{{"A", copyA}, {"B", copyB}, {"C", copyC}} {
		res := check(t, c.copy, endKeys.all(), liveConvs)
		t.Logf("copy %s with the keys of the end: %s", c.name, res)
		if len(res.wrong) > 0 {
			t.Errorf("copy %s with the keys of the end:\n%s", c.name, strings.Join(res.wrong, "\n"))
		}
		if c.name == "A" && (res.intakeShut == 0 || res.deskOpen == 0) {
			t.Errorf("copy A: %s; want intake-sealed objects that open with no key and the Maghreb desk's objects open", res)
		}
		if c.name == "B" && (res.deletedShut == 0 || res.liveOpen == 0) {
			t.Errorf("copy B: %s; want objects of conversations deleted since that open with no key, and live ones that open", res)
		}
	}
	// The same checker, on A with the keys of A, opens everything.
	aKeys := keysOf(t, copyA.db, ids, passphrases)
	res := checkAll(t, copyA, aKeys.all())
	if len(res.wrong) > 0 || res.total < 10 {
		t.Errorf("copy A with the keys of A: %s\n%s", res, strings.Join(res.wrong, "\n"))
	}

	// Alice's folder, pulled before sorting, still opens: it kept the
	// intake keys' secrets (sealed to the desk key), as the design says
	// pulled folders are not protected.
	aliceOpened := filepath.Join(dir, "alice-opened")
	out = runPista(t, "open", "--identity", alice.keyFile, "--in", alicePulled, "--out", aliceOpened)
	for _, ch := range []string{"form", "submit", "email"} {
		if !grepTree(t, aliceOpened, markers[ch]) {
			t.Errorf("alice's folder pulled before sorting does not open the %s tip: %s", ch, out)
		}
	}

	// Dave pulls the live conversation, sorted: his folder keeps its
	// conversation key, and opens.
	davePulled, daveOpened := filepath.Join(dir, "dave-pulled"), filepath.Join(dir, "dave-opened")
	runPista(t, "pull", "--server", base, "--user", "dave", "--password-file", dave.pwFile, "--totp", dave.code(t), "--out", davePulled)
	out = runPista(t, "open", "--identity", dave.keyFile, "--in", davePulled, "--out", daveOpened)
	if !grepTree(t, daveOpened, markers["submit"]) || grepTree(t, daveOpened, markers["form"]) {
		t.Errorf("dave's pull of the live conversation: %s", out)
	}
	if strings.Contains(out, "without forward secrecy") {
		t.Errorf("pista open says the Americas desk's items came without forward secrecy: %s", out)
	}

	// Carol's desk had no intake key: what she sees says so.
	carolPulled, carolOpened := filepath.Join(dir, "carol-pulled"), filepath.Join(dir, "carol-opened")
	runPista(t, "pull", "--server", base, "--user", "carol", "--password-file", carol.pwFile, "--totp", carol.code(t), "--out", carolPulled)
	out = runPista(t, "open", "--identity", carol.keyFile, "--in", carolPulled, "--out", carolOpened)
	if !strings.Contains(out, "1 items were received without forward secrecy") {
		t.Errorf("pista open of the Maghreb desk: %q, want it to say the message came without forward secrecy", out)
	}
	conv := onlyConversation(t, carolOpened)
	if b := readFile(t, filepath.Join(conv, "forward-secrecy.txt")); !strings.Contains(b, "message-1.txt: received without forward secrecy") {
		t.Errorf("forward-secrecy.txt:\n%s", b)
	}
}

func randText() string { return rand.Text() }

// openLiveDB opens the running server's database to read it and to copy
// it (VACUUM INTO), as a backup tool would.
func openLiveDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// conversationsByChannel answers each desk's conversations by channel
// (web, api, email).
func conversationsByChannel(t *testing.T, db *sql.DB) map[string]map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT c.id, d.slug, c.channel FROM conversations c JOIN desks d ON d.id = c.desk_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var id, desk, ch string
		if err := rows.Scan(&id, &desk, &ch); err != nil {
			t.Fatal(err)
		}
		if out[desk] == nil {
			out[desk] = map[string]string{}
		}
		out[desk][ch] = id
	}
	return out
}

type itemRow struct {
	id                              int64
	conv, desk, channel, kind       string
	object, meta, sealing, received string
	intakeKey                       sql.NullInt64
}

func itemRows(t *testing.T, db *sql.DB) []itemRow {
	t.Helper()
	rows, err := db.Query(`SELECT i.id, i.conversation_id, d.slug, c.channel, i.kind, i.object, i.meta, i.sealing, i.received, i.intake_key
		FROM items i JOIN conversations c ON c.id = i.conversation_id JOIN desks d ON d.id = c.desk_id ORDER BY i.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []itemRow
	for rows.Next() {
		var r itemRow
		if err := rows.Scan(&r.id, &r.conv, &r.desk, &r.channel, &r.kind, &r.object, &r.meta, &r.sealing, &r.received, &r.intakeKey); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// copyAt is a copy of the data folder's objects and database at a moment.
type copyAt struct {
	dir  string  // the objects, as files
	db   *sql.DB // the database, as it was
	when time.Time
}

// snapshot copies every object of the data folder (every file but the
// database's), and the database (VACUUM INTO), into dir.
func snapshot(t *testing.T, live *sql.DB, data, dir string) copyAt {
	t.Helper()
	when := time.Now()
	objects := filepath.Join(dir, "objects")
	if err := os.MkdirAll(objects, 0o700); err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "copy.db")
	if _, err := live.Exec(`VACUUM INTO ?`, dbPath); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while walking
			}
			return err
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), server.DBFile) {
			return nil
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		n++
		return os.WriteFile(filepath.Join(objects, fmt.Sprintf("%05d-%s", n, d.Name())), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return copyAt{dir: objects, db: db, when: when}
}

// intakeKeysUsed lists the intake keys that items or previews wait under.
func intakeKeysUsed(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	rows, err := db.Query(`SELECT intake_key FROM items WHERE intake_key IS NOT NULL UNION SELECT preview_intake FROM conversations WHERE preview_intake IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		out = append(out, id)
	}
	if len(out) == 0 {
		t.Fatal("no item waits under an intake key")
	}
	return out
}

// liveIntake counts which of ids still have their secret.
func liveIntake(t *testing.T, db *sql.DB, ids []int64) int {
	t.Helper()
	n := 0
	for _, id := range ids {
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM intake_keys WHERE id = ? AND sealed IS NOT NULL`, id).Scan(&c); err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// checkNoOldIntake fails t if a copy's database has the secret of an
// intake key whose day is more than Grace days past. The server destroys
// them at each sort and every period: a key whose day has just passed the
// grace may wait that long, so the day is the copy's less one period.
func checkNoOldIntake(t *testing.T, name string, c copyAt, clock forward.Clock, period time.Duration) {
	t.Helper()
	today := clock.Day(c.when.Add(-period))
	var n int
	if err := c.db.QueryRow(`SELECT count(*) FROM intake_keys WHERE sealed IS NOT NULL AND day < ?`, today-forward.Grace).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("copy %s: %d live intake keys older than the grace of %d days (day %d)", name, n, forward.Grace, today)
	}
}

// keySet is every key a database and the members' identities give.
type keySet struct {
	members, desks, intake, conv []age.Identity
}

func (k keySet) all() []age.Identity {
	return append(append(append(append([]age.Identity(nil), k.members...), k.desks...), k.intake...), k.conv...)
}

// keysOf gathers every key that exists given a database and the members'
// identities and passphrases: their identities (files, and those their
// passphrases unwrap), every desk key wrapped to one of them, every
// intake secret and conversation key the database still has, opened with
// those desk keys.
func keysOf(t *testing.T, db *sql.DB, members []age.Identity, passphrases map[string]string) keySet {
	t.Helper()
	var ks keySet
	ks.members = append(ks.members, members...)
	rows, err := db.Query(`SELECT name, auth_salt, auth_kdf, wrapped_identity FROM journalists`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, kdf string
		var salt, wrapped []byte
		if err := rows.Scan(&name, &salt, &kdf, &wrapped); err != nil {
			t.Fatal(err)
		}
		if len(wrapped) == 0 || passphrases[name] == "" {
			continue
		}
		k, err := keys.DeriveJournalist(context.Background(), passphrases[name], salt, kdf)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := keys.UnwrapIdentity(k.Wrap, wrapped); err == nil {
			ks.members = append(ks.members, id)
		}
	}
	rows.Close()
	for _, w := range blobs(t, db, `SELECT wrapped FROM key_wraps`) {
		for _, m := range ks.members {
			if d, err := keys.Unwrap(w, m); err == nil {
				ks.desks = append(ks.desks, d)
				break
			}
		}
	}
	for _, s := range blobs(t, db, `SELECT sealed FROM intake_keys WHERE sealed IS NOT NULL`) {
		if k, err := forward.Open(s, ks.desks...); err == nil {
			ks.intake = append(ks.intake, k)
		} else {
			t.Errorf("an intake key of the database does not open with the desk keys: %v", err)
		}
	}
	for _, s := range blobs(t, db, `SELECT key FROM conversations WHERE key IS NOT NULL`) {
		if k, err := forward.Open(s, ks.desks...); err == nil {
			ks.conv = append(ks.conv, k)
		} else {
			t.Errorf("a conversation key of the database does not open with the desk keys: %v", err)
		}
	}
	return ks
}

func blobs(t *testing.T, db *sql.DB, q string) [][]byte {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func conversationIDs(t *testing.T, db *sql.DB) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, b := range blobs(t, db, `SELECT CAST(id AS BLOB) FROM conversations`) {
		out[string(b)] = true
	}
	return out
}

func identityFile(t testing.TB, path string) age.Identity {
	t.Helper()
	ids, err := readIdentities(path)
	if err != nil || len(ids) != 1 {
		t.Fatalf("%s: %v", path, err)
	}
	return ids[0]
}

// object is an age file of a copy: a stored object, or a preview in the
// copy's database.
type object struct {
	name    string
	b       []byte
	conv    string // "" if no item or preview of the copy names it
	sealing string // the item's, or "intake" for a preview under one
}

// objectsOf lists a copy's age files, each with what its database says
// of it.
func objectsOf(t *testing.T, c copyAt) []object {
	t.Helper()
	type info struct{ conv, sealing string }
	byKey := map[string]info{}
	for _, it := range itemRows(t, c.db) {
		byKey[it.object] = info{it.conv, it.sealing}
		if it.meta != "" {
			byKey[it.meta] = info{it.conv, it.sealing}
		}
	}
	var out []object
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(c.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
			continue
		}
		_, key, _ := strings.Cut(e.Name(), "-")
		in := byKey[key]
		out = append(out, object{name: e.Name(), b: b, conv: in.conv, sealing: in.sealing})
	}
	rows, err := c.db.Query(`SELECT id, preview, preview_intake FROM conversations WHERE preview IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var p []byte
		var under sql.NullInt64
		if err := rows.Scan(&id, &p, &under); err != nil {
			t.Fatal(err)
		}
		s := pista.SealingConversation
		if under.Valid {
			s = pista.SealingIntake
		}
		out = append(out, object{name: "preview of " + id, b: p, conv: id, sealing: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// opens reports whether any of ids decrypts the whole age file b.
func opens(b []byte, ids []age.Identity) bool {
	r, err := age.Decrypt(bytes.NewReader(b), ids...)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, r)
	return err == nil
}

type checkResult struct {
	total, intakeShut, deletedShut, liveOpen, deskOpen int
	wrong                                              []string
}

func (r checkResult) String() string {
	return fmt.Sprintf("%d objects: %d intake copies and %d of deleted conversations open with no key, %d of live conversations open (%d under the desk key)",
		r.total, r.intakeShut, r.deletedShut, r.liveOpen, r.deskOpen)
}

// check tries every object of a copy with keys: an intake copy, an object
// of a deleted conversation and an object no item names must open with
// none; an object of a live conversation must open.
func check(t *testing.T, c copyAt, keys []age.Identity, liveConvs map[string]bool) checkResult {
	t.Helper()
	var r checkResult
	for _, o := range objectsOf(t, c) {
		r.total++
		ok := opens(o.b, keys)
		switch {
		case o.conv == "":
			if ok {
				r.wrong = append(r.wrong, o.name+": an object no item names opens")
			}
		case !liveConvs[o.conv]:
			if ok {
				r.wrong = append(r.wrong, o.name+": an object of deleted conversation "+o.conv+" opens")
			} else {
				r.deletedShut++
			}
		case o.sealing == pista.SealingIntake:
			if ok {
				r.wrong = append(r.wrong, o.name+": an intake copy opens")
			} else {
				r.intakeShut++
			}
		default:
			if !ok {
				r.wrong = append(r.wrong, o.name+": an object of live conversation "+o.conv+" does not open")
			} else {
				r.liveOpen++
				if o.sealing == pista.SealingDesk {
					r.deskOpen++
				}
			}
		}
	}
	return r
}

// checkAll: every object of a copy opens with keys.
func checkAll(t *testing.T, c copyAt, keys []age.Identity) checkResult {
	t.Helper()
	var r checkResult
	for _, o := range objectsOf(t, c) {
		r.total++
		if !opens(o.b, keys) {
			r.wrong = append(r.wrong, o.name+" does not open")
		} else {
			r.liveOpen++
		}
	}
	return r
}

// grepTree reports whether a file under dir holds s.
func grepTree(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(s)) {
				found = true
			}
		}
		return nil
	})
	return found
}
