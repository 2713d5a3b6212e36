package sqlitequeue

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data (what SQLite's synchronous=FULL does to the
// WAL on Linux).
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
