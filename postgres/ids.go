package postgres

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// # Identifiers that reveal nothing
//
// The same permutation as package sqlite's, so that a database moved
// from SQLite with its "id-key" keeps every cursor working.
//
// Items and audit entries are numbered in one sequence across all desks
// (their identity column): the order the inbox, `pista pull` and the audit log
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
// by Open on first use), with a domain byte so items and audit entries do not
// share a permutation. A sealed ID is 2^52 + P(n-1): always 53 bits, below
// JavaScript's 2^53 for the inbox's script, and never 0 (0 means none).
// The key is in the database: whoever holds the database can unseal, but
// they have the rows' numbers anyway; the IDs hide the counts from
// journalists, not from the server.

// Domains of sealed IDs.
const (
	domainItem  = 'i'
	domainAudit = 'a'
)

const (
	sealBits  = 52
	sealHalf  = sealBits / 2
	sealMask  = 1<<sealHalf - 1
	sealBase  = int64(1) << sealBits
	sealMaxN  = int64(1) << sealBits // numbers 1..2^52 can be sealed
	sealRound = 10
)

// ids seals and unseals a store's numbers.
type ids struct{ block cipher.Block }

// newIDs makes the sealer of the instance's ID key.
func newIDs(key []byte) (*ids, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("postgres: the ID key has %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return &ids{block: b}, nil
}

func (s *ids) round(domain byte, r int, x uint64) uint64 {
	var in, out [16]byte
	in[0], in[1] = domain, byte(r)
	binary.BigEndian.PutUint64(in[8:], x)
	s.block.Encrypt(out[:], in[:])
	return binary.BigEndian.Uint64(out[:8]) & sealMask
}

// seal returns n's public ID; 0 stays 0 (none).
func (s *ids) seal(domain byte, n int64) int64 {
	if n <= 0 || n > sealMaxN {
		return 0
	}
	v := uint64(n - 1)
	l, r := v>>sealHalf, v&sealMask
	for i := range sealRound {
		l, r = r, l^s.round(domain, i, r)
	}
	return sealBase + int64(l<<sealHalf|r)
}

// unseal returns the number of a public ID, and false for anything that
// is not one (0 included).
func (s *ids) unseal(domain byte, id int64) (int64, bool) {
	if id < sealBase || id >= 2*sealBase {
		return 0, false
	}
	v := uint64(id - sealBase)
	l, r := v>>sealHalf, v&sealMask
	for i := sealRound - 1; i >= 0; i-- {
		l, r = r^s.round(domain, i, l), l
	}
	return int64(l<<sealHalf|r) + 1, true
}

// cursor unseals a cursor: 0 (from the start) stays 0, and anything that is
// not a sealed ID is an error (ok false).
func (s *ids) cursor(domain byte, id int64) (int64, bool) {
	if id == 0 {
		return 0, true
	}
	return s.unseal(domain, id)
}

// randomID returns a random ID in [2^52, 2^53): as long as a sealed ID,
// and below JavaScript's 2^53.
func randomID() int64 {
	var b [8]byte
	rand.Read(b[:])
	return sealBase + int64(binary.BigEndian.Uint64(b[:])%uint64(sealBase))
}
