package pista

import "math/bits"

// Padmé pads a file's plaintext, inside the encryption, so that the size
// of the stored object (and of the upload) says little about the size of
// the file: a length L is rounded up so that only its top ⌊log₂ log₂ L⌋+1
// bits may be non-zero, which costs at most about 12% and leaves
// O(log log L) bits of information about L (Nikitin et al., "Reducing
// Metadata Leakage from Encrypted Files and Communication with PURBs",
// PETS 2019). The padding is zeros; the exact size travels in the file's
// encrypted name-and-type object (pista.FileMeta.Size), and `pista open`
// and the browser cut the padding off.

// Padme returns the padded length of a plaintext of n bytes.
func Padme(n int64) int64 {
	if n < 2 {
		return n
	}
	e := 63 - bits.LeadingZeros64(uint64(n)) // ⌊log₂ n⌋
	s := 64 - bits.LeadingZeros64(uint64(e)) // ⌊log₂ e⌋ + 1
	mask := int64(1)<<(e-s) - 1
	return (n + mask) &^ mask
}
