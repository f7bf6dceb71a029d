package httpx

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/pista-tips/pista"
)

// ErrTooManySessions is returned when the session table is full.
var ErrTooManySessions = errors.New("too many sessions")

// maxSessions bounds the memory sessions take: each is well under a
// kilobyte, so this is tens of MiB. Only journalists can start one;
// sources' sessions are Sealed, in no table.
const maxSessions = 50_000

// Sessions is a table of sessions holding a value of type T: the
// journalists'. It is kept in memory, or in Shared when several
// instances serve one tip line.
type Sessions[T any] struct {
	Cookie   string        // cookie name
	Path     string        // cookie path
	Idle     time.Duration // a session unused this long expires
	Lifetime time.Duration // a session expires this long after login anyway
	Secure   bool          // set the Secure flag even without TLS (behind a TLS proxy)
	// Shared, if set, keeps the sessions, under Kind, instead of this
	// process's memory: a session started on one instance is live on
	// every other. Only the SHA-256 of a session's ID is stored.
	Shared pista.Shared
	Kind   string

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
	id, err := s.create(r.Context(), v)
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
func (s *Sessions[T]) StartToken(ctx context.Context, v T) (string, error) {
	return s.create(ctx, v)
}

func (s *Sessions[T]) create(ctx context.Context, v T) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := time.Now()
	if s.Shared != nil {
		k := hashID(id)
		if err := s.put(ctx, k[:], sharedSession[T]{Value: v, Created: now, Used: now}, false); err != nil {
			return "", err
		}
		return id, nil
	}
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
	v, ok = s.Lookup(r.Context(), c.Value)
	if !ok {
		return v, "", false
	}
	return v, c.Value, true
}

// Lookup returns the value of a live session by its ID or token, and
// marks it used.
func (s *Sessions[T]) Lookup(ctx context.Context, id string) (v T, ok bool) {
	if id == "" || len(id) > MaxSmallField {
		return v, false
	}
	now := time.Now()
	k := hashID(id)
	if s.Shared != nil {
		e, ok := s.get(ctx, k[:], now)
		if !ok {
			return v, false
		}
		// The time of last use is written back once a minute at most,
		// not on every request.
		if now.Sub(e.Used) >= touchEvery {
			e.Used = now
			s.put(ctx, k[:], e, true)
		}
		return e.Value, true
	}
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
		s.EndToken(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: s.Cookie, Value: "", Path: s.Path, MaxAge: -1, HttpOnly: true,
		Secure: s.Secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

// EndToken ends a session by its ID or token.
func (s *Sessions[T]) EndToken(ctx context.Context, id string) {
	if s.Shared != nil {
		k := hashID(id)
		s.Shared.Delete(ctx, s.Kind, k[:])
		return
	}
	s.mu.Lock()
	delete(s.m, hashID(id))
	s.mu.Unlock()
}

// Update replaces the value of a live session, found by its ID or token,
// keeping its ID and times; it reports whether the session was live.
func (s *Sessions[T]) Update(ctx context.Context, id string, v T) bool {
	if id == "" || len(id) > MaxSmallField {
		return false
	}
	now := time.Now()
	k := hashID(id)
	if s.Shared != nil {
		e, ok := s.get(ctx, k[:], now)
		if !ok {
			return false
		}
		e.Value = v
		return s.put(ctx, k[:], e, true) == nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || s.expired(e, now) {
		return false
	}
	e.value = v
	return true
}

// touchEvery is how often a shared session's time of last use is
// written back: its idle expiry is late by at most this much.
const touchEvery = time.Minute

// sharedSession is a session as Shared keeps it.
type sharedSession[T any] struct {
	Value   T
	Created time.Time
	Used    time.Time
}

// put stores e until it would expire, whichever comes first of its idle
// time and its lifetime. An existing session is replaced only if it is
// still there: one ended meanwhile, on any instance, stays ended.
func (s *Sessions[T]) put(ctx context.Context, k []byte, e sharedSession[T], existing bool) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	expires := e.Used.Add(s.Idle)
	if end := e.Created.Add(s.Lifetime); end.Before(expires) {
		expires = end
	}
	if !existing {
		return s.Shared.Put(ctx, s.Kind, k, b, expires)
	}
	ok, err := s.Shared.Replace(ctx, s.Kind, k, nil, b, expires)
	if err == nil && !ok {
		err = errors.New("the session has ended")
	}
	return err
}

// get returns the live shared session under k.
func (s *Sessions[T]) get(ctx context.Context, k []byte, now time.Time) (e sharedSession[T], ok bool) {
	b, ok, err := s.Shared.Get(ctx, s.Kind, k)
	if err != nil || !ok {
		return e, false
	}
	if json.Unmarshal(b, &e) != nil {
		return e, false
	}
	if now.Sub(e.Used) > s.Idle || now.Sub(e.Created) > s.Lifetime {
		return e, false
	}
	return e, true
}
