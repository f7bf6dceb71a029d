package argon2id

import (
	"bytes"
	"encoding/hex"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
)

// withImpl runs f with each compression function this CPU runs.
func withImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := impl
	defer func() { impl = saved }()
	for _, i := range implementations() {
		impl = i
		t.Run(implName(i), f)
	}
}

// TestRFC9106 checks the test vector of RFC 9106, 5.3, through the
// internal entry point, since Key takes no secret nor associated data.
// The same parameters without them are checked against x/crypto.
func TestRFC9106(t *testing.T) {
	withImpl(t, func(t *testing.T) {
		password := bytes.Repeat([]byte{1}, 32)
		salt := bytes.Repeat([]byte{2}, 16)
		secret := bytes.Repeat([]byte{3}, 8)
		data := bytes.Repeat([]byte{4}, 12)
		got := deriveKey(password, salt, secret, data, 3, 32, 4, 32)
		const want = "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
		if hex.EncodeToString(got) != want {
			t.Fatalf("tag %x, want %s", got, want)
		}
	})
}

func TestMatchesXCrypto(t *testing.T) {
	type params struct {
		m, t   uint32
		p      uint8
		keyLen uint32
	}
	cases := []params{
		{7 * 1024, 5, 1, 32},  // pista's codenames
		{64 * 1024, 3, 2, 64}, // legacy codenames
		{64 * 1024, 3, 1, 32}, // journalists
		{8, 1, 1, 32},         // the minimum, 8p
		{16, 2, 2, 32},
		{24, 1, 3, 32},
		{32, 3, 4, 32},
		{1, 1, 1, 32}, // below the minimum: raised to 8p
		{5, 2, 2, 16},
		{129, 1, 1, 32}, // odd m
		{257, 2, 3, 33},
		{1023, 3, 4, 77},
		{300, 4, 1, 4},
		{512, 1, 2, 128},
		{100, 2, 1, 65},
		{640, 3, 3, 31},
		{1000, 1, 4, 1},
		{128, 2, 8, 32},
		{100, 3, 7, 32},
		{256, 1, 16, 32}, // keys.MaxCodenameLanes
		{1024, 2, 16, 32},
	}
	for _, kl := range []uint32{4, 5, 31, 32, 48, 63, 64, 65, 96, 127, 128} {
		cases = append(cases, params{64, 2, 2, kl})
	}
	inputs := []struct{ password, salt []byte }{
		{[]byte("codename words here"), bytes.Repeat([]byte{7}, 32)},
		{nil, []byte("saltsalt")},
		{bytes.Repeat([]byte{0xff}, 300), bytes.Repeat([]byte{0}, 16)},
	}
	withImpl(t, func(t *testing.T) {
		for _, c := range cases {
			for i, in := range inputs {
				if c.m >= 64*1024 && (i > 0 || testing.Short()) {
					continue
				}
				got := Key(in.password, in.salt, c.t, c.m, c.p, c.keyLen)
				want := argon2.IDKey(in.password, in.salt, c.t, c.m, c.p, c.keyLen)
				if !bytes.Equal(got, want) {
					t.Errorf("m=%d t=%d p=%d keyLen=%d input %d: %x, want %x", c.m, c.t, c.p, c.keyLen, i, got, want)
				}
			}
		}
	})
}

// TestCompressAliased checks out == prev, as the address generator
// calls it, against the unaliased result.
func TestCompressAliased(t *testing.T) {
	withImpl(t, func(t *testing.T) {
		for _, xor := range []bool{false, true} {
			var prev, ref, tmp block
			for i := range prev {
				prev[i] = uint64(i)*0x9e3779b97f4a7c15 + 1
				ref[i] = uint64(i) * 0xc2b2ae3d27d4eb4f
			}
			want, in := prev, prev
			compressGeneric(&want, &in, &ref, &tmp, xor)
			got := prev
			compress(&got, &got, &ref, &tmp, xor)
			if got != want {
				t.Errorf("xor=%v: aliased result differs", xor)
			}
		}
	})
}

// TestConcurrent runs derivations sharing the pool at once (run it with
// -race).
func TestConcurrent(t *testing.T) {
	want := argon2.IDKey([]byte("pw"), []byte("somesalt"), 2, 256, 2, 32)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 5 {
				m := uint32(256)
				if g%2 == 1 {
					m = 512 // another size, to mix buffers
				}
				got := Key([]byte("pw"), []byte("somesalt"), 2, m, 2, 32)
				if m == 256 && !bytes.Equal(got, want) {
					t.Errorf("goroutine %d: %x, want %x", g, got, want)
				}
			}
		})
	}
	wg.Wait()
	if n := buffers.idleBuffers(); n > MaxIdle {
		t.Errorf("%d idle buffers, want at most %d", n, MaxIdle)
	}
}

func TestPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"time":    func() { Key(nil, nil, 0, 64, 1, 32) },
		"threads": func() { Key(nil, nil, 1, 64, 0, 32) },
		"keyLen":  func() { Key(nil, nil, 1, 64, 1, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

// TestAllocs checks that a derivation reuses its memory.
func TestAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocations")
	}
	salt := make([]byte, 32)
	Key([]byte("warm"), salt, 1, 1024, 1, 32)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		Key([]byte("pw"), salt, 1, 1024, 1, 32)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 4096 {
		t.Errorf("%d bytes allocated per derivation of 1 MiB, want its memory reused", per)
	}
}

func FuzzKey(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(2), uint16(64), uint8(1), uint8(32))
	f.Add([]byte{}, []byte{}, uint8(1), uint16(8), uint8(1), uint8(4))
	f.Add([]byte("x"), []byte("0123456789abcdef"), uint8(3), uint16(255), uint8(4), uint8(128))
	f.Add(bytes.Repeat([]byte("a"), 200), []byte("salt"), uint8(4), uint16(130), uint8(3), uint8(65))
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint8) {
		tm := uint32(time%4) + 1
		p := threads%4 + 1
		m := uint32(memory) % 257 // m ≤ 256 KiB
		kl := uint32(keyLen)%128 + 1
		want := argon2.IDKey(password, salt, tm, m, p, kl)
		for _, i := range implementations() {
			saved := impl
			impl = i
			got := Key(password, salt, tm, m, p, kl)
			impl = saved
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: m=%d t=%d p=%d keyLen=%d: %x, want %x", implName(i), m, tm, p, kl, got, want)
			}
		}
	})
}

// BenchmarkKey derives at pista's codename parameters with this package
// and with x/crypto, one at a time and two at once (with GOMAXPROCS=2):
//
//	go test ./internal/argon2id -run XXX -bench Key -cpu 2 -count 5 | tee b.txt
//	benchstat -col /impl b.txt
func BenchmarkKey(b *testing.B) {
	const m, tm, p = 7 * 1024, 5, 1
	salt := make([]byte, 32)
	impls := []struct {
		name string
		key  func() []byte
	}{
		{"pista", func() []byte { return Key([]byte("ceiling"), salt, tm, m, p, 32) }},
		{"xcrypto", func() []byte { return argon2.IDKey([]byte("ceiling"), salt, tm, m, p, 32) }},
	}
	for _, f := range impls {
		b.Run("single/impl="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			f.key() // a server's steady state: the pool holds a buffer
			for b.Loop() {
				f.key()
			}
		})
	}
	for _, f := range impls {
		b.Run("parallel/impl="+f.name, func(b *testing.B) {
			b.ReportAllocs()
			f.key()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f.key()
				}
			})
		})
	}
}

func BenchmarkCompress(b *testing.B) {
	saved := impl
	defer func() { impl = saved }()
	var out, prev, ref, tmp block
	for i := range prev {
		prev[i], ref[i] = uint64(i)*0x9e3779b97f4a7c15, uint64(i)*0xc2b2ae3d27d4eb4f
	}
	for _, i := range implementations() {
		impl = i
		b.Run(implName(i), func(b *testing.B) {
			b.SetBytes(1024)
			for b.Loop() {
				compress(&out, &prev, &ref, &tmp, true)
			}
		})
	}
}

// BenchmarkKeyImpl derives at pista's codename parameters with each
// compression function this CPU runs, and at a legacy instance's.
func BenchmarkKeyImpl(b *testing.B) {
	saved := impl
	defer func() { impl = saved }()
	salt := make([]byte, 32)
	for _, i := range implementations() {
		b.Run("impl="+implName(i), func(b *testing.B) {
			impl = i
			for b.Loop() {
				Key([]byte("ceiling"), salt, 5, 7*1024, 1, 32)
			}
		})
	}
	impl = saved
	b.Run("legacy/impl=pista", func(b *testing.B) {
		for b.Loop() {
			Key([]byte("ceiling"), salt, 3, 64*1024, 2, 32)
		}
	})
	b.Run("legacy/impl=xcrypto", func(b *testing.B) {
		for b.Loop() {
			argon2.IDKey([]byte("ceiling"), salt, 3, 64*1024, 2, 32)
		}
	})
}
