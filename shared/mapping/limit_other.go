//go:build !linux || race

package mapping

// limitData has no hard cap here: the watchdog's heap check and the
// collector's soft limit bound the worker.
func limitData(int64) {}
