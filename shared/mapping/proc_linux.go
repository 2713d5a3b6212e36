package mapping

import (
	"os"
	"strconv"
	"syscall"
)

// workerAttr makes a worker die with its parent.
func workerAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// workerNice is a worker's scheduling priority: below the server's, so
// that a tenant's costly mapping takes the processor time the server's
// requests and deliveries leave, not theirs.
const workerNice = 10

// yieldCPU lowers the priority of every thread of this worker (Linux
// schedules threads; those started later inherit it).
func yieldCPU() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, t := range tasks {
		if tid, err := strconv.Atoi(t.Name()); err == nil {
			_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, workerNice)
		}
	}
}
