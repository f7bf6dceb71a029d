// Package apiclient is the client side of pista's API (package api), for
// the commands that talk to a server: `pista pull` on the journalists'
// side, `pista submit` and `pista follow` on the sources'.
//
// Every request can go through a proxy, SOCKS5 included, so that a source
// reaches the server through Tor (socks5://127.0.0.1:9050 for the tor
// daemon, port 9150 for Tor Browser): given explicitly, or from the
// environment (HTTPS_PROXY, HTTP_PROXY, then ALL_PROXY).
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/pista-tips/pista/api"
)

// MaxJSON bounds a JSON answer unless the caller gives its own bound
// (GetJSONMax): the desks, a source's replies, a login fit in far less.
const MaxJSON = 4 << 20

// maxErrorBody bounds an error answer, of which at most maxErrorMessage
// characters of its message are shown.
const (
	maxErrorBody    = 64 << 10
	maxErrorMessage = 300
)

// headerTimeout bounds the wait for a server's answer once the request is
// sent, Tor's latency included: a server that never answers does not hold
// the command for ever.
const headerTimeout = 5 * time.Minute

// Client talks to a pista server's API.
type Client struct {
	Server string // base URL, e.g. https://tips.example.org
	HTTP   *http.Client
	// Token is the bearer token of the session, once logged in.
	Token string
	// Budget, if set, bounds the bytes accepted from the server over the
	// client's life: every answer, error answers included, counts.
	Budget *Budget
}

// New returns a client for server. proxy is the URL of a proxy that every
// request goes through (socks5://HOST:PORT, or http:// and https://
// proxies); "" takes it from the environment.
func New(server, proxy string) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a server address like https://tips.example.org", server)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = proxyFromEnvironment
	tr.ResponseHeaderTimeout = headerTimeout
	if proxy != "" {
		p, err := ParseProxy(proxy)
		if err != nil {
			return nil, err
		}
		tr.Proxy = http.ProxyURL(p)
	}
	return &Client{Server: strings.TrimRight(server, "/"), HTTP: &http.Client{Transport: tr}}, nil
}

// ParseProxy reads a proxy URL: socks5://, socks5h:// (both resolve names
// on the proxy's side, as Tor needs), http:// or https://.
func ParseProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not a proxy address like socks5://127.0.0.1:9050", s)
	}
	switch u.Scheme {
	case "socks5", "socks5h", "http", "https":
		return u, nil
	}
	return nil, fmt.Errorf("proxy %q: the scheme must be socks5, socks5h, http or https", s)
}

// proxyFromEnvironment adds ALL_PROXY to net/http's HTTP(S)_PROXY.
func proxyFromEnvironment(r *http.Request) (*url.URL, error) {
	if u, err := http.ProxyFromEnvironment(r); u != nil || err != nil {
		return u, err
	}
	for _, k := range []string{"ALL_PROXY", "all_proxy"} {
		if v := os.Getenv(k); v != "" {
			return ParseProxy(v)
		}
	}
	return nil, nil
}

// Error is an error answer of the server.
type Error struct {
	Status  int
	Code    string // the API's error code, if the answer had one
	Message string
}

func (e *Error) Error() string {
	if e.Message != "" {
		return "server: " + e.Message
	}
	return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
}

// readError reads an error answer.
func readError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	var body api.Error
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(b, &body) == nil {
		e.Code, e.Message = Printable(body.Code, 64), Printable(body.Message, maxErrorMessage)
	}
	return e
}

// Printable makes text from a server safe to show on a terminal: control
// characters (escape sequences included) and bidirectional overrides
// become U+FFFD, and it is cut to max characters.
func Printable(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			r = '\uFFFD'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Do sends a request with the session's token, if any. An answer other
// than 2xx is returned as an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	return c.do(ctx, method, path, body, contentType, nil)
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.Server+path, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if c.Budget != nil {
		resp.Body = &budgetBody{ReadCloser: resp.Body, b: c.Budget}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// GetJSON decodes the JSON answer to a GET, of at most MaxJSON bytes.
func (c *Client) GetJSON(ctx context.Context, path string, v any) error {
	return c.GetJSONMax(ctx, path, MaxJSON, v)
}

// GetJSONMax decodes the JSON answer to a GET, of at most max bytes: a
// longer one is refused with an error that says so (ErrTooLarge).
func (c *Client) GetJSONMax(ctx context.Context, path string, max int64, v any) error {
	resp, err := c.Do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeJSON(resp, max, v)
}

// PostJSON posts in as JSON (nil: no body) and decodes the answer into out
// (nil: ignore it).
func (c *Client) PostJSON(ctx context.Context, path string, in, out any) error {
	return c.postJSON(ctx, path, in, out, nil)
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any, header http.Header) error {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	resp, err := c.do(ctx, http.MethodPost, path, body, ct, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return decodeJSON(resp, MaxJSON, out)
}
