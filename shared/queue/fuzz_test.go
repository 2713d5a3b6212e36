package queue_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// FuzzDeadLetter: any dead-letter record (body and attributes, as a queue
// hands them back) is described without panic, and revived into a fresh
// message: no reason, attempt 0, no first try, the event unchanged, and
// reviving twice changes nothing more.
func FuzzDeadLetter(f *testing.F) {
	for _, s := range []struct{ body, reason, attempt string }{
		{`{"event":{"id":"e1","specversion":"1.0"},"publication":"p1","attempt":3,"first_try":"2026-01-02T03:04:05Z"}`, "max receives (5) reached", "3"},
		{`{"event":{"id":"e1"},"subscription":"s1"}`, "mapping: time limit", ""},
		{`{"publication":"p","attempt":0}`, "", "0"},
		{`{"publication":"p","attempt":"x","first_try":null}`, "", "-1"},
		{`not json`, "poison", "x"},
		{`{"publication":1e999}`, "", ""},
		{`[]`, "", "99999999999999999999"},
	} {
		f.Add([]byte(s.body), s.reason, s.attempt)
	}
	f.Fuzz(func(t *testing.T, body []byte, reason, attempt string) {
		m := queue.Message{ID: "m1", Body: body, Attributes: map[string]string{
			queue.AttrReason: reason, queue.AttrAttempt: attempt, queue.AttrTenant: "t1"}}
		d := queue.Describe("delivery", m)
		require.Equal(t, "m1", d.ID)
		require.Equal(t, "delivery", d.Queue)
		if reason != "" {
			require.Equal(t, reason, d.Reason)
		} else {
			require.NotEmpty(t, d.Reason, "a dead letter always says why")
		}

		r := queue.Revive(m)
		require.Empty(t, r.ID)
		require.NotContains(t, r.Attributes, queue.AttrReason)
		require.Equal(t, "0", r.Attributes[queue.AttrAttempt])
		require.Equal(t, "t1", r.Attributes[queue.AttrTenant])
		require.Equal(t, "t1", m.Attributes[queue.AttrTenant], "the dead letter is not changed")
		rd := queue.Describe("delivery", r)
		require.Zero(t, rd.Attempt)
		if d.EventID != "" || d.Publication != "" || d.Subscription != "" { // the body was read
			require.Equal(t, d.EventID, rd.EventID)
			require.Equal(t, d.Publication, rd.Publication)
			require.Equal(t, d.Subscription, rd.Subscription)
		}
		if !json.Valid(body) {
			require.Equal(t, body, r.Body, "a body that is not JSON is kept byte for byte")
		}
		require.Equal(t, r.Body, queue.Revive(r).Body, "reviving is idempotent")
	})
}
