package httpx

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestSessions(secure bool) *Sessions[string] {
	return &Sessions[string]{Cookie: "sess", Path: "/p/", Idle: time.Hour, Lifetime: 12 * time.Hour, Secure: secure}
}

// start starts a session holding v and returns its ID and the cookie a
// browser received.
func start(t *testing.T, s *Sessions[string], r *http.Request, v string) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	id, err := s.Start(w, r, v)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("Start set %d cookies, want 1", len(cs))
	}
	return id, cs[0]
}

func requestWith(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/p/", nil)
	if c != nil {
		r.AddCookie(c)
	}
	return r
}

// age moves a session's creation and last use into the past, as if that
// much time had passed.
func (s *Sessions[T]) age(id string, sinceCreated, sinceUsed time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[hashID(id)]
	now := time.Now()
	e.created, e.used = now.Add(-sinceCreated), now.Add(-sinceUsed)
}

func TestSessionExpiry(t *testing.T) {
	tests := []struct {
		name                    string
		sinceCreated, sinceUsed time.Duration
		live                    bool
	}{
		{"fresh", 0, 0, true},
		{"used a minute ago", time.Hour, time.Minute, true},
		{"idle just under the idle time", 2 * time.Hour, time.Hour - time.Minute, true},
		{"idle longer than the idle time", 2 * time.Hour, time.Hour + time.Minute, false},
		{"kept in use but past its lifetime", 12*time.Hour + time.Minute, time.Second, false},
		{"just under its lifetime", 12*time.Hour - time.Minute, time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(false)
			id, c := start(t, s, httptest.NewRequest(http.MethodPost, "/p/login", nil), "alice")
			s.age(id, tt.sinceCreated, tt.sinceUsed)
			v, gotID, ok := s.Get(requestWith(c))
			if ok != tt.live {
				t.Fatalf("Get: live = %v, want %v", ok, tt.live)
			}
			if !ok {
				if _, ok := s.Lookup(context.Background(), id); ok {
					t.Errorf("Lookup finds an expired session")
				}
				return
			}
			if v != "alice" || gotID != id {
				t.Errorf("Get = %q, %q; want %q, %q", v, gotID, "alice", id)
			}
		})
	}
}

func TestSessionUseExtendsIdle(t *testing.T) {
	s := newTestSessions(false)
	id, _ := start(t, s, httptest.NewRequest(http.MethodPost, "/p/login", nil), "alice")
	s.age(id, 2*time.Hour, 50*time.Minute)
	if _, ok := s.Lookup(context.Background(), id); !ok {
		t.Fatal("session idle 50 minutes is gone")
	}
	// The lookup marked it used: 50 more minutes are fine again.
	s.mu.Lock()
	s.m[hashID(id)].used = s.m[hashID(id)].used.Add(-50 * time.Minute)
	s.mu.Unlock()
	if _, ok := s.Lookup(context.Background(), id); !ok {
		t.Fatal("session used 50 minutes ago is gone although it was used before that")
	}
}

func TestSessionEnd(t *testing.T) {
	tests := []struct {
		name string
		end  func(s *Sessions[string], id string, c *http.Cookie) *httptest.ResponseRecorder
	}{
		{"End with the cookie", func(s *Sessions[string], id string, c *http.Cookie) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			s.End(w, requestWith(c))
			return w
		}},
		{"EndToken", func(s *Sessions[string], id string, c *http.Cookie) *httptest.ResponseRecorder {
			s.EndToken(context.Background(), id)
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(false)
			id, c := start(t, s, httptest.NewRequest(http.MethodPost, "/p/login", nil), "alice")
			otherID, otherC := start(t, s, httptest.NewRequest(http.MethodPost, "/p/login", nil), "bob")
			w := tt.end(s, id, c)
			if _, _, ok := s.Get(requestWith(c)); ok {
				t.Error("the ended session is still live")
			}
			if v, gotID, ok := s.Get(requestWith(otherC)); !ok || v != "bob" || gotID != otherID {
				t.Errorf("another session was ended too: %q %v", v, ok)
			}
			if w == nil {
				return
			}
			cs := w.Result().Cookies()
			if len(cs) != 1 || cs[0].Name != "sess" || cs[0].Value != "" || cs[0].MaxAge >= 0 {
				t.Fatalf("End set cookies %v, want one clearing %q", cs, "sess")
			}
			if !cs[0].HttpOnly || cs[0].SameSite != http.SameSiteStrictMode || cs[0].Path != "/p/" {
				t.Errorf("clearing cookie %v lacks HttpOnly, SameSite=Strict or the path", cs[0])
			}
		})
	}
}

func TestSessionCookieFlags(t *testing.T) {
	plain := func() *http.Request { return httptest.NewRequest(http.MethodPost, "http://tips.example/p/login", nil) }
	overTLS := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "https://tips.example/p/login", nil)
		r.TLS = &tls.ConnectionState{}
		return r
	}
	tests := []struct {
		name       string
		secure     bool
		req        func() *http.Request
		wantSecure bool
	}{
		{"plain HTTP", false, plain, false},
		{"TLS", false, overTLS, true},
		{"plain HTTP behind a TLS proxy (Secure set)", true, plain, true},
		{"TLS and Secure set", true, overTLS, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSessions(tt.secure)
			id, c := start(t, s, tt.req(), "alice")
			if c.Name != "sess" || c.Value != id || c.Path != "/p/" {
				t.Errorf("cookie %s=%s path %s, want sess=<id> path /p/", c.Name, c.Value, c.Path)
			}
			if !c.HttpOnly {
				t.Error("cookie is not HttpOnly")
			}
			if c.SameSite != http.SameSiteStrictMode {
				t.Errorf("cookie SameSite = %v, want Strict", c.SameSite)
			}
			if c.Secure != tt.wantSecure {
				t.Errorf("cookie Secure = %v, want %v", c.Secure, tt.wantSecure)
			}
			if c.MaxAge != 0 || !c.Expires.IsZero() {
				t.Errorf("cookie persists (MaxAge %d, Expires %v); it should end with the browser", c.MaxAge, c.Expires)
			}
		})
	}
}

func TestSessionIDs(t *testing.T) {
	s := newTestSessions(false)
	seen := map[string]bool{}
	for range 100 {
		id, err := s.StartToken(context.Background(), "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(id) < 43 || seen[id] {
			t.Fatalf("weak or repeated session ID %q", id)
		}
		seen[id] = true
		if v, ok := s.Lookup(context.Background(), id); !ok || v != "x" {
			t.Fatalf("Lookup(%q) = %q, %v", id, v, ok)
		}
	}
}

func TestSessionGetRefuses(t *testing.T) {
	s := newTestSessions(false)
	_, c := start(t, s, httptest.NewRequest(http.MethodPost, "/p/login", nil), "alice")
	tests := []struct {
		name   string
		cookie *http.Cookie
	}{
		{"no cookie", nil},
		{"unknown ID", &http.Cookie{Name: "sess", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}},
		{"empty value", &http.Cookie{Name: "sess", Value: ""}},
		{"overlong value", &http.Cookie{Name: "sess", Value: c.Value + strings.Repeat("A", MaxSmallField)}},
		{"right ID under another cookie name", &http.Cookie{Name: "other", Value: c.Value}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, id, ok := s.Get(requestWith(tt.cookie)); ok {
				t.Errorf("Get = %q, %q, true; want no session", v, id)
			}
		})
	}
}
