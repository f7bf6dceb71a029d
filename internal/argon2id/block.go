package argon2id

import "math/bits"

// compressGeneric is the compression function G (RFC 9106, 3.5) in pure
// Go: out = P(prev ^ ref) ^ prev ^ ref, XORed into out's old value if xor.
// P applies the BLAKE2b round to the block's eight rows of 16 words, then
// to its eight columns of 2×8 words. tmp is scratch space; out may be prev
// but not ref.
func compressGeneric(out, prev, ref, tmp *block, xor bool) {
	for i := range tmp {
		tmp[i] = prev[i] ^ ref[i]
	}
	if xor {
		for i := range out {
			out[i] ^= tmp[i]
		}
	} else {
		*out = *tmp
	}
	for r := 0; r < blockWords; r += 16 {
		round((*[16]uint64)(tmp[r : r+16]))
	}
	for c := 0; c < 16; c += 2 {
		var v [16]uint64
		for k := range 8 {
			v[2*k], v[2*k+1] = tmp[16*k+c], tmp[16*k+c+1]
		}
		round(&v)
		for k := range 8 {
			out[16*k+c] ^= v[2*k]
			out[16*k+c+1] ^= v[2*k+1]
		}
	}
}

// round is the BLAKE2b round with Argon2's multiplications: G on the
// columns of v seen as a 4×4 matrix, then on its diagonals.
func round(v *[16]uint64) {
	v[0], v[4], v[8], v[12] = mix(v[0], v[4], v[8], v[12])
	v[1], v[5], v[9], v[13] = mix(v[1], v[5], v[9], v[13])
	v[2], v[6], v[10], v[14] = mix(v[2], v[6], v[10], v[14])
	v[3], v[7], v[11], v[15] = mix(v[3], v[7], v[11], v[15])
	v[0], v[5], v[10], v[15] = mix(v[0], v[5], v[10], v[15])
	v[1], v[6], v[11], v[12] = mix(v[1], v[6], v[11], v[12])
	v[2], v[7], v[8], v[13] = mix(v[2], v[7], v[8], v[13])
	v[3], v[4], v[9], v[14] = mix(v[3], v[4], v[9], v[14])
}

// mix is GB (RFC 9106, 3.6).
func mix(a, b, c, d uint64) (uint64, uint64, uint64, uint64) {
	a = blaMka(a, b)
	d = bits.RotateLeft64(d^a, -32)
	c = blaMka(c, d)
	b = bits.RotateLeft64(b^c, -24)
	a = blaMka(a, b)
	d = bits.RotateLeft64(d^a, -16)
	c = blaMka(c, d)
	b = bits.RotateLeft64(b^c, -63)
	return a, b, c, d
}

// blaMka is BLAKE2b's addition with Argon2's multiplication of the low
// halves.
func blaMka(x, y uint64) uint64 {
	return x + y + 2*uint64(uint32(x))*uint64(uint32(y))
}
