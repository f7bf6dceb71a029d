package httpx

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"
)

// ErrTooManySessions is returned when the session table is full.
var ErrTooManySessions = errors.New("too many sessions")

// maxSessions bounds the memory sessions take: each is well under a
// kilobyte, so this is tens of MiB. Only journalists can start one;
// sources' sessions are Sealed, in no table.
const maxSessions = 50_000

// Sessions is an in-memory table of sessions holding a value of type T:
// the journalists'.
type Sessions[T any] struct {
	Cookie   string        // cookie name
	Path     string        // cookie path
	Idle     time.Duration // a session unused this long expires
	Lifetime time.Duration // a session expires this long after login anyway
	Secure   bool          // set the Secure flag even without TLS (behind a TLS proxy)

	mu sync.Mutex
	m  map[[32]byte]*session[T]
}

type session[T any] struct {
	value   T
	created time.Time
	used    time.Time
}

func hashID(id string) [32]byte { return sha256.Sum256([]byte(id)) }

// Start makes a new session holding v and sets its cookie. It returns the
// session ID (for the CSRF token of the page being rendered).
func (s *Sessions[T]) Start(w http.ResponseWriter, r *http.Request, v T) (string, error) {
	id, err := s.create(v)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.Cookie, Value: id, Path: s.Path, HttpOnly: true,
		Secure: s.Secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	return id, nil
}

// StartToken makes a new session for a bearer token (the API) and returns
// the token.
func (s *Sessions[T]) StartToken(v T) (string, error) { return s.create(v) }

func (s *Sessions[T]) create(v T) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[[32]byte]*session[T]{}
	}
	if len(s.m) >= maxSessions {
		s.sweepLocked(now)
		if len(s.m) >= maxSessions {
			return "", ErrTooManySessions
		}
	}
	s.m[hashID(id)] = &session[T]{value: v, created: now, used: now}
	return id, nil
}

func (s *Sessions[T]) sweepLocked(now time.Time) {
	for k, e := range s.m {
		if s.expired(e, now) {
			delete(s.m, k)
		}
	}
}

func (s *Sessions[T]) expired(e *session[T], now time.Time) bool {
	return now.Sub(e.used) > s.Idle || now.Sub(e.created) > s.Lifetime
}

// Get returns the value and ID of the request's session, if it has a live
// one.
func (s *Sessions[T]) Get(r *http.Request) (v T, id string, ok bool) {
	c, err := r.Cookie(s.Cookie)
	if err != nil || len(c.Value) > MaxSmallField {
		return v, "", false
	}
	v, ok = s.Lookup(c.Value)
	if !ok {
		return v, "", false
	}
	return v, c.Value, true
}

// Lookup returns the value of a live session by its ID or token, and
// marks it used.
func (s *Sessions[T]) Lookup(id string) (v T, ok bool) {
	if id == "" || len(id) > MaxSmallField {
		return v, false
	}
	now := time.Now()
	k := hashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok {
		return v, false
	}
	if s.expired(e, now) {
		delete(s.m, k)
		return v, false
	}
	e.used = now
	return e.value, true
}

// End ends the request's session, if any, and clears its cookie.
func (s *Sessions[T]) End(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.Cookie); err == nil {
		s.EndToken(c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.Cookie, Value: "", Path: s.Path, MaxAge: -1, HttpOnly: true,
		Secure: s.Secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// EndToken ends a session by its ID or token.
func (s *Sessions[T]) EndToken(id string) {
	s.mu.Lock()
	delete(s.m, hashID(id))
	s.mu.Unlock()
}

// Update replaces the value of a live session, found by its ID or token,
// keeping its ID and times; it reports whether the session was live.
func (s *Sessions[T]) Update(id string, v T) bool {
	if id == "" || len(id) > MaxSmallField {
		return false
	}
	now := time.Now()
	k := hashID(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || s.expired(e, now) {
		return false
	}
	e.value = v
	return true
}

// EndWhere ends every session whose value matches, such as all sessions of
// a deleted source.
func (s *Sessions[T]) EndWhere(match func(T) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.m {
		if match(e.value) {
			delete(s.m, k)
		}
	}
}
