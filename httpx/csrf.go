package httpx

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"
)

// CSRFField is the name of the form field that carries the token.
const CSRFField = "csrf"

// anonTokenLife is how long a token issued without a session is valid: a
// source may take a long time to write a tip.
const anonTokenLife = 24 * time.Hour

// CSRF makes and checks the tokens of forms.
type CSRF struct {
	key []byte
}

// NewCSRF returns a CSRF keyed with a secret shared by every instance.
func NewCSRF(secret []byte) *CSRF { return &CSRF{key: secret} }

var tokenEncoding = base64.RawURLEncoding.Strict()

func (c *CSRF) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, c.key)
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

// Token returns the token for a form shown to the holder of sessionID, or
// a fresh anonymous token when sessionID is "".
func (c *CSRF) Token(sessionID string) string {
	if sessionID != "" {
		return tokenEncoding.EncodeToString(c.mac([]byte("session"), []byte(sessionID)))
	}
	var b [24]byte
	rand.Read(b[:16])
	binary.BigEndian.PutUint64(b[16:], uint64(time.Now().Unix()))
	return tokenEncoding.EncodeToString(append(b[:], c.mac([]byte("anon"), b[:])[:16]...))
}

// Valid checks a token sent by the holder of sessionID (or by a visitor
// without a session when sessionID is ""). A visitor with a session must
// send their session's token: an anonymous one, which anyone can fetch,
// does not do.
func (c *CSRF) Valid(token, sessionID string) bool {
	if len(token) > MaxSmallField {
		return false
	}
	b, err := tokenEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	if sessionID != "" {
		return subtle.ConstantTimeCompare(b, c.mac([]byte("session"), []byte(sessionID))) == 1
	}
	if len(b) != 40 {
		return false
	}
	if subtle.ConstantTimeCompare(b[24:], c.mac([]byte("anon"), b[:24])[:16]) != 1 {
		return false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[16:24])), 0)
	age := time.Since(issued)
	return age >= -time.Minute && age <= anonTokenLife
}

// ReadForm reads a small urlencoded form (at most MaxFormBody) and checks
// its token against sessionID. On failure it returns the status and the
// message key of the page to show: a form that does not parse, or a
// token that is missing or wrong.
func (c *CSRF) ReadForm(w http.ResponseWriter, r *http.Request, sessionID string) (status int, key string, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBody)
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, "error.form", false
	}
	if !c.Valid(r.PostForm.Get(CSRFField), sessionID) {
		return http.StatusForbidden, "error.csrf", false
	}
	return 0, "", true
}
