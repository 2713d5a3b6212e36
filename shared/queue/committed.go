package queue

import "context"

// committedKey is the context key of WithCommitted.
type committedKey struct{}

// WithCommitted returns ctx carrying fn for the Sends made with it: what
// must be said of their messages before anything their consumers say. A
// driver whose consumers in the same process may receive a message before
// its Send returns (sqlitequeue hands a send to a waiting consumer at its
// commit, before the disk has synced it) calls fn first, once the
// messages are committed; the caller calls it after Send returns nil, in
// case the driver did not. So fn may run more than once, on another
// goroutine, before Send returns, and even when Send then fails (the
// messages may be queued all the same: see Sender). It must be quick and
// do its work once (sync.Once).
func WithCommitted(ctx context.Context, fn func()) context.Context {
	return context.WithValue(ctx, committedKey{}, fn)
}

// Committed returns the fn of WithCommitted, or nil.
func Committed(ctx context.Context) func() {
	fn, _ := ctx.Value(committedKey{}).(func())
	return fn
}
