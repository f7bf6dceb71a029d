package newsroom

import (
	"context"
	"errors"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
)

// Login errors. Both are shown to the person logging in; neither says
// which of name, password or code was wrong.
var (
	ErrLoginFailed = errors.New("wrong name, password or code")
	ErrThrottled   = errors.New("too many failed attempts; wait fifteen minutes")
)

// Auth checks a journalist's password and TOTP code, for the web inbox
// and the API alike. Failed attempts are counted per account name, in
// memory.
type Auth struct {
	Journalists pista.JournalistStore
	Throttle    *httpx.Throttle
}

// NewThrottle is the login throttle: five failures in fifteen minutes
// lock an account name for the rest of those fifteen minutes.
func NewThrottle() *httpx.Throttle {
	return &httpx.Throttle{MaxFailures: 5, Window: 15 * time.Minute}
}

// Login returns the journalist if name, password and code are all right
// and the code has not been used before. An unknown name costs the same
// Argon2id work as a known one.
func (a *Auth) Login(ctx context.Context, name, password, code string) (pista.Journalist, error) {
	if len(name) > httpx.MaxSmallField || len(code) > httpx.MaxSmallField {
		return pista.Journalist{}, ErrLoginFailed
	}
	// The attempt counts now, before any work, so that parallel attempts
	// cannot all be tried.
	if !a.Throttle.Attempt(name) {
		return pista.Journalist{}, ErrThrottled
	}
	j, err := a.Journalists.JournalistByName(ctx, name)
	hash := j.PasswordHash
	if errors.Is(err, pista.ErrNotFound) {
		hash = keys.DummyHash
	} else if err != nil {
		return pista.Journalist{}, err
	}
	ok, verr := keys.VerifyPassword(ctx, hash, password)
	if verr != nil && !errors.Is(verr, keys.ErrMalformedHash) {
		return pista.Journalist{}, verr
	}
	if err != nil || !ok {
		return pista.Journalist{}, ErrLoginFailed
	}
	step, ok := keys.CheckTOTP(j.TOTPSecret, code, time.Now())
	if !ok {
		return pista.Journalist{}, ErrLoginFailed
	}
	fresh, err := a.Journalists.UseTOTPStep(ctx, j.ID, step)
	if err != nil {
		return pista.Journalist{}, err
	}
	if !fresh {
		return pista.Journalist{}, ErrLoginFailed
	}
	a.Throttle.Succeed(name)
	return j, nil
}
