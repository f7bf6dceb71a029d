package web

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/i18n"
	"github.com/pista-tips/pista/intake"
	"github.com/pista-tips/pista/upload"
)

// formError is a submission refused: an HTTP status and the message key
// of the page that says why and what to do.
type formError struct {
	status int
	key    string
	err    error // for the log, never shown
	max    int   // the limit the message names ({max}), if it names one
}

func refuse(status int, key string, err error) *formError {
	return &formError{status: status, key: key, err: err}
}

// tooManyFiles refuses a submission's file after the first
// httpx.MaxFiles, saying how many it may carry.
func tooManyFiles() *formError {
	return &formError{status: http.StatusRequestEntityTooLarge, key: "error.toomanyfiles", max: httpx.MaxFiles}
}

// submission is a parsed source form. Files are already encrypted into
// the batch; the message and contact are held, in memory only, until the
// whole form has been read.
type submission struct {
	desk         pista.Desk
	message      string
	contact      string
	keepMetadata bool
	batch        *intake.Batch
	// sealed: the browser encrypted every item before sending (the form's
	// "encrypted" field); the parts are age files, checked and stored as
	// they are.
	sealed        bool
	recipients    int   // how many keys each item is encrypted to
	sealedText    int64 // plaintext bytes of sealed messages so far
	sealedContact bool  // a sealed contact came
	// claims are the uploads the form named (field "upload"), locked
	// until the submission is stored or refused (Handler.settle).
	claims []*upload.Claimed
	// pow is the proof of work the page's script sent, if any (package
	// pow); checked when the codename is stretched.
	pow string
	// The chosen desk's questions (questions.go), the answers sent, by
	// question ID, and what was wrong with them; sealedAnswers: the
	// browser sent them encrypted.
	questions     bool
	questionnaire pista.Questionnaire
	answerValues  map[string][]string
	answerErrs    []*pista.AnswerError
	sealedAnswers bool
	// preview is the first message's preview (pista.Conversation.Preview):
	// encrypted here from the message, or by the browser (field
	// "preview" of a sealed form); nil if none.
	preview []byte
	// seal is what the server encrypts to (the day's intake key, or the
	// desk's key); declared is the intake key a sealed form says the
	// browser encrypted to (field "intake_key"; 0: none, the desk's key).
	// previewIntake is the intake key the preview is under (0: none).
	seal          intake.Seal
	declared      int64
	previewIntake int64
}

// formSpec says what a form expects.
type formSpec struct {
	sessionID string // "" for the landing form
	// deskFor resolves the desk field; nil when the desk is known (a
	// follow-up) and given as desk.
	deskFor func(ctx context.Context, slug string) (pista.Desk, error)
	desk    pista.Desk
	contact bool // the contact field is allowed
	// questions: the desk's questions may be answered (a first tip).
	questions bool
	// seal chooses what a desk's items are encrypted to (Handler.seal).
	seal func(context.Context, pista.Desk) (intake.Seal, error)
}

// readForm reads a multipart source form as it streams in. The csrf field
// and (on the landing form) the desk must come before any file, as they
// do in the page's form: a file is encrypted to the desk's key while it
// arrives, so the desk must be known by then. On error, every object
// already written is deleted.
func (h *Handler) readForm(ctx context.Context, r *http.Request, spec formSpec) (s *submission, ferr *formError) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return nil, refuse(http.StatusBadRequest, "error.form", err)
	}
	if room, ok := h.Blobs.(pista.Roomer); ok && r.ContentLength > 0 {
		// Room for the objects, and for a spool while files are scrubbed.
		if err := room.Room(2 * r.ContentLength); err != nil {
			return nil, readError(err)
		}
	}
	// Through a 64 KiB buffer (multipart alone reads the socket 4 KiB at
	// a time), each part's header bounded while it is read.
	mr := intake.NewPartReader(r.Body, params["boundary"])
	s = &submission{desk: spec.desk, questions: spec.questions, answerValues: map[string][]string{}}
	var csrfOK, deskOK bool
	if spec.deskFor == nil {
		deskOK = true
	}
	defer func() {
		if ferr != nil {
			if s.batch != nil {
				s.batch.Abort()
			}
			h.settle(context.WithoutCancel(ctx), s, false)
		}
	}()
	startBatch := func() *formError {
		if s.batch != nil {
			return nil
		}
		seal, err := spec.seal(ctx, s.desk)
		if err != nil {
			return refuse(http.StatusInternalServerError, "error.internal", err)
		}
		// MaxUpload is what the page promises for files; the text fields
		// and the files' names have their own limits. A sealed form's
		// parts are checked to have as many stanzas: an intake key and
		// the archive's, or the desk's key and the archive's.
		s.seal = seal
		s.batch = intake.NewBatch(h.Blobs, seal.Recipients, h.MaxUpload)
		s.recipients = len(seal.Recipients)
		return nil
	}
	files := 0
	content := false  // a message, contact or file part was read
	needMeta := false // a sealed file came; its name and type come next
	for parts := 0; ; parts++ {
		if parts >= httpx.MaxParts {
			return s, refuse(http.StatusRequestEntityTooLarge, "error.toolarge", nil)
		}
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if errors.Is(err, intake.ErrPartHeader) {
			return s, refuse(http.StatusBadRequest, "error.form", nil)
		}
		if err != nil {
			return s, readError(err)
		}
		if len(headerBytes(part.Header)) > httpx.MaxPartHeaderBytes {
			return s, refuse(http.StatusBadRequest, "error.form", nil)
		}
		if needMeta && part.FormName() != "file_meta" {
			return s, refuse(http.StatusBadRequest, "error.form", nil)
		}
		switch name := part.FormName(); {
		case s.sealed && strings.HasPrefix(name, questionPrefix):
			// A plain answer beside encrypted ones: the script failed to
			// keep it off the wire. Refused, so that it shows.
			return s, refuse(http.StatusBadRequest, "error.form", nil)
		case s.sealed && (name == "message" || name == "contact" || name == "files" || name == "upload" || name == "file_meta" || name == "answers" || name == "preview"):
			if (name == "contact" || name == "preview") && !spec.contact {
				return s, refuse(http.StatusBadRequest, "error.form", nil)
			}
			if ferr := h.readSealed(ctx, s, part, &needMeta, &files); ferr != nil {
				return s, ferr
			}
			content = true
			continue
		case name == "encrypted":
			if _, ferr := readField(part, httpx.MaxSmallField, "error.form"); ferr != nil {
				return s, ferr
			}
			if s.sealed || content || !csrfOK {
				return s, refuse(http.StatusBadRequest, "error.form", nil)
			}
			if !deskOK {
				return s, refuse(http.StatusBadRequest, "error.desk", nil)
			}
			if ferr := startBatch(); ferr != nil {
				return s, ferr
			}
			s.sealed = true
			continue
		case name == "message" || name == "contact" || name == "files" || strings.HasPrefix(name, questionPrefix):
			content = true
		}
		if strings.HasPrefix(part.FormName(), questionPrefix) {
			if ferr := h.readAnswer(ctx, s, part, spec, csrfOK, deskOK, &files, startBatch); ferr != nil {
				return s, ferr
			}
			continue
		}
		switch part.FormName() {
		case httpx.CSRFField:
			v, ferr := readField(part, httpx.MaxSmallField, "error.csrf")
			if ferr != nil {
				return s, ferr
			}
			if !h.CSRF.Valid(v, spec.sessionID) {
				return s, refuse(http.StatusForbidden, "error.csrf", nil)
			}
			csrfOK = true
		case "desk":
			if spec.deskFor == nil || deskOK {
				return s, refuse(http.StatusBadRequest, "error.form", nil)
			}
			v, ferr := readField(part, httpx.MaxSmallField, "error.desk")
			if ferr != nil {
				return s, ferr
			}
			d, err := spec.deskFor(ctx, v)
			if errors.Is(err, pista.ErrNotFound) {
				return s, refuse(http.StatusBadRequest, "error.desk", nil)
			} else if err != nil {
				return s, refuse(http.StatusInternalServerError, "error.internal", err)
			}
			s.desk, deskOK = d, true
			if spec.questions {
				if s.questionnaire, err = h.Desks.Questions(ctx, d.ID); err != nil {
					return s, refuse(http.StatusInternalServerError, "error.internal", err)
				}
			}
		case "intake_key":
			// The intake key the page's script encrypted to, checked
			// once the whole form is read. A plain form's is ignored:
			// the server chose its own key.
			v, ferr := readField(part, httpx.MaxSmallField, "error.form")
			if ferr != nil {
				return s, ferr
			}
			id, err := intake.ParseIntakeKeyID(v)
			if err != nil || s.declared != 0 {
				return s, refuse(http.StatusBadRequest, "error.form", nil)
			}
			s.declared = id
		case "sealed_for":
			// The desk whose keys the page encrypted a follow-up to.
			if spec.deskFor != nil {
				return s, refuse(http.StatusBadRequest, "error.form", nil)
			}
			v, ferr := readField(part, httpx.MaxSmallField, "error.form")
			if ferr != nil {
				return s, ferr
			}
			if v != spec.desk.Slug {
				return s, refuse(http.StatusConflict, "moved.source", nil)
			}
		case "message":
			v, ferr := readField(part, httpx.MaxMessageBytes, "error.message.toolong")
			if ferr != nil {
				return s, ferr
			}
			if utf8.RuneCountInString(s.message)+utf8.RuneCountInString(v) > httpx.MaxMessageChars {
				return s, refuse(http.StatusRequestEntityTooLarge, "error.message.toolong", nil)
			}
			s.message += v
		case "contact":
			if !spec.contact {
				return s, refuse(http.StatusBadRequest, "error.form", nil)
			}
			v, ferr := readField(part, 4*httpx.MaxContactChars, "error.contact.toolong")
			if ferr != nil {
				return s, ferr
			}
			if utf8.RuneCountInString(v) > httpx.MaxContactChars {
				return s, refuse(http.StatusRequestEntityTooLarge, "error.contact.toolong", nil)
			}
			s.contact = v
		case powField:
			v, ferr := readField(part, httpx.MaxSmallField, "error.form")
			if ferr != nil {
				return s, ferr
			}
			s.pow = v
		case "keep_metadata":
			if _, ferr := readField(part, httpx.MaxSmallField, "error.form"); ferr != nil {
				return s, ferr
			}
			s.keepMetadata = true
		case "files":
			name := part.FileName()
			if name == "" {
				// An empty file input still sends a part: skip it, but
				// only if it is empty.
				if n, _ := io.Copy(io.Discard, io.LimitReader(part, 1)); n != 0 {
					return s, refuse(http.StatusBadRequest, "error.form", nil)
				}
				continue
			}
			if !csrfOK {
				return s, refuse(http.StatusForbidden, "error.csrf", nil)
			}
			if !deskOK {
				return s, refuse(http.StatusBadRequest, "error.desk", nil)
			}
			if files++; files > httpx.MaxFiles {
				return s, tooManyFiles()
			}
			if ferr := startBatch(); ferr != nil {
				return s, ferr
			}
			meta := pista.FileMeta{Name: truncate(name, httpx.MaxFilenameBytes), Type: truncate(part.Header.Get("Content-Type"), httpx.MaxSmallField)}
			add := func() error { return s.batch.AddScrubbedFile(ctx, part, meta, h.SpoolDir, h.scrubBudget()) }
			if s.keepMetadata {
				meta.Scrub = intake.KeptReport(pista.ScrubByServer)
				add = func() error { return s.batch.AddFile(ctx, part, meta) }
			}
			if err := add(); err != nil {
				return s, readError(err)
			}
		default:
			return s, refuse(http.StatusBadRequest, "error.form", nil)
		}
	}
	if !csrfOK {
		return s, refuse(http.StatusForbidden, "error.csrf", nil)
	}
	if !deskOK {
		return s, refuse(http.StatusBadRequest, "error.desk", nil)
	}
	if needMeta {
		return s, refuse(http.StatusBadRequest, "error.form", nil)
	}
	var answers []byte
	if spec.questions && !s.sealed {
		l, _ := i18n.FromRequest(r)
		a, errs := s.questionnaire.Answer(s.answerValues, l.Tag, i18n.Default)
		if len(errs) > 0 {
			s.answerErrs = errs
			return s, refuse(http.StatusBadRequest, "questions.error.summary", nil)
		}
		if len(a.Answers) > 0 {
			if answers, err = pista.EncodeAnswers(a); err != nil {
				return s, refuse(http.StatusInternalServerError, "error.internal", err)
			}
		}
	}
	if spec.questions && s.sealed && !s.sealedAnswers && s.questionnaire.HasRequired() {
		// The script checks required answers before it encrypts them:
		// none came, so it failed or was bypassed.
		return s, refuse(http.StatusBadRequest, "questions.error.missing", nil)
	}
	if strings.TrimSpace(s.message) == "" && (s.batch == nil || s.batch.Len() == 0) && answers == nil {
		return s, refuse(http.StatusBadRequest, "error.empty", nil)
	}
	if s.sealed {
		if s.declared != 0 {
			err := intake.CheckDeclared(ctx, h.Tips, s.desk, s.declared, h.today())
			if errors.Is(err, intake.ErrIntakeKey) {
				// Encrypted to a key the desk no longer takes (the page
				// was opened days ago, or the desk's key changed, or the
				// conversation moved): nothing is kept.
				return s, refuse(http.StatusConflict, "forward.source.stale", nil)
			} else if err != nil {
				return s, refuse(http.StatusInternalServerError, "error.internal", err)
			}
		}
		s.batch.Sort()
		s.batch.MarkEncryptedBy("browser")
		s.batch.MarkSealing(s.declared)
		if s.preview != nil {
			s.previewIntake = s.declared
		}
		return s, nil
	}
	if ferr := startBatch(); ferr != nil {
		return s, ferr
	}
	if strings.TrimSpace(s.message) != "" {
		if err := s.batch.AddText(ctx, pista.KindMessage, s.message); err != nil {
			return s, readError(err)
		}
		if spec.contact { // a new tip: its first message
			if s.preview, err = intake.SealPreview(s.message, s.seal.Recipients); err != nil {
				return s, refuse(http.StatusInternalServerError, "error.internal", err)
			}
			if s.preview != nil {
				s.previewIntake = s.seal.IntakeKey
			}
		}
	}
	if answers != nil {
		if err := s.batch.AddText(ctx, pista.KindAnswers, string(answers)); err != nil {
			return s, readError(err)
		}
	}
	if strings.TrimSpace(s.contact) != "" {
		if err := s.batch.AddText(ctx, pista.KindContact, s.contact); err != nil {
			return s, readError(err)
		}
	}
	s.batch.Sort()
	s.batch.MarkSealing(s.seal.IntakeKey)
	return s, nil
}

// maxSealedMeta bounds a sealed file name-and-type object's plaintext.
const maxSealedMeta = 2 * httpx.MaxFilenameBytes

// readSealed stores one part of a form the browser encrypted: a message,
// the contact, a file, or the name and type of the file just before.
func (h *Handler) readSealed(ctx context.Context, s *submission, part *multipart.Part, needMeta *bool, files *int) *formError {
	var err error
	switch part.FormName() {
	case "message":
		// As on the plain form, the messages together are bounded.
		var n int64
		n, err = s.batch.AddEncrypted(ctx, pista.KindMessage, part, s.recipients, httpx.MaxMessageBytes-s.sealedText)
		s.sealedText += n
	case "contact":
		if s.sealedContact {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		s.sealedContact = true
		_, err = s.batch.AddEncrypted(ctx, pista.KindContact, part, s.recipients, 4*httpx.MaxContactChars)
	case "files":
		if *files++; *files > httpx.MaxFiles {
			return tooManyFiles()
		}
		_, err = s.batch.AddEncrypted(ctx, pista.KindFile, part, s.recipients, -1)
		*needMeta = true
	case "upload":
		// A file the browser encrypted and uploaded in pieces: the field
		// names the upload, which is stored as a sealed file would be.
		if *files++; *files > httpx.MaxFiles {
			return tooManyFiles()
		}
		if ferr := h.claimUpload(ctx, s, part); ferr != nil {
			return ferr
		}
		*needMeta = true
		return nil
	case "answers":
		if !s.questions || s.sealedAnswers {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		s.sealedAnswers = true
		_, err = s.batch.AddEncrypted(ctx, pista.KindAnswers, part, s.recipients, pista.MaxAnswersBytes)
	case "preview":
		// The first message's preview, padded and encrypted to the desk
		// like the message: small, so read whole, and checked.
		if s.preview != nil {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		b, rerr := io.ReadAll(io.LimitReader(part, pista.MaxPreviewSize+1))
		if rerr != nil {
			return readError(rerr)
		}
		if err := intake.CheckPreview(b, s.recipients); errors.Is(err, intake.ErrTooLarge) {
			return refuse(http.StatusRequestEntityTooLarge, "notes.preview.toolarge", nil)
		} else if err != nil {
			return refuse(http.StatusBadRequest, "error.sealed", nil)
		}
		s.preview = b
		return nil
	case "file_meta":
		if !*needMeta {
			return refuse(http.StatusBadRequest, "error.form", nil)
		}
		_, err = s.batch.AddEncryptedMeta(ctx, part, s.recipients, maxSealedMeta)
		*needMeta = false
	}
	if errors.Is(err, intake.ErrMalformed) {
		return refuse(http.StatusBadRequest, "error.sealed", nil)
	}
	if errors.Is(err, intake.ErrTooLarge) && part.FormName() == "message" {
		return refuse(http.StatusRequestEntityTooLarge, "error.message.toolong", nil)
	}
	if err != nil {
		return readError(err)
	}
	return nil
}

// claimUpload stores the upload the part names as the submission's next
// file: it must be complete, within the limit, and an age file for the
// desk (as a sealed file part). The upload stays, locked, until the
// submission is settled.
func (h *Handler) claimUpload(ctx context.Context, s *submission, part *multipart.Part) *formError {
	id, ferr := readField(part, httpx.MaxSmallField, "error.form")
	if ferr != nil {
		return ferr
	}
	if h.Uploads == nil {
		return refuse(http.StatusBadRequest, "error.form", nil)
	}
	for _, c := range s.claims {
		if c.ID() == id {
			return refuse(http.StatusBadRequest, "upload.error.missing", nil)
		}
	}
	c, err := h.Uploads.Claim(ctx, id)
	switch {
	case errors.Is(err, upload.ErrNotFound) || errors.Is(err, upload.ErrIncomplete):
		return refuse(http.StatusBadRequest, "upload.error.missing", nil)
	case errors.Is(err, upload.ErrTooLarge):
		return refuse(http.StatusRequestEntityTooLarge, "error.toolarge", nil)
	case err != nil:
		return refuse(http.StatusInternalServerError, "error.internal", err)
	}
	s.claims = append(s.claims, c)
	r, err := c.Open(ctx)
	if err != nil {
		return refuse(http.StatusInternalServerError, "error.internal", err)
	}
	defer r.Close()
	_, err = s.batch.AddEncrypted(ctx, pista.KindFile, r, s.recipients, -1)
	if errors.Is(err, intake.ErrMalformed) {
		return refuse(http.StatusBadRequest, "error.sealed", nil)
	}
	if err != nil {
		return readError(err)
	}
	return nil
}

// settle ends a submission's claims on uploads: once it is stored, the
// uploads are deleted (their bytes are objects now); if it was refused,
// they are kept, unlocked, for the source to submit again.
func (h *Handler) settle(ctx context.Context, s *submission, stored bool) {
	for _, c := range s.claims {
		if !stored {
			c.Release()
			continue
		}
		if err := c.Delete(ctx); err != nil {
			// The sweep removes it within a day.
			h.Log.Error("removing a stored upload", "err", err)
		}
	}
	s.claims = nil
}

// readError turns an error met while reading the body into the page to
// show: too large, or a broken form.
func readError(err error) *formError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, intake.ErrTooLarge) {
		return refuse(http.StatusRequestEntityTooLarge, "error.toolarge", err)
	}
	if errors.Is(err, pista.ErrStorageFull) {
		return refuse(http.StatusInsufficientStorage, "error.full", err)
	}
	if httpx.ClientFault(err) {
		// Not logged: it may name the source's address or quote the form.
		return refuse(http.StatusBadRequest, "error.form", nil)
	}
	return refuse(http.StatusInternalServerError, "error.internal", err)
}

// storeError turns an error of the tip store into the page to show: a
// full disk (507, the database could not grow) or a failure.
func storeError(err error) *formError {
	if errors.Is(err, pista.ErrStorageFull) {
		return refuse(http.StatusInsufficientStorage, "error.full", err)
	}
	if errors.Is(err, pista.ErrMoved) {
		return refuse(http.StatusConflict, "moved.source", nil)
	}
	return refuse(http.StatusInternalServerError, "error.internal", err)
}

// readField reads a whole small field, refusing it with tooLong if it has
// more than max bytes, or with error.form if it is not UTF-8.
func readField(part *multipart.Part, max int, tooLong string) (string, *formError) {
	b, err := io.ReadAll(io.LimitReader(part, int64(max)+1))
	if err != nil {
		return "", readError(err)
	}
	if len(b) > max {
		return "", refuse(http.StatusRequestEntityTooLarge, tooLong, nil)
	}
	if !utf8.Valid(b) {
		return "", refuse(http.StatusBadRequest, "error.form", nil)
	}
	// Browsers send textarea line breaks as CRLF.
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

func headerBytes(h textproto.MIMEHeader) string {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k)
		for _, v := range vs {
			b.WriteString(v)
		}
	}
	return b.String()
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
