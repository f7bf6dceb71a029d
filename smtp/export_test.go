package smtp

import (
	"context"
	"io"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/pista-tips/pista"
)

// What the external tests (package smtp_test, which imports package server
// and so must not be package smtp) reach inside.

// Deliver is the intake path without a socket, as a peer would see its
// outcome: nil, or the SMTP reply.
func (s *Server) Deliver(ctx context.Context, desks []pista.Desk, from string, r io.Reader) *gosmtp.SMTPError {
	if err := s.deliver(ctx, desks, from, r); err != nil {
		return s.reply(err)
	}
	return nil
}

// SetPeerLimits sets the per-peer limits; call it before Serve.
func (s *Server) SetPeerLimits(messages int, window time.Duration, conns int) {
	lim := defaultLimits
	lim.peerMessages, lim.peerWindow, lim.peerConns = messages, window, conns
	s.lim = newLimiter(lim)
}

const MaxMessagesPerConn = maxMessagesPerConn

const MaxHeaderBytes = maxHeaderBytes

// SetDataRate sets the least rate of a message's transfer, and the
// window it is averaged over; call it before Serve.
func (s *Server) SetDataRate(rate int64, window time.Duration) {
	s.lim.lim.dataRate, s.lim.lim.dataWindow = rate, window
}

var PeerDeliveries = defaultLimits.peerDeliveries
