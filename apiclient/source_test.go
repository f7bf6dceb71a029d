package apiclient

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/keys"
)

func TestCodenameKDF(t *testing.T) {
	salt16, salt32 := make([]byte, 16), make([]byte, 32)
	ok := func(salt []byte, k keys.KDF) api.Codename { return api.CodenameParamsWith(salt, k) }
	edit := func(c api.Codename, f func(*api.Codename)) api.Codename { f(&c); return c }
	tests := []struct {
		name string
		p    api.Codename
		want keys.KDF
		ok   bool
	}{
		{"a new instance's", ok(salt32, keys.CodenameKDF), keys.CodenameKDF, true},
		{"an older instance's", ok(salt16, keys.LegacyCodenameKDF), keys.LegacyCodenameKDF, true},
		{"other parameters within bounds", ok(salt32, keys.KDF{Memory: 19 * 1024, Time: 2, Threads: 1}), keys.KDF{Memory: 19 * 1024, Time: 2, Threads: 1}, true},
		{"256 MiB", ok(salt32, keys.KDF{Memory: 256 * 1024, Time: 1, Threads: 4}), keys.KDF{Memory: 256 * 1024, Time: 1, Threads: 4}, true},
		{"more than 256 MiB", ok(salt32, keys.KDF{Memory: 256*1024 + 1, Time: 1, Threads: 4}), keys.KDF{}, false},
		{"1 GiB", ok(salt32, keys.KDF{Memory: 1 << 20, Time: 3, Threads: 2}), keys.KDF{}, false},
		{"a trivial stretch", ok(salt32, keys.KDF{Memory: 8, Time: 1, Threads: 1}), keys.KDF{}, false},
		{"no passes", ok(salt32, keys.KDF{Memory: 8192, Time: 0, Threads: 1}), keys.KDF{}, false},
		{"too many passes", ok(salt32, keys.KDF{Memory: 8192, Time: 17, Threads: 1}), keys.KDF{}, false},
		{"no lanes", ok(salt32, keys.KDF{Memory: 8192, Time: 3, Threads: 0}), keys.KDF{}, false},
		{"too many lanes", ok(salt32, keys.KDF{Memory: 8192, Time: 3, Threads: 17}), keys.KDF{}, false},
		{"a short salt", ok(make([]byte, 7), keys.CodenameKDF), keys.KDF{}, false},
		{"a long salt", ok(make([]byte, 65), keys.CodenameKDF), keys.KDF{}, false},
		{"another Argon2 version", edit(ok(salt32, keys.CodenameKDF), func(c *api.Codename) { c.Argon2id.Version = 0x10 }), keys.KDF{}, false},
		{"another output length", edit(ok(salt32, keys.CodenameKDF), func(c *api.Codename) { c.Argon2id.Length = 32 }), keys.KDF{}, false},
		{"other digits", edit(ok(salt32, keys.CodenameKDF), func(c *api.Codename) { c.Digits = 20 }), keys.KDF{}, false},
		{"another HKDF label", edit(ok(salt32, keys.CodenameKDF), func(c *api.Codename) { c.HKDF.AuthInfo = "x" }), keys.KDF{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := CodenameKDF(tt.p)
			if tt.ok != (err == nil) || k != tt.want {
				t.Fatalf("CodenameKDF = %+v, %v; want %+v, ok %v", k, err, tt.want, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrIncompatible) {
				t.Fatalf("error %v is not ErrIncompatible", err)
			}
		})
	}
}

// FuzzCodenameKDF: whatever a server publishes, the client either refuses
// it or derives within the bounds.
func FuzzCodenameKDF(f *testing.F) {
	for _, p := range []api.Codename{
		api.CodenameParamsWith(make([]byte, 32), keys.CodenameKDF),
		api.CodenameParamsWith(make([]byte, 16), keys.LegacyCodenameKDF),
	} {
		b, _ := json.Marshal(p)
		f.Add(b)
	}
	f.Add([]byte(`{"digits":28,"salt":"AAAAAAAAAAA=","argon2id":{"version":19,"memory_kib":4294967295,"time":4294967295,"threads":255,"length":64}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p api.Codename
		if json.Unmarshal(b, &p) != nil {
			return
		}
		k, err := CodenameKDF(p)
		if err != nil {
			return
		}
		if k.Memory > 256*1024 || k.Memory < 1024 || k.Time < 1 || k.Time > 16 || k.Threads < 1 || k.Threads > 16 {
			t.Fatalf("accepted %+v", k)
		}
		if len(p.Salt) < 8 || len(p.Salt) > 64 {
			t.Fatalf("accepted a salt of %d bytes", len(p.Salt))
		}
	})
}
