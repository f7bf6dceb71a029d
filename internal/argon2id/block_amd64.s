//go:build amd64 && gc && !purego

#include "textflag.h"

// Argon2's compression function G with AVX2 (compressAVX2) or AVX-512
// (compressAVX512, below); see compressGeneric for what it computes.
//
// compressAVX2:
// A BLAKE2b round works on 16 words seen as four rows A, B, C, D of four,
// one YMM register each; two rounds run interleaved (Y0-Y3 and Y4-Y7) so
// that one fills the other's latencies. Y8, Y9 are scratch; Y10 and Y11
// hold the byte shuffles that rotate by 24 and 16.
//
// Pass 1 takes rows of the block (16 consecutive words, 128 bytes: the
// four registers load straight from memory) two at a time, stores
// R = prev ^ ref into out (XORed into its old value if xor) and P's
// output into tmp. Pass 2 takes columns (two words of each row: row 2k
// and 2k+1 make one register, loaded as two halves) two at a time, and
// XORs their P into out.

DATA ·rot24<>+0(SB)/8, $0x0201000706050403
DATA ·rot24<>+8(SB)/8, $0x0a09080f0e0d0c0b
DATA ·rot24<>+16(SB)/8, $0x0201000706050403
DATA ·rot24<>+24(SB)/8, $0x0a09080f0e0d0c0b
GLOBL ·rot24<>(SB), (NOPTR+RODATA), $32

DATA ·rot16<>+0(SB)/8, $0x0100070605040302
DATA ·rot16<>+8(SB)/8, $0x09080f0e0d0c0b0a
DATA ·rot16<>+16(SB)/8, $0x0100070605040302
DATA ·rot16<>+24(SB)/8, $0x09080f0e0d0c0b0a
GLOBL ·rot16<>(SB), (NOPTR+RODATA), $32

// a += b + 2*lo32(a)*lo32(b), for two rounds.
#define BLAMKA(a1, b1, a2, b2) \
	VPMULUDQ b1, a1, Y8; \
	VPMULUDQ b2, a2, Y9; \
	VPADDQ   b1, a1, a1; \
	VPADDQ   b2, a2, a2; \
	VPADDQ   Y8, Y8, Y8; \
	VPADDQ   Y9, Y9, Y9; \
	VPADDQ   Y8, a1, a1; \
	VPADDQ   Y9, a2, a2

// Rotations right by 32, 24, 16 and 63 of x1 and x2.
#define ROT32(x1, x2) \
	VPSHUFD $0xb1, x1, x1; \
	VPSHUFD $0xb1, x2, x2

#define ROT24_AVX2(x1, x2) \
	VPSHUFB Y10, x1, x1; \
	VPSHUFB Y10, x2, x2

#define ROT16_AVX2(x1, x2) \
	VPSHUFB Y11, x1, x1; \
	VPSHUFB Y11, x2, x2

#define ROT63_AVX2(x1, x2) \
	VPADDQ x1, x1, Y8; \
	VPADDQ x2, x2, Y9; \
	VPSRLQ $63, x1, x1; \
	VPSRLQ $63, x2, x2; \
	VPXOR  Y8, x1, x1; \
	VPXOR  Y9, x2, x2

// G on the four columns of two states (a, b, c, d).
#define G(a1, b1, c1, d1, a2, b2, c2, d2, ROT24, ROT16, ROT63) \
	BLAMKA(a1, b1, a2, b2); \
	VPXOR a1, d1, d1; \
	VPXOR a2, d2, d2; \
	ROT32(d1, d2); \
	BLAMKA(c1, d1, c2, d2); \
	VPXOR c1, b1, b1; \
	VPXOR c2, b2, b2; \
	ROT24(b1, b2); \
	BLAMKA(a1, b1, a2, b2); \
	VPXOR a1, d1, d1; \
	VPXOR a2, d2, d2; \
	ROT16(d1, d2); \
	BLAMKA(c1, d1, c2, d2); \
	VPXOR c1, b1, b1; \
	VPXOR c2, b2, b2; \
	ROT63(b1, b2)

// Moves the diagonals of two states into columns, and back.
#define DIAGONALIZE(b1, c1, d1, b2, c2, d2) \
	VPERMQ $0x39, b1, b1; \
	VPERMQ $0x39, b2, b2; \
	VPERMQ $0x4e, c1, c1; \
	VPERMQ $0x4e, c2, c2; \
	VPERMQ $0x93, d1, d1; \
	VPERMQ $0x93, d2, d2

#define UNDIAGONALIZE(b1, c1, d1, b2, c2, d2) \
	VPERMQ $0x93, b1, b1; \
	VPERMQ $0x93, b2, b2; \
	VPERMQ $0x4e, c1, c1; \
	VPERMQ $0x4e, c2, c2; \
	VPERMQ $0x39, d1, d1; \
	VPERMQ $0x39, d2, d2

#define ROUND(ROT24, ROT16, ROT63) \
	G(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, ROT24, ROT16, ROT63); \
	DIAGONALIZE(Y1, Y2, Y3, Y5, Y6, Y7); \
	G(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, ROT24, ROT16, ROT63); \
	UNDIAGONALIZE(Y1, Y2, Y3, Y5, Y6, Y7)

// compressAVX2, pass 1 on rows: SI prev, DI ref, BX out, CX tmp, DX xor.
#define LOAD_ROW(off, y) \
	VMOVDQU off(SI), y; \
	VPXOR   off(DI), y, y

#define STORE_R_XOR(off, y) \
	VPXOR   off(BX), y, Y8; \
	VMOVDQU Y8, off(BX)

#define STORE_R(off, y) \
	VMOVDQU y, off(BX)

#define ALL_ROWS(OP) \
	OP(0, Y0); \
	OP(32, Y1); \
	OP(64, Y2); \
	OP(96, Y3); \
	OP(128, Y4); \
	OP(160, Y5); \
	OP(192, Y6); \
	OP(224, Y7)

#define STORE_TMP(off, y) \
	VMOVDQU y, off(CX)

// compressAVX2, pass 2 on columns: CX tmp, BX out; a register holds two words of row
// 2k at off and two of row 2k+1 at off+128.
#define LOAD_COL(off, y, x) \
	VMOVDQU    off(CX), x; \
	VINSERTI128 $1, off+128(CX), y, y

#define XOR_OUT(off, y, x) \
	VMOVDQU     off(BX), X8; \
	VINSERTI128 $1, off+128(BX), Y8, Y8; \
	VPXOR       Y8, y, y; \
	VMOVDQU     x, off(BX); \
	VEXTRACTI128 $1, y, off+128(BX)

#define ALL_COLS(OP) \
	OP(0, Y0, X0); \
	OP(256, Y1, X1); \
	OP(512, Y2, X2); \
	OP(768, Y3, X3); \
	OP(16, Y4, X4); \
	OP(272, Y5, X5); \
	OP(528, Y6, X6); \
	OP(784, Y7, X7)

#define COMPRESS_AVX2(ROT24, ROT16, ROT63) \
	MOVQ    out+0(FP), BX; \
	MOVQ    prev+8(FP), SI; \
	MOVQ    ref+16(FP), DI; \
	MOVQ    tmp+24(FP), CX; \
	MOVBLZX xor+32(FP), DX; \
	MOVQ    $4, R8; \
rows: \
	ALL_ROWS(LOAD_ROW); \
	TESTQ   DX, DX; \
	JZ      rowsnoxor; \
	ALL_ROWS(STORE_R_XOR); \
	JMP     rowsround; \
rowsnoxor: \
	ALL_ROWS(STORE_R); \
rowsround: \
	ROUND(ROT24, ROT16, ROT63); \
	ALL_ROWS(STORE_TMP); \
	ADDQ    $256, SI; \
	ADDQ    $256, DI; \
	ADDQ    $256, BX; \
	ADDQ    $256, CX; \
	DECQ    R8; \
	JNZ     rows; \
	MOVQ    out+0(FP), BX; \
	MOVQ    tmp+24(FP), CX; \
	MOVQ    $4, R8; \
cols: \
	ALL_COLS(LOAD_COL); \
	ROUND(ROT24, ROT16, ROT63); \
	ALL_COLS(XOR_OUT); \
	ADDQ    $32, BX; \
	ADDQ    $32, CX; \
	DECQ    R8; \
	JNZ     cols; \
	VZEROUPPER; \
	RET

// func compressAVX2(out, prev, ref, tmp *block, xor bool)
TEXT ·compressAVX2(SB), NOSPLIT, $0-33
	VMOVDQU ·rot24<>(SB), Y10
	VMOVDQU ·rot16<>(SB), Y11
	COMPRESS_AVX2(ROT24_AVX2, ROT16_AVX2, ROT63_AVX2)

// compressAVX512 holds the whole block in Z0-Z15 and runs the four
// BLAKE2b rounds of each pass interleaved, each on two rows or two
// columns (a 256-bit half each) of the block; Z16-Z19 are scratch, and
// tmp is not used.
//
// Pass 1 takes rows 2k and 2k+1 in Z4k..Z4k+3 (A, B, C, D), laid out so
// that each 128-bit lane is a column pair of one row:
// A = [r2k.c0, r2k+1.c0, r2k.c1, r2k+1.c1] (cj: words 2j, 2j+1),
// B the same for c2 and c3, C for c4 and c5, D for c6 and c7. A row's
// four words are thus not a 256-bit half, so the rotations of B, C and D
// into diagonals are full permutations (VPERMQ with Z20-Z22). In return,
// Zj, Z4+j, Z8+j, Z12+j are then the A, B, C, D of columns 2j and 2j+1
// as pass 2 wants them, each column a 256-bit half: no shuffle between
// the passes.

DATA ·perm512<>+0(SB)/8, $1 // rotate a row's words by 1
DATA ·perm512<>+8(SB)/8, $4
DATA ·perm512<>+16(SB)/8, $3
DATA ·perm512<>+24(SB)/8, $6
DATA ·perm512<>+32(SB)/8, $5
DATA ·perm512<>+40(SB)/8, $0
DATA ·perm512<>+48(SB)/8, $7
DATA ·perm512<>+56(SB)/8, $2
DATA ·perm512<>+64(SB)/8, $4 // by 2
DATA ·perm512<>+72(SB)/8, $5
DATA ·perm512<>+80(SB)/8, $6
DATA ·perm512<>+88(SB)/8, $7
DATA ·perm512<>+96(SB)/8, $0
DATA ·perm512<>+104(SB)/8, $1
DATA ·perm512<>+112(SB)/8, $2
DATA ·perm512<>+120(SB)/8, $3
DATA ·perm512<>+128(SB)/8, $5 // by 3
DATA ·perm512<>+136(SB)/8, $0
DATA ·perm512<>+144(SB)/8, $7
DATA ·perm512<>+152(SB)/8, $2
DATA ·perm512<>+160(SB)/8, $1
DATA ·perm512<>+168(SB)/8, $4
DATA ·perm512<>+176(SB)/8, $3
DATA ·perm512<>+184(SB)/8, $6
DATA ·perm512<>+192(SB)/8, $0 // interleave the lanes 0, 1 of two rows
DATA ·perm512<>+200(SB)/8, $1
DATA ·perm512<>+208(SB)/8, $8
DATA ·perm512<>+216(SB)/8, $9
DATA ·perm512<>+224(SB)/8, $2
DATA ·perm512<>+232(SB)/8, $3
DATA ·perm512<>+240(SB)/8, $10
DATA ·perm512<>+248(SB)/8, $11
DATA ·perm512<>+256(SB)/8, $4 // their lanes 2, 3
DATA ·perm512<>+264(SB)/8, $5
DATA ·perm512<>+272(SB)/8, $12
DATA ·perm512<>+280(SB)/8, $13
DATA ·perm512<>+288(SB)/8, $6
DATA ·perm512<>+296(SB)/8, $7
DATA ·perm512<>+304(SB)/8, $14
DATA ·perm512<>+312(SB)/8, $15
GLOBL ·perm512<>(SB), (NOPTR+RODATA), $320

#define BLAMKA4(a1, b1, a2, b2, a3, b3, a4, b4) \
	VPMULUDQ b1, a1, Z16; \
	VPMULUDQ b2, a2, Z17; \
	VPMULUDQ b3, a3, Z18; \
	VPMULUDQ b4, a4, Z19; \
	VPADDQ   b1, a1, a1; \
	VPADDQ   b2, a2, a2; \
	VPADDQ   b3, a3, a3; \
	VPADDQ   b4, a4, a4; \
	VPADDQ   Z16, Z16, Z16; \
	VPADDQ   Z17, Z17, Z17; \
	VPADDQ   Z18, Z18, Z18; \
	VPADDQ   Z19, Z19, Z19; \
	VPADDQ   Z16, a1, a1; \
	VPADDQ   Z17, a2, a2; \
	VPADDQ   Z18, a3, a3; \
	VPADDQ   Z19, a4, a4

// x ^= y, then x rotated right by n, for four pairs.
#define XORROR4(n, y1, x1, y2, x2, y3, x3, y4, x4) \
	VPXORQ y1, x1, x1; \
	VPXORQ y2, x2, x2; \
	VPXORQ y3, x3, x3; \
	VPXORQ y4, x4, x4; \
	VPRORQ $n, x1, x1; \
	VPRORQ $n, x2, x2; \
	VPRORQ $n, x3, x3; \
	VPRORQ $n, x4, x4

#define G4(a1, b1, c1, d1, a2, b2, c2, d2, a3, b3, c3, d3, a4, b4, c4, d4) \
	BLAMKA4(a1, b1, a2, b2, a3, b3, a4, b4); \
	XORROR4(32, a1, d1, a2, d2, a3, d3, a4, d4); \
	BLAMKA4(c1, d1, c2, d2, c3, d3, c4, d4); \
	XORROR4(24, c1, b1, c2, b2, c3, b3, c4, b4); \
	BLAMKA4(a1, b1, a2, b2, a3, b3, a4, b4); \
	XORROR4(16, a1, d1, a2, d2, a3, d3, a4, d4); \
	BLAMKA4(c1, d1, c2, d2, c3, d3, c4, d4); \
	XORROR4(63, c1, b1, c2, b2, c3, b3, c4, b4)

// PERM4 permutes x1..x4 by the index vector p.
#define PERM4(p, x1, x2, x3, x4) \
	VPERMQ x1, p, x1; \
	VPERMQ x2, p, x2; \
	VPERMQ x3, p, x3; \
	VPERMQ x4, p, x4

#define PERMI4(imm, x1, x2, x3, x4) \
	VPERMQ $imm, x1, x1; \
	VPERMQ $imm, x2, x2; \
	VPERMQ $imm, x3, x3; \
	VPERMQ $imm, x4, x4

#define ROWS_G4 G4(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15)
#define COLS_G4 G4(Z0, Z4, Z8, Z12, Z1, Z5, Z9, Z13, Z2, Z6, Z10, Z14, Z3, Z7, Z11, Z15)

// STORE_R512 stores rows 2k and 2k+1 of R = prev ^ ref (Z24-Z27) at off in
// out;
// STORE_R512_XOR XORs them into out.
#define STORE_R512(off) \
	VMOVDQU64 Z24, off(BX); \
	VMOVDQU64 Z25, off+64(BX); \
	VMOVDQU64 Z26, off+128(BX); \
	VMOVDQU64 Z27, off+192(BX)

#define STORE_R512_XOR(off) \
	VPXORQ    off(BX), Z24, Z16; \
	VPXORQ    off+64(BX), Z25, Z17; \
	VPXORQ    off+128(BX), Z26, Z18; \
	VPXORQ    off+192(BX), Z27, Z19; \
	VMOVDQU64 Z16, off(BX); \
	VMOVDQU64 Z17, off+64(BX); \
	VMOVDQU64 Z18, off+128(BX); \
	VMOVDQU64 Z19, off+192(BX)

// LOAD_ROWS loads rows 2k and 2k+1 (at off) of R into Z24-Z27, stores
// them into out, and lays them out in a, b, c, d.
#define LOAD_ROWS(STORE, off, a, b, c, d) \
	VMOVDQU64 off(SI), Z24; \
	VMOVDQU64 off+64(SI), Z25; \
	VMOVDQU64 off+128(SI), Z26; \
	VMOVDQU64 off+192(SI), Z27; \
	VPXORQ    off(DI), Z24, Z24; \
	VPXORQ    off+64(DI), Z25, Z25; \
	VPXORQ    off+128(DI), Z26, Z26; \
	VPXORQ    off+192(DI), Z27, Z27; \
	STORE(off); \
	VMOVDQA64 Z24, a; \
	VMOVDQA64 Z24, b; \
	VMOVDQA64 Z25, c; \
	VMOVDQA64 Z25, d; \
	VPERMT2Q  Z26, Z28, a; \
	VPERMT2Q  Z26, Z29, b; \
	VPERMT2Q  Z27, Z28, c; \
	VPERMT2Q  Z27, Z29, d

#define LOAD_ALL(STORE) \
	LOAD_ROWS(STORE, 0, Z0, Z1, Z2, Z3); \
	LOAD_ROWS(STORE, 256, Z4, Z5, Z6, Z7); \
	LOAD_ROWS(STORE, 512, Z8, Z9, Z10, Z11); \
	LOAD_ROWS(STORE, 768, Z12, Z13, Z14, Z15)

// STORE_ROWS XORs rows 2k and 2k+1, from a, b, c, d, into out at off.
#define STORE_ROWS(off, a, b, c, d) \
	VSHUFI64X2 $0x88, b, a, Z24; \
	VSHUFI64X2 $0xdd, b, a, Z26; \
	VSHUFI64X2 $0x88, d, c, Z25; \
	VSHUFI64X2 $0xdd, d, c, Z27; \
	VPXORQ     off(BX), Z24, Z24; \
	VPXORQ     off+64(BX), Z25, Z25; \
	VPXORQ     off+128(BX), Z26, Z26; \
	VPXORQ     off+192(BX), Z27, Z27; \
	VMOVDQU64  Z24, off(BX); \
	VMOVDQU64  Z25, off+64(BX); \
	VMOVDQU64  Z26, off+128(BX); \
	VMOVDQU64  Z27, off+192(BX)

// func compressAVX512(out, prev, ref, tmp *block, xor bool)
TEXT ·compressAVX512(SB), NOSPLIT, $0-33
	MOVQ      out+0(FP), BX
	MOVQ      prev+8(FP), SI
	MOVQ      ref+16(FP), DI
	MOVBLZX   xor+32(FP), DX
	VMOVDQU64 ·perm512<>+0(SB), Z20
	VMOVDQU64 ·perm512<>+64(SB), Z21
	VMOVDQU64 ·perm512<>+128(SB), Z22
	VMOVDQU64 ·perm512<>+192(SB), Z28
	VMOVDQU64 ·perm512<>+256(SB), Z29
	TESTQ     DX, DX
	JNZ       xorout
	LOAD_ALL(STORE_R512)
	JMP       rounds

xorout:
	LOAD_ALL(STORE_R512_XOR)

rounds:
	// Pass 1: rows.
	ROWS_G4
	PERM4(Z20, Z1, Z5, Z9, Z13)
	PERM4(Z21, Z2, Z6, Z10, Z14)
	PERM4(Z22, Z3, Z7, Z11, Z15)
	ROWS_G4
	PERM4(Z22, Z1, Z5, Z9, Z13)
	PERM4(Z21, Z2, Z6, Z10, Z14)
	PERM4(Z20, Z3, Z7, Z11, Z15)

	// Pass 2: columns.
	COLS_G4
	PERMI4(0x39, Z4, Z5, Z6, Z7)
	PERMI4(0x4e, Z8, Z9, Z10, Z11)
	PERMI4(0x93, Z12, Z13, Z14, Z15)
	COLS_G4
	PERMI4(0x93, Z4, Z5, Z6, Z7)
	PERMI4(0x4e, Z8, Z9, Z10, Z11)
	PERMI4(0x39, Z12, Z13, Z14, Z15)

	STORE_ROWS(0, Z0, Z1, Z2, Z3)
	STORE_ROWS(256, Z4, Z5, Z6, Z7)
	STORE_ROWS(512, Z8, Z9, Z10, Z11)
	STORE_ROWS(768, Z12, Z13, Z14, Z15)
	VZEROUPPER
	RET
