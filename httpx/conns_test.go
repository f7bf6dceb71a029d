package httpx

import "testing"

func TestMaxConnsFor(t *testing.T) {
	for _, c := range []struct {
		name   string
		nofile uint64
		want   int
	}{
		{"tiny limit", 64, minConns},
		{"just over the reserve", ReservedFiles + 2*minConns + 2, minConns + 1},
		{"Debian's default soft limit", 1024, 384},
		{"raised to a common hard limit", 524288, DefaultMaxConns},
		{"unlimited", 1 << 62, DefaultMaxConns},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := MaxConnsFor(c.nofile); got != c.want {
				t.Errorf("MaxConnsFor(%d) = %d, want %d", c.nofile, got, c.want)
			}
			if got := MaxConnsFor(c.nofile); c.nofile > ReservedFiles && uint64(2*got+ReservedFiles) > c.nofile && got != minConns {
				t.Errorf("MaxConnsFor(%d) = %d leaves fewer than %d descriptors", c.nofile, got, ReservedFiles)
			}
		})
	}
}
