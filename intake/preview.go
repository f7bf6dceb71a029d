package intake

import (
	"bytes"
	"fmt"

	"filippo.io/age"

	"github.com/pista-tips/pista"
)

// SealPreview encrypts the preview of message (pista.PreviewText) to
// recipients, in memory: a preview is small, and nothing of it touches
// the disk before it is encrypted. It answers nil for a message of
// white space only.
func SealPreview(message string, recipients []age.Recipient) ([]byte, error) {
	text := pista.PreviewText(message)
	if text[0] == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, fmt.Errorf("intake: encrypting a preview: %w", err)
	}
	if _, err := w.Write(text); err != nil {
		return nil, fmt.Errorf("intake: encrypting a preview: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("intake: encrypting a preview: %w", err)
	}
	if buf.Len() > pista.MaxPreviewSize {
		return nil, fmt.Errorf("intake: a preview of %d bytes for %d recipients, over %d", buf.Len(), len(recipients), pista.MaxPreviewSize)
	}
	return buf.Bytes(), nil
}

// CheckPreview checks a preview that a browser or an app encrypted: at
// most pista.MaxPreviewSize bytes, an age file whose header holds exactly
// recipients hybrid stanzas (CheckHeader), and a payload of exactly
// pista.PreviewBytes of plaintext, so that its size tells nothing of the
// message. It answers ErrTooLarge or an ErrMalformed.
func CheckPreview(b []byte, recipients int) error {
	if len(b) > pista.MaxPreviewSize {
		return ErrTooLarge
	}
	n, _, err := CheckHeader(bytes.NewReader(b), recipients)
	if err != nil {
		return err
	}
	if p, ok := PlaintextSize(int64(len(b) - n)); !ok || p != pista.PreviewBytes {
		return malformed("a preview holds %d bytes of plaintext, padded", pista.PreviewBytes)
	}
	return nil
}
