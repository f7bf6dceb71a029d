package newsroom

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
)

// Login errors, shown to the person logging in. ErrLoginFailed never says
// which of name, passphrase or code was wrong; the others are told only
// to whoever proved the passphrase (or, for ErrNeedsReset, a current
// code), so they reveal nothing to someone guessing names.
var (
	ErrLoginFailed = errors.New("wrong name, password or code")
	ErrThrottled   = errors.New("too many failed attempts; wait fifteen minutes")
	ErrSuspended   = errors.New("this account is suspended; ask an admin of the tip line")
	ErrNeedsReset  = errors.New("this account has no passphrase of the new kind yet: an admin must reset it with pista journalist passphrase")
)

// Auth checks a journalist's login for the web inbox and the API alike.
//
// The passphrase never reaches the server: the journalist's device asks
// for the account's salt and parameters (Params), stretches the passphrase
// (package keys) and sends only the authentication key, which Auth
// compares in constant time with the stored hash. A second factor is
// always required: a TOTP code (Login), or a WebAuthn assertion after
// CheckKey. Failed attempts are counted per account name, in memory.
type Auth struct {
	Journalists pista.JournalistStore
	Throttle    *httpx.Throttle
	// Secret makes the fake salts of unknown names (an instance secret).
	Secret []byte
	// Team records logins in the audit log (nil: not recorded).
	Team pista.TeamStore
}

// NewThrottle is the login throttle: five failures in fifteen minutes
// lock an account name for the rest of those fifteen minutes.
func NewThrottle() *httpx.Throttle {
	return &httpx.Throttle{MaxFailures: 5, Window: 15 * time.Minute}
}

// LoginParams is what a device needs to stretch a passphrase.
type LoginParams struct {
	Salt []byte `json:"salt"` // base64 in JSON
	KDF  string `json:"kdf"`
}

// Params returns the salt and parameters of name's passphrase. An unknown
// name, or an account whose passphrase was never set the new way, gets a
// salt made from the name and the instance secret with the default
// parameters: the same every time, so asking tells nobody whether the
// account exists.
func (a *Auth) Params(ctx context.Context, name string) (LoginParams, error) {
	if len(name) <= httpx.MaxSmallField {
		j, err := a.Journalists.JournalistByName(ctx, name)
		if err == nil && len(j.Auth.Hash) > 0 && len(j.Auth.Salt) > 0 {
			return LoginParams{Salt: j.Auth.Salt, KDF: j.Auth.KDF}, nil
		}
		if err != nil && !errors.Is(err, pista.ErrNotFound) {
			return LoginParams{}, err
		}
	}
	return LoginParams{Salt: a.fakeSalt(name), KDF: keys.JournalistKDF}, nil
}

func (a *Auth) fakeSalt(name string) []byte {
	m := hmac.New(sha256.New, a.Secret)
	m.Write([]byte("pista/v1/fake-salt\x00"))
	m.Write([]byte(name))
	return m.Sum(nil)[:keys.JournalistSaltSize]
}

// CheckKey is the first half of a login: it counts the attempt and
// returns the journalist if auth is their authentication key. The caller
// must then check a second factor and call Succeed (or nothing: the
// attempt stays counted as a failure).
func (a *Auth) CheckKey(ctx context.Context, name string, auth []byte) (pista.Journalist, error) {
	if len(name) > httpx.MaxSmallField {
		return pista.Journalist{}, ErrLoginFailed
	}
	// The attempt counts now, before any work, so that parallel attempts
	// cannot all be tried.
	if !a.Throttle.Attempt(name) {
		return pista.Journalist{}, ErrThrottled
	}
	j, err := a.Journalists.JournalistByName(ctx, name)
	if errors.Is(err, pista.ErrNotFound) {
		keys.CheckAuth(dummyHash[:], auth) // the same work as a known name
		return pista.Journalist{}, ErrLoginFailed
	} else if err != nil {
		return pista.Journalist{}, err
	}
	if len(j.Auth.Hash) == 0 {
		return j, ErrNeedsReset
	}
	if !keys.CheckAuth(j.Auth.Hash, auth) {
		a.audit(ctx, j, pista.AuditLoginFailed)
		return pista.Journalist{}, ErrLoginFailed
	}
	if j.Suspended {
		return pista.Journalist{}, ErrSuspended
	}
	return j, nil
}

var dummyHash = sha256.Sum256([]byte("pista: no such journalist"))

// Succeed ends a login whose second factor was right: it clears the
// name's failures and records the login.
func (a *Auth) Succeed(ctx context.Context, j pista.Journalist) {
	a.Throttle.Succeed(j.Name)
	a.audit(ctx, j, pista.AuditLogin)
}

// Fail records a wrong second factor of a journalist whose key was right.
func (a *Auth) Fail(ctx context.Context, j pista.Journalist) {
	a.audit(ctx, j, pista.AuditLoginFailed)
}

// Login returns the journalist if name, authentication key and TOTP code
// are all right and the code has not been used before.
func (a *Auth) Login(ctx context.Context, name string, auth []byte, code string) (pista.Journalist, error) {
	if len(code) > httpx.MaxSmallField {
		return pista.Journalist{}, ErrLoginFailed
	}
	j, err := a.CheckKey(ctx, name, auth)
	if errors.Is(err, ErrNeedsReset) {
		// Say so only to someone who holds the account's second factor.
		if _, ok := keys.CheckTOTP(j.TOTPSecret, code, time.Now()); ok {
			return pista.Journalist{}, ErrNeedsReset
		}
		return pista.Journalist{}, ErrLoginFailed
	}
	if err != nil {
		return pista.Journalist{}, err
	}
	step, ok := keys.CheckTOTP(j.TOTPSecret, code, time.Now())
	if !ok {
		a.Fail(ctx, j)
		return pista.Journalist{}, ErrLoginFailed
	}
	fresh, err := a.Journalists.UseTOTPStep(ctx, j.ID, step)
	if err != nil {
		return pista.Journalist{}, err
	}
	if !fresh {
		a.Fail(ctx, j)
		return pista.Journalist{}, ErrLoginFailed
	}
	a.Succeed(ctx, j)
	return j, nil
}

// audit records a login of an existing account (never a name that does
// not exist, which could be anything a visitor typed).
func (a *Auth) audit(ctx context.Context, j pista.Journalist, action pista.AuditAction) {
	if a.Team == nil || j.ID == 0 {
		return
	}
	a.Team.AddAudit(context.WithoutCancel(ctx), pista.AuditEntry{ActorID: j.ID, ActorName: j.Name, Action: action})
}
