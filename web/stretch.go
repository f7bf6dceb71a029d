package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/pista-tips/pista/admit"
	"github.com/pista-tips/pista/httpx"
	"github.com/pista-tips/pista/keys"
)

// powField is the form field where the page's script puts its proof of
// work (package pow): a solution of a challenge from GET /pow.
const powField = "pow"

// retryAfter is what a busy server tells a source to wait, in seconds:
// the pages say "in a minute".
const retryAfter = "60"

// errBusy is a derivation the gate could not admit soon.
var errBusy = errors.New("too busy")

// showChallenge gives the page's script a proof-of-work challenge. It
// costs the server one HMAC; the difficulty rises with the queue of key
// stretching.
func (h *Handler) showChallenge(w http.ResponseWriter, r *http.Request) {
	if h.PoW == nil {
		h.fail(w, r, http.StatusNotFound, "error.notfound")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(h.PoW.Challenge()))
}

// derive stretches a codename through the gate: in the proven lane of its
// kind when proof is a valid proof of work, in the ordinary one
// otherwise (a page without JavaScript sends none). It returns errBusy
// when the request cannot be served soon.
func (h *Handler) derive(ctx context.Context, c keys.Codename, lane admit.Lane, proof string) (keys.Derived, error) {
	if proof != "" && len(proof) <= httpx.MaxSmallField && h.PoW != nil {
		if _, err := h.PoW.Verify(proof); err == nil {
			lane = proven(lane)
		}
	}
	if h.Gate == nil {
		return keys.Derive(ctx, c, h.Salt)
	}
	var d keys.Derived
	var err error
	if gerr := h.Gate.Do(ctx, lane, func() { d, err = keys.Derive(ctx, c, h.Salt) }); gerr != nil {
		if errors.Is(gerr, admit.ErrBusy) {
			return d, errBusy
		}
		return d, gerr
	}
	return d, err
}

// proven is the priority lane of an ordinary one.
func proven(l admit.Lane) admit.Lane {
	switch l {
	case admit.New:
		return admit.NewProven
	case admit.Login:
		return admit.LoginProven
	}
	return l
}

// busy tells a source the tip line cannot serve them now, and when to
// try again; key says what was not done.
func (h *Handler) busy(w http.ResponseWriter, r *http.Request, key string) {
	w.Header().Set("Retry-After", retryAfter)
	h.fail(w, r, http.StatusServiceUnavailable, key)
}
