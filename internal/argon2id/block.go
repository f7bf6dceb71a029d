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

// round is the BLAKE2b round with Argon2's multiplications: GB (RFC
// 9106, 3.6) on the columns of v seen as a 4×4 matrix, then on its
// diagonals. It is written out so that the words stay in registers.
func round(v *[16]uint64) {
	v0, v1, v2, v3, v4, v5, v6, v7 := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
	v8, v9, v10, v11, v12, v13, v14, v15 := v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]
	v0 = blaMka(v0, v4)
	v12 = bits.RotateLeft64(v12^v0, -32)
	v8 = blaMka(v8, v12)
	v4 = bits.RotateLeft64(v4^v8, -24)
	v0 = blaMka(v0, v4)
	v12 = bits.RotateLeft64(v12^v0, -16)
	v8 = blaMka(v8, v12)
	v4 = bits.RotateLeft64(v4^v8, -63)
	v1 = blaMka(v1, v5)
	v13 = bits.RotateLeft64(v13^v1, -32)
	v9 = blaMka(v9, v13)
	v5 = bits.RotateLeft64(v5^v9, -24)
	v1 = blaMka(v1, v5)
	v13 = bits.RotateLeft64(v13^v1, -16)
	v9 = blaMka(v9, v13)
	v5 = bits.RotateLeft64(v5^v9, -63)
	v2 = blaMka(v2, v6)
	v14 = bits.RotateLeft64(v14^v2, -32)
	v10 = blaMka(v10, v14)
	v6 = bits.RotateLeft64(v6^v10, -24)
	v2 = blaMka(v2, v6)
	v14 = bits.RotateLeft64(v14^v2, -16)
	v10 = blaMka(v10, v14)
	v6 = bits.RotateLeft64(v6^v10, -63)
	v3 = blaMka(v3, v7)
	v15 = bits.RotateLeft64(v15^v3, -32)
	v11 = blaMka(v11, v15)
	v7 = bits.RotateLeft64(v7^v11, -24)
	v3 = blaMka(v3, v7)
	v15 = bits.RotateLeft64(v15^v3, -16)
	v11 = blaMka(v11, v15)
	v7 = bits.RotateLeft64(v7^v11, -63)

	v0 = blaMka(v0, v5)
	v15 = bits.RotateLeft64(v15^v0, -32)
	v10 = blaMka(v10, v15)
	v5 = bits.RotateLeft64(v5^v10, -24)
	v0 = blaMka(v0, v5)
	v15 = bits.RotateLeft64(v15^v0, -16)
	v10 = blaMka(v10, v15)
	v5 = bits.RotateLeft64(v5^v10, -63)
	v1 = blaMka(v1, v6)
	v12 = bits.RotateLeft64(v12^v1, -32)
	v11 = blaMka(v11, v12)
	v6 = bits.RotateLeft64(v6^v11, -24)
	v1 = blaMka(v1, v6)
	v12 = bits.RotateLeft64(v12^v1, -16)
	v11 = blaMka(v11, v12)
	v6 = bits.RotateLeft64(v6^v11, -63)
	v2 = blaMka(v2, v7)
	v13 = bits.RotateLeft64(v13^v2, -32)
	v8 = blaMka(v8, v13)
	v7 = bits.RotateLeft64(v7^v8, -24)
	v2 = blaMka(v2, v7)
	v13 = bits.RotateLeft64(v13^v2, -16)
	v8 = blaMka(v8, v13)
	v7 = bits.RotateLeft64(v7^v8, -63)
	v3 = blaMka(v3, v4)
	v14 = bits.RotateLeft64(v14^v3, -32)
	v9 = blaMka(v9, v14)
	v4 = bits.RotateLeft64(v4^v9, -24)
	v3 = blaMka(v3, v4)
	v14 = bits.RotateLeft64(v14^v3, -16)
	v9 = blaMka(v9, v14)
	v4 = bits.RotateLeft64(v4^v9, -63)

	v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7] = v0, v1, v2, v3, v4, v5, v6, v7
	v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15] = v8, v9, v10, v11, v12, v13, v14, v15
}

// blaMka is BLAKE2b's addition with Argon2's multiplication of the low
// halves.
func blaMka(x, y uint64) uint64 {
	return x + y + 2*uint64(uint32(x))*uint64(uint32(y))
}
