package metrics

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pista-tips/pista/admit"
)

// hourly is the collector of the metrics a source's visit can move: what
// happens during an hour is gathered in pending, and added to published
// when the hour ends, the first time anything records or is scraped after
// it. A scrape reads only published.
type hourly struct {
	now func() time.Time

	mu        sync.Mutex
	hour      time.Time // the hour pending gathers
	until     time.Time // published counts what happened before this (zero: nothing yet)
	pending   gathered
	published gathered
	floor     int64

	source, stretch, queues, uploads, free, floorDesc, errors, untilDesc *prometheus.Desc
}

// gathered are the hourly metrics' values: histograms and counters add
// up, gauges are the hour's peak or low (-1: no sample).
type gathered struct {
	source  map[string]*hist // by status class
	stretch hist
	errors  uint64
	sampled bool
	queues  [admit.Lanes]int
	pending int
	free    int64
}

func newGathered() gathered {
	return gathered{source: map[string]*hist{}, pending: -1, free: -1}
}

// hist is a histogram's counts, bucket by bucket (not cumulative).
type hist struct {
	counts []uint64 // len(buckets)+1: the last is above every bucket
	count  uint64
	sum    float64
}

func (h *hist) observe(buckets []float64, v float64) {
	if h.counts == nil {
		h.counts = make([]uint64, len(buckets)+1)
	}
	i, _ := slices.BinarySearch(buckets, v) // the first bucket ≥ v
	h.counts[i]++
	h.count++
	h.sum += v
}

func (h *hist) add(o *hist) {
	if o.count == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, len(o.counts))
	}
	for i, n := range o.counts {
		h.counts[i] += n
	}
	h.count += o.count
	h.sum += o.sum
}

// metric is h as a constant Prometheus histogram.
func (h *hist) metric(d *prometheus.Desc, buckets []float64, labels ...string) prometheus.Metric {
	cum := make(map[float64]uint64, len(buckets))
	var n uint64
	for i, b := range buckets {
		if h.counts != nil {
			n += h.counts[i]
		}
		cum[b] = n
	}
	return prometheus.MustNewConstHistogram(d, h.count, h.sum, cum, labels...)
}

// classes are the status classes always exported, observed or not.
var classes = []string{"2xx", "3xx", "4xx", "5xx"}

func newHourly(now func() time.Time) *hourly {
	return &hourly{
		now: now, hour: hourOf(now()), pending: newGathered(), published: newGathered(),
		source: prometheus.NewDesc("pista_source_request_duration_seconds",
			"Time to answer every request but the newsroom's and the probes' (the source pages, uploads, the API, static files), by status class; published hourly.",
			[]string{"code"}, nil),
		stretch: prometheus.NewDesc("pista_key_stretch_duration_seconds",
			"Time an Argon2id derivation of a source's codename took (a new tip or a login); published hourly.", nil, nil),
		queues: prometheus.NewDesc("pista_stretch_queue_peak",
			"The longest queue for key stretching in the last whole hour, by lane of the admission gate; published hourly.",
			[]string{"lane"}, nil),
		uploads: prometheus.NewDesc("pista_uploads_pending_peak",
			"The most resumable uploads pending (begun, not yet claimed by a submission) in the last whole hour; published hourly.", nil, nil),
		free: prometheus.NewDesc("pista_disk_free_bytes",
			"The least free space seen on the data folder's disk in the last whole hour; published hourly.", nil, nil),
		floorDesc: prometheus.NewDesc("pista_disk_floor_bytes",
			"The free disk space the server keeps: uploads that would go below it are refused (--min-free-disk).", nil, nil),
		errors: prometheus.NewDesc("pista_log_errors_total",
			"Records the server logged at level ERROR (failed store operations and the like); published hourly.", nil, nil),
		untilDesc: prometheus.NewDesc("pista_hourly_until_timestamp_seconds",
			"The hourly metrics count what happened before this time (Unix seconds, on the hour; 0 before the first hour ends).", nil, nil),
	}
}

// rollLocked publishes pending if its hour has ended.
func (h *hourly) rollLocked() {
	now := hourOf(h.now())
	if !now.After(h.hour) {
		return
	}
	p, q := &h.published, &h.pending
	for class, s := range q.source {
		if p.source[class] == nil {
			p.source[class] = &hist{}
		}
		p.source[class].add(s)
	}
	p.stretch.add(&q.stretch)
	p.errors += q.errors
	if q.sampled {
		p.queues, p.pending, p.free = q.queues, q.pending, q.free
	}
	*q = newGathered()
	h.hour, h.until = now, now
}

func (h *hourly) observeSource(class string, seconds float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	s := h.pending.source[class]
	if s == nil {
		s = &hist{}
		h.pending.source[class] = s
	}
	s.observe(requestBuckets, seconds)
}

func (h *hourly) observeStretch(seconds float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	h.pending.stretch.observe(stretchBuckets, seconds)
}

func (h *hourly) countError() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	h.pending.errors++
}

// sample is one look at the gauges' sources: nil queues or -1 is not
// known.
type sample struct {
	queues  *[admit.Lanes]int
	pending int
	free    int64
}

func (h *hourly) sample(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	q := &h.pending
	q.sampled = true
	if s.queues != nil {
		for l, n := range s.queues {
			q.queues[l] = max(q.queues[l], n)
		}
	}
	q.pending = max(q.pending, s.pending)
	if s.free >= 0 && (q.free < 0 || s.free < q.free) {
		q.free = s.free
	}
}

// publishNow publishes the gauges gathered so far at once (the first
// sample, at start-up); counts wait for the hour as ever.
func (h *hourly) publishNow() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if q := &h.pending; q.sampled {
		h.published.queues, h.published.pending, h.published.free = q.queues, q.pending, q.free
	}
}

func (h *hourly) setFloor(n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.floor = n
}

func (h *hourly) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{h.source, h.stretch, h.queues, h.uploads, h.free, h.floorDesc, h.errors, h.untilDesc} {
		ch <- d
	}
}

func (h *hourly) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rollLocked()
	p := &h.published
	cls := slices.Clone(classes)
	for c := range p.source {
		if !slices.Contains(cls, c) {
			cls = append(cls, c)
		}
	}
	for _, c := range cls {
		s := p.source[c]
		if s == nil {
			s = &hist{}
		}
		ch <- s.metric(h.source, requestBuckets, c)
	}
	ch <- p.stretch.metric(h.stretch, stretchBuckets)
	for l, n := range p.queues {
		ch <- prometheus.MustNewConstMetric(h.queues, prometheus.GaugeValue, float64(n), admit.Lane(l).String())
	}
	ch <- prometheus.MustNewConstMetric(h.uploads, prometheus.GaugeValue, known(p.pending))
	ch <- prometheus.MustNewConstMetric(h.free, prometheus.GaugeValue, known(p.free))
	ch <- prometheus.MustNewConstMetric(h.floorDesc, prometheus.GaugeValue, float64(max(h.floor, 0)))
	ch <- prometheus.MustNewConstMetric(h.errors, prometheus.CounterValue, float64(p.errors))
	var until float64
	if !h.until.IsZero() {
		until = float64(h.until.Unix())
	}
	ch <- prometheus.MustNewConstMetric(h.untilDesc, prometheus.GaugeValue, until)
}

// known is n, or NaN for a gauge with no sample (-1).
func known[T int | int64](n T) float64 {
	if n < 0 {
		return math.NaN()
	}
	return float64(n)
}
