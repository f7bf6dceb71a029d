//go:build !race

package intake_test

const raceFactor = 1
