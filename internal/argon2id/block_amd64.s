//go:build amd64 && gc && !purego

#include "textflag.h"

// Argon2's compression function G with AVX2 or AVX-512VL (see
// compressGeneric for what it computes).
//
// A BLAKE2b round works on 16 words seen as four rows A, B, C, D of four,
// one YMM register each; two rounds run interleaved (Y0-Y3 and Y4-Y7) so
// that one fills the other's latencies. Y8, Y9 are scratch; with AVX2,
// Y10 and Y11 hold the byte shuffles that rotate by 24 and 16.
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

#define ROT24_AVX512(x1, x2) \
	VPRORQ $24, x1, x1; \
	VPRORQ $24, x2, x2

#define ROT16_AVX512(x1, x2) \
	VPRORQ $16, x1, x1; \
	VPRORQ $16, x2, x2

#define ROT63_AVX512(x1, x2) \
	VPRORQ $63, x1, x1; \
	VPRORQ $63, x2, x2

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

// Pass 1 on rows: SI prev, DI ref, BX out, CX tmp, DX xor.
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

// Pass 2 on columns: CX tmp, BX out; a register holds two words of row
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

#define COMPRESS(ROT24, ROT16, ROT63) \
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
	COMPRESS(ROT24_AVX2, ROT16_AVX2, ROT63_AVX2)

// func compressAVX512(out, prev, ref, tmp *block, xor bool)
TEXT ·compressAVX512(SB), NOSPLIT, $0-33
	COMPRESS(ROT24_AVX512, ROT16_AVX512, ROT63_AVX512)
