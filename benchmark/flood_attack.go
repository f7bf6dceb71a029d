package benchmark

// The flood of `pista bench --flood`: closed-loop clients that ask the
// server for its most expensive work, or hold its connections, the way an
// attacker without addresses to spare would. It runs in a process of its
// own (`pista bench --flood-client`), at a lower scheduling priority, so
// that on a small machine its goroutines do not starve the measuring
// clients in the bench process: an attacker floods from machines of its
// own, and the server's CPU is what is measured, not the bench's.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"github.com/pista-tips/pista/api"
	"github.com/pista-tips/pista/keys"
	"github.com/pista-tips/pista/pow"
)

// FloodClientFlag is the hidden `pista bench` flag that runs only the
// flood, in a process of its own (see RunFloodClient).
const FloodClientFlag = "--flood-client"

// The proof of work, as the server offers and takes it.
const (
	// PoWPath gives a challenge as text/plain, for the source pages.
	PoWPath = "/pow"
	// PoWField is the optional form field of POST /submit and /login
	// that carries a solution.
	PoWField = "pow"
	// ChallengePath gives a challenge as JSON ({"challenge": "…"}), for
	// the API.
	ChallengePath = "/api/v1/source/challenge"
	// PoWHeader carries a solution with the API's source requests.
	PoWHeader = "Pista-PoW"
)

// The kinds of flood client.
const (
	FloodLogin = "login" // wrong codenames, no proof of work
	FloodAPI   = "api"   // new sources through the API, which pay the proof of work
	FloodSlow  = "slow"  // submissions whose bodies trickle in
	FloodTip   = "tip"   // new tips without JavaScript (no proof of work): stored, as spam
)

// FloodKinds are the kinds of flood client, in the order they are shown.
var FloodKinds = []string{FloodLogin, FloodAPI, FloodSlow, FloodTip}

// FloodPlan is what a flood process does.
type FloodPlan struct {
	URL  string `json:"url"`
	Desk string `json:"desk"`
	// Clients by kind.
	Clients map[string]int `json:"clients"`
	// Max ends the flood even if the parent never says so.
	Max time.Duration `json:"max"`
	// Nice is the scheduling priority the process takes (0: unchanged).
	Nice int `json:"nice"`
}

// DefaultFloodMix is the share of each kind of flood client, in percent:
// most of them wrong-codename logins, the cheapest way to ask for an
// Argon2id derivation; a tenth new sources through the API, a tenth slow
// submissions.
var DefaultFloodMix = map[string]int{FloodLogin: 80, FloodAPI: 10, FloodSlow: 10}

// ParseFloodMix reads a mix such as "login=70,api=10,slow=10,tip=10"
// (percent; kinds left out get none).
func ParseFloodMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	total := 0
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || !slices.Contains(FloodKinds, k) {
			return nil, fmt.Errorf("%q is not KIND=PERCENT with a kind among %s", f, strings.Join(FloodKinds, ", "))
		}
		mix[k] = n
		total += n
	}
	if total != 100 {
		return nil, fmt.Errorf("the shares add up to %d, not 100", total)
	}
	return mix, nil
}

// FloodMix splits n clients between the kinds by mix (percent); logins
// take what rounding leaves.
func FloodMix(n int, mix map[string]int) map[string]int {
	if mix == nil {
		mix = DefaultFloodMix
	}
	split := map[string]int{}
	left := n
	for _, k := range FloodKinds {
		if k != FloodLogin {
			split[k] = n * mix[k] / 100
			left -= split[k]
		}
	}
	split[FloodLogin] = left
	return split
}

// MixText writes a split as "320 wrong-codename logins, 40 API…".
func MixText(split map[string]int) string {
	names := map[string]string{FloodLogin: "wrong-codename logins", FloodAPI: "API sources paying the PoW",
		FloodSlow: "slow submissions", FloodTip: "no-JS tips (spam)"}
	var parts []string
	for _, k := range FloodKinds {
		if split[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", split[k], names[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// KindCounts are what one kind of flood client did.
type KindCounts struct {
	Sent    int         `json:"sent"`    // requests started
	Answers map[int]int `json:"answers"` // by HTTP status
	Errors  int         `json:"errors"`  // no answer: cut, refused, timed out
	// Solved are proofs of work found, and the time spent finding them.
	Solved    int           `json:"solved,omitempty"`
	SolveTime time.Duration `json:"solve_time,omitempty"`
	MaxBits   int           `json:"max_bits,omitempty"`
	// Unsolved are puzzles still being solved when the flood ended.
	Unsolved int `json:"unsolved,omitempty"`
	// TooMany are answers that said the server had too many sessions.
	TooMany  int    `json:"too_many,omitempty"`
	FirstErr string `json:"first_err,omitempty"`
}

// FloodCounts are what a flood process did, by kind.
type FloodCounts map[string]*KindCounts

// floodPage bounds how much of an answer a flood client reads.
const floodPage = 64 << 10

// Per-request deadlines of the flood: every request ends.
const (
	floodRequestTimeout = 15 * time.Second
	floodSolveTimeout   = 30 * time.Second
)

// slowBody is the body a slow submission declares, and slowRate how many
// bytes of it it sends per second: far under the server's least body
// rate, so that it holds its connection until the server cuts it.
const (
	slowBody = 8 << 10
	slowRate = 4
)

// RunFloodClient is `pista bench --flood-client PLAN`: it floods the
// server plan.URL until stdin closes (the bench's way of ending it) or
// plan.Max passes, writing "flooding" on out once its clients have
// started and, at the end, the FloodCounts as one line of JSON.
func RunFloodClient(ctx context.Context, planJSON string, stdin io.Reader, out io.Writer) error {
	var plan FloodPlan
	if err := json.Unmarshal([]byte(planJSON), &plan); err != nil {
		return fmt.Errorf("flood plan: %w", err)
	}
	if plan.Nice != 0 {
		if err := setNice(plan.Nice); err != nil {
			fmt.Fprintf(os.Stderr, "flood: cannot lower its priority: %v\n", err)
		}
	}
	if plan.Max <= 0 {
		plan.Max = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, plan.Max)
	defer cancel()
	go func() {
		io.Copy(io.Discard, stdin)
		cancel()
	}()
	counts, err := Flood(ctx, plan, func() { fmt.Fprintln(out, "flooding") })
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(counts)
}

// Flood runs plan's clients until ctx ends; started is called once they
// all run.
func Flood(ctx context.Context, plan FloodPlan, started func()) (FloodCounts, error) {
	n := 0
	for _, c := range plan.Clients {
		n += c
	}
	// At most one connection per client.
	tr := &http.Transport{
		Proxy: nil, DisableCompression: true,
		MaxConnsPerHost: n, MaxIdleConnsPerHost: n, IdleConnTimeout: time.Minute,
		ResponseHeaderTimeout: floodRequestTimeout,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	f := &flood{plan: plan, c: c, counts: FloodCounts{}}
	for _, k := range FloodKinds {
		f.counts[k] = &KindCounts{Answers: map[int]int{}}
	}
	if plan.Clients[FloodAPI] > 0 {
		if err := f.prepareAPI(ctx); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	for _, kind := range FloodKinds {
		run := map[string]func(context.Context){FloodLogin: f.login, FloodAPI: f.api, FloodSlow: f.slow, FloodTip: f.tip}[kind]
		for range plan.Clients[kind] {
			wg.Go(func() { run(ctx) })
		}
	}
	if started != nil {
		started()
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts, nil
}

type flood struct {
	plan FloodPlan
	c    *http.Client

	// For the API's new sources: one sealed message for every tip (the
	// server cannot tell), and one public key for replies.
	sealed    []byte
	recipient string

	mu     sync.Mutex
	counts FloodCounts
}

// record counts one request's outcome.
func (f *flood) record(kind string, status int, hdr http.Header, body []byte, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.counts[kind]
	k.Sent++
	if err != nil {
		k.Errors++
		if k.FirstErr == "" {
			k.FirstErr = err.Error()
		}
		return
	}
	k.Answers[status]++
	if tooManySessions(status, hdr, body) {
		k.TooMany++
	}
}

func (f *flood) solved(kind string, bits int, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.counts[kind]
	k.Solved++
	k.SolveTime += d
	k.MaxBits = max(k.MaxBits, bits)
}

// do sends a request and reads at most floodPage of the answer.
func (f *flood) do(ctx context.Context, req *http.Request) (int, http.Header, []byte, error) {
	resp, err := f.c.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, floodPage))
	return resp.StatusCode, resp.Header, b, err
}

// pause waits a moment after a failure, so that a client that cannot
// even connect does not spin.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}

// token fetches an anonymous CSRF token from the landing page; anyone can,
// and it is good for a day, so a flood client fetches one and keeps it.
func (f *flood) token(ctx context.Context) (string, bool) {
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, floodRequestTimeout)
		t, err := csrfToken(rctx, f.c, f.plan.URL+"/")
		cancel()
		if err == nil {
			return t, true
		}
		pause(ctx)
	}
	return "", false
}

// randomCodename is a well-formed codename nobody holds (but by a chance
// of one in 10^28).
func randomCodename() string {
	var b strings.Builder
	n, _ := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(keys.CodenameDigits), nil))
	s := n.String()
	b.WriteString(strings.Repeat("0", keys.CodenameDigits-len(s)))
	b.WriteString(s)
	return b.String()
}

// login tries wrong codenames one after another: each costs the server an
// Argon2id derivation, and the client a few microseconds.
func (f *flood) login(ctx context.Context) {
	token, ok := f.token(ctx)
	if !ok {
		return
	}
	for ctx.Err() == nil {
		form := url.Values{"csrf": {token}, "codename": {randomCodename()}}
		req, _ := http.NewRequest(http.MethodPost, f.plan.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rctx, cancel := context.WithTimeout(ctx, floodRequestTimeout)
		status, hdr, body, err := f.do(rctx, req)
		cancel()
		if ctx.Err() != nil {
			return
		}
		f.record(FloodLogin, status, hdr, body, err)
		if err != nil {
			pause(ctx)
		}
	}
}

// tip sends new tips as a page without JavaScript does, without the
// proof of work: each is stored (spam in the journalists' inbox) and
// costs the server an Argon2id derivation, in the lane of the real
// sources without JavaScript.
func (f *flood) tip(ctx context.Context) {
	token, ok := f.token(ctx)
	if !ok {
		return
	}
	var body bytes.Buffer
	if err := writeForm(&body, []field{{"csrf", token}, {"desk", f.plan.Desk}, {"message", "A flood's tip."}, {"contact", ""}}, nil); err != nil {
		f.record(FloodTip, 0, nil, nil, err)
		return
	}
	for ctx.Err() == nil {
		req, _ := http.NewRequest(http.MethodPost, f.plan.URL+"/submit", bytes.NewReader(body.Bytes()))
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		rctx, cancel := context.WithTimeout(ctx, floodRequestTimeout)
		status, hdr, answer, err := f.do(rctx, req)
		cancel()
		if ctx.Err() != nil {
			return
		}
		f.record(FloodTip, status, hdr, answer, err)
		if err != nil {
			pause(ctx)
		}
	}
}

// prepareAPI fetches the desk's keys and seals the message every API tip
// of the flood carries.
func (f *flood) prepareAPI(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, floodRequestTimeout)
	defer cancel()
	req, _ := http.NewRequest(http.MethodGet, f.plan.URL+"/api/v1/desks", nil)
	status, _, body, err := f.do(rctx, req)
	if err != nil || status != http.StatusOK {
		return fmt.Errorf("flood: GET /api/v1/desks: %d %v", status, err)
	}
	var desks api.DesksResponse
	if err := json.Unmarshal(body, &desks); err != nil {
		return fmt.Errorf("flood: GET /api/v1/desks: %w", err)
	}
	var to []age.Recipient
	for _, d := range desks.Desks {
		if d.Slug == f.plan.Desk {
			if to, err = keys.ParseRecipients(d.Recipients...); err != nil {
				return fmt.Errorf("flood: desk %s: %w", d.Slug, err)
			}
		}
	}
	if len(to) == 0 {
		return fmt.Errorf("flood: no desk %q in GET /api/v1/desks", f.plan.Desk)
	}
	var sealed bytes.Buffer
	w, err := age.Encrypt(&sealed, to...)
	if err != nil {
		return err
	}
	io.WriteString(w, "A flood's tip.")
	if err := w.Close(); err != nil {
		return err
	}
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return err
	}
	f.sealed, f.recipient = sealed.Bytes(), id.Recipient().String()
	return nil
}

// apiTipBody is a new source's tip through the API: a random lookup (a
// new source each time), the flood's public key and its sealed message.
func (f *flood) apiTipBody() (*bytes.Buffer, string, error) {
	lookup := make([]byte, 32)
	rand.Read(lookup)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="tip"`)
	h.Set("Content-Type", "application/json")
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if err := json.NewEncoder(w).Encode(api.TipPart{Desk: f.plan.Desk, Lookup: lookup, Recipient: f.recipient}); err != nil {
		return nil, "", err
	}
	h = textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="message"`)
	h.Set("Content-Type", "application/octet-stream")
	if w, err = mw.CreatePart(h); err != nil {
		return nil, "", err
	}
	w.Write(f.sealed)
	return &body, mw.FormDataContentType(), mw.Close()
}

// challenge fetches a challenge from path (the API's JSON or the pages'
// text). ok is false if the server offers none (404).
func challenge(ctx context.Context, c *http.Client, base, path string) (ch string, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return "", false, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", false, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err != nil {
		return "", false, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		return "", false, nil
	}
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if path == ChallengePath {
		var v struct {
			Challenge string `json:"challenge"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return "", false, fmt.Errorf("GET %s: %w", path, err)
		}
		return v.Challenge, true, nil
	}
	return strings.TrimSpace(string(b)), true, nil
}

// solve fetches a challenge and solves it; "" if the server offers none.
// bits is the challenge's difficulty.
func solve(ctx context.Context, c *http.Client, base, path string) (solution string, bits int, took time.Duration, err error) {
	rctx, cancel := context.WithTimeout(ctx, floodRequestTimeout)
	ch, ok, err := challenge(rctx, c, base, path)
	cancel()
	if err != nil || !ok {
		return "", 0, 0, err
	}
	pc, err := pow.ParseChallenge(ch)
	if err != nil {
		return "", 0, 0, fmt.Errorf("GET %s: %w", path, err)
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, floodSolveTimeout)
	defer cancel()
	s, err := pow.Solve(sctx, ch)
	return s, pc.Bits, time.Since(start), err
}

// api sends new sources' tips through the API, paying the proof of work
// each time as the API asks.
func (f *flood) api(ctx context.Context) {
	for ctx.Err() == nil {
		sol, bits, took, err := solve(ctx, f.c, f.plan.URL, ChallengePath)
		if ctx.Err() != nil {
			if err != nil {
				f.mu.Lock()
				f.counts[FloodAPI].Unsolved++
				f.mu.Unlock()
			}
			return
		}
		if err != nil {
			f.record(FloodAPI, 0, nil, nil, err)
			pause(ctx)
			continue
		}
		if sol != "" {
			f.solved(FloodAPI, bits, took)
		}
		body, ct, err := f.apiTipBody()
		if err != nil {
			f.record(FloodAPI, 0, nil, nil, err)
			return
		}
		req, _ := http.NewRequest(http.MethodPost, f.plan.URL+"/api/v1/source/tips", body)
		req.Header.Set("Content-Type", ct)
		if sol != "" {
			req.Header.Set(PoWHeader, sol)
		}
		rctx, cancel := context.WithTimeout(ctx, floodRequestTimeout)
		status, hdr, answer, err := f.do(rctx, req)
		cancel()
		if ctx.Err() != nil {
			return
		}
		f.record(FloodAPI, status, hdr, answer, err)
		if err != nil {
			pause(ctx)
		}
	}
}

// trickle is a body that sends slowRate bytes a second until ctx ends.
type trickle struct {
	ctx  context.Context
	left int
	tick *time.Ticker
}

func (t *trickle) Read(p []byte) (int, error) {
	if t.left == 0 {
		return 0, io.EOF
	}
	select {
	case <-t.ctx.Done():
		return 0, t.ctx.Err()
	case <-t.tick.C:
	}
	n := min(len(p), t.left, slowRate)
	for i := range n {
		p[i] = 'a'
	}
	t.left -= n
	return n, nil
}

// slow opens submissions whose bodies trickle in a few bytes a second:
// each holds a connection, and a handler, until the server cuts it for
// being too slow or the flood ends.
func (f *flood) slow(ctx context.Context) {
	token, ok := f.token(ctx)
	if !ok {
		return
	}
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField("csrf", token)
	mw.WriteField("desk", f.plan.Desk)
	mw.CreateFormField("message")
	ct := mw.FormDataContentType()
	for ctx.Err() == nil {
		t := &trickle{ctx: ctx, left: slowBody - head.Len(), tick: time.NewTicker(time.Second)}
		req, _ := http.NewRequest(http.MethodPost, f.plan.URL+"/submit", io.MultiReader(bytes.NewReader(head.Bytes()), t))
		req.ContentLength = slowBody
		req.Header.Set("Content-Type", ct)
		status, hdr, body, err := f.do(ctx, req)
		t.tick.Stop()
		if ctx.Err() != nil {
			// The flood ended while the body trickled: it held its place
			// the whole time, which is what it was for.
			f.record(FloodSlow, 0, nil, nil, nil)
			return
		}
		f.record(FloodSlow, status, hdr, body, err)
		pause(ctx)
	}
}

// tooManySessions reports whether an answer says the server had too many
// sessions: the old session table's refusal, in a page, or as the API's
// error code "busy" without Retry-After (the API also says "busy", with
// Retry-After, when it cannot remember more proofs of work).
func tooManySessions(status int, hdr http.Header, body []byte) bool {
	if status != http.StatusServiceUnavailable {
		return false
	}
	if bytes.Contains(body, []byte("too many sessions")) {
		return true
	}
	var e api.Error
	return json.Unmarshal(body, &e) == nil && e.Code == "busy" && hdr.Get("Retry-After") == ""
}

// readFloodOutput reads a flood process's output: the "flooding" line
// (ready is closed then) and the counts at the end.
func readFloodOutput(r io.Reader, ready chan<- struct{}) (FloodCounts, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var counts FloodCounts
	signalled := false
	for sc.Scan() {
		line := sc.Bytes()
		if string(line) == "flooding" {
			if !signalled {
				close(ready)
				signalled = true
			}
			continue
		}
		if err := json.Unmarshal(line, &counts); err != nil {
			return nil, fmt.Errorf("flood output: %w", err)
		}
	}
	if counts == nil {
		return nil, errors.New("the flood process wrote no counts")
	}
	return counts, sc.Err()
}

// sent is how many requests the flood started.
func (c FloodCounts) sent() int {
	n := 0
	for _, k := range c {
		n += k.Sent
	}
	return n
}

// answers is a kind's answers as "503×1200, 401×30", by status.
func (k *KindCounts) answers() string {
	var statuses []int
	for s := range k.Answers {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	var parts []string
	for _, s := range statuses {
		label := strconv.Itoa(s)
		if s == 0 {
			label = "held to the end"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", label, k.Answers[s]))
	}
	if k.Errors > 0 {
		parts = append(parts, fmt.Sprintf("no answer×%d", k.Errors))
	}
	if len(parts) == 0 {
		return "no request"
	}
	return strings.Join(parts, ", ")
}
