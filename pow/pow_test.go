package pow

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func testIssuer(now *time.Time) *Issuer {
	i := NewIssuer([]byte("0123456789abcdef0123456789abcdef"))
	i.Base = MinBits
	i.now = func() time.Time { return *now }
	return i
}

func TestSolveAndVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	i := testIssuer(&now)
	sol, err := Solve(context.Background(), i.Challenge())
	if err != nil {
		t.Fatal(err)
	}
	c, err := i.Verify(sol)
	if err != nil {
		t.Fatalf("a fresh solution was refused: %v", err)
	}
	if c.Bits != MinBits {
		t.Errorf("difficulty %d, want %d", c.Bits, MinBits)
	}
	if _, err := i.Verify(sol); !errors.Is(err, ErrSpent) {
		t.Errorf("the same solution twice: %v, want ErrSpent", err)
	}
	// Another nonce for the same challenge is the same challenge spent.
	ch := sol[:strings.LastIndexByte(sol, '.')]
	if other := solveFrom(t, ch, 1<<20); other != sol {
		if _, err := i.Verify(other); !errors.Is(err, ErrSpent) {
			t.Errorf("another solution of a spent challenge: %v, want ErrSpent", err)
		}
	}
}

// solveFrom finds a solution whose nonce is at least from.
func solveFrom(t *testing.T, ch string, from uint64) string {
	c, err := ParseChallenge(ch)
	if err != nil {
		t.Fatal(err)
	}
	for n := from; ; n++ {
		s := ch + "." + strconv.FormatUint(n, 16)
		if ZeroBits(sha256.Sum256([]byte(s))) >= c.Bits {
			return s
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	i := testIssuer(&now)
	other := testIssuer(&now)
	other.key = []byte("another instance's key, 32 bytes")
	good, _ := Solve(context.Background(), i.Challenge())

	// A nonce that does not meet the difficulty.
	ch := i.Challenge()
	var weak string
	for n := uint64(0); ; n++ {
		s := ch + "." + strconv.FormatUint(n, 16)
		if ZeroBits(sha256.Sum256([]byte(s))) < MinBits {
			weak = s
			break
		}
	}
	forgedBits := strings.Replace(good, "1."+strconv.Itoa(MinBits)+".", "1.9.", 1)
	foreign, _ := Solve(context.Background(), other.Challenge())

	cases := []struct {
		name, sol string
		want      error
	}{
		{"empty", "", ErrMalformed},
		{"no nonce", ch, ErrMalformed},
		{"nonce not hex", ch + ".xyz", ErrMalformed},
		{"nonce too long", ch + ".00000000000000000", ErrMalformed},
		{"uppercase nonce", ch + ".A", ErrMalformed},
		{"too long", strings.Repeat("a", MaxLen+1), ErrMalformed},
		{"not enough work", weak, ErrTooEasy},
		{"difficulty changed", forgedBits, ErrForged},
		{"other instance", foreign, ErrForged},
		{"bits out of range", "1.99." + good[len("1.8."):], ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := i.Verify(tc.sol); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := i.Verify(good); err != nil {
		t.Errorf("refused solutions spent a good one: %v", err)
	}
}

func TestChallengesExpire(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	i := testIssuer(&now)
	sol, _ := Solve(context.Background(), i.Challenge())
	now = now.Add(Life)
	if _, err := i.Verify(sol); !errors.Is(err, ErrExpired) {
		t.Errorf("a challenge used at its expiry: %v, want ErrExpired", err)
	}
	// One issued in the future (a clock moved back) is refused too.
	now = time.Unix(1_800_000_000, 0)
	future := i.challenge(MinBits, now.Add(2*time.Hour))
	fs, _ := Solve(context.Background(), future)
	if _, err := i.Verify(fs); !errors.Is(err, ErrExpired) {
		t.Errorf("a challenge from the future: %v, want ErrExpired", err)
	}
}

// A solution stays spent until its challenge has expired, across the
// turning of the spent set's generations, and the set forgets the old.
func TestSpentAcrossGenerations(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	i := testIssuer(&now)
	first, _ := Solve(context.Background(), i.Challenge())
	if _, err := i.Verify(first); err != nil {
		t.Fatal(err)
	}
	// Just before it expires, after the generation turned.
	now = now.Add(Life - time.Second)
	second, _ := Solve(context.Background(), i.Challenge())
	now = now.Add(2 * time.Minute)
	if _, err := i.Verify(second); err != nil {
		t.Fatal(err)
	}
	if _, err := i.Verify(second); !errors.Is(err, ErrSpent) {
		t.Errorf("replayed after a turn: %v, want ErrSpent", err)
	}
	now = now.Add(3 * (Life + time.Minute))
	third, _ := Solve(context.Background(), i.Challenge())
	if _, err := i.Verify(third); err != nil {
		t.Fatal(err)
	}
	if i.spent[1] != nil && len(i.spent[1]) != 0 {
		t.Errorf("old generations were kept: %d", len(i.spent[1]))
	}
	if len(i.spent[0]) != 1 {
		t.Errorf("current generation holds %d, want 1", len(i.spent[0]))
	}
}

func TestSpentIsBounded(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	i := testIssuer(&now)
	i.spent[0] = map[[16]byte]struct{}{}
	i.turn = now
	for k := range MaxSpent {
		var r [16]byte
		r[0], r[1], r[2] = byte(k), byte(k>>8), byte(k>>16)
		i.spent[0][r] = struct{}{}
	}
	sol, _ := Solve(context.Background(), i.Challenge())
	if _, err := i.Verify(sol); !errors.Is(err, ErrFull) {
		t.Errorf("with the set full: %v, want ErrFull", err)
	}
}

func TestDifficultyRisesWithLoad(t *testing.T) {
	i := NewIssuer(make([]byte, 32))
	load := 0
	i.Load = func() int { return load }
	cases := []struct{ load, want int }{
		{0, DefaultBits}, {1, DefaultBits + 1}, {2, DefaultBits + 2}, {3, DefaultBits + 2},
		{30, DefaultBits + 5}, {100_000, MaxBits},
	}
	for _, tc := range cases {
		load = tc.load
		if got := i.Difficulty(); got != tc.want {
			t.Errorf("load %d: difficulty %d, want %d", tc.load, got, tc.want)
		}
		c, err := ParseChallenge(i.Challenge())
		if err != nil || c.Bits != tc.want {
			t.Errorf("load %d: challenge asks %d bits (%v), want %d", tc.load, c.Bits, err, tc.want)
		}
	}
}

func TestSolveRefusesHostileChallenges(t *testing.T) {
	ctx := context.Background()
	for _, ch := range []string{
		"1.23.1800000300.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", // harder than MaxBits
		"1.7.1800000300.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",  // easier than MinBits
		"2.16.1800000300.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", // unknown version
		"1.016.1800000300.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
		"",
	} {
		if _, err := Solve(ctx, ch); !errors.Is(err, ErrMalformed) {
			t.Errorf("Solve(%q) = %v, want ErrMalformed", ch, err)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	// A context that ends stops the search (at MaxBits it would run for
	// about a second).
	if _, err := Solve(ctx, "1.22.1800000300.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, context.Canceled) {
		t.Errorf("Solve with a cancelled context = %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	i := testIssuer(&now)
	good, _ := Solve(context.Background(), i.Challenge())
	f.Add(good)
	f.Add(i.Challenge() + ".0")
	f.Add("1.16.1800000300.AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.ff")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := i.Verify(s)
		if err == nil {
			// Only solutions of this issuer's challenges, with the
			// work done, get through.
			if ZeroBits(sha256.Sum256([]byte(s))) < c.Bits || c.Bits < MinBits {
				t.Fatalf("accepted %q without its work", s)
			}
			if _, err := i.Verify(s); !errors.Is(err, ErrSpent) {
				t.Fatalf("accepted %q twice", s)
			}
		}
		if _, err := ParseChallenge(s); err == nil && len(s) > MaxLen {
			t.Fatalf("parsed an over-long challenge")
		}
	})
}

func BenchmarkSolve(b *testing.B) {
	i := NewIssuer(make([]byte, 32))
	for b.Loop() {
		if _, err := Solve(context.Background(), i.Challenge()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	i := NewIssuer(make([]byte, 32))
	i.Base = MinBits
	sols := make([]string, 0, 1024)
	for range cap(sols) {
		s, _ := Solve(context.Background(), i.Challenge())
		sols = append(sols, s)
	}
	b.ResetTimer()
	for k := 0; b.Loop(); k++ {
		i.Verify(sols[k%len(sols)])
	}
}
