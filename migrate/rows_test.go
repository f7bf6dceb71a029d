package migrate

import (
	"reflect"
	"testing"
)

// convert turns what SQLite answers into PostgreSQL's types, and an
// empty BLOB into an empty bytea, never a NULL.
func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      any
		pgType string
		want   any
		fails  bool
	}{
		{"NULL", nil, "bytea", nil, false},
		{"an empty BLOB", []byte(nil), "bytea", []byte{}, false},
		{"a BLOB", []byte("x"), "bytea", []byte("x"), false},
		{"TEXT into bytea", "x", "bytea", []byte("x"), false},
		{"a boolean", int64(1), "boolean", true, false},
		{"a false boolean", int64(0), "boolean", false, false},
		{"an integer", int64(7), "bigint", int64(7), false},
		{"TEXT", "a", "text", "a", false},
		{"a BLOB into text", []byte("a"), "text", "a", false},
		{"TEXT into bigint", "7", "bigint", nil, true},
		{"a REAL into boolean", 1.5, "boolean", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := convert(tc.v, tc.pgType)
			if (err != nil) != tc.fails {
				t.Fatalf("convert(%#v, %s) error %v", tc.v, tc.pgType, err)
			}
			if !tc.fails && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("convert(%#v, %s) = %#v, want %#v", tc.v, tc.pgType, got, tc.want)
			}
		})
	}
}
