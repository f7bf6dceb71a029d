package newsroom

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/sqlite"
)

// TestUseTOTPStepAfterRestart: the used steps live in memory, so a new
// process (a fresh Auth) refuses the steps its predecessor may have
// accepted, to the accounts that logged in that hour only.
func TestUseTOTPStepAfterRestart(t *testing.T) {
	now := time.Now().Unix() / keys.TOTPPeriod
	thisHour := time.Now().UTC().Truncate(pista.TimeGranularity)
	tests := []struct {
		name      string
		lastLogin time.Time
		step      int64
		want      bool
	}{
		{"never logged in, current step", time.Time{}, now, true},
		{"logged in hours ago, current step", thisHour.Add(-3 * time.Hour), now, true},
		{"logged in this hour, previous step", thisHour, now - 1, false},
		{"logged in this hour, current step", thisHour, now, false},
		{"logged in this hour, next step", thisHour, now + 1, false},
		{"logged in this hour, the step after", thisHour, now + 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &Auth{}
			j := pista.Journalist{ID: 7, LastLogin: tt.lastLogin}
			if got := a.UseTOTPStep(j, tt.step); got != tt.want {
				t.Errorf("UseTOTPStep(%d) after a restart = %v, want %v", tt.step-now, got, tt.want)
			}
			if tt.want {
				// Within the process, memory refuses the replay; a later
				// step works.
				j.LastLogin = thisHour
				if a.UseTOTPStep(j, tt.step) {
					t.Error("the same step twice")
				}
				if !a.UseTOTPStep(j, tt.step+1) {
					t.Error("the next step after a login in this process")
				}
			}
		})
	}
}

// BenchmarkLoginName compares a failed login on a real name with one on a
// made-up name (same path: lookups, hash, TOTP, no synchronous write):
//
//	go test ./newsroom -run '^$' -bench LoginName -count 5
func BenchmarkLoginName(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "pista.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewJournalistStore(db)
	auth := make([]byte, 32)
	rand.Read(auth)
	secret, _, _ := keys.NewTOTP("pista", "ana")
	if err := st.CreateJournalist(ctx, &pista.Journalist{Name: "ana", Recipient: "r", TOTPSecret: secret,
		Auth: pista.JournalistAuth{Salt: make([]byte, 16), KDF: keys.JournalistKDF, Hash: keys.AuthHash(auth)}}); err != nil {
		b.Fatal(err)
	}
	a := &Auth{Journalists: st, Throttle: &httpx.Throttle{Burst: 1 << 30, Interval: time.Nanosecond}, Secret: []byte("secret")}
	wrong := make([]byte, 32)
	for _, name := range []string{"ana", "made-up"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := a.Login(ctx, name, wrong, "000000", ""); err != ErrLoginFailed {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDeviceToken: any cookie or JSON value parses without panicking, and
// no value is a known device of two accounts, or of none.
func FuzzDeviceToken(f *testing.F) {
	a := &Auth{Secret: []byte("instance secret")}
	good := a.newDevice(7, time.Now())
	f.Add(good)
	f.Add(good + "." + good)
	f.Add("")
	f.Add("....")
	f.Add(good[:len(good)-1] + "A")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := a.checkDevice(s, 7)
		if ok != (id != nil) {
			t.Fatalf("checkDevice(%q) = %x, %v", s, id, ok)
		}
		if _, other := a.checkDevice(s, 8); other && ok {
			t.Fatalf("%q is a device of two journalists", s)
		}
		if _, none := a.checkDevice(s, 0); none {
			t.Fatalf("%q is a device of no account", s)
		}
	})
}
