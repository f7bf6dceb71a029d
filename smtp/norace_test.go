//go:build !race

package smtp_test

const raceFactor = 1
