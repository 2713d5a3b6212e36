//go:build !linux

package mapping

import "syscall"

// workerAttr: a worker ends when its input closes with its parent.
func workerAttr() *syscall.SysProcAttr { return nil }

// yieldCPU: scheduling priority is left alone.
func yieldCPU() {}
