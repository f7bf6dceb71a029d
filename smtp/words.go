package smtp

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/unicode"

	"github.com/emersion/go-message"
)

// Header fields are decoded here rather than by go-message: its decoder
// (the standard library's mime.WordDecoder with go-message's charset
// reader) copies every RFC 2047 encoded word through a 32 KiB buffer and
// an 8 KiB one, about 40 KiB for a word of a few bytes. A 4 MiB subject
// of "=?UTF-16?B?AGE=?=" words allocated 7.5 GB and took 1.4 s of CPU;
// every part's Content-Type and Content-Disposition parameters were
// decoded the same way, so a 32 MiB message could cost minutes. Here a
// word costs its own size, and only a field's first maxHeaderRawBytes are
// decoded.

// wordDecoder decodes RFC 2047 encoded words, each at once.
var wordDecoder = &mime.WordDecoder{CharsetReader: wordCharset}

// wordCharset converts one encoded word's bytes from label to UTF-8.
func wordCharset(label string, input io.Reader) (io.Reader, error) {
	enc, err := lookupCharset(label)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(input)
	if err != nil {
		return nil, err
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return nil, err
	}
	// A *bytes.Reader is an io.WriterTo: io.Copy allocates no buffer.
	return bytes.NewReader(out), nil
}

// lookupCharset finds an encoding by its label, as go-message's charset
// package does (IANA names, their "cs" aliases, then WHATWG labels).
func lookupCharset(label string) (encoding.Encoding, error) {
	switch strings.ToLower(label) {
	case "ansi_x3.110-1983":
		return charmap.ISO8859_1, nil
	case "x-utf_8j":
		return unicode.UTF8, nil
	}
	enc, err := ianaindex.MIME.Encoding(label)
	if enc == nil {
		enc, err = ianaindex.MIME.Encoding("cs" + label)
	}
	if enc == nil {
		enc, err = htmlindex.Get(label)
	}
	if err != nil {
		return nil, fmt.Errorf("charset %q: %w", label, err)
	}
	if enc == nil {
		return nil, fmt.Errorf("charset %q: unsupported", label)
	}
	return enc, nil
}

// decodeWords is s with its encoded words decoded, or s as it is if a
// charset is unknown. Only its first maxHeaderRawBytes are read.
func decodeWords(s string) string {
	s = cutRaw(s)
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// cutRaw cuts a raw header value to maxHeaderRawBytes, at a space if
// there is one in its last quarter, so that an encoded word is kept whole.
func cutRaw(s string) string {
	if len(s) <= maxHeaderRawBytes {
		return s
	}
	s = s[:maxHeaderRawBytes]
	if i := strings.LastIndexAny(s, " \t"); i > maxHeaderRawBytes*3/4 {
		s = s[:i]
	}
	return s
}

// addressList parses an address header as go-message's AddressList does,
// with wordDecoder, from its first maxHeaderRawBytes.
func addressList(h message.Header, key string) ([]*mail.Address, error) {
	v := h.Get(key)
	if v == "" {
		return nil, nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	return p.ParseList(cutRaw(v))
}

// filename is a part's file name, as go-message's Filename finds it
// (Content-Disposition's filename, else Content-Type's name), decoded.
func filename(h message.Header) string {
	_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	name, ok := params["filename"]
	if err != nil || !ok {
		_, params, _ = mime.ParseMediaType(h.Get("Content-Type"))
		name = params["name"]
	}
	return decodeWords(name)
}

// maxCharsetBytes bounds a charset label: longer ones are unknown, and
// the text is kept as it came.
const maxCharsetBytes = 64

// bodyHeader is the header go-message needs to decode a part's body: its
// transfer encoding and, for text, its charset, and nothing else of what
// the sender wrote (go-message decodes every parameter it is given).
func bodyHeader(h message.Header, mediaType string, params map[string]string) message.Header {
	var eh message.Header
	if cte := h.Get("Content-Transfer-Encoding"); cte != "" {
		eh.Set("Content-Transfer-Encoding", cte)
	}
	if cs := params["charset"]; cs != "" && len(cs) <= maxCharsetBytes && strings.HasPrefix(mediaType, "text/") {
		eh.Set("Content-Type", mime.FormatMediaType(mediaType, map[string]string{"charset": cs}))
	}
	return eh
}
