package httpx

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// errNoKey answers a window whose key is not kept: too old, or too far
// ahead.
var errNoKey = errors.New("httpx: no key for that window")

// KeyRing holds the keys sessions are sealed under: a new key every
// Window, kept for Keep windows (the current one included) and then
// deleted, so that a cookie copied from a source's computer cannot be
// opened afterwards, not even by whoever holds the database. Keep must
// cover the sessions' lifetime: Keep ≥ Lifetime/Window + 1.
//
// The keys live in the database (Secret and Forget), so every instance
// sharing it seals and opens with the same ones, after restarts too; each
// instance remembers those it used, and asks again only for a new window.
type KeyRing struct {
	Window time.Duration
	Keep   int
	// Secret answers the 32-byte key of window w (unix time / Window),
	// making it the first time; every instance must get the same.
	Secret func(ctx context.Context, w int64) ([]byte, error)
	// Forget deletes the keys of every window before w.
	Forget func(ctx context.Context, before int64) error

	mu     sync.Mutex
	aeads  map[int64]cipher.AEAD
	forgot int64 // the last window whose old keys were forgotten
}

// window is the window of t.
func (k *KeyRing) window(t time.Time) int64 { return t.Unix() / int64(k.Window/time.Second) }

// aead answers the cipher of window w, at a time whose window is now:
// windows older than Keep, or ahead of now by more than one (clock skew
// between instances), have none, and are refused without asking the
// database, so that no token can make the server create a key. The first
// use of a window forgets the keys that fell out of the ring.
func (k *KeyRing) aead(ctx context.Context, w, now int64) (cipher.AEAD, error) {
	if w < now-int64(k.Keep)+1 || w > now+1 {
		return nil, errNoKey
	}
	k.mu.Lock()
	a, ok := k.aeads[w]
	forget := k.forgot < now
	k.mu.Unlock()
	if forget {
		oldest := now - int64(k.Keep) + 1
		if err := k.Forget(ctx, oldest); err == nil {
			k.mu.Lock()
			k.forgot = now
			for old := range k.aeads {
				if old < oldest {
					delete(k.aeads, old)
				}
			}
			k.mu.Unlock()
		}
		// On failure the next request tries again; sessions go on.
	}
	if ok {
		return a, nil
	}
	key, err := k.Secret(ctx, w)
	if err != nil {
		return nil, fmt.Errorf("httpx: session key: %w", err)
	}
	a, err = chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("httpx: session key: %w", err)
	}
	k.mu.Lock()
	if k.aeads == nil {
		k.aeads = map[int64]cipher.AEAD{}
	}
	k.aeads[w] = a
	k.mu.Unlock()
	return a, nil
}
