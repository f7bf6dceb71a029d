package s3

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		want      Config
	}{
		{"bucket only", "s3://tips", Config{Bucket: "tips", Endpoint: DefaultEndpoint, TLS: true}},
		{"MinIO on this machine", "s3://tips?endpoint=127.0.0.1:9000&tls=false", Config{Bucket: "tips", Endpoint: "127.0.0.1:9000"}},
		{"prefix and region", "s3://my.tips-2/pista/objects/?endpoint=s3.eu-west-1.amazonaws.com&region=eu-west-1",
			Config{Bucket: "my.tips-2", Prefix: "pista/objects/", Endpoint: "s3.eu-west-1.amazonaws.com", Region: "eu-west-1", TLS: true}},
		{"IPv6 endpoint", "s3://tips?endpoint=[::1]:9000", Config{Bucket: "tips", Endpoint: "[::1]:9000", TLS: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseURL(tc.url)
			if err != nil || got != tc.want {
				t.Fatalf("ParseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
			}
		})
	}
}

func TestParseURLRefuses(t *testing.T) {
	for _, tc := range []struct{ name, url, says string }{
		{"credentials", "s3://AKIA:secret@tips?endpoint=127.0.0.1:9000", "AWS_ACCESS_KEY_ID"},
		{"user only", "s3://AKIA@tips", "AWS_ACCESS_KEY_ID"},
		{"key in the query", "s3://tips?access_key=AKIA&secret_key=x", "AWS_ACCESS_KEY_ID"},
		{"other scheme", "https://tips.s3.amazonaws.com", "s3://"},
		{"uppercase bucket", "s3://Tips", "bucket name"},
		{"short bucket", "s3://ab", "bucket name"},
		{"port on the bucket", "s3://tips:9000", "endpoint=HOST:PORT"},
		{"scheme in endpoint", "s3://tips?endpoint=http://127.0.0.1:9000", "endpoint"},
		{"bad port", "s3://tips?endpoint=127.0.0.1:99999", "endpoint"},
		{"dot folder", "s3://tips/a/../b", "prefix"},
		{"unknown parameter", "s3://tips?acl=public-read", "unknown parameter"},
		{"repeated", "s3://tips?tls=false&tls=true", "2 times"},
		{"bad tls", "s3://tips?tls=maybe", "tls"},
		{"too long", "s3://tips/" + strings.Repeat("a", 3000), "longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseURL(tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("ParseURL(%q) = %v; want an error that says %q", tc.url, err, tc.says)
			}
			if strings.Contains(tc.name, "credentials") && !errors.Is(err, ErrCredentialsInURL) {
				t.Fatalf("not ErrCredentialsInURL: %v", err)
			}
			// An error never repeats the URL: it may hold a secret.
			if strings.Contains(err.Error(), "secret") && !errors.Is(err, ErrCredentialsInURL) {
				t.Fatalf("error repeats the URL: %v", err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"s3://tips", "s3://tips/a/b?endpoint=127.0.0.1:9000&tls=false&region=us-east-1",
		"s3://a:b@tips", "s3://tips?endpoint=[::1]:9000", "s3:tips", "s3://tips/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		cfg, err := ParseURL(raw)
		if err != nil {
			return
		}
		if checkBucket(cfg.Bucket) != nil || cfg.Endpoint == "" {
			t.Fatalf("ParseURL(%q) = %+v: invalid bucket or endpoint accepted", raw, cfg)
		}
		if cfg.Prefix != "" && (!strings.HasSuffix(cfg.Prefix, "/") || strings.HasPrefix(cfg.Prefix, "/")) {
			t.Fatalf("ParseURL(%q): prefix %q", raw, cfg.Prefix)
		}
		// No folder of the prefix is empty, "." or "..": a folder may
		// only contain dots ("..nx" is a name like any other).
		for _, seg := range strings.Split(strings.TrimSuffix(cfg.Prefix, "/"), "/") {
			if cfg.Prefix != "" && (seg == "" || seg == "." || seg == "..") {
				t.Fatalf("ParseURL(%q): prefix %q has a %q folder", raw, cfg.Prefix, seg)
			}
		}
		if strings.Contains(raw, "@") && strings.Contains(cfg.Bucket+cfg.Endpoint, "@") {
			t.Fatalf("ParseURL(%q) kept user info: %+v", raw, cfg)
		}
	})
}

func TestCredentials(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, err := Credentials("", env(nil)); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no credentials: %v", err)
	}
	c, err := Credentials("", env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"}))
	if v, _ := c.GetWithContext(nil); err != nil || v.AccessKeyID != "AKIA" {
		t.Fatalf("from the environment: %v, %v", v.AccessKeyID, err)
	}
	file := t.TempDir() + "/credentials"
	writeFile(t, file, "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = s2\n")
	c, err = Credentials(file, env(map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"}))
	if v, _ := c.GetWithContext(nil); err != nil || v.AccessKeyID != "FILEKEY" {
		t.Fatalf("from a file: %v, %v", v.AccessKeyID, err)
	}
	writeFile(t, file, "[other]\naws_access_key_id = FILEKEY\n")
	if _, err := Credentials(file, env(nil)); err == nil {
		t.Fatal("a file without [default] accepted")
	}
	if _, err := Credentials(file+".missing", env(nil)); err == nil {
		t.Fatal("a missing file accepted")
	}
}

func writeFile(t *testing.T, name, s string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
