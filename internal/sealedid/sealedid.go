// Package sealedid hides the numbers of rows behind public IDs that
// reveal nothing: one permutation for every store, so that a database
// moved from SQLite to PostgreSQL with its "id-key" keeps every cursor
// working.
//
// Items and audit entries are numbered in one sequence across all desks
// (their rowid in SQLite, identity column in PostgreSQL): the order the inbox, `pista pull` and the audit log
// page by. Shown as they are, the gaps between a journalist's own item IDs
// would tell how much the other desks receive. So the number never leaves
// the store: what callers see (pista.Item.ID, Conversation.LastItem, the
// cursors Page.Before, ItemsFor's after, AuditEntry.ID, AuditQuery.Before)
// is the number sealed by a keyed pseudorandom permutation, and every
// method unseals what it is given. Sealed IDs carry no count and no order;
// a cursor keeps working after its item is deleted, since it unseals to a
// position, not a row. Invitations, which need no order, get random IDs.
//
// The permutation is a ten-round Feistel network over 52 bits whose round
// function is AES-256 under the instance's key (settings "id-key", made
// by the store on first use), with a domain byte so items and audit entries do not
// share a permutation. A sealed ID is 2^52 + P(n-1): always 53 bits, below
// JavaScript's 2^53 for the inbox's script, and never 0 (0 means none).
// The key is in the database: whoever holds the database can unseal, but
// they have the rows' numbers anyway; the IDs hide the counts from
// journalists, not from the server.
package sealedid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// Domains of sealed IDs.
const (
	Item  = 'i'
	Audit = 'a'
)

const (
	bits = 52
	half = bits / 2
	mask = 1<<half - 1
	// Base is the smallest sealed ID, 2^52.
	Base = int64(1) << bits
	// MaxN is the largest number that can be sealed (numbers 1..2^52).
	MaxN   = int64(1) << bits
	rounds = 10
)

// Sealer seals and unseals a store's numbers under the instance's key.
type Sealer struct{ block cipher.Block }

// New makes the sealer of a 32-byte ID key.
func New(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("the ID key has %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &Sealer{block: b}, nil
}

func (s *Sealer) round(domain byte, r int, x uint64) uint64 {
	var in, out [16]byte
	in[0], in[1] = domain, byte(r)
	binary.BigEndian.PutUint64(in[8:], x)
	s.block.Encrypt(out[:], in[:])
	return binary.BigEndian.Uint64(out[:8]) & mask
}

// Seal returns n's public ID; 0 stays 0 (none).
func (s *Sealer) Seal(domain byte, n int64) int64 {
	if n <= 0 || n > MaxN {
		return 0
	}
	v := uint64(n - 1)
	l, r := v>>half, v&mask
	for i := range rounds {
		l, r = r, l^s.round(domain, i, r)
	}
	return Base + int64(l<<half|r)
}

// Unseal returns the number of a public ID, and false for anything that
// is not one (0 included).
func (s *Sealer) Unseal(domain byte, id int64) (int64, bool) {
	if id < Base || id >= 2*Base {
		return 0, false
	}
	v := uint64(id - Base)
	l, r := v>>half, v&mask
	for i := rounds - 1; i >= 0; i-- {
		l, r = r^s.round(domain, i, l), l
	}
	return int64(l<<half|r) + 1, true
}

// UnsealAll returns the numbers of those of ids that are public IDs,
// leaving out the others.
func (s *Sealer) UnsealAll(domain byte, ids []int64) []int64 {
	var ns []int64
	for _, id := range ids {
		if n, ok := s.Unseal(domain, id); ok {
			ns = append(ns, n)
		}
	}
	return ns
}

// Cursor unseals a cursor: 0 (from the start) stays 0, and anything that
// is not a sealed ID is an error (ok false).
func (s *Sealer) Cursor(domain byte, id int64) (int64, bool) {
	if id == 0 {
		return 0, true
	}
	return s.Unseal(domain, id)
}

// Random returns a random ID in [2^52, 2^53): as long as a sealed ID, and
// below JavaScript's 2^53 (for rows that need no order, as invitations).
func Random() int64 {
	var b [8]byte
	rand.Read(b[:])
	return Base + int64(binary.BigEndian.Uint64(b[:])%uint64(Base))
}
