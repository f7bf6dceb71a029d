package httpx

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A body that keeps the rate but goes on past MaxTime is cut: it must be
// whole within the bound, however steadily it comes.
func TestBodyMaxTime(t *testing.T) {
	got := make(chan error, 1)
	h := MinBodyRate{BytesPerSecond: 1, Window: time.Minute, MaxTime: 300 * time.Millisecond}.Handler(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.Copy(io.Discard, r.Body)
			got <- err
		}))
	ts := httptest.NewServer(h)
	defer ts.Close()
	pr, pw := io.Pipe()
	go func() {
		// 20 bytes a second, for up to 5 s.
		for range 100 {
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		pw.Close()
	}()
	start := time.Now()
	go http.Post(ts.URL, "text/plain", pr)
	select {
	case err := <-got:
		if !errors.Is(err, ErrTooSlow) {
			t.Errorf("the body ended with %v, want ErrTooSlow", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cut after %v, want about 300 ms", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a body past its time was not cut")
	}
	pw.CloseWithError(errors.New("done"))
}
