package scrub

import (
	"fmt"
	"io"
	"os"

	"filippo.io/age"
)

// Spool holds plaintext that needs random access, encrypted on disk under
// a key that exists only in this process's memory. Write it once, Close
// it, then read it with ReaderAt; Remove deletes the file.
type Spool struct {
	f    *os.File
	w    io.WriteCloser
	id   *age.HybridIdentity
	size int64
}

// NewSpool makes a spool in dir (the data folder's tmp/, which is emptied
// at every start, so a crash leaves nothing readable behind either way).
func NewSpool(dir string) (*Spool, error) {
	id, err := age.GenerateHybridIdentity() // post-quantum: a deleted spool may be recovered from the disk years later
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return nil, err
	}
	w, err := age.Encrypt(f, id.Recipient())
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &Spool{f: f, w: w, id: id}, nil
}

// Write encrypts p into the spool.
func (s *Spool) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.size += int64(n)
	return n, err
}

// Size is the number of plaintext bytes written.
func (s *Spool) Size() int64 { return s.size }

// ReaderAt finishes writing and returns random access to the plaintext.
func (s *Spool) ReaderAt() (io.ReaderAt, error) {
	if err := s.w.Close(); err != nil {
		return nil, err
	}
	fi, err := s.f.Stat()
	if err != nil {
		return nil, err
	}
	r, n, err := age.DecryptReaderAt(s.f, fi.Size(), s.id)
	if err != nil {
		return nil, err
	}
	if n != s.size {
		return nil, fmt.Errorf("scrub: spool holds %d bytes, %d were written", n, s.size)
	}
	return r, nil
}

// Remove deletes the spool's file.
func (s *Spool) Remove() error {
	s.f.Close()
	return os.Remove(s.f.Name())
}
