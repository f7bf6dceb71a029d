package argon2id

import (
	"encoding/binary"
	"sync"

	"golang.org/x/crypto/blake2b"
)

const (
	version    = 0x13
	typeID     = 2 // Argon2id
	syncPoints = 4 // slices per pass
	blockWords = 128
)

// block is one 1 KiB Argon2 memory block.
type block [blockWords]uint64

// zeroBlock is the all-zero input of the address generator.
var zeroBlock block

// Key derives keyLen bytes from password and salt with Argon2id (no secret
// key, no associated data), exactly as x/crypto's argon2.IDKey does with
// the same arguments: time passes over memoryKiB KiB in threads lanes,
// lanes computed in parallel. Its block memory comes from, and returns
// to, a small pool (see the package doc). It panics if time, threads or
// keyLen is 0.
func Key(password, salt []byte, time, memoryKiB uint32, threads uint8, keyLen uint32) []byte {
	return deriveKey(password, salt, nil, nil, time, memoryKiB, threads, keyLen)
}

// deriveKey is Argon2id with a secret key and associated data (for the
// RFC's test vector).
func deriveKey(password, salt, secret, data []byte, time, memoryKiB uint32, threads uint8, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2id: time must be at least 1")
	}
	if threads < 1 {
		panic("argon2id: threads must be at least 1")
	}
	if keyLen < 1 {
		panic("argon2id: keyLen must be at least 1")
	}
	lanes := uint32(threads)
	h0 := initialHash(password, salt, secret, data, time, memoryKiB, lanes, keyLen)

	// m' (RFC 9106, 3.2): a multiple of 4p blocks, at least 8p.
	memory := memoryKiB / (syncPoints * lanes) * (syncPoints * lanes)
	memory = max(memory, 2*syncPoints*lanes)

	B := buffers.get(int(memory))
	defer buffers.put(B)
	laneLen := memory / lanes
	var b [1024]byte
	for l := range lanes {
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], l)
		for i := range uint32(2) {
			binary.LittleEndian.PutUint32(h0[blake2b.Size:], i)
			hashLong(b[:], h0[:])
			fromBytes(&B[l*laneLen+i], &b)
		}
	}
	clear(h0[:])
	fill(B, time, memory, lanes)

	final := B[memory-1]
	for l := range lanes - 1 {
		last := &B[l*laneLen+laneLen-1]
		for i := range final {
			final[i] ^= last[i]
		}
	}
	toBytes(&b, &final)
	key := make([]byte, keyLen)
	hashLong(key, b[:])
	clear(final[:])
	clear(b[:])
	return key
}

// initialHash is H0 (RFC 9106, 3.2), with 8 free bytes after it for the
// block and lane numbers of the first blocks.
func initialHash(password, salt, secret, data []byte, time, memory, lanes, keyLen uint32) [blake2b.Size + 8]byte {
	var params [24]byte
	binary.LittleEndian.PutUint32(params[0:], lanes)
	binary.LittleEndian.PutUint32(params[4:], keyLen)
	binary.LittleEndian.PutUint32(params[8:], memory)
	binary.LittleEndian.PutUint32(params[12:], time)
	binary.LittleEndian.PutUint32(params[16:], version)
	binary.LittleEndian.PutUint32(params[20:], typeID)
	h, _ := blake2b.New512(nil)
	h.Write(params[:])
	var n [4]byte
	for _, s := range [][]byte{password, salt, secret, data} {
		binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write(s)
	}
	var h0 [blake2b.Size + 8]byte
	h.Sum(h0[:0])
	return h0
}

// fill computes every pass over the memory B, lanes in parallel.
func fill(B []block, time, memory, lanes uint32) {
	laneLen := memory / lanes
	segLen := laneLen / syncPoints
	s := segment{B: B, time: time, memory: memory, lanes: lanes, laneLen: laneLen, segLen: segLen}
	for s.pass = range time {
		for s.slice = range uint32(syncPoints) {
			if lanes == 1 {
				s.fill(0)
				continue
			}
			var wg sync.WaitGroup
			for l := uint32(1); l < lanes; l++ {
				sl := s
				wg.Go(func() { sl.fill(l) })
			}
			s.fill(0)
			wg.Wait()
		}
	}
}

// segment is one slice of one pass, of every lane.
type segment struct {
	B                         []block
	pass, slice, time, memory uint32
	lanes, laneLen, segLen    uint32
}

// fill computes the segment's blocks in lane l.
func (s *segment) fill(l uint32) {
	var addresses, input, tmp block
	independent := s.pass == 0 && s.slice < syncPoints/2 // Argon2id's Argon2i half
	if independent {
		input[0] = uint64(s.pass)
		input[1] = uint64(l)
		input[2] = uint64(s.slice)
		input[3] = uint64(s.memory)
		input[4] = uint64(s.time)
		input[5] = typeID
	}
	index := uint32(0)
	if s.pass == 0 && s.slice == 0 {
		index = 2 // the first two blocks come from H0
		if independent {
			nextAddresses(&addresses, &input, &tmp)
		}
	}
	xor := s.pass > 0
	offset := l*s.laneLen + s.slice*s.segLen + index
	for ; index < s.segLen; index, offset = index+1, offset+1 {
		prev := offset - 1
		if index == 0 && s.slice == 0 {
			prev += s.laneLen // the lane's last block
		}
		var rand uint64
		if independent {
			if index%blockWords == 0 {
				nextAddresses(&addresses, &input, &tmp)
			}
			rand = addresses[index%blockWords]
		} else {
			rand = s.B[prev][0]
		}
		ref := s.reference(rand, l, index)
		compress(&s.B[offset], &s.B[prev], &s.B[ref], &tmp, xor)
	}
	clear(addresses[:])
	clear(tmp[:])
}

// nextAddresses fills addresses with the next 128 pseudo-random values of
// a data-independent segment: G(0, G(0, input)) with input's counter
// incremented.
func nextAddresses(addresses, input, tmp *block) {
	input[6]++
	compress(addresses, &zeroBlock, input, tmp, false)
	compress(addresses, &zeroBlock, addresses, tmp, false)
}

// reference is the index in B of the block that block index of the
// segment in lane l mixes in (RFC 9106, 3.4.1.2), given the pseudo-random
// value rand.
func (s *segment) reference(rand uint64, l, index uint32) uint32 {
	refLane := l
	if s.lanes > 1 && (s.pass > 0 || s.slice > 0) {
		refLane = uint32(rand>>32) % s.lanes
	}
	// The reference area: finished segments of the lane (the last three of
	// the previous pass, or those of this one on the first pass) and, in
	// the same lane, this segment's blocks but the previous one.
	var area, start uint32
	if s.pass == 0 {
		area = s.slice * s.segLen
	} else {
		area = s.laneLen - s.segLen
		start = (s.slice + 1) % syncPoints * s.segLen
	}
	if refLane == l {
		area += index - 1
	} else if index == 0 {
		area--
	}
	x := rand & 0xffffffff
	y := x * x >> 32
	z := uint64(area) - 1 - uint64(area)*y>>32
	pos := uint64(start) + z // below 2*laneLen
	if pos >= uint64(s.laneLen) {
		pos -= uint64(s.laneLen)
	}
	return refLane*s.laneLen + uint32(pos)
}

// fromBytes reads a block written little-endian.
func fromBytes(dst *block, src *[1024]byte) {
	for i := range dst {
		dst[i] = binary.LittleEndian.Uint64(src[8*i:])
	}
}

// toBytes writes a block little-endian.
func toBytes(dst *[1024]byte, src *block) {
	for i, v := range src {
		binary.LittleEndian.PutUint64(dst[8*i:], v)
	}
}
