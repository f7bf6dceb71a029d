//go:build amd64 && gc && !purego

package argon2id

import "golang.org/x/sys/cpu"

// The implementations of the compression function; impl is the one used,
// the fastest this CPU runs (tests set it to check each).
const (
	implGeneric = iota
	implAVX2
	implAVX512
)

var impl = func() int {
	switch {
	case hasAVX512:
		return implAVX512
	case cpu.X86.HasAVX2:
		return implAVX2
	}
	return implGeneric
}()

var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// implementations are those this CPU runs.
func implementations() []int {
	is := []int{implGeneric}
	if cpu.X86.HasAVX2 {
		is = append(is, implAVX2)
	}
	if hasAVX512 {
		is = append(is, implAVX512)
	}
	return is
}

func implName(i int) string {
	return [...]string{"generic", "avx2", "avx512"}[i]
}

// compress is compressGeneric, with vector instructions where the CPU has
// them.
func compress(out, prev, ref, tmp *block, xor bool) {
	switch impl {
	case implAVX512:
		compressAVX512(out, prev, ref, tmp, xor)
	case implAVX2:
		compressAVX2(out, prev, ref, tmp, xor)
	default:
		compressGeneric(out, prev, ref, tmp, xor)
	}
}

//go:noescape
func compressAVX2(out, prev, ref, tmp *block, xor bool)

//go:noescape
func compressAVX512(out, prev, ref, tmp *block, xor bool)
