package benchmark

import (
	"os"
	"strconv"
	"syscall"
)

// setNice sets this process's scheduling priority (nice value). On Linux
// a nice value belongs to each thread: every thread the Go runtime has
// started gets it, and the threads it starts later inherit it from them.
func setNice(n int) error {
	// Twice: a thread started during the first pass is seen in the
	// second.
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, n); err != nil {
				return err
			}
		}
	}
	return nil
}
