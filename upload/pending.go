package upload

import "context"

// Pending is how many uploads exist now, finished or not, that no
// submission has claimed yet (what MaxPending bounds). On a shared store
// it counts every instance's.
func (s *Store) Pending(ctx context.Context) (int, error) { return s.pending(ctx) }
