package sqlite

import "context"

// Ping runs the cheapest query on a reading connection: whether the
// database answers (the server's readiness check).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}
