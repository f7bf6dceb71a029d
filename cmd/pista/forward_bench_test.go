package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/forward"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// BenchmarkSort10k times pista sort (login included) moving 10,000
// unsorted items, small messages of 2,000 conversations waiting under
// today's intake key with their previews, under their conversations'
// keys, against the server in-process. The goal is at most 20 s on two
// cores.
//
//	go test ./cmd/pista -run '^$' -bench BenchmarkSort10k -benchtime 1x -count 3
func BenchmarkSort10k(b *testing.B) {
	const convs, perConv = 2000, 5
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		data := filepath.Join(dir, "data")
		alice := addJournalist(b, dir, data, "alice")
		runPista(b, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
		seedUnsorted(b, data, alice, convs, perConv)
		base, _ := startServer(b, data)
		code := alice.code(b)
		b.StartTimer()
		start := time.Now()
		out := runPista(b, "sort", "--server", base, "--user", "alice", "--password-file", alice.pwFile, "--totp", code, "--identity", alice.keyFile)
		took := time.Since(start)
		b.StopTimer()
		if want := fmt.Sprintf("sorted %d items of %d conversations", convs*perConv, convs); !strings.Contains(out, want) {
			b.Fatalf("pista sort: %q, want %q", out, want)
		}
		b.ReportMetric(took.Seconds(), "s/sort")
	}
}

// seedUnsorted stores, with the stores and the object store directly,
// convs conversations of perConv messages each, and their previews,
// encrypted to an intake key of today that the desk member's identity
// made as pista sort would.
func seedUnsorted(b testing.TB, data string, j journalist, convs, perConv int) {
	b.Helper()
	ctx := context.Background()
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	desk, err := st.Desks.DeskBySlug(ctx, "americas")
	if err != nil {
		b.Fatal(err)
	}
	member, err := st.Journalists.JournalistByName(ctx, j.name)
	if err != nil {
		b.Fatal(err)
	}
	wraps, err := st.Desks.WrapsFor(ctx, member.ID)
	if err != nil || len(wraps) != 1 {
		b.Fatalf("wraps %v, %v", wraps, err)
	}
	deskID, err := keys.Unwrap(wraps[0].Wrapped, identityFile(b, j.keyFile))
	if err != nil {
		b.Fatal(err)
	}
	day := forward.Clock{}.Day(time.Now())
	ik, err := forward.MakeIntakeKey(deskID, day)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Tips.AddIntakeKeys(ctx, member.ID, desk.KeyID, forward.SignPublic(deskID.String()), []pista.IntakeKey{{
		DeskID: desk.ID, DeskKeyID: desk.KeyID, Day: day, Recipient: ik.Recipient, Signature: ik.Signature, Sealed: ik.Sealed}}); err != nil {
		b.Fatal(err)
	}
	intake, _, err := st.Tips.IntakeFor(ctx, desk.ID, day)
	if err != nil {
		b.Fatal(err)
	}
	to, err := keys.ParseRecipients(intake.Recipient)
	if err != nil {
		b.Fatal(err)
	}
	seal := func(plain []byte) []byte {
		var buf bytes.Buffer
		w, err := age.Encrypt(&buf, to...)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	source, _ := age.GenerateHybridIdentity()
	for c := range convs {
		items := make([]pista.Item, perConv)
		for i := range items {
			obj := seal(fmt.Appendf(nil, "message %d of conversation %d: the port authority keeps two ledgers", i, c))
			key, size, err := st.Blobs.Put(ctx, bytes.NewReader(obj))
			if err != nil {
				b.Fatal(err)
			}
			items[i] = pista.Item{Kind: pista.KindMessage, Object: key, Size: size,
				Sealing: pista.SealingIntake, IntakeKey: intake.ID, Received: pista.ReceivedForward}
		}
		tip := &pista.NewTip{
			Conversation: pista.Conversation{ID: pista.NewConversationID(), DeskID: desk.ID,
				Preview: seal(pista.PreviewText("the port authority keeps two ledgers")), PreviewIntake: intake.ID},
			Source: pista.Source{Lookup: []byte(rand.Text()), Recipient: source.Recipient().String()},
			Items:  items,
		}
		if err := st.Tips.CreateTip(ctx, tip); err != nil {
			b.Fatal(err)
		}
	}
}
