package sfsub

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/herokuevents/herokuevents/shared/config"
)

// # Shared streams
//
// Salesforce counts event deliveries per subscriber stream, so the
// subscriptions of one tenant on one channel of one org share a single
// Subscribe stream (a group): its leader, the first claim, runs the
// stream; every batch is enqueued for each member under the member's own
// subscription (its CloudEvent ids, its streams) and then each member's
// checkpoint advances. A member joins a running group only where the
// stream serves its replay semantics: its checkpoint is the group's, or it
// has none and starts with the next event (replay latest). Any other (a
// checkpoint behind, replay earliest) reads its own stream until its
// checkpoint reaches the group's (keepalives carry the latest replay id,
// so a caught-up stream meets it), then merges into the group. When the
// leader's stream ends for good (its lease lost, the run ending), the
// others rejoin and one of them leads from its checkpoint.

// group is the shared stream of one (tenant, org, channel).
type group struct {
	key    string
	leader *claim
	mu     sync.Mutex
	// cp is the stream's position: the checkpoint written after its last
	// batch (the leader's checkpoint before the first).
	cp        []byte
	followers map[string]*claim
	closed    bool
	done      chan struct{} // closed with the group
}

// errMerged ends a catch-up stream whose subscription joined the group.
var errMerged = errors.New("merged into the shared stream")

func groupKey(tenant string, sub config.Subscription) string {
	return tenant + "\x00" + sub.Params.OrgName + "\x00" + sub.Params.Event
}

func checkpointOf(sub config.Subscription) []byte {
	if sub.State == nil {
		return nil
	}
	return sub.State.Checkpoint
}

// add makes c a follower when the stream serves its replay semantics.
func (g *group) add(c *claim) bool {
	sub := c.sub().Subscription
	cp := checkpointOf(sub)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	switch {
	case len(cp) > 0 && bytes.Equal(cp, g.cp):
	case len(cp) == 0 && sub.Replay != ReplayEarliest:
	default:
		return false
	}
	g.followers[c.key()] = c
	return true
}

func (g *group) remove(c *claim) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.followers, c.key())
}

// join puts c in the running group of its channel, or makes it the
// leader of a new group, registered when none runs.
func (r *Runner) join(c *claim) (g *group, leader bool) {
	key := groupKey(c.tenant, c.sub().Subscription)
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[key]; g != nil && g.add(c) {
		return g, false
	}
	g = &group{key: key, leader: c, cp: checkpointOf(c.sub().Subscription), followers: map[string]*claim{}, done: make(chan struct{})}
	if r.groups[key] == nil {
		r.groups[key] = g
	}
	return g, true
}

// merge makes the leader of an unregistered (catch-up) group without
// followers a follower of the registered group when their positions meet.
func (r *Runner) merge(g *group) *group {
	r.mu.Lock()
	defer r.mu.Unlock()
	rg := r.groups[g.key]
	if rg == nil || rg == g {
		return nil
	}
	g.mu.Lock()
	alone := len(g.followers) == 0
	g.mu.Unlock()
	if alone && rg.add(g.leader) {
		return rg
	}
	return nil
}

// close ends a group: its followers rejoin.
func (r *Runner) close(g *group) {
	r.mu.Lock()
	if r.groups[g.key] == g {
		delete(r.groups, g.key)
	}
	r.mu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.closed = true
		close(g.done)
	}
}

// follow waits while c is a follower of g: false when ctx ended (c left
// the group), true when the group closed (c should join again).
func follow(ctx context.Context, log *slog.Logger, g *group, c *claim) bool {
	log.InfoContext(ctx, "salesforce subscription shares a stream", "decision", "follow",
		"leader", g.leader.sub().Name, "leader_id", g.leader.id)
	select {
	case <-ctx.Done():
		g.remove(c)
		return false
	case <-g.done:
		return true
	}
}

// members returns the followers of the stream's group (locked by the
// caller while a batch is processed).
func (g *group) members() []*claim {
	out := make([]*claim, 0, len(g.followers))
	for _, f := range g.followers {
		out = append(out, f)
	}
	return out
}

// start joins every claim of a scan to its group before any of their
// streams starts (so that claims at one position share a stream), then
// consumes each in its own goroutine.
func (r *Runner) start(ctx context.Context, wg *sync.WaitGroup, claims []*claim) {
	type joined struct {
		g      *group
		leader bool
	}
	js := make([]joined, len(claims))
	for i, c := range claims {
		js[i].g, js[i].leader = r.join(c)
	}
	for i, c := range claims {
		wg.Go(func() { r.consume(ctx, c, js[i].g, js[i].leader) })
	}
}
