package embedded

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/herokuevents/herokuevents/shared/httpjson"
)

// DiskOptions keep delivery going when the data dir's disk fills: a
// reserve file holds some space from the start; when the disk is nearly
// full the reserve is released, so that SQLite can still write what taking
// messages off the queues needs (deliveries drain the backlog), while
// publishes are refused with 503 and Retry-After until there is room again.
type DiskOptions struct {
	// Reserve is the size of the reserve file (8 MiB when zero; negative
	// for none: publishes are then refused only when writes fail).
	Reserve int64
	// Poll is how often the free space is read (1 s when zero).
	Poll time.Duration
	// Free returns the bytes free for this process on the disk of dir
	// (statfs when nil).
	Free func(dir string) (int64, error)
}

// Defaults of DiskOptions.
const (
	DefaultDiskReserve = 8 << 20
	DefaultDiskPoll    = time.Second
	// diskRetryAfter is the Retry-After of a publish refused for space.
	diskRetryAfter = 30 * time.Second
)

const reserveFile = "reserve"

// disk watches the free space of the data dir's disk.
type disk struct {
	o    DiskOptions
	path string
	log  *slog.Logger
	low  atomic.Bool
	held bool // only the watcher's goroutine (and start, before it) use it
}

func newDisk(dir string, o DiskOptions, log *slog.Logger) *disk {
	if o.Reserve == 0 {
		o.Reserve = DefaultDiskReserve
	}
	if o.Poll <= 0 {
		o.Poll = DefaultDiskPoll
	}
	if o.Free == nil {
		o.Free = statfsFree
	}
	d := &disk{o: o, path: filepath.Join(dir, reserveFile), log: log.With("role", "disk")}
	if fi, err := os.Stat(d.path); err == nil && fi.Size() >= o.Reserve {
		d.held = true
	}
	return d
}

func statfsFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil //nolint:unconvert // field types differ by OS
}

// run checks the free space every Poll until ctx ends.
func (d *disk) run(ctx context.Context) error {
	if d.o.Reserve < 0 {
		return nil
	}
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	for {
		d.check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// check releases the reserve when free space falls under half of it, and
// takes it again once there is twice its size free; publishes are refused
// while it is not held.
func (d *disk) check(ctx context.Context) {
	free, err := d.o.Free(filepath.Dir(d.path))
	if err != nil {
		d.log.WarnContext(ctx, "cannot read free disk space", "err", err)
		return
	}
	switch {
	case d.held && free < d.o.Reserve/2:
		if err := os.Remove(d.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.ErrorContext(ctx, "cannot release the disk reserve", "file", d.path, "err", err)
		}
		d.held = false
		d.low.Store(true)
		d.log.WarnContext(ctx, "disk nearly full: reserve released, publishes refused until there is room",
			"free_bytes", free, "released_bytes", d.o.Reserve, "file", d.path)
	case !d.held && free >= 2*d.o.Reserve:
		if err := d.take(); err != nil {
			d.log.WarnContext(ctx, "cannot take the disk reserve", "file", d.path, "err", err)
			d.low.Store(true)
			return
		}
		d.held = true
		if d.low.Swap(false) {
			d.log.InfoContext(ctx, "disk has room again: reserve taken, publishes accepted", "free_bytes", free, "reserve_bytes", d.o.Reserve)
		}
	case !d.held:
		if !d.low.Swap(true) {
			d.log.WarnContext(ctx, "disk nearly full: publishes refused until there is room", "free_bytes", free, "needed_bytes", 2*d.o.Reserve)
		}
	}
}

// take writes the reserve file (real blocks, not a sparse file).
func (d *disk) take() error {
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for n := int64(0); n < d.o.Reserve; n += int64(len(buf)) {
		if _, err = f.Write(buf[:min(int64(len(buf)), d.o.Reserve-n)]); err != nil {
			break
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(d.path)
	}
	return err
}

// gate refuses publishes (POST) with 503 storage_full and Retry-After
// while the disk is nearly full; other requests pass.
func (d *disk) gate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && d.low.Load() {
			d.log.WarnContext(r.Context(), "publish refused", "reason", "disk nearly full", "path", httpjson.Short(r.URL.Path))
			w.Header().Set("Retry-After", strconv.Itoa(int(diskRetryAfter/time.Second)))
			httpjson.WriteError(w, httpjson.Errorf(http.StatusServiceUnavailable, "storage_full",
				"The event was not accepted: the server's disk is full. Events already accepted are still delivered; try again later."))
			return
		}
		h.ServeHTTP(w, r)
	})
}
