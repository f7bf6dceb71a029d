package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/pista-tips/pista/pow"
)

// PoWHeader carries a proof of work (package pow): a solution of a
// challenge from GET /api/v1/source/challenge. New tips and sources'
// logins through the API need one: a source made through the API costs
// its maker work, as it costs the server.
const PoWHeader = pow.Header

// ChallengeResponse is a proof-of-work challenge: find a nonce (at most
// 16 lowercase hexadecimal digits) such that SHA-256 of
// "CHALLENGE.NONCE" begins with Bits zero bits, and send "CHALLENGE.NONCE"
// in the Pista-PoW header before Expires. Bits rises with the server's
// load; a client should refuse more than pow.MaxBits.
type ChallengeResponse struct {
	Challenge string    `json:"challenge"`
	Bits      int       `json:"bits"`
	Expires   time.Time `json:"expires"`
}

// getChallenge gives a client a proof-of-work challenge.
func (h *Handler) getChallenge(w http.ResponseWriter, r *http.Request) {
	if h.PoW == nil {
		writeError(w, http.StatusNotFound, "not_found", "this server asks for no proof of work")
		return
	}
	ch := h.PoW.Challenge()
	c, err := pow.ParseChallenge(ch)
	if err != nil {
		h.internal(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, ChallengeResponse{Challenge: ch, Bits: c.Bits, Expires: c.Expires.UTC()})
}

// proved checks the request's proof of work, and answers it if there is
// none or a bad one.
func (h *Handler) proved(w http.ResponseWriter, r *http.Request) bool {
	if h.PoW == nil {
		return true
	}
	sol := r.Header.Get(PoWHeader)
	if sol == "" {
		writeError(w, http.StatusPreconditionRequired, "proof_of_work_required",
			"solve a challenge from GET /api/v1/source/challenge and send the solution in the "+PoWHeader+" header")
		return false
	}
	_, err := h.PoW.Verify(sol)
	switch {
	case err == nil:
		return true
	case errors.Is(err, pow.ErrFull):
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "busy", "the server is very busy; try again in a minute")
	case errors.Is(err, pow.ErrExpired), errors.Is(err, pow.ErrSpent):
		writeError(w, http.StatusPreconditionRequired, "proof_of_work_required",
			"that proof of work is expired or used: solve a new challenge from GET /api/v1/source/challenge")
	default:
		writeError(w, http.StatusPreconditionRequired, "proof_of_work_required",
			"that proof of work is not valid: solve a challenge from GET /api/v1/source/challenge")
	}
	return false
}
