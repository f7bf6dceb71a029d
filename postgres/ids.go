package postgres

import (
	"fmt"

	"github.com/pista-tips/pista/internal/sealedid"
)

// Items and audit entries are shown by sealed IDs that carry no count and
// no order: the same permutation as package sqlite's (package sealedid),
// so that a database moved from SQLite with its "id-key" keeps every
// cursor working. The key is made by Open on first use.

// newIDs makes the sealer of the instance's ID key.
func newIDs(key []byte) (*sealedid.Sealer, error) {
	s, err := sealedid.New(key)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}
