package browsertest

// Files with replies (issue 15): a journalist attaches a file to a reply
// in the inbox; her browser encrypts it, padded, to the source's key and
// the desk's, and sends it through a recording proxy that keeps every
// byte: neither the file's bytes nor its name are ever on the wire or on
// the server's disk. The desk's key opens what was stored. The source
// downloads it decrypted from their page, with JavaScript and without
// (the server decrypts it with the key their session holds, as it does a
// reply's text).

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/chromedp/chromedp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

func TestReplyFilesInBrowser(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", in.Log.String())
		}
	})
	ctx := context.Background()
	alice := in.Journalist("alice")
	desk, deskID := in.DeskWithIdentity("americas", alice)
	base := byHostName(in.TS.URL)

	r := in.Browser().Submit(desk.Slug, "The dredging contract was rigged.")
	if r.Status != 200 {
		t.Fatalf("submit: %d", r.Status)
	}
	codename := r.Codename(t)
	conv := latestMessage(t, in, alice.ID).ConversationID

	// The file: its name and bytes carry markers to look for.
	marker := "FILEMARK" + rand8()
	name := "berths-" + marker + ".txt"
	content := bytes.Repeat([]byte("berth 7, nights of the 3rd and 9th "+marker+"\n"), 2000) // ~90 KiB
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}

	// Alice replies with it, through the recording proxy.
	rec := newRecorder(t, in.TS.URL)
	nt := b.tab(t, true)
	loginInBrowser(t, nt, rec.url, alice, false)
	reply := "Here are the berths we know of. " + rand8()
	do(t, nt, "opening the conversation", chromedp.Navigate(rec.url+"/newsroom/c/"+conv+"?lang=en"), loaded())
	do(t, nt, "replying with a file",
		chromedp.WaitVisible(chromedp.CSS("input#reply-files")),
		chromedp.SendKeys(chromedp.CSS("textarea#reply"), reply),
		chromedp.SetUploadFiles(chromedp.CSS("input#reply-files"), []string{path}),
		chromedp.Click(chromedp.CSS("form[data-seal-reply] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())

	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) < 3 {
		t.Fatalf("%d items, want the tip, the reply and its file", len(items))
	}
	rep, file := items[len(items)-2], items[len(items)-1]
	if rep.Kind != pista.KindReply || !file.IsReplyFile() || file.AuthorID != alice.ID || file.EncryptedBy != "browser" || file.Meta == "" {
		t.Fatalf("the last items are %+v and %+v, want a reply and a file by alice, encrypted by the browser", rep, file)
	}
	// The desk's key opens the file, padded to pista.Padme of its size.
	got := openObject(t, in, file.Object, deskID)
	if int64(len(got)) != pista.Padme(int64(len(content))) || !bytes.HasPrefix(got, content) {
		t.Errorf("the desk opens a file of %d bytes, want %d padded to %d", len(got), len(content), pista.Padme(int64(len(content))))
	}
	if meta := openObject(t, in, file.Meta, deskID); !bytes.Contains(meta, []byte(name)) {
		t.Errorf("the file's meta is %q, without its name", meta)
	}
	// The desk's page shows it as alice's file.
	do(t, nt, "opening the conversation again", chromedp.Navigate(rec.url+"/newsroom/c/"+conv+"?lang=en"), loaded())
	teamWait(t, nt, "the file's decrypted name", `document.body.innerText.includes(`+jsString(name)+`)`)

	// The source downloads it, with JavaScript and without.
	for _, js := range []bool{true, false} {
		t.Run(jsMode(js), func(t *testing.T) {
			st := b.tab(t, js)
			downloads := allowDownloads(t, st)
			do(t, st, "the source logging in",
				chromedp.Navigate(base+"/?lang=en"),
				chromedp.WaitVisible(chromedp.CSS("input#codename")),
				loaded(),
				chromedp.SendKeys(chromedp.CSS("input#codename"), codename),
				chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#replies-h")),
				loaded())
			section := text(t, st, "section[aria-labelledby=replies-h]")
			if !strings.Contains(section, reply) || !strings.Contains(section, name) {
				t.Fatalf("the source's page shows %q, want the reply and the file's name", section)
			}
			if js {
				checkAxe(t, st)
			}
			do(t, st, "downloading the file", chromedp.Click(chromedp.CSS("a[data-reply-file]")))
			if got := downloaded(downloads, name); !bytes.Equal(got, content) {
				t.Errorf("the source saved %d bytes as %s, want the %d of the file", len(got), name, len(content))
			}
		})
	}

	// What alice's browser sent: the reply went as a multipart body, with
	// neither the reply nor the file, its name or its size in it.
	reqs := rec.requests()
	sawFiles := false
	for _, r := range reqs {
		if strings.HasPrefix(r, "POST /newsroom/c/"+conv+"/reply/sealed") && strings.Contains(r, `name="file_meta"`) {
			sawFiles = true
		}
	}
	if !sawFiles {
		t.Fatalf("the recorder saw no reply with files among %d requests", len(reqs))
	}
	secrets := forms("reply", []byte(reply))
	for k, v := range forms("file name", []byte(name)) {
		secrets[k] = v
	}
	secrets["the file's bytes"] = string(content[:64])
	secrets["the marker"] = marker
	checkNoSecrets(t, reqs, secrets)

	// Nor on the server's disk.
	filepath.WalkDir(in.Data, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(marker)) {
			t.Errorf("the file's name or bytes are in %s", p)
		}
		return nil
	})
	if strings.Contains(in.Log.String(), marker) {
		t.Error("the file's name or bytes are in the log")
	}
}

// openObject decrypts a stored object with id.
func openObject(t *testing.T, in *pistatest.Instance, key string, id age.Identity) []byte {
	t.Helper()
	obj, err := in.Srv.Stores.Blobs.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	r, err := age.Decrypt(obj, id)
	if err != nil {
		t.Fatalf("decrypting %s: %v", key, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
