package postgres

import "context"

// Ping asks the server for an empty answer on a pooled connection:
// whether the database answers (the server's readiness check).
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }
