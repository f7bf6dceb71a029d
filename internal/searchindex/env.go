package searchindex

import (
	"os"
	"strconv"
)

// Conversations is how many conversations the benchmarks index:
// $PISTA_SEARCH_CONVERSATIONS, or 1,000,000.
func Conversations() int {
	if n, err := strconv.Atoi(os.Getenv("PISTA_SEARCH_CONVERSATIONS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// Set reports whether $PISTA_SEARCH_CONVERSATIONS asks for a size.
func Set() bool {
	n, err := strconv.Atoi(os.Getenv("PISTA_SEARCH_CONVERSATIONS"))
	return err == nil && n > 0
}
