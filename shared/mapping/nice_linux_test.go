package mapping

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWorkerYieldsCPU: every thread of a mapping worker runs at a lower
// priority than the server (nice workerNice), so a tenant's costly
// mapping takes the processor time other tenants' requests leave.
func TestWorkerYieldsCPU(t *testing.T) {
	p := newPool(CurrentLimits())
	t.Cleanup(p.close)
	w, err := p.get()
	require.NoError(t, err)
	defer p.put(w)
	tasks, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(w.proc.Pid), "task", "*", "stat"))
	require.NoError(t, err)
	require.NotEmpty(t, tasks)
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		require.NoError(t, err)
		// Fields after the command's closing parenthesis: state is the
		// 3rd field of stat, nice the 19th.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		require.Greater(t, len(fields), 16)
		assert.Equal(t, strconv.Itoa(workerNice), fields[16], task)
	}
}
