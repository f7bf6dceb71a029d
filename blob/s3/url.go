package s3

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Config is where a Store keeps its objects and how it gets in.
type Config struct {
	Bucket   string
	Prefix   string // "" or ending in "/": the objects' names start with it
	Endpoint string // HOST[:PORT] of the S3 server
	Region   string // "" lets the client ask the server
	TLS      bool   // HTTPS to the endpoint (the default)
	Creds    *credentials.Credentials
}

// DefaultEndpoint is AWS's, for a URL that names none.
const DefaultEndpoint = "s3.amazonaws.com"

// maxURL bounds what ParseURL reads: a flag's value, not a document.
const maxURL = 2048

// ErrCredentialsInURL is ParseURL's answer to a URL that carries a key:
// a command line is seen by every user of the machine (ps) and kept in
// shell histories.
var ErrCredentialsInURL = errors.New("credentials do not go in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --objects-credentials-file")

// ParseURL reads s3://BUCKET[/PREFIX][?endpoint=HOST:PORT&region=R&tls=false].
// Credentials are refused (ErrCredentialsInURL), as is any other
// parameter. Config.Creds is left nil (see Credentials).
func ParseURL(raw string) (Config, error) {
	var cfg Config
	if len(raw) > maxURL {
		return cfg, fmt.Errorf("objects URL longer than %d bytes", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return cfg, errors.New("objects URL: not a URL")
	}
	if u.Scheme != "s3" {
		return cfg, errors.New("objects URL: must start with s3://")
	}
	if u.User != nil {
		return cfg, ErrCredentialsInURL
	}
	if u.Opaque != "" || u.Fragment != "" || u.Port() != "" {
		return cfg, errors.New("objects URL: write s3://BUCKET/PREFIX?endpoint=HOST:PORT")
	}
	cfg.Bucket = u.Hostname()
	if err := checkBucket(cfg.Bucket); err != nil {
		return cfg, err
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		if err := checkPrefix(p); err != nil {
			return cfg, err
		}
		cfg.Prefix = p + "/"
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return cfg, errors.New("objects URL: malformed query")
	}
	cfg.Endpoint, cfg.TLS = DefaultEndpoint, true
	for k, v := range q {
		if len(v) != 1 {
			return cfg, fmt.Errorf("objects URL: %s given %d times", k, len(v))
		}
		switch strings.ToLower(k) {
		case "endpoint":
			if err := checkEndpoint(v[0]); err != nil {
				return cfg, err
			}
			cfg.Endpoint = v[0]
		case "region":
			if err := checkRegion(v[0]); err != nil {
				return cfg, err
			}
			cfg.Region = v[0]
		case "tls":
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return cfg, errors.New("objects URL: tls must be true or false")
			}
			cfg.TLS = b
		case "access_key", "accesskey", "access_key_id", "secret", "secret_key", "secretkey",
			"secret_access_key", "password", "token", "session_token", "aws_access_key_id", "aws_secret_access_key":
			return cfg, ErrCredentialsInURL
		default:
			return cfg, fmt.Errorf("objects URL: unknown parameter %q (known: endpoint, region, tls)", k)
		}
	}
	return cfg, nil
}

// checkBucket allows S3's bucket names: 3 to 63 lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
func checkBucket(b string) error {
	bad := errors.New("objects URL: the bucket name must be 3 to 63 lowercase letters, digits, dots and hyphens")
	if len(b) < 3 || len(b) > 63 {
		return bad
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && c != '.' && c != '-' || !alnum && (i == 0 || i == len(b)-1) {
			return bad
		}
	}
	if strings.Contains(b, "..") {
		return bad
	}
	return nil
}

// checkPrefix allows a prefix of folders of letters, digits and . _ -.
func checkPrefix(p string) error {
	if len(p) > 256 {
		return errors.New("objects URL: prefix longer than 256 bytes")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return errors.New("objects URL: the prefix has an empty, . or .. folder")
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return errors.New("objects URL: the prefix may hold letters, digits, '.', '_', '-' and '/'")
			}
		}
	}
	return nil
}

func checkEndpoint(e string) error {
	host, port, err := net.SplitHostPort(e)
	if err != nil {
		host, port = e, ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("objects URL: endpoint must be HOST or HOST:PORT")
		}
	}
	if host == "" || len(host) > 253 || strings.ContainsAny(host, "/@?#% ") || strings.Contains(e, "://") {
		return errors.New("objects URL: endpoint must be HOST or HOST:PORT, without a scheme (tls=false for plain HTTP)")
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return errors.New("objects URL: endpoint must be HOST or HOST:PORT")
	}
	return nil
}

func checkRegion(r string) error {
	if r == "" || len(r) > 64 {
		return errors.New("objects URL: region must be 1 to 64 letters, digits and hyphens")
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errors.New("objects URL: region must be 1 to 64 letters, digits and hyphens")
		}
	}
	return nil
}

// Credentials returns the keys for the bucket: from file, in the AWS
// shared credentials format (a [default] section, or $AWS_PROFILE's, with
// aws_access_key_id and aws_secret_access_key), when file is not "";
// otherwise from $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and
// $AWS_SESSION_TOKEN.
func Credentials(file string, getenv func(string) string) (*credentials.Credentials, error) {
	if file != "" {
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("objects credentials file: %w", err)
		}
		profile := getenv("AWS_PROFILE")
		if profile == "" {
			profile = "default"
		}
		c := credentials.NewFileAWSCredentials(file, profile)
		v, err := c.GetWithContext(nil)
		if err != nil || v.AccessKeyID == "" || v.SecretAccessKey == "" {
			return nil, fmt.Errorf("objects credentials file %s: no aws_access_key_id and aws_secret_access_key in [%s]", file, profile)
		}
		return c, nil
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, errors.New("no credentials for the objects' bucket: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --objects-credentials-file")
	}
	return credentials.NewStaticV4(id, secret, getenv("AWS_SESSION_TOKEN")), nil
}
