//go:build !amd64 || !gc || purego

package argon2id

// Implementations other than the pure-Go one (none on this build).
const (
	implGeneric = iota
)

var impl = implGeneric

func implementations() []int { return []int{implGeneric} }

func implName(int) string { return "generic" }

func compress(out, prev, ref, tmp *block, xor bool) {
	compressGeneric(out, prev, ref, tmp, xor)
}
