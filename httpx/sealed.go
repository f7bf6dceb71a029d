package httpx

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/pista-tips/pista"
)

// ErrNoSession answers a request without a live sealed session: no cookie
// or token, or one malformed, tampered with, sealed under another key or
// for another purpose, expired, or ended (logout, deleted conversation).
var ErrNoSession = errors.New("no live session")

// Sizes of a sealed session. A token is
//
//	base64url(version ‖ window ‖ nonce ‖ XChaCha20-Poly1305(key of window, nonce,
//	          session ID ‖ created ‖ used ‖ epoch ‖ value,
//	          additional data: label ‖ version ‖ window ‖ purpose))
//
// with the window (of the KeyRing) as 4 bytes, the times in unix seconds
// and the epoch as 8 bytes each.
const (
	sealedVersion = 1
	// SealedIDSize is the size of a session's ID: random, the same for
	// the session's life, and what CSRF tokens are bound to.
	SealedIDSize = 16
	sealedHeader = SealedIDSize + 8 + 8 + 8
	// MaxSealedValue bounds the caller's value, so that a token stays
	// within MaxSmallField once sealed and encoded (checked by a test).
	MaxSealedValue = 96
	sealedPrefix   = 1 + 4 + chacha20poly1305.NonceSizeX
	sealedOverhead = sealedPrefix + chacha20poly1305.Overhead
	// maxSealedToken is the longest token Open reads: longer ones are
	// refused before any decoding.
	maxSealedToken = (sealedOverhead + sealedHeader + MaxSealedValue + 2) / 3 * 4
)

// sealedLabel opens the additional data of every sealed session.
const sealedLabel = "pista sealed session\x00"

// refreshAfter is how stale a cookie's last-used time may get before Get
// seals it again with the time of now: idle expiry slides by the minute.
const refreshAfter = time.Minute

// Sealed keeps sessions in their cookie or bearer token rather than on the
// server: the session is sealed with XChaCha20-Poly1305 under a key every
// instance sharing the database holds (a KeyRing, whose keys change every
// window and are deleted once no live session can need them), so the
// server holds nothing per session, nobody can fill a table, and sessions
// survive a restart. A session carries a random ID, its created and last-used
// times, the epoch of its owner when it began and a value the caller
// encodes; the purpose (web cookie, API token) is bound in as additional
// data, so that one cannot stand for the other.
//
// A sealed session cannot be taken back from its holder, so every Get and
// Lookup asks Epoch for its owner's epoch now and refuses a session begun
// under another: changing the epoch (logout) ends every session of the
// owner at once, and an owner who is gone (ErrNotFound) has none.
type Sealed[T any] struct {
	Cookie   string        // cookie name ("" for bearer tokens)
	Path     string        // cookie path
	Idle     time.Duration // a cookie unused this long expires (0: no idle expiry)
	Lifetime time.Duration // a session expires this long after it began anyway
	Secure   bool          // set the Secure flag even without TLS (behind a TLS proxy)

	// Encode and Decode turn a value into at most MaxSealedValue bytes
	// and back; Decode sees only what Encode made under these keys and
	// purpose, but must still refuse what it cannot read.
	Encode func(T) ([]byte, error)
	Decode func([]byte) (T, error)
	// Epoch answers the current session epoch of v's owner, or an error
	// wrapping pista.ErrNotFound if the owner is gone.
	Epoch func(ctx context.Context, v T) (int64, error)

	keys    *KeyRing
	purpose string
}

// NewSealed makes a Sealed for purpose with the keys of ring (which
// several Sealed may share); the caller sets its other fields before use.
func NewSealed[T any](ring *KeyRing, purpose string) (*Sealed[T], error) {
	if ring == nil || ring.Window < time.Second || ring.Keep < 1 || ring.Secret == nil || ring.Forget == nil {
		return nil, errors.New("httpx: sealed sessions need a key ring")
	}
	if purpose == "" {
		return nil, errors.New("httpx: sealed sessions need a purpose")
	}
	return &Sealed[T]{keys: ring, purpose: purpose}, nil
}

// ad is the additional data of a token of window w.
func (s *Sealed[T]) ad(w uint32) []byte {
	ad := append([]byte(sealedLabel), sealedVersion)
	ad = binary.BigEndian.AppendUint32(ad, w)
	return append(ad, s.purpose...)
}

// sealedState is what a token holds besides the value.
type sealedState struct {
	id            [SealedIDSize]byte
	created, used time.Time
	epoch         int64
}

func (st *sealedState) sid() string { return base64.RawURLEncoding.EncodeToString(st.id[:]) }

// seal makes the token of state st and encoded value b, with the key of
// the window of now.
func (s *Sealed[T]) seal(ctx context.Context, st sealedState, b []byte, now time.Time) (string, error) {
	w := s.keys.window(now)
	aead, err := s.keys.aead(ctx, w, w)
	if err != nil {
		return "", err
	}
	plain := make([]byte, sealedHeader, sealedHeader+len(b))
	copy(plain, st.id[:])
	binary.BigEndian.PutUint64(plain[16:], uint64(st.created.Unix()))
	binary.BigEndian.PutUint64(plain[24:], uint64(st.used.Unix()))
	binary.BigEndian.PutUint64(plain[32:], uint64(st.epoch))
	plain = append(plain, b...)
	out := make([]byte, sealedPrefix, sealedOverhead+len(plain))
	out[0] = sealedVersion
	binary.BigEndian.PutUint32(out[1:], uint32(w))
	rand.Read(out[5:])
	out = aead.Seal(out, out[5:], plain, s.ad(uint32(w)))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// open checks and opens a token, refusing (ErrNoSession) all but live
// sealed sessions of a kept key and this purpose (the epoch is checked by
// the caller); other errors are the key ring's.
func (s *Sealed[T]) open(ctx context.Context, token string, now time.Time) (sealedState, []byte, error) {
	var st sealedState
	if len(token) > maxSealedToken || len(token) < base64.RawURLEncoding.EncodedLen(sealedOverhead+sealedHeader) {
		return st, nil, ErrNoSession
	}
	// One encoding per token: strict (no stray bits) and no line breaks,
	// which the decoder would skip.
	if strings.ContainsAny(token, "\r\n") {
		return st, nil, ErrNoSession
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < sealedOverhead+sealedHeader || raw[0] != sealedVersion {
		return st, nil, ErrNoSession
	}
	w := binary.BigEndian.Uint32(raw[1:])
	aead, err := s.keys.aead(ctx, int64(w), s.keys.window(now))
	if errors.Is(err, errNoKey) {
		return st, nil, ErrNoSession
	} else if err != nil {
		return st, nil, err
	}
	plain, err := aead.Open(nil, raw[5:sealedPrefix], raw[sealedPrefix:], s.ad(w))
	if err != nil || len(plain) < sealedHeader || len(plain) > sealedHeader+MaxSealedValue {
		return st, nil, ErrNoSession
	}
	copy(st.id[:], plain)
	st.created = time.Unix(int64(binary.BigEndian.Uint64(plain[16:])), 0)
	st.used = time.Unix(int64(binary.BigEndian.Uint64(plain[24:])), 0)
	st.epoch = int64(binary.BigEndian.Uint64(plain[32:]))
	if !s.live(st, now) {
		return st, nil, ErrNoSession
	}
	return st, plain[sealedHeader:], nil
}

// live checks a session's times. A little clock skew between instances
// is allowed for; a session from further in the future is refused.
func (s *Sealed[T]) live(st sealedState, now time.Time) bool {
	const skew = time.Minute
	if st.created.After(now.Add(skew)) || st.used.Before(st.created) || st.used.After(now.Add(skew)) {
		return false
	}
	if now.Sub(st.created) > s.Lifetime {
		return false
	}
	return s.Idle <= 0 || now.Sub(st.used) <= s.Idle
}

// start seals a new session holding v.
func (s *Sealed[T]) start(ctx context.Context, v T) (string, string, error) {
	if time.Duration(s.keys.Keep-1)*s.keys.Window < s.Lifetime {
		return "", "", fmt.Errorf("httpx: keys kept %d×%v do not last a session's lifetime, %v", s.keys.Keep, s.keys.Window, s.Lifetime)
	}
	b, err := s.Encode(v)
	if err != nil {
		return "", "", err
	}
	if len(b) > MaxSealedValue {
		return "", "", fmt.Errorf("httpx: a sealed session's value is %d bytes, more than %d", len(b), MaxSealedValue)
	}
	epoch, err := s.Epoch(ctx, v)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	st := sealedState{created: now, used: now, epoch: epoch}
	rand.Read(st.id[:])
	tok, err := s.seal(ctx, st, b, now)
	return tok, st.sid(), err
}

// Start begins a session holding v and sets its cookie. It returns the
// session ID (for the CSRF token of the page being rendered).
func (s *Sealed[T]) Start(w http.ResponseWriter, r *http.Request, v T) (string, error) {
	tok, sid, err := s.start(r.Context(), v)
	if err != nil {
		return "", err
	}
	s.setCookie(w, r, tok, 0)
	return sid, nil
}

// StartToken begins a session holding v and returns its bearer token.
func (s *Sealed[T]) StartToken(ctx context.Context, v T) (string, error) {
	tok, _, err := s.start(ctx, v)
	return tok, err
}

// Get returns the value and ID of the request's session, if its cookie
// holds a live one, and ErrNoSession if not (or the error of Epoch). With
// w not nil and Idle set, a session last used over a minute ago is sealed
// again with the time of now and its cookie set anew: the session and its
// ID stay the same, the cookie's value changes.
func (s *Sealed[T]) Get(w http.ResponseWriter, r *http.Request) (v T, sid string, err error) {
	c, cerr := r.Cookie(s.Cookie)
	if cerr != nil {
		return v, "", ErrNoSession
	}
	now := time.Now()
	v, st, b, err := s.lookup(r.Context(), c.Value, now)
	if err != nil {
		return v, "", err
	}
	if w != nil && s.Idle > 0 && now.Sub(st.used) > refreshAfter {
		st.used = now
		if tok, err := s.seal(r.Context(), st, b, now); err == nil {
			s.setCookie(w, r, tok, 0)
		} // else the cookie stays as it is, live until its idle time
	}
	return v, st.sid(), nil
}

// Lookup returns the value and ID of the session of a bearer token, or
// ErrNoSession (or the error of Epoch).
func (s *Sealed[T]) Lookup(ctx context.Context, token string) (v T, sid string, err error) {
	v, st, _, err := s.lookup(ctx, token, time.Now())
	if err != nil {
		return v, "", err
	}
	return v, st.sid(), nil
}

func (s *Sealed[T]) lookup(ctx context.Context, token string, now time.Time) (v T, st sealedState, b []byte, err error) {
	st, b, err = s.open(ctx, token, now)
	if err != nil {
		return v, st, nil, err
	}
	v, err = s.Decode(b)
	if err != nil {
		var zero T
		return zero, st, nil, ErrNoSession
	}
	var zero T
	epoch, err := s.Epoch(ctx, v)
	if errors.Is(err, pista.ErrNotFound) {
		return zero, st, nil, ErrNoSession
	} else if err != nil {
		return zero, st, nil, err
	}
	if epoch != st.epoch {
		return zero, st, nil, ErrNoSession
	}
	return v, st, b, nil
}

// End clears the request's session cookie. It does not end the session
// (whoever copied the cookie still holds it): the caller changes its
// owner's epoch for that.
func (s *Sealed[T]) End(w http.ResponseWriter, r *http.Request) {
	s.setCookie(w, r, "", -1)
}

func (s *Sealed[T]) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: s.Cookie, Value: value, Path: s.Path, MaxAge: maxAge, HttpOnly: true,
		Secure: s.Secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}
