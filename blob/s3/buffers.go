package s3

import (
	"sync"

	"golang.org/x/sys/unix"
)

// # Part buffers outside the Go heap
//
// A part buffer on the Go heap costs twice its size in resident memory:
// the garbage collector lets the heap grow to twice what is live before
// it collects (GOGC=100), so 5 MiB live in a buffer let 5 MiB more of
// garbage (requests, signatures) stay uncollected. Mapped with mmap, the
// buffer costs its 5 MiB and the heap's goal is unchanged: one 1 GiB Put
// raises the process's peak RSS by about 5 MiB instead of about 10.
//
// A returned buffer's pages go back to the system (MADV_DONTNEED) but the
// mapping stays, on a free list, for the next upload: net/http may still
// read a request's body for a moment after the request returned (a server
// that answered early), and a read of a buffer given back must find
// zeros, not an unmapped page. The mappings are at most as many as
// uploads ever ran at once, and hold no memory while free.

var partBuffers struct {
	sync.Mutex
	free [][]byte
}

// getPart returns a buffer of PartSize bytes.
func getPart() []byte {
	partBuffers.Lock()
	defer partBuffers.Unlock()
	if n := len(partBuffers.free); n > 0 {
		b := partBuffers.free[n-1]
		partBuffers.free = partBuffers.free[:n-1]
		return b
	}
	b, err := unix.Mmap(-1, 0, PartSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, PartSize)
	}
	return b
}

// putPart gives b back to the system and keeps its mapping for reuse.
func putPart(b []byte) {
	if err := unix.Madvise(b, unix.MADV_DONTNEED); err != nil {
		clear(b) // a heap buffer: at least no ciphertext stays in it
	}
	partBuffers.Lock()
	partBuffers.free = append(partBuffers.free, b)
	partBuffers.Unlock()
}
