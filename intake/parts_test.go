package intake

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestPartReader(t *testing.T) {
	header := func(n int) string {
		var b strings.Builder
		for i := 0; b.Len() < n; i++ {
			b.WriteString("X-A: " + strings.Repeat("y", 90) + "\r\n")
		}
		return b.String()
	}
	big := strings.Repeat("z", 1<<20) // a part's body is not bounded
	cases := []struct {
		name  string
		body  string
		parts []string // the bodies read, in order
		err   error
	}{
		{"two parts, the first not read", "--B\r\nA: 1\r\n\r\n" + big + "\r\n--B\r\nA: 2\r\n\r\ntwo\r\n--B--\r\n", []string{"", "two"}, nil},
		{"a header at 64 KiB is given to the caller", "--B\r\n" + header(64<<10) + "\r\nx\r\n--B--\r\n", []string{"x"}, nil},
		{"a header of 1 MiB", "--B\r\n" + header(1<<20) + "\r\nx\r\n--B--\r\n", nil, ErrPartHeader},
		{"a preamble of 1 MiB", strings.Repeat(strings.Repeat("p", 99)+"\r\n", 10<<10) + "--B\r\n\r\nx\r\n--B--\r\n", nil, ErrPartHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := NewPartReader(strings.NewReader(c.body), "B")
			var got []string
			for i := 0; ; i++ {
				p, err := pr.NextPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					if !errors.Is(err, c.err) {
						t.Fatalf("part %d: %v, want %v", i, err, c.err)
					}
					return
				}
				if i == 0 && c.name == "two parts, the first not read" {
					got = append(got, "")
					continue
				}
				b, err := io.ReadAll(p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, string(b))
			}
			if c.err != nil {
				t.Fatalf("no error, want %v", c.err)
			}
			if strings.Join(got, "|") != strings.Join(c.parts, "|") {
				t.Errorf("got %q, want %q", got, c.parts)
			}
		})
	}
}
