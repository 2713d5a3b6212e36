package filesealer_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/shared/secret"
	"github.com/herokuevents/herokuevents/shared/secret/sealertest"
)

func TestLocalConformance(t *testing.T) {
	l, err := filesealer.Open(filepath.Join(t.TempDir(), "key"))
	require.NoError(t, err)
	sealertest.Run(t, l)
}

func TestOpenLocalCreatesPrivateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "secret.key")
	l, err := filesealer.Open(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	assert.EqualValues(t, filesealer.KeySize, fi.Size())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	sealed, err := l.Seal(t.Context(), []byte("token"))
	require.NoError(t, err)

	// Reopening uses the same key.
	again, err := filesealer.Open(path)
	require.NoError(t, err)
	got, err := again.Open(t.Context(), sealed)
	require.NoError(t, err)
	assert.Equal(t, []byte("token"), got)

	// Another key cannot open it.
	other, err := filesealer.Open(filepath.Join(t.TempDir(), "other.key"))
	require.NoError(t, err)
	_, err = other.Open(t.Context(), sealed)
	assert.ErrorIs(t, err, secret.ErrOpen)
}

func TestOpenLocalConcurrentCreateAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	sealers := make([]*filesealer.Sealer, 4)
	var wg sync.WaitGroup
	for i := range sealers {
		wg.Go(func() {
			l, err := filesealer.Open(path)
			assert.NoError(t, err)
			sealers[i] = l
		})
	}
	wg.Wait()
	sealed, err := sealers[0].Seal(t.Context(), []byte("x"))
	require.NoError(t, err)
	for _, l := range sealers {
		got, err := l.Open(t.Context(), sealed)
		require.NoError(t, err)
		assert.Equal(t, []byte("x"), got)
	}
}

func TestOpenLocalRefusesBadKeyFiles(t *testing.T) {
	key := make([]byte, filesealer.KeySize)
	tests := []struct {
		name string
		data []byte
		mode os.FileMode
		msg  string
	}{
		{name: "group readable", data: key, mode: 0o640, msg: "chmod 600"},
		{name: "world readable", data: key, mode: 0o604, msg: "group and others must have no access"},
		{name: "short", data: key[:16], mode: 0o600, msg: "holds 16 bytes"},
		{name: "long", data: append(key, 1), mode: 0o600, msg: "holds 33 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key")
			require.NoError(t, os.WriteFile(path, tt.data, 0o600))
			require.NoError(t, os.Chmod(path, tt.mode))
			_, err := filesealer.Open(path)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := filesealer.Open(t.TempDir())
		require.Error(t, err)
		assert.Contains(t, err.Error(), "not a regular file")
	})
}

func TestNewLocalKeySize(t *testing.T) {
	_, err := filesealer.New(make([]byte, 16))
	require.Error(t, err)
	_, err = filesealer.New(make([]byte, filesealer.KeySize))
	require.NoError(t, err)
}
