package newsroom_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/internal/pistatest"
	"github.com/pista-tips/pista/server"
)

// TestEmailConversationSaysWhatTheEmlIs: the page of a conversation that
// came by e-mail tells the journalist, in their language, that the .eml of
// a mail with attachments is a copy without them (no sender's metadata),
// on which DKIM does not verify; a web conversation's page does not.
func TestEmailConversationSaysWhatTheEmlIs(t *testing.T) {
	in := pistatest.New(t, server.Config{})
	ana := in.Journalist("ana")
	desk := in.Desk("americas", ana)
	mail := in.StoreSourceTip(desk, pista.Source{Lookup: bytes.Repeat([]byte{7}, 32)}, pista.ChannelEmail, "by mail")
	web := in.StoreTip(desk)
	b := in.Browser()
	b.LoginJournalist(ana)
	for _, lang := range []string{"en", "es", "fr", "ar"} {
		l, _ := i18n.Get(lang)
		want := l.T("newsroom.email.evidence")
		req := b.Request(http.MethodGet, "/newsroom/c/"+mail.Conversation.ID, nil, "")
		req.Header.Set("Accept-Language", lang)
		r := b.Do(req)
		if r.Status != http.StatusOK || !strings.Contains(r.Text(), want) {
			t.Errorf("%s: the e-mail conversation's page (%d) does not say what its .eml is: want %q", lang, r.Status, want)
		}
	}
	if r := b.Get("/newsroom/c/" + web.Conversation.ID); r.Status != http.StatusOK || strings.Contains(r.Text(), pistatest.En("newsroom.email.evidence")) {
		t.Errorf("a web conversation's page (%d) speaks of an .eml", r.Status)
	}
}
