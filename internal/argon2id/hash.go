package argon2id

import (
	"encoding/binary"

	"golang.org/x/crypto/blake2b"
)

// hashLong is H' (RFC 9106, 3.3): BLAKE2b stretched to len(out) bytes.
// in is at most 1024 bytes (a block, or H0 with the block and lane
// numbers).
func hashLong(out, in []byte) {
	var buf [4 + 1024]byte
	binary.LittleEndian.PutUint32(buf[:], uint32(len(out)))
	msg := buf[:4+copy(buf[4:], in)]
	if len(out) <= blake2b.Size {
		hashN(out, msg)
		return
	}
	v := blake2b.Sum512(msg)
	copy(out, v[:32])
	out = out[32:]
	for len(out) > blake2b.Size {
		v = blake2b.Sum512(v[:])
		copy(out, v[:32])
		out = out[32:]
	}
	hashN(out, v[:])
	clear(buf[:])
	clear(v[:])
}

// hashN writes BLAKE2b with a len(out)-byte digest (1 to 64) of msg.
func hashN(out, msg []byte) {
	switch len(out) {
	case 32:
		s := blake2b.Sum256(msg)
		copy(out, s[:])
	case 64:
		s := blake2b.Sum512(msg)
		copy(out, s[:])
	default:
		h, _ := blake2b.New(len(out), nil)
		h.Write(msg)
		h.Sum(out[:0])
	}
}
