package newsroom

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
)

// Login errors, shown to the person logging in. ErrLoginFailed never says
// which of name, passphrase or second factor was wrong; ErrSuspended and
// ErrNeedsReset are told only to whoever proved both factors (for
// ErrNeedsReset, whose passphrase cannot be checked, the second factor),
// so they reveal nothing to someone guessing.
var (
	ErrLoginFailed = errors.New("wrong name, password or code")
	ErrThrottled   = errors.New("too many failed attempts from unknown devices; wait a few minutes, or log in from a device you used before")
	ErrSuspended   = errors.New("this account is suspended; ask an admin of the tip line")
	ErrNeedsReset  = errors.New("this account has no passphrase of the new kind yet: an admin must reset it with pista journalist passphrase")
	// ErrSessionEnded answers a session or token whose account is gone or
	// whose sessions were all ended (a suspension) since it started.
	ErrSessionEnded = errors.New("the session has ended; log in again")
)

// Auth checks a journalist's login for the web inbox and the API alike.
//
// The passphrase never reaches the server: the journalist's device asks
// for the account's salt and parameters (Params), stretches the passphrase
// (package keys) and sends only the authentication key, which Auth
// compares in constant time with the stored hash. A second factor is
// always required: a TOTP code (Login), or a WebAuthn assertion (Begin,
// then Finish once the security key answered).
//
// Nothing a login answers depends on the passphrase until the second
// factor was checked too: a wrong passphrase, a wrong code and both wrong
// get the same answer, and so do a suspended account and an account that
// needs a reset unless both factors were right. A name that does not
// exist takes the same path (the same lookups, a dummy hash and TOTP
// secret, the same throttle) and leaves the same traces: failed logins of
// real accounts go to the audit log after the answer, not before it.
//
// Guessing is throttled per account and per device (httpx.Throttle): a
// successful login gives the device a signed device token (a cookie in
// the browser, a file beside `pista pull`), which it shows at its next
// login to use an allowance of its own; every other device shares the
// account's allowance (5 attempts, then one per 12 minutes: at most 10 an
// hour). An attacker can spend that shared allowance, and so keep the
// journalist out of new devices, but not out of a device they used
// before.
//
// A TOTP code works once: the steps used are kept in memory only (an
// exact step would date the login to 30 seconds). After a restart, a code
// of the steps up to the restart's next one is refused to the accounts
// that logged in in the hour before the restart (pista.Journalist.
// LastLogin, kept to the hour), since only they can have used it before:
// for them, the first minute after a restart needs the next code.
type Auth struct {
	Journalists pista.JournalistStore
	Throttle    *httpx.Throttle
	// Secret makes the fake salts of unknown names and signs device
	// tokens (an instance secret).
	Secret []byte
	// Team records logins in the audit log (nil: not recorded).
	Team pista.TeamStore
	// Log gets what could not be recorded (nil: slog.Default()).
	Log *slog.Logger

	// Shared, if set, keeps the used TOTP steps there, for every
	// instance of a tip line to refuse a code used on another.
	Shared pista.Shared

	steps usedSteps
}

// totpKind names the last TOTP step each account used, in Shared.
const totpKind = "totp-step"

// NewThrottle is the login throttle: five attempts at once, then one per
// twelve minutes (at most ten an hour), per account for unknown devices
// and per known device.
func NewThrottle() *httpx.Throttle {
	return &httpx.Throttle{Burst: 5, Interval: 12 * time.Minute}
}

// Session is what a journalist's web session or API token holds.
type Session struct {
	Journalist int64
	// Epoch is the account's SessionEpoch when the session started: the
	// session ends when it changes (a suspension).
	Epoch int64
	// Device is the ID of the device token the login gave, whose
	// allowance a re-proof of the passphrase spends (nil: the account's).
	Device []byte
}

// NewSession is the session of a journalist who just logged in.
func NewSession(j pista.Journalist, device string) Session {
	s := Session{Journalist: j.ID, Epoch: j.SessionEpoch}
	if id, ok := parseDevice(device); ok {
		s.Device = id.nonce[:]
	}
	return s
}

// Current is the per-request check of a session or token: it returns the
// journalist as the store has them now, ErrSuspended for a suspended
// account, and ErrSessionEnded if the account is gone or its sessions
// were ended since s started.
func (a *Auth) Current(ctx context.Context, s Session) (pista.Journalist, error) {
	j, err := a.Journalists.JournalistByID(ctx, s.Journalist)
	if errors.Is(err, pista.ErrNotFound) {
		return pista.Journalist{}, ErrSessionEnded
	} else if err != nil {
		return pista.Journalist{}, err
	}
	if j.Suspended {
		return pista.Journalist{}, ErrSuspended
	}
	if j.SessionEpoch != s.Epoch {
		return pista.Journalist{}, ErrSessionEnded
	}
	return j, nil
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
	return LoginParams{Salt: a.mac("pista/v1/fake-salt", name)[:keys.JournalistSaltSize], KDF: keys.JournalistKDF}, nil
}

// mac is an HMAC of the instance secret, separated by label.
func (a *Auth) mac(label string, parts ...string) []byte {
	m := hmac.New(sha256.New, a.Secret)
	m.Write([]byte(label))
	m.Write([]byte{0})
	for i, p := range parts {
		if i > 0 {
			m.Write([]byte{0})
		}
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Attempt is a login whose first factor was checked, waiting for its
// second: Begin makes it, Finish ends it.
type Attempt struct {
	name   string
	j      pista.Journalist // ID 0: no such account
	keyOK  bool
	device []byte // a known device's ID, nil for an unknown device
}

// Journalist is the account the attempt is on (ID 0 for an unknown
// name): whose second factor to ask for, never to be told to the client.
func (at Attempt) Journalist() pista.Journalist { return at.j }

// Name is the name the attempt was made with.
func (at Attempt) Name() string { return at.name }

var (
	dummyHash       = sha256.Sum256([]byte("pista: no such journalist"))
	dummyTOTPSecret = "NRXWQYLOMVWGC3TFMRUXK3TBNZSXG5DF" // for names without an account
)

// Begin is the first half of a login: it counts the attempt against the
// device's allowance (a known device's own, or the account's shared one)
// and checks the authentication key, without telling the result, which
// Finish uses. Its only errors are ErrThrottled and a store's failure.
func (a *Auth) Begin(ctx context.Context, name string, auth []byte, device string) (Attempt, error) {
	at := Attempt{name: name}
	if len(name) > httpx.MaxSmallField {
		at.name = name[:httpx.MaxSmallField] // no account has such a name
	} else {
		j, err := a.Journalists.JournalistByName(ctx, name)
		if err != nil && !errors.Is(err, pista.ErrNotFound) {
			return at, err
		}
		at.j = j
	}
	if id, ok := a.checkDevice(device, at.j.ID); ok {
		at.device = id
	}
	// The attempt counts now, before any key is checked, so that parallel
	// attempts cannot all be tried.
	if at.device != nil {
		if !a.Throttle.AttemptDevice(at.device) {
			return at, ErrThrottled
		}
	} else if !a.Throttle.AttemptAccount(at.name) {
		return at, ErrThrottled
	}
	hash := at.j.Auth.Hash
	if len(hash) == 0 {
		hash = dummyHash[:] // the same work as a known name's
	}
	at.keyOK = keys.CheckAuth(hash, auth) && at.j.ID != 0 && len(at.j.Auth.Hash) > 0
	return at, nil
}

// Finish ends a login: second says whether the second factor was right.
// It answers the journalist and a new device token if both factors were,
// ErrLoginFailed if either was wrong, and only then ErrSuspended or
// ErrNeedsReset. A failure of a real account goes to the audit log.
func (a *Auth) Finish(ctx context.Context, at Attempt, second bool) (pista.Journalist, string, error) {
	// The account as it is now: a security key's ceremony may have taken
	// minutes. Unknown names ask too (for ID 0), to take the same time.
	j, err := a.Journalists.JournalistByID(ctx, at.j.ID)
	if err != nil && !errors.Is(err, pista.ErrNotFound) {
		return pista.Journalist{}, "", err
	}
	if at.j.ID == 0 || err != nil {
		return pista.Journalist{}, "", ErrLoginFailed
	}
	if !at.keyOK || !second {
		a.auditLater(ctx, j, pista.AuditLoginFailed)
		if second && len(j.Auth.Hash) == 0 {
			return pista.Journalist{}, "", ErrNeedsReset
		}
		return pista.Journalist{}, "", ErrLoginFailed
	}
	if j.Suspended {
		return pista.Journalist{}, "", ErrSuspended
	}
	if at.device != nil {
		a.Throttle.RefundDevice(at.device)
	} else {
		a.Throttle.RefundAccount(at.name)
	}
	// Neither write may stop a login: on a full disk, journalists still
	// log in (and the log keeps what the audit could not).
	now := time.Now()
	if err := a.Journalists.RecordLogin(context.WithoutCancel(ctx), j.ID, now); err != nil {
		a.log().Error("recording a login's hour", "journalist", j.Name, "err", err)
	}
	a.audit(ctx, j, pista.AuditLogin)
	return j, a.newDevice(j.ID, now), nil
}

// Login checks name, authentication key and TOTP code in one go (the
// code must not have been used before) and returns the journalist and a
// new device token. device is the token of an earlier login ("" if none).
func (a *Auth) Login(ctx context.Context, name string, auth []byte, code, device string) (pista.Journalist, string, error) {
	if len(code) > httpx.MaxSmallField {
		code = ""
	}
	at, err := a.Begin(ctx, name, auth, device)
	if err != nil {
		return pista.Journalist{}, "", err
	}
	secret := at.j.TOTPSecret
	if at.j.ID == 0 {
		secret = dummyTOTPSecret
	}
	step, ok := keys.CheckTOTP(secret, code, time.Now())
	if ok && at.keyOK {
		ok = a.UseTOTPStep(at.j, step)
	}
	return a.Finish(ctx, at, ok)
}

// audit records a login of an existing account (never a name that does
// not exist, which could be anything a visitor typed). A failure to write
// is logged, with nothing of the attempt but the account's name.
func (a *Auth) audit(ctx context.Context, j pista.Journalist, action pista.AuditAction) {
	if a.Team == nil || j.ID == 0 {
		return
	}
	err := a.Team.AddAudit(context.WithoutCancel(ctx), pista.AuditEntry{Created: pista.Now(), ActorID: j.ID, ActorName: j.Name, Action: action})
	if err != nil {
		a.log().Error("writing the audit log", "err", err, "action", action, "journalist", j.Name)
	}
}

// auditLater records a failed login after the answer has gone: written
// before, it would make a real name's failure slower than a made-up
// one's. The throttle bounds how many there are.
func (a *Auth) auditLater(ctx context.Context, j pista.Journalist, action pista.AuditAction) {
	go a.audit(context.WithoutCancel(ctx), j, action)
}

func (a *Auth) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// Device tokens. A token is base64url of: its expiry (Unix hours, 4
// bytes), a random ID (16 bytes), and the first 16 bytes of an HMAC of
// the instance secret over the journalist's ID, the expiry and the ID.
// The server keeps nothing of it: a token is valid for one account only,
// until it expires; a new one replaces it at each login.
const (
	deviceLifetime  = 365 * 24 * time.Hour
	deviceTokenSize = 4 + 16 + 16
	// DeviceTokenLen is the length of a device token as text.
	DeviceTokenLen = (deviceTokenSize*8 + 5) / 6
)

type deviceToken struct {
	expiry [4]byte
	nonce  [16]byte
	mac    [16]byte
}

func parseDevice(s string) (deviceToken, bool) {
	var d deviceToken
	if len(s) != DeviceTokenLen {
		return d, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != deviceTokenSize {
		return d, false
	}
	copy(d.expiry[:], b[:4])
	copy(d.nonce[:], b[4:20])
	copy(d.mac[:], b[20:])
	return d, true
}

func (a *Auth) deviceMAC(journalistID int64, d deviceToken) []byte {
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(journalistID))
	return a.mac("pista/v1/device", string(id[:]), string(d.expiry[:]), string(d.nonce[:]))[:16]
}

// newDevice makes a device token for the journalist.
func (a *Auth) newDevice(journalistID int64, now time.Time) string {
	var d deviceToken
	binary.BigEndian.PutUint32(d.expiry[:], uint32(now.Add(deviceLifetime).Unix()/3600))
	rand.Read(d.nonce[:])
	copy(d.mac[:], a.deviceMAC(journalistID, d))
	return base64.RawURLEncoding.EncodeToString(append(append(d.expiry[:], d.nonce[:]...), d.mac[:]...))
}

// checkDevice returns the ID of the first of the tokens (a device cookie
// may hold a few, separated by dots) that is valid for the journalist.
func (a *Auth) checkDevice(tokens string, journalistID int64) ([]byte, bool) {
	var found []byte
	for i, s := range strings.SplitN(tokens, ".", maxDeviceTokens+1) {
		if i == maxDeviceTokens {
			break
		}
		d, ok := parseDevice(s)
		if !ok {
			continue
		}
		good := hmac.Equal(d.mac[:], a.deviceMAC(journalistID, d)) &&
			int64(binary.BigEndian.Uint32(d.expiry[:])) > time.Now().Unix()/3600
		if good && found == nil && journalistID != 0 {
			found = d.nonce[:]
		}
	}
	return found, found != nil
}

// maxDeviceTokens is how many accounts' device tokens one browser keeps.
const maxDeviceTokens = 4

// usedSteps are the TOTP steps used since the process started.
type usedSteps struct {
	once      sync.Once
	floor     int64     // steps up to this one may have been used before the start…
	floorHour time.Time // …by accounts whose last login is this hour or later
	mu        sync.Mutex
	last      map[int64]int64 // journalist → last step used
}

// UseTOTPStep records that j used the TOTP step, and answers false,
// recording nothing, if the step may have been used before (a replay).
func (a *Auth) UseTOTPStep(j pista.Journalist, step int64) bool {
	if a.Shared != nil {
		// A step is accepted up to one period after its own: once that is
		// past, the entry has no use.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		expires := time.Unix((step+3)*keys.TOTPPeriod, 0)
		ok, err := a.Shared.Advance(ctx, totpKind, binary.BigEndian.AppendUint64(nil, uint64(j.ID)), step, expires)
		if err != nil {
			a.log().Error("recording a used TOTP step", "err", err)
		}
		return ok && err == nil
	}
	s := &a.steps
	now := time.Now()
	s.once.Do(func() {
		// A code is accepted from one step before its own to one after
		// (keys.CheckTOTP): the previous process can have used, at most
		// 90 seconds before now, any step up to the next one.
		s.floor = now.Unix()/keys.TOTPPeriod + 1
		s.floorHour = now.Add(-3 * keys.TOTPPeriod * time.Second).Truncate(pista.TimeGranularity)
		s.last = map[int64]int64{}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	last, here := s.last[j.ID]
	if here && step <= last {
		return false
	}
	// An account that has not logged in since the start may have used a
	// step up to the floor in the previous process, if it logged in then.
	if !here && step <= s.floor && !j.LastLogin.IsZero() && !j.LastLogin.Before(s.floorHour) {
		return false
	}
	// One entry per account that logged in since the start: the map is as
	// small as the newsroom (only a right passphrase and code add one).
	s.last[j.ID] = step
	return true
}
