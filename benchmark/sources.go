package benchmark

// New sources: a tip each, one after another, many at once, and the
// Argon2id derivations that bound how many a machine can take.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pista-tips/pista/internal/argon2id"
	"github.com/pista-tips/pista/keys"
)

// ms is a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ArgonRate is how many Argon2id derivations at a new instance's codename
// parameters (keys.CodenameKDF) this process completes per second for d,
// GOMAXPROCS at once: the ceiling of new-source tips on this machine now;
// and the CPU time each took (0 if unknown).
func ArgonRate(d time.Duration) (float64, time.Duration) {
	k := keys.CodenameKDF
	salt := make([]byte, keys.SaltSize)
	var n atomic.Int64
	deadline := time.Now().Add(d)
	cpu0, cpuErr := CPUTime(os.Getpid())
	start := time.Now()
	parallel(runtime.GOMAXPROCS(0), func(int) error {
		for time.Now().Before(deadline) {
			argon2id.Key([]byte("ceiling"), salt, k.Time, k.Memory, k.Threads, keys.MasterSize)
			n.Add(1)
		}
		return nil
	})
	rate := float64(n.Load()) / time.Since(start).Seconds()
	cpu1, err := CPUTime(os.Getpid())
	if err != nil || cpuErr != nil || n.Load() == 0 {
		return rate, 0
	}
	return rate, (cpu1 - cpu0) / time.Duration(n.Load())
}

// Load is what NewSources measured.
type Load struct {
	Tips, Errors int
	Elapsed      time.Duration
	Err          error // the first error
}

// Rate is tips answered with a receipt per second.
func (l Load) Rate() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Tips) / l.Elapsed.Seconds()
}

// NewSources runs c new sources at once, each sending a tip after
// another (Tip, without a file) until stop is closed or ctx ends, and
// counts the tips answered with a receipt until the last answer.
func NewSources(ctx context.Context, t *Target, c int, stop <-chan struct{}) Load {
	var mu sync.Mutex
	var l Load
	start := time.Now()
	parallel(c, func(int) error {
		for {
			select {
			case <-stop:
				return nil
			case <-ctx.Done():
				return nil
			default:
			}
			err := t.Tip(ctx, nil)
			mu.Lock()
			if err == nil {
				l.Tips++
			} else if ctx.Err() == nil {
				l.Errors++
				if l.Err == nil {
					l.Err = err
				}
			}
			mu.Unlock()
		}
	})
	l.Elapsed = time.Since(start)
	return l
}

// Tip sends a new source's tip as a browser without JavaScript does: GET /
// for the CSRF token (and the session cookie it is bound to), then POST
// /submit with the desk, a short message and file if not nil (scrubbed:
// the form has no keep_metadata). The answer must be the receipt page.
func (t *Target) Tip(ctx context.Context, file *File) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: t.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	token, err := csrfToken(ctx, c, t.URL+"/")
	if err != nil {
		return err
	}
	fields := []field{{"csrf", token}, {"desk", t.Desk}, {"message", "A new source's tip, sent by pista bench."}, {"contact", ""}}
	var part *filePart
	if file != nil {
		part = &filePart{file.Name, file.Type, bytes.NewReader(file.Data)}
	}
	var body bytes.Buffer
	if err := writeForm(&body, fields, part); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/submit", &body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST /submit: %w", err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("POST /submit: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(answer, []byte(receiptTag)) {
		return fmt.Errorf("POST /submit: %s, not the receipt page\n%s", resp.Status, snippet(answer))
	}
	return nil
}
