package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// maxWrappedSize bounds a wrapped identity: a hybrid identity string is
// under 100 bytes and each recipient stanza about 1.6 KiB.
const maxWrappedSize = 64 << 10

// ParseRecipients parses age hybrid public keys (age1pq1…). Classic X25519
// keys are refused: age will not mix them with hybrid ones in one file, and
// every pista key is post-quantum.
func ParseRecipients(ss ...string) ([]age.Recipient, error) {
	var rs []age.Recipient
	for _, s := range ss {
		if s == "" {
			continue
		}
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a post-quantum age public key (age1pq1…): %w", short(s), err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil, errors.New("no recipient")
	}
	return rs, nil
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// Wrap encrypts a desk identity to a member's public key: the result is a
// standard age file whose plaintext is the identity string.
func Wrap(desk *age.HybridIdentity, member string) ([]byte, error) {
	rs, err := ParseRecipients(member)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rs...)
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w, desk.String()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unwrap opens a wrapped desk identity with a member's identity.
func Unwrap(wrapped []byte, member age.Identity) (*age.HybridIdentity, error) {
	if len(wrapped) > maxWrappedSize {
		return nil, errors.New("wrapped key too large")
	}
	r, err := age.Decrypt(bytes.NewReader(wrapped), member)
	if err != nil {
		return nil, err
	}
	s, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return nil, err
	}
	return age.ParseHybridIdentity(string(bytes.TrimSpace(s)))
}
