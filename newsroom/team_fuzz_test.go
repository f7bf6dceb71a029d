package newsroom

import (
	"net/url"
	"testing"
	"time"
)

// FuzzParseWraps: whatever a browser sends as wraps is refused or gives
// wraps that each hold one well-formed age header, within the bounds.
func FuzzParseWraps(f *testing.F) {
	f.Add(`[{"key":1,"age":"YWdl"}]`)
	f.Add(`[{"journalist":2,"age":""}]`)
	f.Add(`[]`)
	f.Add(`[{"key":1,"age":"YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOQ=="}] x`)
	f.Fuzz(func(t *testing.T, s string) {
		ws, files, err := parseWraps(s)
		if err != nil {
			return
		}
		if len(ws) == 0 || len(ws) > maxWraps || len(files) != len(ws) {
			t.Fatalf("%d wraps, %d files", len(ws), len(files))
		}
		for _, b := range files {
			if len(b) == 0 || len(b) > maxWrapSize {
				t.Fatalf("a wrap of %d bytes", len(b))
			}
		}
	})
}

// FuzzReadNewAccount: the invitation form is refused with a message key,
// or gives an account whose every field is within its bounds.
func FuzzReadNewAccount(f *testing.F) {
	f.Add("name=nina&recipient=age1pq1x&salt=AAAAAAAAAAAAAAAAAAAAAA%3D%3D&kdf=argon2id%24v%3D19%24m%3D65536%2Ct%3D3%2Cp%3D1&auth=&wrapped=&totp_secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&totp=123456")
	f.Add("name=a&name=b")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		a, bad := readNewAccount(v, time.Now())
		if bad != "" {
			return
		}
		j := a.j
		if !nameRE.MatchString(j.Name) || len(j.Auth.Salt) != 16 || len(j.Auth.Hash) != 32 ||
			len(j.Auth.WrappedIdentity) > maxNewWrappedIdentity || len(j.TOTPSecret) != totpSecretLen {
			t.Fatalf("accepted %+v", j)
		}
	})
}
