// Package pow is the proof of work that buys a source's client a place in
// the priority lane of key stretching (see package admit), and that every
// source created or logged in through the API pays.
//
// Without addresses, the server cannot tell a flood from its sources; what
// it can do is make each request that asks for its most expensive work (an
// Argon2id derivation, a new source) cost its sender work too, in
// proportion to the load. A client that runs code — the source pages'
// script, `pista submit` and `pista follow`, apps — asks for a challenge,
// finds a nonce, and sends the solution with its request. A source without
// JavaScript sends none and is served in the ordinary lanes; over the
// onion service, Tor's own proof of work protects those.
//
// # The puzzle
//
// A challenge is a short string the server signs:
//
//	1.BITS.EXPIRES.RANDOM.MAC
//
// BITS is the difficulty, EXPIRES a Unix time, RANDOM 16 random bytes and
// MAC the first 16 bytes of HMAC-SHA-256 over the rest under a key every
// instance shares (base64url, no padding). A solution is the challenge, a
// dot and a nonce of at most 16 lowercase hexadecimal digits, such that
// SHA-256 of the solution's ASCII begins with BITS zero bits. Finding one
// takes 2^BITS hashes on average; checking it takes one hash and one HMAC.
//
// The server raises BITS with the queue of key-stretching work (Issuer's
// Difficulty), as Tor's onion-service defence and GlobaLeaks do. A
// solution is accepted once: the random part of every accepted challenge
// is kept until the challenge expires, in two generations of a bounded
// set (Spent). Clients refuse a challenge harder than MaxBits, so that a
// lying server cannot make them spin for ever.
package pow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pista-tips/pista"
)

// Limits of the puzzle. MinBits keeps even an idle server's puzzle from
// being free; MaxBits (about 4 million hashes on average: a fraction of a
// second for `pista submit`, a few seconds for a page's script) is as far
// as any client of pista will go.
const (
	MinBits = 8
	MaxBits = 22
	// DefaultBits is the difficulty of an idle server: 65,536 hashes on
	// average, milliseconds in Go and well under a second in a browser.
	DefaultBits = 16
	// Life is how long a challenge may be used after it is issued.
	Life = 5 * time.Minute
	// MaxLen bounds a solution: the longest challenge and nonce.
	MaxLen = 128
	// MaxSpent bounds the accepted challenges kept per generation (about
	// 40 bytes each): past it, solutions are refused as if absent until
	// the generation turns, and their senders are served in the
	// ordinary lanes.
	MaxSpent = 200_000
)

// Header is the HTTP header a client sends its solution in (the API, the
// uploads); the pages' forms send it in a field named "pow".
const Header = "Pista-PoW"

// Errors of Verify.
var (
	ErrMalformed = errors.New("pow: malformed solution")
	ErrForged    = errors.New("pow: challenge not issued by this server")
	ErrExpired   = errors.New("pow: challenge expired")
	ErrTooEasy   = errors.New("pow: not enough work")
	ErrSpent     = errors.New("pow: solution already used")
	ErrFull      = errors.New("pow: too many solutions to remember; try again later")
)

const version = "1"

var b64 = base64.RawURLEncoding.Strict()

// Issuer makes and checks challenges with a key shared by every instance.
type Issuer struct {
	key []byte
	now func() time.Time
	// Load, when set, is the number of requests waiting for what the
	// puzzle buys (admit.Gate.WaitingProven); Difficulty rises with it.
	Load func() int
	// Base is the difficulty of an idle server (0: DefaultBits).
	Base int
	// Shared, if set, remembers the spent challenges instead of this
	// process, so that a solution spent on one instance is refused by
	// every other. A challenge is a row until it expires (Life).
	Shared pista.Shared

	mu    sync.Mutex
	spent [2]map[[16]byte]struct{}
	turn  time.Time // when spent[0] was started
}

// NewIssuer returns an Issuer keyed with a secret of at least 32 bytes.
func NewIssuer(key []byte) *Issuer {
	return &Issuer{key: key, now: time.Now}
}

// Difficulty is the number of zero bits a new challenge asks for: the base
// difficulty plus one bit for each doubling of the work waiting, so that a
// queue of 30 derivations costs each new priority request 16 times the
// work of an idle server's, up to MaxBits.
func (i *Issuer) Difficulty() int {
	d := i.Base
	if d == 0 {
		d = DefaultBits
	}
	if i.Load != nil {
		if n := i.Load(); n > 0 {
			d += bits.Len(uint(n))
		}
	}
	return min(max(d, MinBits), MaxBits)
}

// Challenge issues a new challenge at the current difficulty.
func (i *Issuer) Challenge() string { return i.challenge(i.Difficulty(), i.now()) }

func (i *Issuer) challenge(difficulty int, now time.Time) string {
	var r [16]byte
	rand.Read(r[:])
	body := version + "." + strconv.Itoa(difficulty) + "." +
		strconv.FormatInt(now.Add(Life).Unix(), 10) + "." + b64.EncodeToString(r[:])
	return body + "." + b64.EncodeToString(i.mac(body))
}

func (i *Issuer) mac(body string) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte("pista pow\x00"))
	m.Write([]byte(body))
	return m.Sum(nil)[:16]
}

// Challenge is a parsed challenge.
type Challenge struct {
	Bits    int
	Expires time.Time
	random  [16]byte
	body    string // version through random
	mac     []byte
}

// ParseChallenge reads a challenge without checking its MAC (a client
// cannot; the server does in Verify).
func ParseChallenge(s string) (Challenge, error) {
	var c Challenge
	if len(s) > MaxLen {
		return c, ErrMalformed
	}
	f := strings.Split(s, ".")
	if len(f) != 5 || f[0] != version {
		return c, ErrMalformed
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < MinBits || n > MaxBits || f[1] != strconv.Itoa(n) {
		return c, ErrMalformed
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || exp <= 0 || f[2] != strconv.FormatInt(exp, 10) {
		return c, ErrMalformed
	}
	r, err := b64.DecodeString(f[3])
	if err != nil || len(r) != len(c.random) {
		return c, ErrMalformed
	}
	mac, err := b64.DecodeString(f[4])
	if err != nil || len(mac) != 16 {
		return c, ErrMalformed
	}
	c.Bits, c.Expires, c.mac = n, time.Unix(exp, 0), mac
	copy(c.random[:], r)
	c.body = strings.Join(f[:4], ".")
	return c, nil
}

// Verify checks a solution: a challenge this server issued, not expired,
// with enough work, never used before. It remembers the solution, so a
// second Verify of it fails with ErrSpent.
func (i *Issuer) Verify(solution string) (Challenge, error) {
	if len(solution) > MaxLen {
		return Challenge{}, ErrMalformed
	}
	dot := strings.LastIndexByte(solution, '.')
	if dot < 0 || !validNonce(solution[dot+1:]) {
		return Challenge{}, ErrMalformed
	}
	c, err := ParseChallenge(solution[:dot])
	if err != nil {
		return c, err
	}
	if subtle.ConstantTimeCompare(c.mac, i.mac(c.body)) != 1 {
		return c, ErrForged
	}
	now := i.now()
	if !now.Before(c.Expires) || c.Expires.Sub(now) > Life+time.Minute {
		return c, ErrExpired
	}
	if ZeroBits(sha256.Sum256([]byte(solution))) < c.Bits {
		return c, ErrTooEasy
	}
	if i.Shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		fresh, err := i.Shared.Add(ctx, "pow-spent", c.random[:], nil, c.Expires)
		switch {
		case err != nil:
			return c, fmt.Errorf("pow: recording the solution: %w", err)
		case !fresh:
			return c, ErrSpent
		}
		return c, nil
	}
	return c, i.spend(c.random, now)
}

// spend records a challenge as used. Two generations of Life each: a
// challenge expires at most Life after it was issued, so one spent in the
// older generation cannot come back after both have turned.
func (i *Issuer) spend(r [16]byte, now time.Time) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.spent[0] == nil || now.Sub(i.turn) >= Life+time.Minute {
		if now.Sub(i.turn) >= 2*(Life+time.Minute) {
			i.spent[1] = nil
		} else {
			i.spent[1] = i.spent[0]
		}
		i.spent[0] = map[[16]byte]struct{}{}
		i.turn = now
	}
	if _, ok := i.spent[0][r]; ok {
		return ErrSpent
	}
	if _, ok := i.spent[1][r]; ok {
		return ErrSpent
	}
	if len(i.spent[0]) >= MaxSpent {
		return ErrFull
	}
	i.spent[0][r] = struct{}{}
	return nil
}

func validNonce(s string) bool {
	if s == "" || len(s) > 16 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ZeroBits counts the leading zero bits of a digest.
func ZeroBits(sum [32]byte) int {
	n := 0
	for k := 0; k < len(sum); k += 8 {
		w := binary.BigEndian.Uint64(sum[k:])
		n += bits.LeadingZeros64(w)
		if w != 0 {
			break
		}
	}
	return n
}

// Solve finds a solution to a challenge, or returns the context's error if
// it ends first. It refuses a malformed challenge or one harder than
// MaxBits (ParseChallenge), so a lying server cannot make it spin for
// ever; an expired challenge is the caller's to notice (the server refuses
// the solution).
func Solve(ctx context.Context, challenge string) (string, error) {
	c, err := ParseChallenge(challenge)
	if err != nil {
		return "", fmt.Errorf("the server's proof-of-work challenge: %w", err)
	}
	prefix := []byte(challenge + ".")
	buf := make([]byte, len(prefix), len(prefix)+16)
	copy(buf, prefix)
	for n := uint64(0); ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return "", ctx.Err()
		}
		b := strconv.AppendUint(buf[:len(prefix)], n, 16)
		if ZeroBits(sha256.Sum256(b)) >= c.Bits {
			return string(b), nil
		}
	}
}
