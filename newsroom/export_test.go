package newsroom

import (
	"context"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/pista-tips/pista"
)

// PutCeremony begins a login ceremony as the login handler does, for a
// test of shared ceremonies.
func PutCeremony(ctx context.Context, c *Ceremonies, j pista.Journalist, device []byte, challenge string) (string, error) {
	at := Attempt{name: j.Name, j: j, keyOK: true, device: device}
	return c.put(ctx, ceremony{journalist: j.ID, login: true, attempt: at, session: webauthn.SessionData{Challenge: challenge}})
}

// TakeCeremony takes a ceremony as the finishing handlers do, and says
// what it held.
func TakeCeremony(ctx context.Context, c *Ceremonies, state string, login bool, js pista.JournalistStore) (journalist int64, name string, keyOK bool, device []byte, challenge string, ok bool) {
	cer, ok := c.take(ctx, state, login, js)
	return cer.attempt.j.ID, cer.attempt.name, cer.attempt.keyOK, cer.attempt.device, cer.session.Challenge, ok
}
