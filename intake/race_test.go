//go:build race

package intake_test

// raceFactor: the race detector takes several times the memory the code
// does (shadow memory), and the resident size counts it too.
const raceFactor = 8
