package newsroom

import (
	"errors"
	"net/http"
	"syscall"

	"github.com/pista-tips/pista"
)

// StorageFull reports whether err is a full store: the disk below its
// floor (pista.ErrStorageFull, also the database that could not grow), or
// a file write that met a full disk or quota.
func StorageFull(err error) bool {
	return errors.Is(err, pista.ErrStorageFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// writeStatus is the status of a request that failed with err: 507 when
// the store is full, so that the journalist learns what happened and that
// it was not their doing; 500 otherwise.
func writeStatus(err error) int {
	if StorageFull(err) {
		return http.StatusInsufficientStorage
	}
	if errors.Is(err, pista.ErrMoved) {
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// writeErrorKey is the message of a request that failed with err, in the
// journalist's language.
func writeErrorKey(err error) string {
	if StorageFull(err) {
		return "gaps.full"
	}
	if errors.Is(err, pista.ErrMoved) {
		return "moved.newsroom"
	}
	return "error.internal"
}
