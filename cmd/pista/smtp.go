package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/pista-tips/pista/server"
	"github.com/pista-tips/pista/smtp"
)

// startSMTP starts the e-mail intake when --smtp-listen is given.
func startSMTP(ctx context.Context, e env, f serveFlags, srv *server.Server, log *slog.Logger) (func(), error) {
	if f.smtpListen == "" {
		if f.mailDomain != "" {
			return nil, hint(errors.New("--mail-domain needs --smtp-listen"), "add --smtp-listen :25 to take tips by e-mail")
		}
		return func() {}, nil
	}
	if f.mailDomain == "" {
		return nil, hint(errors.New("--smtp-listen needs --mail-domain"), "mail to DESK@DOMAIN goes to that desk: give the DOMAIN")
	}
	maxSize, err := parseSize(f.smtpMaxSize)
	if err != nil {
		return nil, hint(fmt.Errorf("--smtp-max-size: %w", err), "write a size such as 32MiB")
	}
	cert, key := f.smtpCert, f.smtpKey
	if cert == "" && key == "" {
		cert, key = f.tlsCert, f.tlsKey
	}
	var tlsConfig *tls.Config
	if cert != "" || key != "" {
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, hint(fmt.Errorf("STARTTLS certificate: %w", err), "give --smtp-tls-cert and --smtp-tls-key (PEM files)")
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", f.smtpListen)
	if err != nil {
		return nil, hint(err, "is another mail server using that address? choose another with --smtp-listen")
	}
	s := smtp.NewServer(smtp.Config{
		Domain: f.mailDomain, Desks: srv.Stores.Desks, Tips: srv.Stores.Tips, Blobs: srv.Stores.Blobs,
		Archive: f.archive, MaxMessageBytes: maxSize, TLS: tlsConfig, Log: log,
		SpoolDir: srv.SpoolDir, ScrubBudget: srv.ScrubBudget, Clock: srv.Clock,
	})
	starttls := "without STARTTLS (give --smtp-tls-cert and --smtp-tls-key)"
	if tlsConfig != nil {
		starttls = "with STARTTLS"
	}
	fmt.Fprintf(e.stderr, "  E-mail:      smtp://%s, %s: mail to DESK@%s becomes a tip of that desk\n", ln.Addr(), starttls, f.mailDomain)
	done := make(chan struct{})
	go func() {
		if err := s.Serve(ln); err != nil {
			log.Error("e-mail intake stopped", "err", err)
		}
		close(done)
	}()
	return func() {
		s.Close()
		<-done
	}, nil
}
