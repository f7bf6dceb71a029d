package upload

import (
	"testing"
	"time"
)

// SetLeases shortens the leases of shared uploads for a test.
func SetLeases(t *testing.T, lease, renew time.Duration) {
	oldL, oldR, oldW := leaseTime, renewEvery, wantEvery
	leaseTime, renewEvery, wantEvery = lease, renew, renew/5
	t.Cleanup(func() { leaseTime, renewEvery, wantEvery = oldL, oldR, oldW })
}
