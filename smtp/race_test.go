//go:build race

package smtp_test

// raceFactor: the race detector allocates several times what the code
// does, and the allocation checks count it too.
const raceFactor = 8
