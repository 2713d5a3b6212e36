package awslocal

import (
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listens tells the process's own listening socket from another
// process's on the same port, and from a port nobody listens on: what
// StartEmulator relies on when a probed port was taken before the
// emulator bound it (the emulator then died on its bind while the dial
// reached the other process).
func TestListens(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	free, err := freeAddr()
	require.NoError(t, err)
	other := exec.Command("sleep", "60")
	require.NoError(t, other.Start())
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })

	tests := []struct {
		name  string
		pid   int
		addr  string
		owns  bool
		known bool
	}{
		{"our listener", os.Getpid(), l.Addr().String(), true, true},
		{"another process's listener", other.Process.Pid, l.Addr().String(), false, true},
		{"no listener", os.Getpid(), free, false, true},
		{"no such process", 1 << 30, l.Addr().String(), false, false},
		{"not an address", os.Getpid(), "nowhere", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owns, known := listens(tt.pid, tt.addr)
			assert.Equal(t, tt.owns, owns, "owns")
			assert.Equal(t, tt.known, known, "known")
		})
	}
}
