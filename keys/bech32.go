package keys

import (
	"fmt"
	"strings"
)

// bech32Encode encodes data under the human-readable prefix hrp as BIP 173
// Bech32, upper-case, without BIP 173's 90-character limit (age lifts it
// too). age keeps its encoder internal; this is the encoding side only, and
// the tests check that age parses what it writes.
func bech32Encode(hrp string, data []byte) (string, error) {
	values, err := regroup(data, 8, 5)
	if err != nil {
		return "", err
	}
	lower := strings.ToLower(hrp)
	const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
	var b strings.Builder
	b.WriteString(lower)
	b.WriteByte('1')
	for _, v := range values {
		b.WriteByte(charset[v])
	}
	for _, v := range bech32Checksum(lower, values) {
		b.WriteByte(charset[v])
	}
	return strings.ToUpper(b.String()), nil
}

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

func bech32Checksum(hrp string, data []byte) []byte {
	var values []byte
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]>>5)
	}
	values = append(values, 0)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]&31)
	}
	values = append(values, data...)
	values = append(values, 0, 0, 0, 0, 0, 0)
	mod := bech32Polymod(values) ^ 1
	sum := make([]byte, 6)
	for i := range sum {
		sum[i] = byte(mod>>(5*(5-i))) & 31
	}
	return sum
}

// regroup converts a byte slice of from-bit groups to to-bit groups,
// padding the last group with zeros.
func regroup(data []byte, from, to uint) ([]byte, error) {
	var acc uint32
	var bits uint
	var out []byte
	maxv := uint32(1)<<to - 1
	for _, b := range data {
		if uint32(b)>>from != 0 {
			return nil, fmt.Errorf("keys: bech32: value out of range")
		}
		acc = acc<<from | uint32(b)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte(acc>>bits&maxv))
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(to-bits)&maxv))
	}
	return out, nil
}
