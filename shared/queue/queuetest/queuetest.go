// Package queuetest is the conformance suite of queue drivers: every driver
// runs Run from its tests. It checks the consumer-side contract of SQS feeding
// Lambda: round trip, batch limits, size limit, delays, visibility timeout and
// redelivery, partial batch failures, dead-lettering (permanent errors, max
// receives), the concurrency cap, release of in-flight messages and redrive.
//
// Where a driver leaves part of the contract to its platform (SQS leaves
// receiving, settling and deleting to Lambda's event source mapping), its
// Capabilities say so; the case then logs why and checks the part that
// applies through the driver's Receive and Delete, the calls the event
// source mapping makes, together with queue.Settle, which the Lambda adapter
// runs.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Queue is what every driver offers the suite: sending, plus receiving and
// deleting the way a consumer does (for SQS, ReceiveMessage and
// DeleteMessageBatch called through the AWS API by the harness).
type Queue interface {
	queue.Sender
	// Receive claims up to max (1..10) visible messages, hiding each for
	// visibility, with ID, Body, Attributes, Receives and SentAt set.
	// It may return fewer (or none) even when more are visible.
	Receive(ctx context.Context, max int, visibility time.Duration) ([]queue.Message, error)
	// Delete removes received messages by ID.
	Delete(ctx context.Context, ids ...string) error
}

// Consumer is a driver that runs the consumer loop itself.
type Consumer interface {
	Consume(ctx context.Context, h queue.BatchHandler, s queue.Settings, dlq queue.Sender) error
}

// Releaser is a driver that can make every in-flight message visible at
// once, at the start of the process that owns the queue: the receives of a
// dead process's handlers are given back (a crash is not a failure of the
// message), so a released message's Receives is what it was before.
type Releaser interface {
	ReleaseInFlight(ctx context.Context) (int, error)
}

// DeadLetters is a dead-letter queue that lists its messages without
// receiving them and moves them back to another queue.
type DeadLetters interface {
	List(ctx context.Context, limit int) ([]queue.Message, error)
	Redrive(ctx context.Context, to queue.Sender, ids ...string) (int, error)
}

// Capabilities declares which parts of the contract a driver implements
// itself. A case whose part is missing logs why and checks what applies.
type Capabilities struct {
	// Consume: the queue implements Consumer. False for SQS, where receiving
	// batches, calling the handler, deleting successes and leaving failures
	// to the visibility timeout is done by Lambda's event source mapping.
	Consume bool
	// ReleaseInFlight: the queue implements Releaser. False for SQS: no
	// process owns an SQS queue, so in-flight messages simply come back
	// when their visibility timeout ends.
	ReleaseInFlight bool
	// Redrive: the dead-letter queue implements DeadLetters. False for SQS,
	// whose dead letters are moved back by SQS itself (StartMessageMoveTask).
	Redrive bool
	// Tick is the granularity of Delay and visibility timeouts: zero when
	// fine (the suite then uses a few hundred milliseconds), time.Second for
	// SQS, which counts whole seconds.
	Tick time.Duration
	// Duplicates: concurrent receives may, rarely, hand one message out
	// twice. True for SQS standard queues ("at-least-once delivery": a
	// handler must be idempotent), and for moto, which does not lock a
	// queue between concurrent ReceiveMessage calls. The suite then checks
	// that every message arrives at least once and nothing else arrives.
	Duplicates bool
}

// Retimer is a queue whose consumer can retry a received message in place
// (queue.Later): the message becomes visible again d from now, keeping its
// place in its group (SQS ChangeMessageVisibility).
type Retimer interface {
	ChangeVisibility(ctx context.Context, id string, d time.Duration) error
}

// Harness adapts a driver to the suite.
type Harness struct {
	// Open returns a fresh, empty queue and its (also fresh) dead-letter
	// queue; it registers their cleanup with t.
	Open func(t *testing.T) (q, dlq Queue)
	// Ordered returns a fresh queue that honours queue.Message.Group (for
	// SQS a FIFO queue) and implements Retimer; the OrderedGroups case runs
	// against it. Required: every driver carries ordered lanes.
	Ordered      func(t *testing.T) Queue
	Capabilities Capabilities
}

// Run runs the conformance suite against h. Cases run in parallel.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h, unit: max(h.Capabilities.Tick, 200*time.Millisecond)}
	cases := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"RoundTrip", s.roundTrip},
		{"BatchSize", s.batchSize},
		{"Oversize", s.oversize},
		{"Delay", s.delay},
		{"VisibilityTimeout", s.visibility},
		{"PartialFailure", s.partialFailure},
		{"PermanentToDLQ", s.permanent},
		{"MaxReceivesToDLQ", s.maxReceives},
		{"Concurrency", s.concurrency},
		{"ReleaseInFlight", s.releaseInFlight},
		{"Redrive", s.redrive},
		{"OrderedGroups", s.orderedGroups},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t)
		})
	}
}

type suite struct {
	h    Harness
	unit time.Duration // visibility timeout and delay used by the cases
}

func (s *suite) settings() queue.Settings {
	return queue.Settings{BatchSize: 10, VisibilityTimeout: s.unit, MaxReceives: 3, Concurrency: 2}
}

// receive collects messages until it has n or within has passed.
func receive(t *testing.T, q Queue, n int, visibility, within time.Duration) []queue.Message {
	t.Helper()
	var got []queue.Message
	deadline := time.Now().Add(within)
	for len(got) < n && time.Now().Before(deadline) {
		msgs, err := q.Receive(t.Context(), min(10, n-len(got)), visibility)
		require.NoError(t, err)
		got = append(got, msgs...)
		if len(msgs) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return got
}

// receiveNone asserts nothing can be received for d.
func receiveNone(t *testing.T, q Queue, d time.Duration, msgAndArgs ...any) {
	t.Helper()
	got := receive(t, q, 1, time.Minute, d)
	assert.Empty(t, bodies(got), msgAndArgs...)
}

func bodies(msgs []queue.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, string(m.Body))
	}
	return out
}

// distinct keeps the first of each equal string, in order.
func distinct(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func ids(msgs []queue.Message) []string {
	out := make([]string, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

// consume runs Consume until the test ends.
func consume(t *testing.T, q Queue, h queue.BatchHandler, st queue.Settings, dlq queue.Sender) {
	t.Helper()
	c, ok := q.(Consumer)
	require.True(t, ok, "Capabilities.Consume is set but the queue does not implement Consumer")
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- c.Consume(ctx, h, st, dlq) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Consume did not return after its context was cancelled")
		}
	})
}

// settleOnce does what Lambda's event source mapping and the Lambda adapter
// do with one batch: receive, handle, queue.Settle, delete the settled ones.
func settleOnce(t *testing.T, q, dlq Queue, n int, st queue.Settings, fail func(m queue.Message) error) []queue.Message {
	t.Helper()
	msgs := receive(t, q, n, st.VisibilityTimeout, 5*st.VisibilityTimeout+5*time.Second)
	require.Len(t, msgs, n)
	var res queue.BatchResult
	for _, m := range msgs {
		if err := fail(m); err != nil {
			res.Fail(m.ID, err)
		}
	}
	retry, err := queue.Settle(t.Context(), msgs, res, st, dlq)
	require.NoError(t, err)
	keep := map[string]bool{}
	for _, f := range retry {
		keep[f.ID] = true
	}
	var done []string
	for _, m := range msgs {
		if !keep[m.ID] {
			done = append(done, m.ID)
		}
	}
	require.NoError(t, q.Delete(t.Context(), done...))
	return msgs
}

// recorder is a BatchHandler that records what it saw and fails as told.
type recorder struct {
	mu      sync.Mutex
	seen    []queue.Message
	batches []int
	fail    func(m queue.Message) error
	delay   time.Duration
	active  int
	peak    int
	signal  chan struct{}
}

func newRecorder(fail func(m queue.Message) error) *recorder {
	return &recorder{fail: fail, signal: make(chan struct{}, 1000)}
}

func (r *recorder) HandleBatch(ctx context.Context, msgs []queue.Message) queue.BatchResult {
	r.mu.Lock()
	r.active++
	r.peak = max(r.peak, r.active)
	r.batches = append(r.batches, len(msgs))
	r.seen = append(r.seen, msgs...)
	r.mu.Unlock()
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
		}
	}
	var res queue.BatchResult
	for _, m := range msgs {
		if r.fail != nil {
			if err := r.fail(m); err != nil {
				res.Fail(m.ID, err)
			}
		}
	}
	r.mu.Lock()
	r.active--
	r.mu.Unlock()
	for range msgs {
		r.signal <- struct{}{}
	}
	return res
}

// wait waits until n more messages were handled.
func (r *recorder) wait(t *testing.T, n int, within time.Duration) {
	t.Helper()
	timeout := time.After(within)
	for range n {
		select {
		case <-r.signal:
		case <-timeout:
			r.mu.Lock()
			defer r.mu.Unlock()
			require.FailNow(t, "handler not called in time", "saw %d messages: %v", len(r.seen), bodies(r.seen))
		}
	}
}

func (r *recorder) snapshot() (seen []queue.Message, batches []int, peak int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]queue.Message(nil), r.seen...), append([]int(nil), r.batches...), r.peak
}

func (s *suite) roundTrip(t *testing.T) {
	q, _ := s.h.Open(t)
	sent := []queue.Message{
		{Body: []byte(`{"n":1}`), Attributes: map[string]string{queue.AttrTenant: "t-1", queue.AttrAttempt: "0"}},
		{Body: []byte(`{"text":"héllo wörld ✓"}`), Attributes: map[string]string{queue.AttrTenant: "t-2"}},
		{Body: []byte(`{"n":3}`)},
	}
	before := time.Now().Add(-time.Minute)
	require.NoError(t, q.Send(t.Context(), sent...))
	got := receive(t, q, len(sent), time.Minute, 5*time.Second)
	require.Len(t, got, len(sent))
	byBody := map[string]queue.Message{}
	seenIDs := map[string]bool{}
	for _, m := range got {
		byBody[string(m.Body)] = m
		assert.NotEmpty(t, m.ID)
		assert.False(t, seenIDs[m.ID], "duplicate id %s", m.ID)
		seenIDs[m.ID] = true
		assert.Equal(t, 1, m.Receives)
		assert.True(t, m.SentAt.After(before), "SentAt %v", m.SentAt)
	}
	for _, want := range sent {
		m, ok := byBody[string(want.Body)]
		require.True(t, ok, "message %s not received", want.Body)
		assert.Equal(t, len(want.Attributes), len(m.Attributes), "attributes of %s: %v", want.Body, m.Attributes)
		for k, v := range want.Attributes {
			assert.Equal(t, v, m.Attributes[k], "attribute %s of %s", k, want.Body)
		}
	}
	require.NoError(t, q.Delete(t.Context(), ids(got)...))
	require.NoError(t, q.Send(t.Context()), "sending nothing is a no-op")
	receiveNone(t, q, 300*time.Millisecond, "deleted messages must not come back")
}

func (s *suite) batchSize(t *testing.T) {
	q, dlq := s.h.Open(t)
	const n = 15
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	require.NoError(t, q.Send(t.Context(), msgs...))

	// A receive never returns more than asked, and never more than 10.
	first, err := q.Receive(t.Context(), 3, time.Minute)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(first), 3)
	rest := receive(t, q, n-len(first), time.Minute, 5*time.Second)
	assert.Len(t, rest, n-len(first))
	all := append(first, rest...)
	assert.ElementsMatch(t, bodies(msgs), bodies(all))
	require.NoError(t, q.Delete(t.Context(), ids(all)...))

	if !s.h.Capabilities.Consume {
		t.Log("batch size setting: Lambda's event source mapping (BatchSize) forms batches on this driver; checked Receive's limit")
		return
	}
	require.NoError(t, q.Send(t.Context(), msgs[:9]...))
	r := newRecorder(nil)
	st := s.settings()
	st.BatchSize, st.Concurrency, st.BatchWindow = 3, 1, 50*time.Millisecond
	consume(t, q, r, st, dlq)
	r.wait(t, 9, 10*time.Second)
	_, batches, _ := r.snapshot()
	for _, b := range batches {
		assert.LessOrEqual(t, b, 3, "batches %v", batches)
	}
	assert.Contains(t, batches, 3, "waiting messages fill a batch: %v", batches)
}

func (s *suite) oversize(t *testing.T) {
	q, _ := s.h.Open(t)
	big := make([]byte, queue.MaxBody+1)
	for i := range big {
		big[i] = 'x'
	}
	err := q.Send(t.Context(), queue.Message{Body: []byte(`{"ok":true}`)}, queue.Message{Body: big})
	require.ErrorIs(t, err, queue.ErrTooLarge)
	receiveNone(t, q, 300*time.Millisecond, "a rejected Send queues nothing")
}

func (s *suite) delay(t *testing.T) {
	q, _ := s.h.Open(t)
	d := s.unit
	sent := time.Now()
	require.NoError(t, q.Send(t.Context(),
		queue.Message{Body: []byte(`"later"`), Delay: d},
		queue.Message{Body: []byte(`"now"`)}))
	now := receive(t, q, 2, time.Minute, d/2)
	require.Equal(t, []string{`"now"`}, bodies(now), "only the undelayed message is visible before the delay")
	later := receive(t, q, 1, time.Minute, d*3+5*time.Second)
	require.Equal(t, []string{`"later"`}, bodies(later))
	assert.GreaterOrEqual(t, time.Since(sent), d-20*time.Millisecond, "delay honoured")
}

func (s *suite) visibility(t *testing.T) {
	q, _ := s.h.Open(t)
	vis := s.unit
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte(`"v"`)}))
	first := receive(t, q, 1, vis, 5*time.Second)
	require.Len(t, first, 1)
	received := time.Now()
	receiveNone(t, q, vis/2, "hidden during the visibility timeout")
	again := receive(t, q, 1, vis, vis*3+5*time.Second)
	require.Len(t, again, 1)
	assert.GreaterOrEqual(t, time.Since(received), vis-50*time.Millisecond)
	assert.Equal(t, first[0].ID, again[0].ID, "same message")
	assert.Equal(t, first[0].Receives+1, again[0].Receives)
	require.NoError(t, q.Delete(t.Context(), again[0].ID))
}

var errTransient = errors.New("transient failure")

func (s *suite) partialFailure(t *testing.T) {
	q, dlq := s.h.Open(t)
	st := s.settings()
	require.NoError(t, q.Send(t.Context(),
		queue.Message{Body: []byte(`"a"`)}, queue.Message{Body: []byte(`"b"`)}, queue.Message{Body: []byte(`"c"`)}))
	failB := func(m queue.Message) error {
		if string(m.Body) == `"b"` && m.Receives == 1 {
			return errTransient
		}
		return nil
	}
	if !s.h.Capabilities.Consume {
		t.Log("consumer loop: Lambda's event source mapping on this driver; checked Receive + queue.Settle + Delete")
		settleOnce(t, q, dlq, 3, st, failB)
		again := receive(t, q, 1, time.Minute, 3*st.VisibilityTimeout+5*time.Second)
		require.Equal(t, []string{`"b"`}, bodies(again), "the failed message comes back")
		assert.Equal(t, 2, again[0].Receives)
		receiveNone(t, q, st.VisibilityTimeout+100*time.Millisecond, "only the failed message comes back")
		require.NoError(t, q.Delete(t.Context(), again[0].ID))
		receiveNone(t, dlq, 200*time.Millisecond, "nothing dead-lettered")
		return
	}
	r := newRecorder(failB)
	consume(t, q, r, st, dlq)
	r.wait(t, 4, 3*st.VisibilityTimeout+5*time.Second)
	time.Sleep(st.VisibilityTimeout + 100*time.Millisecond) // nothing else may come back
	seen, _, _ := r.snapshot()
	assert.ElementsMatch(t, []string{`"a"`, `"b"`, `"c"`, `"b"`}, bodies(seen))
	for _, m := range seen {
		if string(m.Body) == `"b"` {
			assert.Contains(t, []int{1, 2}, m.Receives)
		} else {
			assert.Equal(t, 1, m.Receives)
		}
	}
	receiveNone(t, q, 50*time.Millisecond, "all settled")
	receiveNone(t, dlq, 50*time.Millisecond, "nothing dead-lettered")
}

func (s *suite) checkDeadLetter(t *testing.T, dlq Queue, body string, attrs map[string]string, reason string) {
	t.Helper()
	got := receive(t, dlq, 1, time.Minute, 5*time.Second)
	require.Len(t, got, 1, "dead letter expected")
	m := got[0]
	assert.Equal(t, body, string(m.Body))
	assert.Contains(t, m.Attributes[queue.AttrReason], reason)
	for k, v := range attrs {
		assert.Equal(t, v, m.Attributes[k], "original attribute %s kept", k)
	}
}

func (s *suite) permanent(t *testing.T) {
	q, dlq := s.h.Open(t)
	st := s.settings()
	attrs := map[string]string{queue.AttrTenant: "t-9", queue.AttrAttempt: "2"}
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte(`"bad"`), Attributes: attrs}, queue.Message{Body: []byte(`"good"`)}))
	fail := func(m queue.Message) error {
		if string(m.Body) == `"bad"` {
			return queue.Permanent(errors.New("410 gone: publication disabled"))
		}
		return nil
	}
	if s.h.Capabilities.Consume {
		r := newRecorder(fail)
		consume(t, q, r, st, dlq)
		r.wait(t, 2, 5*time.Second)
	} else {
		t.Log("consumer loop: Lambda's event source mapping on this driver; checked Receive + queue.Settle + Delete")
		settleOnce(t, q, dlq, 2, st, fail)
	}
	s.checkDeadLetter(t, dlq, `"bad"`, attrs, "410 gone: publication disabled")
	receiveNone(t, q, st.VisibilityTimeout+100*time.Millisecond, "dead-lettered at once, not redelivered")
}

func (s *suite) maxReceives(t *testing.T) {
	q, dlq := s.h.Open(t)
	st := s.settings()
	st.MaxReceives = 2
	attrs := map[string]string{queue.AttrTenant: "t-3"}
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte(`"flaky"`), Attributes: attrs}))
	alwaysFail := func(queue.Message) error { return errTransient }
	if s.h.Capabilities.Consume {
		r := newRecorder(alwaysFail)
		consume(t, q, r, st, dlq)
		r.wait(t, 2, 3*st.VisibilityTimeout+5*time.Second)
		s.checkDeadLetter(t, dlq, `"flaky"`, attrs, errTransient.Error())
		seen, _, _ := r.snapshot()
		require.Len(t, seen, 2)
		assert.Equal(t, []int{1, 2}, []int{seen[0].Receives, seen[1].Receives})
	} else {
		t.Log("consumer loop: Lambda's event source mapping on this driver; checked Receive + queue.Settle + Delete")
		first := settleOnce(t, q, dlq, 1, st, alwaysFail)
		assert.Equal(t, 1, first[0].Receives)
		receiveNone(t, dlq, 50*time.Millisecond, "not dead-lettered before max receives")
		second := settleOnce(t, q, dlq, 1, st, alwaysFail)
		assert.Equal(t, 2, second[0].Receives)
		s.checkDeadLetter(t, dlq, `"flaky"`, attrs, errTransient.Error())
	}
	receiveNone(t, q, st.VisibilityTimeout+100*time.Millisecond, "no redelivery after dead-lettering")
}

func (s *suite) concurrency(t *testing.T) {
	q, dlq := s.h.Open(t)
	const n = 20
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{Body: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	require.NoError(t, q.Send(t.Context(), msgs...))
	if !s.h.Capabilities.Consume {
		t.Log("concurrency cap: the event source mapping's MaximumConcurrency on this driver; checked that concurrent receives never hand out a message twice")
		var (
			mu  sync.Mutex
			got []queue.Message
			wg  sync.WaitGroup
		)
		deadline := time.Now().Add(10 * time.Second)
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					mu.Lock()
					full := len(got) >= n
					mu.Unlock()
					if full {
						return
					}
					m, err := q.Receive(context.WithoutCancel(t.Context()), 3, time.Minute)
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					got = append(got, m...)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if s.h.Capabilities.Duplicates {
			t.Log("duplicates: this driver delivers at least once; checked that every message arrived and nothing else did")
			assert.ElementsMatch(t, bodies(msgs), distinct(bodies(got)), "each message received at least once")
			return
		}
		assert.ElementsMatch(t, bodies(msgs), bodies(got), "each message received exactly once")
		return
	}
	r := newRecorder(nil)
	r.delay = 30 * time.Millisecond
	st := s.settings()
	st.BatchSize, st.Concurrency, st.VisibilityTimeout = 1, 3, 5*time.Second
	consume(t, q, r, st, dlq)
	r.wait(t, n, 10*time.Second)
	seen, _, peak := r.snapshot()
	assert.ElementsMatch(t, bodies(msgs), bodies(seen))
	assert.LessOrEqual(t, peak, 3, "concurrency cap exceeded")
	assert.Equal(t, 3, peak, "the consumer uses its concurrency")
}

func (s *suite) releaseInFlight(t *testing.T) {
	q, _ := s.h.Open(t)
	require.NoError(t, q.Send(t.Context(), queue.Message{Body: []byte(`"1"`)}, queue.Message{Body: []byte(`"2"`)}))
	got := receive(t, q, 2, time.Hour, 5*time.Second)
	require.Len(t, got, 2)
	receiveNone(t, q, 100*time.Millisecond, "in flight")
	if !s.h.Capabilities.ReleaseInFlight {
		t.Log("release of in-flight messages: no process owns this driver's queue; they come back after their visibility timeout (checked in VisibilityTimeout)")
		require.NoError(t, q.Delete(t.Context(), ids(got)...))
		return
	}
	rel, ok := q.(Releaser)
	require.True(t, ok, "Capabilities.ReleaseInFlight is set but the queue does not implement Releaser")
	n, err := rel.ReleaseInFlight(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	again := receive(t, q, 2, time.Minute, 2*time.Second)
	require.Len(t, again, 2)
	assert.ElementsMatch(t, ids(got), ids(again))
	for _, m := range again {
		assert.Equal(t, 1, m.Receives, "the released receive was given back")
	}
	n, err = rel.ReleaseInFlight(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, n, "released again")
	again = receive(t, q, 2, time.Minute, 2*time.Second)
	require.Len(t, again, 2)
	require.NoError(t, q.Delete(t.Context(), ids(again)...))
	n, err = rel.ReleaseInFlight(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "nothing in flight")
}

func (s *suite) redrive(t *testing.T) {
	q, dlq := s.h.Open(t)
	st := s.settings()
	attrs := map[string]string{queue.AttrTenant: "t-5", queue.AttrAttempt: "7"}
	require.NoError(t, q.Send(t.Context(),
		queue.Message{Body: []byte(`"x"`), Attributes: attrs},
		queue.Message{Body: []byte(`"y"`), Attributes: attrs}))
	msgs := receive(t, q, 2, time.Minute, 5*time.Second)
	require.Len(t, msgs, 2)
	var res queue.BatchResult
	for _, m := range msgs {
		res.Fail(m.ID, queue.Permanent(fmt.Errorf("reject %s", m.Body)))
	}
	retry, err := queue.Settle(t.Context(), msgs, res, st, dlq)
	require.NoError(t, err)
	require.Empty(t, retry)
	require.NoError(t, q.Delete(t.Context(), ids(msgs)...))

	if !s.h.Capabilities.Redrive {
		t.Log("redrive: done by the platform (SQS StartMessageMoveTask) on this driver; checked dead letters are plain messages with reason and attributes")
		got := receive(t, dlq, 2, time.Minute, 5*time.Second)
		require.Len(t, got, 2)
		for _, m := range got {
			assert.Equal(t, "reject "+string(m.Body), m.Attributes[queue.AttrReason])
			assert.Equal(t, "t-5", m.Attributes[queue.AttrTenant])
		}
		return
	}
	dl, ok := dlq.(DeadLetters)
	require.True(t, ok, "Capabilities.Redrive is set but the dead-letter queue does not implement DeadLetters")
	list, err := dl.List(t.Context(), 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	for _, m := range list {
		assert.NotEmpty(t, m.ID)
		assert.Equal(t, "reject "+string(m.Body), m.Attributes[queue.AttrReason])
		assert.Equal(t, "t-5", m.Attributes[queue.AttrTenant])
	}
	one, err := dl.List(t.Context(), 1)
	require.NoError(t, err)
	assert.Len(t, one, 1, "limit honoured")

	n, err := dl.Redrive(t.Context(), q, list[0].ID)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	back := receive(t, q, 1, time.Minute, 5*time.Second)
	require.Len(t, back, 1)
	assert.Equal(t, list[0].Body, back[0].Body)
	assert.Equal(t, attrs, back[0].Attributes, "original attributes, without reason")
	assert.Equal(t, 1, back[0].Receives, "a fresh message")

	left, err := dl.List(t.Context(), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{list[1].ID}, ids(left))

	_, err = dl.Redrive(t.Context(), q, list[0].ID)
	require.Error(t, err, "an id no longer in the dead-letter queue")

	n, err = dl.Redrive(t.Context(), q)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "no ids: everything")
	left, err = dl.List(t.Context(), 10)
	require.NoError(t, err)
	assert.Empty(t, left)
	assert.Len(t, receive(t, q, 1, time.Minute, 5*time.Second), 1)
}

// orderedGroups checks queue.Message.Group: the messages of a group are
// handed out in send order, none while an earlier one of its group is in
// flight or waiting to be retried, and a head retried in place (Retimer)
// holds back its own group only. A batch may hold several messages of one
// group (SQS FIFO does), in order; the consumer then fails the ones after a
// failed head too, as the Lambda contract for FIFO queues asks, and even
// makes them visible at once: they must still wait for their head.
func (s *suite) orderedGroups(t *testing.T) {
	require.NotNil(t, s.h.Ordered, "Harness.Ordered: every driver must offer an ordered queue")
	q := s.h.Ordered(t)
	rt, ok := q.(Retimer)
	require.True(t, ok, "an ordered queue implements Retimer")
	const groups, per = 4, 5
	var sent []queue.Message
	for i := range per {
		for g := range groups {
			sent = append(sent, queue.Message{Body: fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i), Group: fmt.Sprintf("t/p/key-%d", g),
				Attributes: map[string]string{queue.AttrTenant: "t"}})
		}
	}
	require.NoError(t, q.Send(t.Context(), sent[:groups]...))
	require.NoError(t, q.Send(t.Context(), sent[groups:]...))

	type rec struct {
		g, i int
	}
	decode := func(m queue.Message) rec {
		var r rec
		_, err := fmt.Sscanf(string(m.Body), `{"g":%d,"i":%d}`, &r.g, &r.i)
		require.NoError(t, err, "body %s", m.Body)
		return r
	}
	const failing, failures = 0, 2 // the head of group 0 fails twice
	var (
		next     [groups]int // the first message of each group not yet done
		done     [groups]time.Time
		retried  = s.unit * 2
		deadline = time.Now().Add(20*s.unit + 20*time.Second)
		vis      = 30 * s.unit
	)
	for time.Now().Before(deadline) {
		all := true
		for g := range groups {
			all = all && next[g] == per
		}
		if all {
			break
		}
		msgs, err := q.Receive(t.Context(), 10, vis)
		require.NoError(t, err)
		if len(msgs) == 0 {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var del []string
		blocked := map[int]bool{}
		expect := next
		for _, m := range msgs {
			r := decode(m)
			require.Equal(t, expect[r.g], r.i, "group %d: got message %d while %d is its head (batch %v)", r.g, r.i, expect[r.g], bodies(msgs))
			assert.Equal(t, sent[r.i*groups+r.g].Group, m.Group, "the group of a received message")
			expect[r.g]++
			switch {
			case blocked[r.g]:
				// After a failed head: failed too, visible at once.
				require.NoError(t, rt.ChangeVisibility(t.Context(), m.ID, 0))
			case r.g == failing && r.i == 0 && m.Receives <= failures:
				blocked[r.g] = true
				assert.False(t, m.FirstReceived.IsZero(), "FirstReceived is set")
				require.NoError(t, rt.ChangeVisibility(t.Context(), m.ID, retried))
			default:
				del = append(del, m.ID)
				next[r.g]++
				if next[r.g] == per {
					done[r.g] = time.Now()
				}
			}
		}
		require.NoError(t, q.Delete(t.Context(), del...))
	}
	for g := range groups {
		require.Equal(t, per, next[g], "group %d delivered in order within the time", g)
	}
	for g := range groups {
		if g != failing {
			assert.True(t, done[g].Before(done[failing]), "group %d is not held back by group %d's failing head", g, failing)
		}
	}
	receiveNone(t, q, 300*time.Millisecond, "every message was deleted")

	if !s.h.Capabilities.Consume {
		t.Log("consuming ordered groups: Lambda's event source mapping and the Lambda adapter (lambdaio WithOrdered) apply queue.Later on this driver; checked through Receive and Retimer")
		return
	}
	// Through Consume: a handler's queue.Later (and queue.Hold) retries the
	// head in place, after its delay, and its group waits; the others go on.
	q2 := s.h.Ordered(t)
	require.NoError(t, q2.Send(t.Context(), sent...))
	var (
		mu       sync.Mutex
		handled  = map[int][]int{}
		finished = map[int]time.Time{}
		tries    []time.Time
		all      = make(chan struct{})
	)
	h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
		var res queue.BatchResult
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			r := decode(m)
			if r.g == failing && r.i == 0 && len(tries) < failures {
				tries = append(tries, time.Now())
				fail := queue.Later(errTransient, retried)
				if len(tries) == 1 { // held for a key no one wakes: a Later all the same
					fail = queue.Hold(errTransient, retried, "paused-key")
				}
				res.Fail(m.ID, fail)
				continue
			}
			handled[r.g] = append(handled[r.g], r.i)
			if len(handled[r.g]) == per {
				finished[r.g] = time.Now()
				if len(finished) == groups {
					close(all)
				}
			}
		}
		return res
	})
	st := s.settings()
	st.MaxReceives = 10
	consume(t, q2, h, st, nil)
	select {
	case <-all:
	case <-time.After(20*s.unit + 20*time.Second):
		mu.Lock()
		defer mu.Unlock()
		require.FailNow(t, "ordered groups not consumed in time", "handled %v", handled)
	}
	mu.Lock()
	defer mu.Unlock()
	for g := range groups {
		assert.Equal(t, []int{0, 1, 2, 3, 4}, handled[g], "group %d consumed in send order", g)
		if g != failing {
			assert.True(t, finished[g].Before(finished[failing]), "group %d is not held back by group %d", g, failing)
		}
	}
	require.Len(t, tries, failures)
	assert.GreaterOrEqual(t, tries[1].Sub(tries[0]), retried-20*time.Millisecond, "a head retried in place waits its delay")
}
