package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// deskItems answers the items of desk's conversations, oldest first, and
// the conversations.
func deskItems(t *testing.T, in *pistatest.Instance, j *pistatest.Journalist, desk pista.Desk) ([]pista.Item, []pista.Conversation) {
	t.Helper()
	ctx := context.Background()
	convs, err := in.Srv.Stores.Tips.ConversationsFor(ctx, j.ID, pista.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var items []pista.Item
	var mine []pista.Conversation
	for _, c := range convs {
		if c.DeskID != desk.ID {
			continue
		}
		mine = append(mine, c)
		its, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, its...)
	}
	return items, mine
}

// underKey checks that every item opens with want and not with other, and
// is marked sealing, intakeKey, received.
func underKey(t *testing.T, in *pistatest.Instance, items []pista.Item, want, other age.Identity, sealing string, intakeKey int64, received string) {
	t.Helper()
	if len(items) == 0 {
		t.Fatal("no items")
	}
	for _, it := range items {
		if it.Sealing != sealing || it.IntakeKey != intakeKey || it.Received != received {
			t.Errorf("%s item: sealing %q, intake key %d, received %q; want %q, %d, %q", it.Kind, it.Sealing, it.IntakeKey, it.Received, sealing, intakeKey, received)
		}
		for _, key := range []string{it.Object, it.Meta} {
			if key == "" {
				continue
			}
			for _, c := range []struct {
				id   age.Identity
				open bool
			}{{want, true}, {other, false}} {
				obj, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
				if err != nil {
					t.Fatal(err)
				}
				_, err = age.Decrypt(obj, c.id)
				obj.Close()
				if (err == nil) != c.open {
					t.Errorf("%s item: opens with a key: %v, want %v", it.Kind, err == nil, c.open)
				}
			}
		}
	}
}

// pista submit and pista follow encrypt to the desk's intake key of the
// day when its signature by the desk checks, and declare it: the items
// open with the intake key and not the desk's. A desk without one gets
// the tip without forward secrecy, and the source is told so.
func TestSubmitUnderIntakeKey(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	europe, europeID := in.DeskWithIdentity("europe", alice)
	key, intakeID := in.IntakeKey(alice, desk, deskID, forward.Clock{}.Day(time.Now()))
	dir := t.TempDir()
	msg := writeFile(t, filepath.Join(dir, "tip.txt"), []byte("The mayor's office is hiding the audit."))
	scan := writeFile(t, filepath.Join(dir, "notes.xyz"), bytes.Repeat([]byte("ledger "), 20_000))

	out, told := runPistaIn(t, "", "submit", "--server", in.TS.URL, "--desk", "americas", "--message-file", msg, "--file", scan)
	if strings.Contains(told, "forward secrecy") {
		t.Errorf("pista submit told the source %q", told)
	}
	items, convs := deskItems(t, in, alice, desk)
	if len(items) != 2 {
		t.Fatalf("%d items, want message and file", len(items))
	}
	underKey(t, in, items, intakeID, deskID, pista.SealingIntake, key.ID, pista.ReceivedForward)
	if convs[0].PreviewIntake != key.ID {
		t.Errorf("the preview is under intake key %d, want %d", convs[0].PreviewIntake, key.ID)
	}

	more := writeFile(t, filepath.Join(dir, "more.txt"), []byte("And the port's ledgers."))
	_, told = runPistaIn(t, strings.TrimSpace(out)+"\n", "follow", "--server", in.TS.URL, "--message-file", more)
	if strings.Contains(told, "forward secrecy") {
		t.Errorf("pista follow told the source %q", told)
	}
	items, _ = deskItems(t, in, alice, desk)
	if len(items) != 3 {
		t.Fatalf("%d items after the follow-up, want 3", len(items))
	}
	underKey(t, in, items[2:], intakeID, deskID, pista.SealingIntake, key.ID, pista.ReceivedForward)

	_, told = runPistaIn(t, "", "submit", "--server", in.TS.URL, "--desk", "europe", "--message-file", msg)
	if want := "pista: this tip is sent without forward secrecy: the desk has no intake key today."; !strings.Contains(told, want) {
		t.Errorf("pista submit to a desk without an intake key told %q, want %q", told, want)
	}
	items, _ = deskItems(t, in, alice, europe)
	underKey(t, in, items, europeID, intakeID, pista.SealingDesk, 0, pista.ReceivedNoForward)
}

// An intake key whose signature does not check (a server, or whoever sits
// between, offering its own key) is not used: pista submit encrypts to
// the desk's keys, says the tip goes without forward secrecy and why,
// and the desk's key opens it.
func TestSubmitForgedIntakeKey(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	_, intakeID := in.IntakeKey(alice, desk, deskID, forward.Clock{}.Day(time.Now()))

	// In front of the server, a proxy that swaps the intake key for one
	// of its own, signed by a key of its own.
	forger, _ := age.GenerateHybridIdentity()
	target, _ := url.Parse(in.TS.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.URL.Path != "/api/v1/desks" {
			return nil
		}
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		var d api.DesksResponse
		if err := json.Unmarshal(body, &d); err != nil {
			return err
		}
		for i := range d.Desks {
			if in := d.Desks[i].Intake; in != nil {
				k, err := forward.MakeIntakeKey(forger, in.Day)
				if err != nil {
					return err
				}
				in.Recipient, in.Signature = k.Recipient, k.Signature
			}
		}
		body, _ = json.Marshal(d)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	msg := writeFile(t, filepath.Join(t.TempDir(), "tip.txt"), []byte("The mayor's office is hiding the audit."))
	_, told := runPistaIn(t, "", "submit", "--server", ps.URL, "--desk", "americas", "--message-file", msg)
	if want := "pista: this tip is sent without forward secrecy: the desk's intake key is not signed by the desk's key."; !strings.Contains(told, want) {
		t.Errorf("pista submit told %q, want %q", told, want)
	}
	items, _ := deskItems(t, in, alice, desk)
	underKey(t, in, items, deskID, intakeID, pista.SealingDesk, 0, pista.ReceivedNoForward)
}
