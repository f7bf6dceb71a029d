package intake

// padReader pads a file as pista.Padme says, inside its encryption.

import (
	"io"

	"github.com/pista-tips/pista"
)

// padReader reads r, then as many zeros as Padme asks for the length read.
type padReader struct {
	r    io.Reader
	n    int64 // bytes of r read
	pad  int64 // zeros still to send, once r is done
	done bool
}

func (p *padReader) Read(b []byte) (int, error) {
	if !p.done {
		n, err := p.r.Read(b)
		p.n += int64(n)
		if err == io.EOF {
			p.done = true
			p.pad = pista.Padme(p.n) - p.n
			if n > 0 {
				return n, nil
			}
		} else {
			return n, err
		}
	}
	if p.pad == 0 {
		return 0, io.EOF
	}
	k := min(int64(len(b)), p.pad)
	clear(b[:k])
	p.pad -= k
	return int(k), nil
}
