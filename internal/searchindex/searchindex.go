// Package searchindex writes the desks' search index segments in the
// format the inbox's script reads (web/js/src/newsroom/searchindex.js,
// whose comment is the format's description), for benchmarks and tests:
// the server itself never writes or reads one, since only browsers hold
// the words.
//
// Synthetic makes the index of n conversations with words drawn from a
// Zipf distribution; Seal cuts it into age-encrypted segments within
// pista.MaxIndexSegmentSize, as a browser uploads them.
package searchindex

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"filippo.io/age"
)

// Magic starts a segment's plaintext.
const Magic = "PISTAIX1"

// Header is a segment's header.
type Header struct {
	Desk   string `json:"desk"`
	Gen    int64  `json:"gen"`
	Cursor int64  `json:"cursor"`
}

// Index is the words of some conversations: IDs sorted, and for each word
// (sorted) the positions in IDs of its conversations, ascending.
type Index struct {
	IDs      []string
	Words    []string
	Postings [][]uint32
}

// Encode writes the segment's plaintext (before gzip) of ix.
func Encode(w io.Writer, h Header, ix Index) error {
	var buf bytes.Buffer
	buf.WriteString(Magic)
	hdr, err := json.Marshal(struct {
		V int `json:"v"`
		Header
		Convs int `json:"convs"`
		Words int `json:"words"`
	}{1, h, len(ix.IDs), len(ix.Words)})
	if err != nil {
		return err
	}
	buf.Write(binary.AppendUvarint(nil, uint64(len(hdr))))
	buf.Write(hdr)
	for _, id := range ix.IDs {
		if len(id) != 26 {
			return fmt.Errorf("searchindex: conversation ID %q is not 26 characters", id)
		}
		buf.WriteString(id)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return err
	}
	var p []byte
	for i, word := range ix.Words {
		p = p[:0]
		prev := int64(-1)
		for _, x := range ix.Postings[i] {
			p = binary.AppendUvarint(p, uint64(int64(x)-prev-1))
			prev = int64(x)
		}
		buf.Reset()
		buf.Write(binary.AppendUvarint(nil, uint64(len(word))))
		buf.WriteString(word)
		buf.Write(binary.AppendUvarint(nil, uint64(len(ix.Postings[i]))))
		buf.Write(binary.AppendUvarint(nil, uint64(len(p))))
		buf.Write(p)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// Seal writes ix as an age file to recipients: gzip of Encode's output.
func Seal(w io.Writer, h Header, ix Index, recipients ...age.Recipient) error {
	aw, err := age.Encrypt(w, recipients...)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(aw, gzip.BestSpeed)
	if err := Encode(zw, h, ix); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return aw.Close()
}

// Rare and Common are words of a Synthetic index: Rare is in one
// conversation (the last), Common in about a third of them.
const (
	Rare   = "needle"
	Common = "aa"
)

// WordsPerConversation is how many distinct words each synthetic
// conversation has: about a short message's.
const WordsPerConversation = 40

// Vocabulary is how many words the synthetic conversations draw from.
const Vocabulary = 100_000

// synthWord is the i-th word of the synthetic vocabulary: letters only,
// two or more, so that the browser's folding leaves it as it is.
func synthWord(i int) string {
	b := []byte{}
	for {
		b = append(b, byte('a'+i%26))
		i /= 26
		if i == 0 && len(b) >= 2 {
			break
		}
	}
	return string(b)
}

// Synthetic is an index of n conversations, from seed: each has
// WordsPerConversation distinct words drawn from Vocabulary words with
// Zipf's law (s = 1.1), so that a few are in most conversations and most
// in few. The last conversation also has Rare.
func Synthetic(n int, seed uint64) Index {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	ids := make([]string, n)
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	for i := range ids {
		var b [26]byte
		for k := range b {
			b[k] = alphabet[r.IntN(32)]
		}
		ids[i] = string(b[:])
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	zipf := rand.NewZipf(r, 1.1, 1, Vocabulary-1)
	postings := make([][]uint32, Vocabulary+1)
	var seen []uint64
	for pos := range ids {
		seen = seen[:0]
		for len(seen) < WordsPerConversation {
			w := zipf.Uint64()
			if !slices.Contains(seen, w) {
				seen = append(seen, w)
				postings[w] = append(postings[w], uint32(pos))
			}
		}
	}
	postings[Vocabulary] = []uint32{uint32(len(ids) - 1)}
	type entry struct {
		word string
		list []uint32
	}
	var es []entry
	for i, l := range postings {
		if len(l) == 0 {
			continue
		}
		w := Rare
		if i < Vocabulary {
			w = synthWord(i)
		}
		es = append(es, entry{w, l})
	}
	slices.SortFunc(es, func(a, b entry) int {
		switch {
		case a.word < b.word:
			return -1
		case a.word > b.word:
			return 1
		}
		return 0
	})
	ix := Index{IDs: ids}
	for _, e := range es {
		ix.Words = append(ix.Words, e.word)
		ix.Postings = append(ix.Postings, e.list)
	}
	return ix
}

// Split cuts ix into parts of at most per conversations each, as
// successive uploads of a browser make them.
func Split(ix Index, per int) []Index {
	var out []Index
	for lo := 0; lo < len(ix.IDs); lo += per {
		hi := min(lo+per, len(ix.IDs))
		part := Index{IDs: ix.IDs[lo:hi]}
		for i, l := range ix.Postings {
			a, _ := slices.BinarySearch(l, uint32(lo))
			b, _ := slices.BinarySearch(l, uint32(hi))
			if a == b {
				continue
			}
			sub := make([]uint32, b-a)
			for k, x := range l[a:b] {
				sub[k] = x - uint32(lo)
			}
			part.Words = append(part.Words, ix.Words[i])
			part.Postings = append(part.Postings, sub)
		}
		out = append(out, part)
	}
	return out
}

// SegmentConversations is how many conversations Segments puts in one
// segment: with Synthetic's words, about 8 MiB encrypted, well under
// pista.MaxIndexSegmentSize.
const SegmentConversations = 200_000

// Segments is the synthetic index of n conversations for desk, sealed to
// recipients, in segments of SegmentConversations conversations.
func Segments(desk string, n int, seed uint64, recipients ...age.Recipient) ([][]byte, error) {
	var out [][]byte
	for i, part := range Split(Synthetic(n, seed), SegmentConversations) {
		var buf bytes.Buffer
		if err := Seal(&buf, Header{Desk: desk, Gen: int64(i + 1)}, part, recipients...); err != nil {
			return nil, err
		}
		out = append(out, buf.Bytes())
	}
	return out, nil
}
