package blob_test

import (
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/blob"
	"github.com/pista-tips/pista/blob/blobtest"
)

func TestLocalContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) pista.BlobStore {
		l, err := blob.OpenLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}
