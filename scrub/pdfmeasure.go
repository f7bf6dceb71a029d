package scrub

import (
	"bytes"
	"compress/zlib"
	"io"
)

// pdfMeasure inflates, without keeping them, the FlateDecode streams of
// the PDF read from r (at most pdfMax bytes), to find a bomb before
// pdfcpu parses the file: pdfcpu decompresses the object streams
// (/Type /ObjStm, and cross-reference streams) while it parses, and keeps
// what they hold. Each stream is found as a reader finds it, after its
// "stream" keyword; its dictionary is the text between the "obj" before
// it and the keyword. A stream named FlateDecode several times is
// inflated as many times over.
//
// Every stream's bytes count against the Inflate budget. An object or
// cross-reference stream's (and a stream whose dictionary cannot be told
// apart from one) may in addition hold at most an eighth of the memory
// budget, and all of them together half of it; one whose filters are
// other than FlateDecode is counted as if it held that eighth, as
// pdfcpu may decode it up to there.
func pdfMeasure(m *meter, r io.ReaderAt, size int64) error {
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && err != io.EOF {
		return err
	}
	part := m.part()
	var held int64
	var zr io.ReadCloser
	for at := 0; ; {
		i := bytes.Index(data[at:], []byte("stream"))
		if i < 0 {
			return nil
		}
		kw := at + i
		at = kw + len("stream")
		if kw >= 3 && string(data[kw-3:kw]) == "end" {
			continue
		}
		start := at
		if start < len(data) && data[start] == '\r' {
			start++
		}
		if start < len(data) && data[start] == '\n' {
			start++
		}
		from := max(0, kw-4096)
		dict := data[from:kw]
		if j := bytes.LastIndex(dict, []byte("obj")); j >= 0 {
			dict = dict[j+3:]
		}
		dict = pdfUnescapeNames(dict)
		object := bytes.Contains(dict, []byte("/ObjStm")) || bytes.Contains(dict, []byte("/XRef")) || bytes.Contains(dict, []byte("/First"))
		flates := bytes.Count(dict, []byte("/FlateDecode"))
		others := bytes.Contains(dict, []byte("Decode")) && bytes.Count(dict, []byte("Decode")) > flates+bytes.Count(dict, []byte("DecodeParms"))
		if object && others {
			if held += part; held > m.b.Memory/2 {
				return m.tooComplex("its object streams decode past the %d bytes scrub holds", m.b.Memory/2)
			}
		}
		if flates == 0 {
			continue
		}
		flates = min(flates, 8)
		var src io.Reader = bytes.NewReader(data[start:])
		var err error
		if zr == nil {
			zr, err = zlib.NewReader(src)
		} else {
			err = zr.(zlib.Resetter).Reset(src, nil)
		}
		if err != nil {
			continue // not a zlib stream: pdfcpu will say what it is
		}
		src = zr
		for k := 1; k < flates; k++ {
			inner, err := zlib.NewReader(src)
			if err != nil {
				break
			}
			src = inner
		}
		limit := m.b.Inflate - m.inflated
		if object {
			limit = min(limit, part, m.b.Memory/2-held)
		}
		n, _ := io.Copy(io.Discard, io.LimitReader(src, limit+1)) // a broken stream counts what it gave
		if object {
			held += n
		}
		if n > limit {
			if object {
				return m.tooComplex("its object streams decode past the bytes scrub holds")
			}
			return m.tooComplex("its streams decompress to more than %d bytes", m.b.Inflate)
		}
		if err := m.inflate(n); err != nil {
			return err
		}
	}
}

// pdfUnescapeNames decodes the #xx escapes of a dictionary's names, so
// that /Obj#53tm is seen as /ObjStm, as a reader sees it.
func pdfUnescapeNames(b []byte) []byte {
	if bytes.IndexByte(b, '#') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '#' && i+2 < len(b) {
			if h, ok := pdfHex(b[i+1]); ok {
				if l, ok := pdfHex(b[i+2]); ok {
					out = append(out, h<<4|l)
					i += 2
					continue
				}
			}
		}
		out = append(out, b[i])
	}
	return out
}

func pdfHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
