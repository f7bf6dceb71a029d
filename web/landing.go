package web

import (
	"context"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/ui"
	"github.com/pista-tips/pista/upload"
)

type landingData struct {
	Onion   string        // the onion address, if the tip line has one
	OnionQR template.HTML // and its URL as a QR code
	Desks   []pista.Desk
	// Recipients are, by desk slug, the keys the page's script encrypts
	// to: the desk's and the archive's, separated by spaces.
	Recipients map[string]string
	// Keys are, by desk slug, what the script encrypts to with forward
	// secrecy (data-desk-key, data-sign-key, data-intake-…).
	Keys            map[string]deskKeys
	MaxMessage      string
	MaxMessageChars int
	MaxContactChars int
	MaxUpload       string
	MaxUploadBytes  int64  // for the page's script, which refuses more before sending
	UploadURL       string // where the script uploads files resumably; "" if it may not
	// Questions are the desks' questions (see questions.go); a form shown
	// again after its answers were refused also has the chosen desk, what
	// the source wrote, and QuestionsRefused.
	Questions        []deskQuestions
	Chosen           string
	Message, Contact string
	QuestionsRefused bool
	questionnaires   map[int64]pista.Questionnaire
}

func (h *Handler) formLimits() landingData {
	return landingData{
		MaxMessage:      "100,000",
		MaxMessageChars: httpx.MaxMessageChars,
		MaxContactChars: httpx.MaxContactChars,
		MaxUpload:       ui.HumanSize(h.MaxUpload),
		MaxUploadBytes:  h.MaxUpload,
		UploadURL:       h.uploadURL(),
	}
}

// uploadURL is where the page's script uploads files, if it may.
func (h *Handler) uploadURL() string {
	if h.Uploads == nil {
		return ""
	}
	return upload.BasePath
}

func (h *Handler) showLanding(w http.ResponseWriter, r *http.Request) {
	p, d, err := h.landing(r)
	if err != nil {
		h.Log.Error("listing desks", "err", err)
		h.fail(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d.Questions = questionViews(d.Desks, d.questionnaires, p.L.Tag, "", nil, nil)
	p.Data = d
	h.Render.Render(w, http.StatusOK, "source/landing", p)
}

// landing starts the landing page: its desks, their keys and questions.
func (h *Handler) landing(r *http.Request) (*ui.Page, landingData, error) {
	desks, err := h.Desks.Desks(r.Context())
	if err != nil {
		return nil, landingData{}, err
	}
	d := h.formLimits()
	d.Onion, d.OnionQR = h.Onion, onionQR(h.Onion)
	p := h.page(r, "", "landing.title")
	p.CSRF = h.CSRF.Token("") // see submitTip
	d.Desks = h.localize(r.Context(), p.L.Tag, desks...)
	d.Recipients, d.Keys = map[string]string{}, map[string]deskKeys{}
	day := h.today()
	for _, desk := range desks {
		d.Recipients[desk.Slug] = h.recipientList(desk)
		d.Keys[desk.Slug] = h.deskKeys(r.Context(), desk, day)
	}
	if len(d.Desks) > 0 {
		d.Chosen = d.Desks[0].Slug
	}
	d.questionnaires, err = h.questionnaires(r.Context(), desks)
	if err != nil {
		return nil, landingData{}, err
	}
	return p, d, nil
}

// deskKeys are what a source page's script needs to encrypt to a desk
// with forward secrecy (docs/forward-secrecy.md, "Source side"): the
// desk's key, the signing key of its generation and the day's intake key
// with its signature, which the script checks before using it. The
// template leaves out what is empty.
type deskKeys struct {
	DeskKey string
	SignKey string // standard base64; "" if the generation has none yet
	// The live intake key of the day; IntakeID 0 if none.
	IntakeID        int64
	IntakeDay       int64
	IntakeRecipient string
	IntakeSignature string // standard base64
}

func (h *Handler) deskKeys(ctx context.Context, d pista.Desk, day int64) deskKeys {
	k := deskKeys{DeskKey: d.Recipient}
	signKey, in := intake.Publish(ctx, h.Tips, h.Log, d, day)
	if signKey != nil {
		k.SignKey = base64.StdEncoding.EncodeToString(signKey)
	}
	if in != nil {
		k.IntakeID, k.IntakeDay, k.IntakeRecipient = in.ID, in.Day, in.Recipient
		k.IntakeSignature = base64.StdEncoding.EncodeToString(in.Signature)
	}
	return k
}

// recipientList is a desk's recipients for the page's script.
func (h *Handler) recipientList(d pista.Desk) string {
	return strings.Join(append([]string{d.Recipient}, h.Archive...), " ")
}
