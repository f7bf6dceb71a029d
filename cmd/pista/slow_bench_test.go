package main

import (
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// BenchmarkSlowUploadMemory measures what a slow upload in progress costs
// the server in memory (Go heap and stacks in use, both ends' buffers of
// the raw test client being tiny): it opens 500 uploads that send their
// form's first fields and then wait, and reports the growth per upload.
// The connection bound times this is the most slow clients can take.
//
//	go test ./cmd/pista -run '^$' -bench BenchmarkSlowUploadMemory -benchtime 1x
func BenchmarkSlowUploadMemory(b *testing.B) {
	const n = 500
	s := startSlowServer(b, func(f *serveFlags) { f.maxConns = 2 * n })
	for range b.N {
		runtime.GC()
		before := inUse()
		var conns []net.Conn
		for range n {
			u := s.startUpload(b, 1<<20)
			u.send(8 << 10)
			conns = append(conns, u.Conn)
		}
		time.Sleep(time.Second)
		runtime.GC()
		after := inUse()
		if f := os.Getenv("PISTA_HEAP_PROFILE"); f != "" {
			w, _ := os.Create(f)
			pprof.WriteHeapProfile(w)
			w.Close()
		}
		b.ReportMetric(float64(after-before)/n, "B/upload")
		for _, c := range conns {
			c.Close()
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func inUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}
