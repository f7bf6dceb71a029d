package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // ISO-8859-*, Windows-125*, KOI8, Shift-JIS… in texts and headers
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/pista-tips/pista"
)

// text is what a part gives the message item.
type text struct {
	s         string
	plain     bool // from text/plain (preferred to HTML in an alternative)
	truncated bool
}

// parse reads the message: its subject and sender, its text, and its
// attachments, which it encrypts into the batches as they are decoded.
func (d *delivery) parse(r io.Reader) error {
	br := bufio.NewReader(&headerGuard{r: r, fail: &d.fail})
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return malformed(err)
	}
	if h.Len() == 0 {
		// No header at all, or no blank line between it and the body.
		return malformed(errors.New("no header"))
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	d.subject = headerText(mh, "Subject")
	d.contact = contact(mh, d.from, d.subject)
	t, err := d.walk(mh.Header, br, 0, topOpener(d.copyW))
	if err != nil {
		return err
	}
	d.text = t
	return nil
}

// walk reads one entity (the message or a part): body is its raw,
// still transfer-encoded, body. A multipart's parts are walked in turn;
// an inline text/plain or text/html part without a filename is text;
// anything else is a file. It writes the entity to the evidence copy
// (see evidence.go) through open: a text as received, a file replaced.
func (d *delivery) walk(h message.Header, body io.Reader, depth int, open opener) (text, error) {
	d.parts++
	mediaType, params := contentType(h)
	disposition, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := filename(h)
	isText := (mediaType == "text/plain" || mediaType == "text/html") && disposition != "attachment" && name == ""
	if d.parts > maxParts || depth > maxDepth {
		// Not extracted; a text is kept in the copy as received, anything
		// else is not kept. Read on to its end all the same.
		d.skipped++
		if isText {
			w, err := open(h.Header)
			if err != nil {
				return text{}, err
			}
			if d.copyBuf == nil {
				d.copyBuf = make([]byte, 32<<10)
			}
			// One buffer for all: such parts may be many and empty.
			_, err = io.CopyBuffer(w, &malformedReader{r: body}, d.copyBuf)
			return text{}, err
		}
		d.replaced++
		if err := d.copyW.need(); err != nil {
			return text{}, err
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return text{}, malformed(err)
		}
		return text{}, removedSkipped(open, h.Header)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		if params["boundary"] == "" {
			return text{}, malformed(errors.New("multipart without a boundary"))
		}
		ch, boundary := multipartHeader(h.Header, mediaType, params)
		w, err := open(ch)
		if err != nil {
			return text{}, err
		}
		mw := textproto.NewMultipartWriter(w)
		mw.SetBoundary(boundary)
		mr := textproto.NewMultipartReader(body, params["boundary"])
		openPart := partOpener(mw)
		var kids []text
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			} else if err != nil {
				return text{}, malformed(err)
			}
			t, err := d.walk(message.Header{Header: p.Header}, p, depth+1, openPart)
			if err != nil {
				return text{}, err
			}
			if t.s != "" {
				kids = append(kids, t)
			}
		}
		if err := mw.Close(); err != nil {
			return text{}, err
		}
		if mediaType == "multipart/alternative" {
			return pickAlternative(kids), nil
		}
		return joinTexts(kids), nil
	}
	if isText {
		w, err := open(h.Header)
		if err != nil {
			return text{}, err
		}
		tee := &copyReader{r: body, w: w}
		t, err := d.readText(bodyHeader(h, mediaType, params), tee, mediaType == "text/html")
		if err == nil {
			// What the decoder left (after the end of base64, say).
			_, err = io.Copy(io.Discard, tee)
			err = malformed(err)
		}
		if tee.err != nil {
			return text{}, tee.err
		}
		return t, err
	}
	if signature(mediaType) {
		// Extracted, and kept in the copy as received: a detached
		// signature is evidence, and the signed part beside it may verify.
		w, err := open(h.Header)
		if err != nil {
			return text{}, err
		}
		tee := &copyReader{r: body, w: w}
		err = d.addFile(h, tee, mediaType, name)
		d.files++
		if err == nil {
			_, err = io.Copy(io.Discard, tee)
			err = malformed(err)
		}
		if tee.err != nil {
			return text{}, tee.err
		}
		return text{}, err
	}
	d.replaced++
	if err := d.copyW.need(); err != nil {
		return text{}, err
	}
	if err := d.addFile(h, body, mediaType, name); err != nil {
		return text{}, err
	}
	d.files++
	return text{}, removedFile(open, h.Header, d.files, d.lastName, d.batches[0].LastScrub())
}

// copyReader is a TeeReader that keeps the writer's error apart: a
// failure to store the copy is not the message's fault.
type copyReader struct {
	r   io.Reader
	w   io.Writer
	err error
}

func (c *copyReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && c.err == nil {
		if _, werr := c.w.Write(p[:n]); werr != nil {
			c.err = werr
		}
	}
	if c.err != nil {
		return n, c.err
	}
	return n, err
}

// contentType is an entity's media type (lowercase) and parameters.
// Without a Content-Type, it is text/plain (RFC 2045); with one that
// cannot be read, an opaque file.
func contentType(h message.Header) (string, map[string]string) {
	v := h.Get("Content-Type")
	if v == "" {
		return "text/plain", nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err == mime.ErrInvalidMediaParameter {
		return t, nil
	} else if err != nil || t == "" {
		return "application/octet-stream", nil
	}
	return t, params
}

// readText reads a text part, decoded to UTF-8, within the text budget;
// h is its bodyHeader.
func (d *delivery) readText(h message.Header, body io.Reader, html bool) (text, error) {
	e, err := message.New(h, body)
	if message.IsUnknownEncoding(err) {
		return text{}, malformed(err)
	}
	// An unknown charset leaves the bytes as they are; invalid UTF-8 is
	// replaced below.
	limit := min(maxTextBytes, textBudget-d.textSpent)
	b, err := io.ReadAll(io.LimitReader(e.Body, int64(limit)+1))
	if err != nil {
		return text{}, malformed(err)
	}
	t := text{plain: !html}
	if len(b) > limit {
		b, t.truncated = b[:limit], true
		// Read on, to find an encoding error as in any other part.
		if _, err := io.Copy(io.Discard, e.Body); err != nil {
			return text{}, malformed(err)
		}
	}
	d.textSpent += len(b)
	if html {
		t.s = htmlText(b)
	} else {
		t.s = cleanText(string(b))
	}
	return t, nil
}

// cleanText is s as valid UTF-8 with LF line ends and no trailing blank
// lines.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\x00", "")
	return strings.TrimRight(s, " \t\n")
}

// pickAlternative takes one of an alternative's texts: the plain one if
// there is one, as it says what the sender wrote and nothing else.
func pickAlternative(ts []text) text {
	for _, t := range ts {
		if t.plain {
			return t
		}
	}
	if len(ts) > 0 {
		return ts[0]
	}
	return text{}
}

// joinTexts puts the texts of a mixed multipart one after the other.
func joinTexts(ts []text) text {
	var j text
	var parts []string
	for _, t := range ts {
		parts = append(parts, t.s)
		j.plain = j.plain || t.plain
		j.truncated = j.truncated || t.truncated
	}
	j.s = strings.Join(parts, "\n\n")
	return j
}

// message is the message item's text: the subject, the text, and notes on
// what was not extracted. "" if there is none of that.
func (d *delivery) message() string {
	var parts []string
	if d.subject != "" {
		parts = append(parts, "Subject: "+d.subject)
	}
	body, truncated := d.text.s, d.text.truncated
	if len(body) > maxTextBytes {
		body, truncated = truncate(body, maxTextBytes), true
	}
	if strings.TrimSpace(body) != "" {
		parts = append(parts, body)
	}
	// Where the rest is: the e-mail item, as received or (if a part was
	// replaced) as the copy, which keeps every text.
	kept := "the whole e-mail as received is attached."
	if truncated {
		if d.replaced > 0 {
			kept = "the e-mail attached keeps the whole text."
		}
		parts = append(parts, fmt.Sprintf("[pista: this text was cut at %d MiB; %s]", maxTextBytes>>20, kept))
	}
	if d.replaced > 0 {
		kept = "of them, the e-mail attached keeps only the texts past the 100th part: files, and anything nested too deep, could not have their metadata removed."
	}
	switch {
	case d.skipped == 1:
		parts = append(parts, fmt.Sprintf("[pista: 1 part of this e-mail was not extracted (past %d parts, or nested deeper than %d); %s]", maxParts, maxDepth, kept))
	case d.skipped > 1:
		parts = append(parts, fmt.Sprintf("[pista: %d parts of this e-mail were not extracted (past %d parts, or nested deeper than %d); %s]", d.skipped, maxParts, maxDepth, kept))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "\n\n") + "\n"
}

// addFile encrypts a part, decoded from its transfer encoding only (its
// bytes as the sender's file held them), into every desk's batch.
func (d *delivery) addFile(h message.Header, body io.Reader, mediaType, name string) error {
	// Without the part's Content-Type, go-message does not convert a
	// text file's charset.
	var eh message.Header
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
		eh.Set("Content-Transfer-Encoding", cte)
	}
	e, err := message.New(eh, body)
	if message.IsUnknownEncoding(err) {
		return malformed(err)
	}
	name = oneLine(name, maxFilenameBytes)
	if name == "" {
		name = fmt.Sprintf("part-%d%s", d.parts, extension(mediaType))
	}
	d.lastName = name
	// Its hidden metadata is removed on arrival, before it is encrypted,
	// as the form without JavaScript does: the sender was not asked.
	meta := pista.FileMeta{Name: name, Type: oneLine(mediaType, maxHeaderTextBytes),
		Scrub: &pista.ScrubReport{By: pista.ScrubByEmail, Choice: pista.ScrubChoiceNotAsked}}
	return d.fanOut(&malformedReader{r: e.Body}, func(i int, r io.Reader) error {
		return d.batches[i].AddScrubbedFile(d.ctx, r, meta, d.s.cfg.SpoolDir, d.s.cfg.ScrubBudget)
	})
}

// extension is a file extension for a media type, for a part without a
// filename.
func extension(mediaType string) string {
	switch mediaType {
	case "message/rfc822":
		return ".eml"
	case "text/plain":
		return ".txt"
	case "text/html":
		return ".html"
	}
	if exts, _ := mime.ExtensionsByType(mediaType); len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// malformedReader marks the errors of a decoded body (bad base64, a part
// cut short) as the message's fault.
type malformedReader struct{ r io.Reader }

func (m *malformedReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = malformed(err)
	}
	return n, err
}

// fanOut streams r to fn once per desk, concurrently: each desk's copy
// of a file is encrypted to its own key as the part is decoded.
func (d *delivery) fanOut(r io.Reader, fn func(i int, r io.Reader) error) error {
	n := len(d.batches)
	if n == 1 {
		return fn(0, r)
	}
	errs := make([]error, n)
	pipes := make([]*io.PipeWriter, n)
	ws := make([]io.Writer, n)
	var wg sync.WaitGroup
	for i := range n {
		pr, pw := io.Pipe()
		pipes[i], ws[i] = pw, pw
		wg.Go(func() {
			errs[i] = fn(i, pr)
			pr.CloseWithError(errs[i])
		})
	}
	src := &errReader{r: r}
	_, err := io.Copy(io.MultiWriter(ws...), src)
	for _, p := range pipes {
		p.CloseWithError(err)
	}
	wg.Wait()
	if src.err != nil {
		return src.err // the cause of the others
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return err
}

// errReader keeps its reader's error.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
