package main_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve refuses a damaged data dir: exit 1, the file and the way back on
// stderr, nothing re-made; --reset-queues takes a lost queues.db.
func TestServeRefusesADamagedDataDir(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, dir)
	require.NoError(t, s.cmd.Process.Signal(os.Interrupt))
	_ = s.cmd.Wait()
	bin, err := binary()
	require.NoError(t, err)
	command := func(args ...string) *exec.Cmd {
		return exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--app", "my-app"}, args...)...)
	}
	refused := func(args ...string) string {
		t.Helper()
		cmd := command(args...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "serve must stop: %s", errb.String())
		assert.Equal(t, 1, ee.ExitCode())
		return errb.String()
	}

	key := filepath.Join(dir, "seal.key")
	saved, err := os.ReadFile(key)
	require.NoError(t, err)
	require.NoError(t, os.Remove(key))
	stderr := refused()
	assert.Contains(t, stderr, key+" is missing while config.db holds sealed secrets")
	assert.Contains(t, stderr, "Restore it from a backup")
	assert.NoFileExists(t, key, "not re-made")
	require.NoError(t, os.WriteFile(key, saved, 0o600))

	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(filepath.Join(dir, "queues.db"+suffix))
	}
	stderr = refused()
	assert.Contains(t, stderr, filepath.Join(dir, "queues.db")+" is missing")
	assert.Contains(t, stderr, "--reset-queues")
	assert.NoFileExists(t, filepath.Join(dir, "queues.db"), "not re-made")

	cmd := command("--reset-queues")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	errs := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stderr = errs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	require.True(t, sc.Scan(), "serve --reset-queues starts")
	assert.Contains(t, sc.Text(), "HEROKUEVENTS_")
	assert.FileExists(t, filepath.Join(dir, "queues.db"))
}
