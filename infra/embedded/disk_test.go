package embedded_test

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
)

// smallDisk mounts a tmpfs of size bytes for the test (as root); where it
// cannot be mounted, it returns a plain dir and a Free that reports a full
// disk once full is set (the injected fault).
func smallDisk(t *testing.T, size int) (dir string, free func(string) (int64, error), full *atomic.Bool) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "disk")
	require.NoError(t, os.Mkdir(dir, 0o700))
	full = &atomic.Bool{}
	err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.Itoa(size)+",mode=0700")
	if err == nil {
		t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
		return dir, nil, full
	}
	t.Logf("tmpfs not mountable (%v): a full disk is injected", err)
	return dir, func(string) (int64, error) {
		if full.Load() {
			return 0, nil
		}
		return 1 << 30, nil
	}, full
}

// With the disk full, the events already accepted are still delivered once
// the receiver is back, without any disk added; publishes get 503 with
// Retry-After meanwhile.
func TestFullDiskStillDelivers(t *testing.T) {
	dir, free, full := smallDisk(t, 24<<20)
	const reserve = 2 << 20
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		Disk:    embedded.DiskOptions{Reserve: reserve, Poll: 20 * time.Millisecond, Free: free},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	h := newHook(t, ok)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "target", "url": h.URL + "/hook"}, nil))
	// The receiver is away: its deliveries wait in the queue, held.
	require.Equal(t, http.StatusOK, call(t, srv, "POST", "/publications/target/pause", nil, nil))
	var ids []string
	for i := range 20 {
		ids = append(ids, publish(t, srv, "target", `{"n":`+strconv.Itoa(i)+`}`))
	}
	require.Eventually(t, func() bool {
		st, err := srv.Queue(embedded.DeliveryQueue).Stats(t.Context())
		return err == nil && st.Visible == 0 && st.InFlight == 0
	}, 10*time.Second, 20*time.Millisecond, "every delivery held")

	// Fill the disk to the last byte.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	require.NoError(t, err)
	defer filler.Close()
	chunk := make([]byte, 64<<10)
	for free == nil {
		// Stop once the reserve is given back: a filler going on would
		// take the room it frees (seen on a loaded host, where serve's
		// disk check ran before the filler was done), which no serve can
		// keep from another process.
		if _, err := os.Stat(filepath.Join(dir, "data", "reserve")); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if _, err := filler.Write(chunk); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), err)
			break
		}
	}
	full.Store(true)

	require.Eventually(t, func() bool {
		status, e := publishRaw(t, srv, "target", `{"late":true}`)
		return status == http.StatusServiceUnavailable && e.ID == "storage_full"
	}, 10*time.Second, 20*time.Millisecond, "publishes are refused on a full disk")
	res, _ := publishHTTP(t, srv, "target", `{"late":true}`)
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	assert.Equal(t, "30", res.Header.Get("Retry-After"))

	// The receiver is back: what was accepted is delivered on the full disk.
	require.Equal(t, http.StatusOK, call(t, srv, "POST", "/publications/target/resume", nil, nil))
	require.Eventually(t, func() bool {
		missing := 0
		for _, id := range ids {
			if h.attemptsOf(id) == 0 {
				missing++
			}
		}
		n, err := srv.Queue(embedded.DeliveryQueue).Len(t.Context())
		return missing == 0 && err == nil && n == 0
	}, 30*time.Second, 50*time.Millisecond, "every accepted event is delivered and taken off the queue")
	_, err = os.Stat(filepath.Join(dir, "filler"))
	assert.NoError(t, err, "no disk was added")
}
