package httpx

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// anonTokenAt builds an anonymous token issued at t, with the same layout
// and HMAC as Token, so that tests can make old and future ones.
func anonTokenAt(c *CSRF, t time.Time) string {
	var b [24]byte
	rand.Read(b[:16])
	binary.BigEndian.PutUint64(b[16:], uint64(t.Unix()))
	return tokenEncoding.EncodeToString(append(b[:], c.mac([]byte("anon"), b[:])[:16]...))
}

func TestCSRF(t *testing.T) {
	c := NewCSRF([]byte("0123456789abcdef0123456789abcdef"))
	other := NewCSRF([]byte("another instance's secret, 32 by"))
	now := time.Now()

	tests := []struct {
		name    string
		token   string
		session string
		want    bool
	}{
		{"session token for its session", c.Token("alice-session"), "alice-session", true},
		{"session token for another session", c.Token("alice-session"), "bob-session", false},
		{"session token without a session", c.Token("alice-session"), "", false},
		{"session token of another secret", other.Token("alice-session"), "alice-session", false},
		{"anonymous token without a session", c.Token(""), "", true},
		{"anonymous token when a session exists", c.Token(""), "alice-session", false},
		{"anonymous token of another secret", other.Token(""), "", false},
		{"anonymous token issued 23 hours ago", anonTokenAt(c, now.Add(-23*time.Hour)), "", true},
		{"anonymous token issued 25 hours ago (expired)", anonTokenAt(c, now.Add(-25*time.Hour)), "", false},
		{"anonymous token issued 30 seconds ahead (clock skew)", anonTokenAt(c, now.Add(30*time.Second)), "", true},
		{"anonymous token issued an hour ahead", anonTokenAt(c, now.Add(time.Hour)), "", false},
		{"anonymous token with a changed time", retime(c.Token(""), now.Add(-time.Minute)), "", false},
		{"tampered session token", flipLast(c.Token("alice-session")), "alice-session", false},
		{"tampered anonymous token", flipLast(c.Token("")), "", false},
		{"truncated anonymous token", c.Token("")[:40], "", false},
		{"empty token without a session", "", "", false},
		{"empty token with a session", "", "alice-session", false},
		{"not base64", "!!!!not-a-token!!!!", "", false},
		{"overlong token", c.Token("alice-session") + strings.Repeat("A", MaxSmallField), "alice-session", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Valid(tt.token, tt.session); got != tt.want {
				t.Errorf("Valid(%q, %q) = %v, want %v", tt.token, tt.session, got, tt.want)
			}
		})
	}
}

func TestCSRFAnonymousTokensDiffer(t *testing.T) {
	c := NewCSRF([]byte("0123456789abcdef0123456789abcdef"))
	if a, b := c.Token(""), c.Token(""); a == b {
		t.Errorf("two anonymous tokens are the same: %q", a)
	}
	if a, b := c.Token("s"), c.Token("s"); a != b {
		t.Errorf("a session's token changed between pages: %q, %q", a, b)
	}
}

// flipLast changes the last byte of a token's decoded form.
func flipLast(tok string) string {
	b, err := tokenEncoding.DecodeString(tok)
	if err != nil {
		panic(err)
	}
	b[len(b)-1] ^= 1
	return tokenEncoding.EncodeToString(b)
}

// retime rewrites the issue time of an anonymous token, keeping its MAC.
func retime(tok string, t time.Time) string {
	b, err := tokenEncoding.DecodeString(tok)
	if err != nil {
		panic(err)
	}
	binary.BigEndian.PutUint64(b[16:24], uint64(t.Unix()))
	return tokenEncoding.EncodeToString(b)
}

// FuzzCSRFValid checks that a token made up by a client is never valid,
// and that a real token is valid for its own session only.
func FuzzCSRFValid(f *testing.F) {
	// A fixed key, so that the session token seeds below are real tokens
	// in every fuzzing process.
	c := NewCSRF([]byte("fuzzing key, the same everywhere"))
	f.Add(c.Token("session-1"), "session-1")
	f.Add(c.Token("session-1"), "session-2")
	f.Add(c.Token("session-1"), "")
	f.Add("", "")
	f.Add("", "session-1")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("not base64 at all", "x")
	f.Add(strings.Repeat("A", 54), "")
	f.Fuzz(func(t *testing.T, token, session string) {
		if c.Valid(token, session) {
			// Only the session's own token may be valid: an anonymous
			// token needs the secret to make, and no seed holds one.
			want, _ := tokenEncoding.DecodeString(c.Token(session))
			got, err := tokenEncoding.DecodeString(token)
			if session == "" || err != nil || string(got) != string(want) {
				t.Fatalf("made-up token %q is valid for session %q", token, session)
			}
		}
		if session == "" {
			return
		}
		real := c.Token(session)
		if !c.Valid(real, session) {
			t.Errorf("the token of session %q is not valid for it", session)
		}
		if c.Valid(real, session+"x") {
			t.Errorf("the token of session %q is valid for session %q", session, session+"x")
		}
		if c.Valid(real, "") {
			t.Errorf("the token of session %q is valid without a session", session)
		}
		if token != session && c.Valid(c.Token(token), session) && token != "" {
			t.Errorf("the token of session %q is valid for session %q", token, session)
		}
		if c.Valid(c.Token(""), session) {
			t.Errorf("an anonymous token is valid for session %q", session)
		}
	})
}
