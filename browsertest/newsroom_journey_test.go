package browsertest

// The newsroom's whole journey in one real Chromium, as issue 3 tells it:
// a coordinator invites; the newcomer accepts in their own browser (which
// makes their identity); the coordinator's browser approves (wraps the desk
// key to them); the newcomer logs in with passphrase and TOTP code, reads a
// tip sent through the source form (text decrypted in the page, the picture
// previewed in a sandboxed frame, a copy without metadata made in the page),
// and replies (encrypted in the page); the source reads the reply. Every
// request the newcomer's browser sent is recorded: none carries the
// passphrase, the wrapping key, the identity, the tip or the reply. Then the
// coordinator removes the newcomer, and a tip sent after that is not
// readable with what the newcomer had.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/server"
)

// pngWithAuthor writes a small PNG carrying a tEXt chunk that names its
// author, the kind of hidden metadata a source's camera or editor leaves.
func pngWithAuthor(t *testing.T, author string) (path string, plain []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, 7-i, color.RGBA{20, 90, 200, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// The tEXt chunk goes right after IHDR (8-byte signature, then IHDR's
	// 4-byte length, 4-byte type, 13 bytes of data and 4 of CRC).
	data := append([]byte("Author\x00"), author...)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	at := 8 + 4 + 4 + 13 + 4
	out := append(append(append([]byte{}, b[:at]...), chunk...), b[at:]...)
	path = filepath.Join(t.TempDir(), "harbour.png")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, out
}

func TestNewsroomJourney(t *testing.T) {
	b := newBrowser(t)
	in := pistatest.New(t, server.Config{})
	ctx := context.Background()
	carla := in.Journalist("carla")
	desk := coordinatedDesk(t, in, carla)
	base := byHostName(in.TS.URL)

	// Carla invites.
	ct := b.tab(t, true)
	teamLogin(t, ct, base, carla)
	link := inviteLink(t, ct, base)

	// Nina accepts in her own browser; everything it sends from now on is
	// recorded.
	const passphrase = "nina's harbour passphrase, typed and never sent"
	nt := b.tab(t, true)
	var rec sent
	rec.listen(t, nt)
	do(t, nt, "opening the invitation", chromedp.Navigate(link+"?lang=en"), loaded())
	secret := teamEval[string](t, nt, "reading the TOTP secret", `document.getElementById("totp-secret").value`)
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	teamEval[chromedp.Void](t, nt, "joining", `document.getElementById("join-name").value = "nina";
		document.getElementById("join-pass").value = `+jsString(passphrase)+`;
		document.getElementById("join-pass2").value = `+jsString(passphrase)+`;
		document.getElementById("join-totp").value = `+jsString(code(time.Now()))+`;
		document.getElementById("join-button").click();`)
	teamWait(t, nt, "the account", `!!document.getElementById("join-login")`)
	nina, err := in.Srv.Stores.Journalists.JournalistByName(ctx, "nina")
	if err != nil {
		t.Fatal(err)
	}

	// Carla's browser approves her.
	do(t, ct, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang=en"), loaded())
	teamEval[chromedp.Void](t, ct, "approving", `document.querySelector('[data-approve]').click()`)
	teamWait(t, ct, "the approval", `location.search.includes("done=approved")`)

	// A source sends a message and a picture through the form, with
	// JavaScript: encrypted in their browser. They tick "keep metadata",
	// so the picture keeps it on the way (only the desk can scrub it), and
	// the inbox says they chose that.
	const author = "Jane Q. Source"
	picture, _ := pngWithAuthor(t, author)
	message := "The harbour master signs for containers that never land. " + rand8()
	src := b.tab(t, true)
	do(t, src, "sending the tip",
		chromedp.Navigate(base+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("form[data-encrypt]")),
		loaded(),
		chromedp.Click(chromedp.CSS("input[name=desk][value=americas]")),
		chromedp.SendKeys(chromedp.CSS("textarea#message"), message),
		chromedp.Click(chromedp.CSS("input[name=keep_metadata]")),
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{picture}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p#codename")),
		loaded())
	codename := nonDigit.ReplaceAllString(text(t, src, "p#codename"), "")

	// Nina logs in with her passphrase and a code, in her browser.
	do(t, nt, "opening the login page", chromedp.Navigate(base+"/newsroom/login?lang=en"), loaded())
	teamWait(t, nt, "the login script", `!document.getElementById("login-button").disabled`)
	teamEval[chromedp.Void](t, nt, "logging in", `document.getElementById("name").value = "nina";
		document.getElementById("passphrase").value = `+jsString(passphrase)+`;
		document.getElementById("totp").value = `+jsString(code(time.Now().Add(30*time.Second)))+`;
		document.getElementById("login-button").click();`)
	teamWait(t, nt, "the inbox", `location.pathname === "/newsroom/"`)

	// She opens the conversation: the message in plain text, the picture
	// in a frame that runs no script, from a blob: URL.
	conv := latestMessage(t, in, carla.ID).ConversationID
	do(t, nt, "opening the conversation", chromedp.Navigate(base+"/newsroom/c/"+conv+"?lang=en"), loaded())
	teamWait(t, nt, "the decrypted message", `document.body.innerText.includes(`+jsString(message)+`)`)
	teamWait(t, nt, "the picture's preview", `!!document.querySelector('.preview iframe[sandbox=""][src^="blob:"]')`)
	if got := teamEval[string](t, nt, "the file's name", `document.querySelector(".file-meta").innerText`); !strings.Contains(got, "harbour.png") {
		t.Errorf("the file's decrypted name is not shown: %q", got)
	}
	en := locale(t, "en")
	if got := teamEval[string](t, nt, "the file's metadata report", `document.querySelector('[data-scrub-report="kept"]')?.textContent || ""`); got != en.T("scrubpaths.file.kept") {
		t.Errorf("the inbox does not say the source chose to keep the metadata: %q", got)
	}

	// A copy without metadata, made in her browser and saved to her disk.
	downloads := allowDownloads(t, nt)
	teamEval[chromedp.Void](t, nt, "asking for a scrubbed copy", `document.querySelector("button[data-scrub]").click()`)
	teamWait(t, nt, "the scrubbed copy", `document.querySelector("[data-read-status]").textContent.includes("text chunk")`)
	if scrubbed := downloaded(downloads, "harbour.png"); scrubbed == nil {
		t.Error("the scrubbed copy was not saved")
	} else {
		if bytes.Contains(scrubbed, []byte(author)) || bytes.Contains(scrubbed, []byte("tEXt")) {
			t.Error("the scrubbed copy still names the author")
		}
		if _, err := png.Decode(bytes.NewReader(scrubbed)); err != nil {
			t.Errorf("the scrubbed copy is not a picture: %v", err)
		}
	}

	// She replies; the page encrypts the reply.
	reply := "Thank you. Which berth, and which nights? " + rand8()
	do(t, nt, "replying",
		chromedp.WaitVisible(chromedp.CSS("form[data-seal-reply] textarea#reply")),
		chromedp.SendKeys(chromedp.CSS("textarea#reply"), reply),
		chromedp.Click(chromedp.CSS("form[data-seal-reply] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	items, err := in.Srv.Stores.Tips.ItemsOfConversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if last := items[len(items)-1]; last.Kind != pista.KindReply || last.EncryptedBy != "browser" {
		t.Errorf("the last item is a %s encrypted by %q, want a reply encrypted by the browser", last.Kind, last.EncryptedBy)
	}

	// The source reads it.
	do(t, src, "the source logging in",
		chromedp.Navigate(base+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS("input#codename")),
		loaded(),
		chromedp.SendKeys(chromedp.CSS("input#codename"), codename),
		chromedp.Click(chromedp.CSS(`form[action^="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#replies-h")),
		loaded())
	if got := text(t, src, "section[aria-labelledby=replies-h]"); !strings.Contains(got, reply) {
		t.Errorf("the source's page lacks the reply %q: %q", reply, got)
	}

	// They send a phone's photo as a follow-up, leaving "keep" unticked:
	// their browser removes its metadata before encrypting it, and the
	// inbox says so, beside the picture they chose to keep as it was.
	photo := filepath.Join(t.TempDir(), "berth.jpg")
	if err := os.WriteFile(photo, pistatest.GPSJPEG(t), 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, src, "the source sending a photo",
		chromedp.SetUploadFiles(chromedp.CSS("input#files"), []string{photo}),
		chromedp.Click(chromedp.CSS("form[data-encrypt] button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("p.notice")),
		loaded())
	do(t, nt, "opening the conversation again", chromedp.Navigate(base+"/newsroom/c/"+conv+"?lang=en"), loaded())
	teamWait(t, nt, "the photo's metadata report", `!!document.querySelector('[data-scrub-report="scrubbed"]')`)
	want := en.T("scrubpaths.file.scrubbed", "who", en.T("scrubpaths.file.bybrowser"), "found", "EXIF, GPS position")
	if got := teamEval[string](t, nt, "the photo's metadata report", `document.querySelector('[data-scrub-report="scrubbed"]').textContent`); got != want {
		t.Errorf("the inbox says of the photo %q, want %q", got, want)
	}
	if got := teamEval[int](t, nt, "the kept picture's report", `document.querySelectorAll('[data-scrub-report="kept"]').length`); got != 1 {
		t.Errorf("%d files are reported kept by the source's choice, want 1 (the picture)", got)
	}

	// The same photo through the form without JavaScript (the server
	// scrubs it on arrival), and from an app that sends no scrub report:
	// the inbox says who scrubbed the one, and that pista did not scrub
	// the other, not that its source chose to keep anything.
	jpeg := pistatest.GPSJPEG(t)
	for _, c := range []struct {
		name, report, want string
		send               func()
	}{
		{"the form without JavaScript", "scrubbed", en.T("scrubpaths.file.scrubbed", "who", en.T("scrubpaths.file.byserver"), "found", "EXIF, GPS position"), func() {
			if r := in.Browser().Submit("americas", "from the form", pistatest.Part{Name: "files", Value: string(jpeg), Filename: "berth.jpg"}); r.Status != 200 {
				t.Fatalf("submit: %d", r.Status)
			}
		}},
		{"an app that sends no report", "no-report", en.T("scrubpaths.file.noreport"), func() {
			sb := in.Browser()
			landing := sb.Get("/")
			padded := append(bytes.Clone(jpeg), make([]byte, pista.Padme(int64(len(jpeg)))-int64(len(jpeg)))...)
			meta := fmt.Sprintf(`{"name":"app.jpg","type":"image/jpeg","size":%d}`, len(jpeg))
			r := sb.PostMultipart("/submit", []pistatest.Part{
				{Name: "csrf", Value: landing.CSRF(t)}, {Name: "desk", Value: "americas"}, {Name: "encrypted", Value: "1"},
				{Name: "files", Value: pistatest.SealTo(t, landing.Body, padded), Filename: "file.age"},
				{Name: "file_meta", Value: pistatest.SealTo(t, landing.Body, []byte(meta)), Filename: "meta.age"},
			})
			if r.Status != 200 {
				t.Fatalf("sealed submit: %d", r.Status)
			}
		}},
	} {
		c.send()
		id := latestMessage(t, in, carla.ID).ConversationID
		do(t, nt, "opening the tip sent by "+c.name, chromedp.Navigate(base+"/newsroom/c/"+id+"?lang=en"), loaded())
		teamWait(t, nt, c.name+": the metadata report", `!!document.querySelector('[data-scrub-report]')`)
		if got := teamEval[string](t, nt, c.name+": the metadata report", `document.querySelector('[data-scrub-report=`+jsString(c.report)+`]')?.textContent || document.querySelector('[data-scrub-report]').textContent`); got != c.want {
			t.Errorf("%s: the inbox says %q, want %q", c.name, got, c.want)
		}
	}

	// What nina's browser sent, from the invitation to the reply.
	k, err := keys.DeriveJournalist(ctx, passphrase, nina.Auth.Salt, nina.Auth.KDF)
	if err != nil {
		t.Fatal(err)
	}
	ninaID, err := keys.UnwrapIdentity(k.Wrap, nina.Auth.WrappedIdentity)
	if err != nil {
		t.Fatal(err)
	}
	deskID := currentDeskKey(t, in, desk.ID, nina.ID, ninaID)
	secrets := map[string]string{
		"the passphrase": passphrase, "the tip": message, "the reply": reply, "the picture's author": author,
		"her identity": ninaID.String(), "the desk's identity": deskID.String(),
	}
	for _, enc := range []struct {
		name string
		f    func([]byte) string
	}{
		{"hex", hex.EncodeToString}, {"base64", base64.StdEncoding.EncodeToString},
		{"base64url", base64.RawURLEncoding.EncodeToString}, {"base64 (form-encoded)", func(b []byte) string {
			return url.QueryEscape(base64.StdEncoding.EncodeToString(b))
		}},
	} {
		secrets["the wrapping key ("+enc.name+")"] = enc.f(k.Wrap)
	}
	secrets["the passphrase (form-encoded)"] = url.QueryEscape(passphrase)
	if n := rec.count(); n < 10 {
		t.Fatalf("only %d requests recorded: is the recorder listening?", n)
	}
	if got := rec.containing(base64.StdEncoding.EncodeToString(k.Auth)[:20]); len(got) == 0 {
		// The recorder sees bodies: the login's auth key must be there.
		if got := rec.containing(url.QueryEscape(base64.StdEncoding.EncodeToString(k.Auth))[:20]); len(got) == 0 {
			t.Error("the recorder did not see the login's auth key: it does not see request bodies")
		}
	}
	for what, s := range secrets {
		if rs := rec.containing(s); len(rs) > 0 {
			t.Errorf("nina's browser sent %s in %v", what, rs)
		}
	}

	// Carla removes nina, which rotates the desk key; a tip sent after that
	// is not readable with what nina had.
	ct2 := b.tab(t, true)
	teamLogin(t, ct2, base, carla)
	do(t, ct2, "opening the desk page", chromedp.Navigate(base+"/newsroom/desks/americas?lang=en"), loaded())
	teamEval[chromedp.Void](t, ct2, "removing nina", `document.querySelector('[data-remove]').click()`)
	teamWait(t, ct2, "the removal", `location.search.includes("done=removed")`)
	if r := in.Browser().Submit("americas", "after nina left"); r.Status != 200 {
		t.Fatalf("submit: %d", r.Status)
	}
	after := latestMessage(t, in, carla.ID)
	if _, err := openItem(t, in, after, deskID); err == nil {
		t.Error("the desk key nina had opens a tip sent after her removal")
	}
	if _, err := openItem(t, in, after, ninaID); err == nil {
		t.Error("nina's own identity opens a tip sent after her removal")
	}
	if got, err := openItem(t, in, after, currentDeskKey(t, in, desk.ID, carla.ID, carla.Identity)); err != nil || got != "after nina left" {
		t.Errorf("carla reading the new tip: %q %v", got, err)
	}
}
