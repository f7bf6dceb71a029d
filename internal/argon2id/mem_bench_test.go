package argon2id

import "testing"

func BenchmarkMemShape(b *testing.B) {
	salt := make([]byte, 32)
	b.Run("7MiBx5", func(b *testing.B) {
		for b.Loop() {
			Key([]byte("x"), salt, 5, 7168, 1, 32)
		}
	})
	b.Run("256KiBx140", func(b *testing.B) {
		for b.Loop() {
			Key([]byte("x"), salt, 140, 256, 1, 32)
		}
	})
}
