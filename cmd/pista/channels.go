package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/pista-tips/pista/notify"
	"github.com/pista-tips/pista/server"
)

// startChannels starts what runs beside the web server: the notifier and,
// when asked, the e-mail intake. The returned function stops them.
func startChannels(ctx context.Context, e env, f serveFlags, srv *server.Server, log *slog.Logger, public string) (func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	n := &notify.Notifier{
		Journalists: srv.Stores.Journalists, Tips: srv.Stores.Tips,
		InboxURL: public + "/newsroom/", Interval: f.notifyInterval, Log: log, Shared: srv.Stores.Shared,
	}
	if f.notifySMTP != "" {
		if f.notifyFrom == "" {
			cancel()
			return nil, hint(errors.New("--notify-smtp needs --notify-from"), "give the address notification e-mail comes from")
		}
		n.Relay = &notify.Relay{Addr: f.notifySMTP, From: f.notifyFrom, Username: f.notifyUser, Plaintext: f.notifyPlaintext}
		if f.notifyPWFile != "" {
			pw, err := readSecretFile(f.notifyPWFile)
			if err != nil {
				cancel()
				return nil, err
			}
			n.Relay.Password = pw
		}
	}
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	stopSMTP, err := startSMTP(ctx, e, f, srv, log)
	if err != nil {
		cancel()
		<-done
		return nil, err
	}
	return func() {
		stopSMTP()
		cancel()
		<-done
	}, nil
}
