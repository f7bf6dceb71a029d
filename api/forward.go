package api

// The sorter's routes of forward secrecy (docs/forward-secrecy.md), the
// same handlers as the inbox's /newsroom/fs/… (newsroom.Forward), behind
// the journalist's bearer token:
//
//	GET  /api/v1/journalist/fs/keys
//	POST /api/v1/journalist/fs/keys
//	GET  /api/v1/journalist/fs/unsorted?after=ITEM&limit=N
//	POST /api/v1/journalist/fs/sort

import (
	"net/http"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/newsroom"
)

// forwarder is the handler's newsroom.Forward, made from its stores.
func (h *Handler) forwarder() *newsroom.Forward {
	return &newsroom.Forward{Desks: h.Desks, Tips: h.Tips, Blobs: h.Blobs, Archive: h.Archive, Clock: h.Clock, Log: h.Log}
}

// asJournalist serves a Forward route for the token's journalist.
func (h *Handler) asJournalist(serve func(*newsroom.Forward, http.ResponseWriter, *http.Request, pista.Journalist)) http.HandlerFunc {
	return h.auth(func(w http.ResponseWriter, r *http.Request, q request) { serve(h.forwarder(), w, r, q.j) })
}
