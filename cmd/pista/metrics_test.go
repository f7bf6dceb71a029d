package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The metrics a running server exports are exactly those the README's
// table lists, of the types it says; /healthz answers on the main
// listener, and the metrics only on theirs.
func TestMetricsMatchTheREADME(t *testing.T) {
	base, logs := startServer(t, t.TempDir(), func(f *serveFlags) { f.ops.metricsListen = "127.0.0.1:0" })
	m := regexp.MustCompile(`Metrics: +(http://\S+/metrics)`).FindStringSubmatch(logs.syncBuffer.String())
	if m == nil {
		t.Fatalf("the banner names no metrics address:\n%s", logs.syncBuffer.String())
	}
	metricsURL := m[1]
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(base + "/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("GET /healthz: %d %q", code, body)
	}
	if code, body := get(base + "/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("GET /readyz: %d %q", code, body)
	}
	get(base + "/")               // a source's page: hourly, no route
	get(base + "/newsroom/login") // a journalist's: live, by route
	if code, _ := get(strings.TrimSuffix(metricsURL, "/metrics") + "/healthz"); code != http.StatusNotFound {
		t.Errorf("the metrics listener serves /healthz: %d", code)
	}
	if code, _ := get(base + "/metrics"); code != http.StatusNotFound {
		t.Errorf("the main listener serves /metrics: %d", code)
	}

	code, exposition := get(metricsURL)
	if code != 200 {
		t.Fatalf("GET /metrics: %d\n%s", code, exposition)
	}
	exported := map[string]string{} // family → type
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			exported[f[2]] = f[3]
		}
	}
	if !strings.Contains(exposition, `route="GET /newsroom/login"`) || !strings.Contains(exposition, `route="GET /healthz"`) {
		t.Errorf("the live routes are not in the exposition:\n%s", exposition)
	}
	if strings.Contains(exposition, `route="GET /{$}"`) {
		t.Errorf("a source page is observed live, by route:\n%s", exposition)
	}

	listed := readmeMetrics(t)
	for name, typ := range exported {
		if want, ok := listed[name]; !ok {
			t.Errorf("%s (%s) is exported but not in the README's table", name, typ)
		} else if want != typ {
			t.Errorf("%s is a %s; the README says %s", name, typ, want)
		}
	}
	for name := range listed {
		if _, ok := exported[name]; !ok {
			t.Errorf("the README lists %s, which the server does not export", name)
		}
	}
}

// readmeMetrics reads the metrics table of the README's "Health and
// metrics": name → type.
func readmeMetrics(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Health and metrics\n")
	if !ok {
		t.Fatal(`the README has no "### Health and metrics" section`)
	}
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `(pista_[a-z_]+)` \\| (counter|gauge|histogram|summary) \\|")
	listed := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		listed[m[1]] = m[2]
	}
	if len(listed) == 0 {
		t.Fatal("no metric in the README's table")
	}
	return listed
}

func TestOpsFlags(t *testing.T) {
	for _, c := range []struct {
		name string
		f    opsFlags
		ok   bool
	}{
		{"off", opsFlags{}, true},
		{"loopback", opsFlags{metricsListen: "127.0.0.1:9464"}, true},
		{"loopback v6", opsFlags{metricsListen: "[::1]:9464"}, true},
		{"localhost", opsFlags{metricsListen: "localhost:9464"}, true},
		{"every interface", opsFlags{metricsListen: ":9464"}, false},
		{"a public address", opsFlags{metricsListen: "192.0.2.7:9464"}, false},
		{"a public address, allowed", opsFlags{metricsListen: "192.0.2.7:9464", metricsPublic: true}, true},
		{"every interface, allowed", opsFlags{metricsListen: ":9464", metricsPublic: true}, true},
		{"public without listen", opsFlags{metricsPublic: true}, false},
		{"no port", opsFlags{metricsListen: "127.0.0.1"}, false},
		{"json", opsFlags{logFormat: "json"}, true},
		{"text", opsFlags{logFormat: "text"}, true},
		{"xml", opsFlags{logFormat: "xml"}, false},
	} {
		if err := c.f.check(); (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// --log-format json writes one JSON object a line, its time at the hour
// as the text log's.
func TestJSONLog(t *testing.T) {
	var buf bytes.Buffer
	log := opsFlags{logFormat: "json"}.newLogger(&buf, nil)
	log.Error("a store failed", "err", "disk full")
	var rec struct {
		Time  time.Time `json:"time"`
		Level string    `json:"level"`
		Msg   string    `json:"msg"`
		Err   string    `json:"err"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	if rec.Level != "ERROR" || rec.Msg != "a store failed" || rec.Err != "disk full" {
		t.Errorf("record %+v", rec)
	}
	if !rec.Time.Equal(rec.Time.Truncate(time.Hour)) || time.Since(rec.Time) > time.Hour+time.Minute {
		t.Errorf("time %v: not this hour, to the hour", rec.Time)
	}
}
