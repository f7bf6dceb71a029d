package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pista-tips/pista"
	"github.com/pista-tips/pista/server"
)

func TestRetentionCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addJournalist(t, dir, data, "alice")
	runPista(t, "desk", "add", "--data", data, "--name", "americas", "--title", "Americas", "--member", "alice")

	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"desk", []string{"desk", "retention", "--data", data, "--name", "americas", "--days", "180"}, 0, "180 days"},
		{"desk, unknown", []string{"desk", "retention", "--data", data, "--name", "nope", "--days", "1"}, 1, "no desk named"},
		{"desk, negative", []string{"desk", "retention", "--data", data, "--name", "americas", "--days", "-3"}, 1, "not a number of days"},
		{"desk, no days", []string{"desk", "retention", "--data", data, "--name", "americas"}, 2, "--days is required"},
		{"audit", []string{"audit", "retention", "--data", data, "--days", "730"}, 0, "730 days"},
		{"audit, too long", []string{"audit", "retention", "--data", data, "--days", "99999"}, 1, "not a number of days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runPistaCode(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
	st, err := server.OpenStores(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if d, err := st.Desks.DeskBySlug(ctx, "americas"); err != nil || d.RetentionDays != 180 {
		t.Errorf("americas = %+v, %v; want 180 days", d, err)
	}
	if days, err := st.Team.AuditRetention(ctx); err != nil || days != 730 {
		t.Errorf("audit retention = %d, %v; want 730", days, err)
	}
	es, err := st.Team.Audit(ctx, pista.AuditQuery{})
	if err != nil || len(es) < 2 || es[0].Action != pista.AuditAuditRetention || es[1].Action != pista.AuditRetention || es[1].Subject != "180" {
		t.Errorf("audit = %+v, %v; want both changes", es, err)
	}
}
