package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tty is stdin that claims to be a terminal.
type tty struct{ io.Reader }

func (tty) IsTerminal() bool { return true }

func TestDestroyConfirmation(t *testing.T) {
	const warning = "" +
		" ▸    WARNING: Destructive Action\n" +
		" ▸    This command will affect the app my-app\n" +
		" ▸    To proceed, type my-app or re-run this command with --confirm my-app\n\n> "
	tests := []struct {
		name    string
		args    []string
		stdin   io.Reader
		deleted bool
		stderr  string
		err     string
	}{
		{name: "confirm flag", args: []string{"-c", "my-app"}, deleted: true,
			stderr: "Destroying subscription orders on my-app... done\n"},
		{name: "confirm flag mismatch", args: []string{"--confirm", "other"},
			err: "Confirmation other did not match my-app. Aborted."},
		{name: "no confirm, not a terminal", stdin: strings.NewReader("my-app\n"),
			err: "pass --confirm my-app"},
		{name: "typed app name", stdin: tty{strings.NewReader("my-app\n")}, deleted: true,
			stderr: warning + "Destroying subscription orders on my-app... done\n"},
		{name: "typed wrong name", stdin: tty{strings.NewReader("my-ap\n")},
			stderr: warning, err: "Confirmation my-ap did not match my-app. Aborted."},
		{name: "nothing typed", stdin: tty{strings.NewReader("")},
			stderr: warning, err: "no confirmation typed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"DELETE /v1/tenants/t-123/subscriptions/orders": {200, `{"id":"1"}`}})
			args := append([]string{"subscriptions:destroy", "orders", "-a", testApp, "--api-url", api.url()}, tt.args...)
			r := run(t, tt.stdin, args...)
			if tt.err != "" {
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), tt.err)
			} else {
				require.NoError(t, r.err)
			}
			assert.Equal(t, tt.stderr, r.stderr)
			if tt.deleted {
				assert.Len(t, api.requests(), 1)
			} else {
				assert.Empty(t, api.all(), "nothing is called without confirmation")
			}
		})
	}

	t.Run("streams:destroy needs it too", func(t *testing.T) {
		api := newFakeAPI(t, nil)
		r := run(t, nil, "streams:destroy", "a", "b", "-a", testApp, "--api-url", api.url())
		require.Error(t, r.err)
		assert.Contains(t, r.err.Error(), "pass --confirm my-app")
		assert.Empty(t, api.all())
	})
}

func TestIsTerminal(t *testing.T) {
	null, err := os.Open(os.DevNull)
	require.NoError(t, err)
	t.Cleanup(func() { _ = null.Close() })
	assert.False(t, isTerminal(null), "/dev/null is not a terminal")

	f, err := os.CreateTemp(t.TempDir(), "stdin")
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.Close() })
	assert.False(t, isTerminal(f), "a regular file is not a terminal")

	assert.False(t, isTerminal(strings.NewReader("")))
	assert.True(t, isTerminal(tty{}))
}
