package blobtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pista-tips/pista/internal/pistatest"
)

// MinIOServer is a MinIO started for one test, on 127.0.0.1 with a
// temporary folder; it stops when the test ends.
type MinIOServer struct {
	Endpoint   string // 127.0.0.1:PORT
	User, Pass string // the root credentials
	Client     *minio.Client
}

// minioHint says how to get MinIO (NOTES.md).
const minioHint = "Install it with `go install github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c` (about 7 min) or set $PISTA_MINIO to its binary"

// MinIO starts a MinIO server: the binary $PISTA_MINIO names, else
// minio on $PATH or in $(go env GOPATH)/bin. Without one the test is
// skipped, or failed when $PISTA_TEST_REQUIRE names minio (or is all).
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin, err := findMinIO()
	pistatest.Need(t, "minio", err, minioHint)
	dir := t.TempDir()
	user, pass := "pista-"+token(4), token(16)
	var out strings.Builder
	var m *MinIOServer
	// The ports are found free, then taken by MinIO: another process
	// may take one in between, so a start that fails is tried again.
	for attempt := 0; attempt < 3; attempt++ {
		port, console := freePort(t), freePort(t)
		cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--quiet",
			"--address", "127.0.0.1:"+port, "--console-address", "127.0.0.1:"+console)
		cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+user, "MINIO_ROOT_PASSWORD="+pass,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CONFIG_ENV_FILE=", "HOME="+dir)
		out.Reset()
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		endpoint := "127.0.0.1:" + port
		if ready(endpoint, exited) {
			t.Cleanup(func() {
				cmd.Process.Signal(os.Interrupt)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-exited
				}
			})
			c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(user, pass, ""), BucketLookup: minio.BucketLookupPath})
			if err != nil {
				t.Fatal(err)
			}
			m = &MinIOServer{Endpoint: endpoint, User: user, Pass: pass, Client: c}
			break
		}
		cmd.Process.Kill()
		<-exited
	}
	if m == nil {
		t.Fatalf("MinIO did not start:\n%s", out.String())
	}
	return m
}

// Bucket makes a new bucket and returns its name.
func (m *MinIOServer) Bucket(t testing.TB) string {
	t.Helper()
	name := "pista-" + token(6)
	if err := m.Client.MakeBucket(context.Background(), name, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

// URL is the --objects URL of bucket on this server.
func (m *MinIOServer) URL(bucket string) string {
	return fmt.Sprintf("s3://%s?endpoint=%s&tls=false", bucket, m.Endpoint)
}

func findMinIO() (string, error) {
	if p := os.Getenv("PISTA_MINIO"); p != "" {
		return exec.LookPath(p)
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(gopath))) {
			if p, err := exec.LookPath(filepath.Join(d, "bin", "minio")); err == nil {
				return p, nil
			}
		}
	}
	return "", errors.New("no minio on $PATH, in $(go env GOPATH)/bin or in $PISTA_MINIO")
}

// ready waits for MinIO's health check, or its exit.
func ready(endpoint string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := http.Get("http://" + endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
