package httpx

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"

	"github.com/pista-tips/pista"
)

// Throttle limits passphrase guesses the way OWASP's "device cookies"
// do, in memory only (no address of anyone is kept):
//
//   - A device that logged in to an account before shows it (a signed
//     device token, see newsroom.Auth) and has an allowance of its own:
//     whatever happens elsewhere, the journalist logs in from it.
//   - Every other device trying an account name shares that name's
//     allowance, so that guesses from anywhere count together.
//
// An allowance is Burst attempts at once, then one more per Interval (a
// token bucket, kept as GCRA's one "theoretical arrival time" per slot):
// in any window of length W, at most Burst + W/Interval attempts. With the
// newsroom's figures (5, 12 minutes), at most 10 guesses an hour per
// account from unknown devices.
//
// Allowances live in two fixed tables of slots, one for account names and
// one for devices, indexed by an HMAC of the name or device under Key: no
// entry is ever evicted, so no amount of traffic with made-up names frees
// a real account's allowance, and a made-up name behaves exactly as a real
// one (existence is not revealed). Two names may share a slot (a made-up
// name can then spend a real account's allowance for unknown devices, by
// chance, never by aim: the Key is secret); that only ever lowers an
// allowance, and known devices are not affected.
//
// Every attempt is counted when it starts, before any key is checked, so
// that parallel attempts cannot all slip through. A successful login gives
// its attempt back (Refund).
type Throttle struct {
	Burst    int
	Interval time.Duration
	// Key places names and devices in slots (an instance secret; nil
	// makes a random one).
	Key []byte
	// Now is the clock (nil: time.Now); tests move it.
	Now func() time.Time
	// Shared, if set, keeps the slots there instead of in this process,
	// for every instance of a tip line to count the same attempts (with
	// the same Key on each). A slot is then a row, made when first used:
	// still at most twice throttleSlots of them, whatever the traffic. An
	// error of Shared refuses the attempt.
	Shared pista.Shared

	once     sync.Once
	mu       sync.Mutex
	accounts []int64 // per slot: GCRA's theoretical arrival time, Unix nanoseconds
	devices  []int64
}

// Slots of each table: 8 bytes each, 512 KiB a table. More slots make
// chance collisions rarer; an attacker who spends every slot (Burst
// attempts in each of 65,536 slots, then one per slot and Interval) only
// slows logins from unknown devices, as a per-account lockout would.
const throttleSlots = 1 << 16

func (t *Throttle) init() {
	t.once.Do(func() {
		if t.Shared == nil {
			t.accounts = make([]int64, throttleSlots)
			t.devices = make([]int64, throttleSlots)
		}
		if t.Key == nil {
			t.Key = make([]byte, 32)
			rand.Read(t.Key)
		}
	})
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Throttle) slot(kind string, key []byte) int {
	m := hmac.New(sha256.New, t.Key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write(key)
	return int(binary.BigEndian.Uint32(m.Sum(nil)) % throttleSlots)
}

// AttemptAccount reports whether an attempt on account name from an
// unknown device may be tried now, and if so counts it.
func (t *Throttle) AttemptAccount(name string) bool {
	t.init()
	return t.attempt("account", t.accounts, t.slot("account", []byte(name)))
}

// AttemptDevice reports whether an attempt from a known device (its ID
// from a verified device token) may be tried now, and if so counts it.
func (t *Throttle) AttemptDevice(device []byte) bool {
	t.init()
	return t.attempt("device", t.devices, t.slot("device", device))
}

// RefundAccount gives back an attempt of AttemptAccount that succeeded.
func (t *Throttle) RefundAccount(name string) {
	t.init()
	t.refund("account", t.accounts, t.slot("account", []byte(name)))
}

// RefundDevice gives back an attempt of AttemptDevice that succeeded.
func (t *Throttle) RefundDevice(device []byte) {
	t.init()
	t.refund("device", t.devices, t.slot("device", device))
}

// sharedKind names a table's slots in Shared.
func sharedKind(table string) string { return "throttle/" + table }

func slotKey(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }

func (t *Throttle) attempt(name string, table []int64, i int) bool {
	if t.Shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ok, err := t.Shared.Spend(ctx, sharedKind(name), slotKey(i), t.now(), t.Interval, t.Burst)
		return ok && err == nil
	}
	now := t.now().UnixNano()
	interval := int64(t.Interval)
	t.mu.Lock()
	defer t.mu.Unlock()
	tat := max(table[i], now) + interval
	if tat-now > int64(t.Burst)*interval {
		return false
	}
	table[i] = tat
	return true
}

func (t *Throttle) refund(name string, table []int64, i int) {
	if t.Shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.Shared.Refund(ctx, sharedKind(name), slotKey(i), t.Interval)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	table[i] = max(table[i]-int64(t.Interval), 0)
}
