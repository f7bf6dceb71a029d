package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A relay that takes connections and never answers holds up only the
// notifier: tips keep coming in while it waits.
func TestDeadRelayDoesNotSlowSubmissions(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")
	runPista(t, "journalist", "notify", "--data", data, "--name", "alice", "--email", "alice@newsroom.example")

	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	accepted := make(chan struct{}, 100)
	go func() {
		for {
			c, err := dead.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			defer c.Close()
		}
	}()
	base, _ := startServer(t, data, func(f *serveFlags) {
		f.notifyInterval = time.Second
		f.notifySMTP = dead.Addr().String()
		f.notifyFrom = "pista@newsroom.example"
		f.notifyPlaintext = true
	})

	submit := func(i int) {
		b := newBrowser(t, base)
		status, page := b.postMultipart("/submit", [][2]string{{"csrf", b.csrf("/")}, {"desk", "americas"}, {"message", "tip " + strings.Repeat("x", i)}}, nil)
		if status != http.StatusOK || !strings.Contains(page, `id="codename"`) {
			t.Fatalf("submission %d while the relay is dead: %d\n%s", i, status, page)
		}
	}
	submit(1)
	// Wait until the notifier is stuck on the dead relay, then submit more.
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("the notifier never tried the relay")
	}
	for i := 2; i <= 5; i++ {
		submit(i)
	}
}
