package main

import (
	"context"
	"log/slog"

	"github.com/pista-tips/pista/server"
)

// startSMTP starts the e-mail intake when --smtp-listen is given.
func startSMTP(ctx context.Context, e env, f serveFlags, srv *server.Server, log *slog.Logger) (func(), error) {
	return func() {}, nil
}
