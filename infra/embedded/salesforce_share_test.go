package embedded_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

const updateFilter = `root = if this.ChangeEventHeader.changeType == "UPDATE" { this } else { deleted() }`

// Two subscriptions on one channel of one org, three streams, each to its
// own webhook: Salesforce serves one Subscribe stream, every stream gets
// every event its filter keeps, and a restart of the server resumes each
// without a gap from the events published while it was down, again on one
// stream (issue 14, items 3 and 4).
func TestSalesforceSharedStreamServesEveryStreamAcrossARestart(t *testing.T) {
	w := newSFWorld(t) // the stand-in sends keepalives every 100 ms
	// Stall detection on (silence for 4 s): the shared stream stays healthy.
	t.Setenv(sfsub.EnvKeepalive, "2s")
	srv := w.start(t)
	w.connect(t, srv)
	topic := standin.AccountChangeTopic

	// Subscription a: every event to hook all, the CREATEs to hook creates;
	// subscription b: the UPDATEs to hook updates.
	hooks := map[string]*hook{"all": newHook(t, ok), "creates": newHook(t, ok), "updates": newHook(t, ok)}
	for name, h := range hooks {
		require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
			map[string]any{"name": name, "url": h.URL + "/hook"}, nil))
	}
	subs := map[string]subView{}
	for _, name := range []string{"a", "b"} {
		var v subView
		require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/salesforce/subscriptions",
			map[string]any{"name": name, "event": topic, "org_name": "example-org"}, &v))
		subs[name] = v
	}
	for _, s := range []struct{ source, target, filter string }{
		{"a", "all", ""}, {"a", "creates", createFilter}, {"b", "updates", updateFilter},
	} {
		body := map[string]any{"source": s.source, "target": s.target}
		if s.filter != "" {
			body["filter"] = s.filter
		}
		require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/streams", body, nil), "stream %s → %s", s.source, s.target)
	}
	waitActive(t, srv, "a")
	waitActive(t, srv, "b")

	// want is the CloudEvent ids each hook should get.
	want := map[string][]string{}
	changes := []string{"CREATE", "UPDATE", "DELETE", "CREATE", "UPDATE"}
	emit := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			change := changes[i%len(changes)]
			r, err := w.org.Emit(topic, []byte(account(i, change)))
			require.NoError(t, err)
			want["all"] = append(want["all"], sfsub.EventID(subs["a"].ID, topic, r.ReplayID))
			switch change {
			case "CREATE":
				want["creates"] = append(want["creates"], sfsub.EventID(subs["a"].ID, topic, r.ReplayID))
			case "UPDATE":
				want["updates"] = append(want["updates"], sfsub.EventID(subs["b"].ID, topic, r.ReplayID))
			}
		}
	}
	// everyID holds when each hook got every id it should (at least once).
	everyID := func() bool {
		for name, h := range hooks {
			for _, id := range want[name] {
				if h.attemptsOf(id) == 0 {
					return false
				}
			}
		}
		return true
	}
	// check asserts each hook got exactly its ids: none missing, none other
	// (a redelivery of one of them is at-least-once, allowed).
	check := func(when string) {
		t.Helper()
		for name, h := range hooks {
			got := make([]string, 0, len(want[name]))
			for id := range h.received() {
				got = append(got, id)
			}
			slices.Sort(got)
			wanted := slices.Sorted(slices.Values(want[name]))
			assert.Equal(t, wanted, got, "%s: hook %s got every id it should and no other", when, name)
		}
	}

	emit(0, 5)
	require.Eventually(t, everyID, 15*time.Second, 20*time.Millisecond, "every stream receives its events")
	time.Sleep(300 * time.Millisecond) // anything filtered out would have arrived by now
	check("before the restart")
	assert.Equal(t, 1, w.org.SubscribeCount(topic), "one Subscribe stream for two subscriptions and three streams")

	// Down: events published meanwhile wait in Salesforce.
	require.NoError(t, srv.Close())
	emit(5, 12)
	srv = w.start(t)
	require.Eventually(t, everyID, 15*time.Second, 20*time.Millisecond, "the events published while down arrive, none skipped")
	time.Sleep(300 * time.Millisecond)
	check("after the restart")
	assert.Equal(t, 2, w.org.SubscribeCount(topic), "one Subscribe stream again after the restart")
	for _, name := range []string{"a", "b"} {
		assert.Equal(t, sfsub.StatusActive, subState(t, srv, name).State.Status, "subscription %s", name)
	}
	assert.Len(t, want["all"], 12)
	assert.Len(t, want["creates"], 5)
	assert.Len(t, want["updates"], 5)

	t.Run("a reconnect loop makes both subscriptions failing, then they recover", func(t *testing.T) {
		w.org.DropStreams(true)
		for _, name := range []string{"a", "b"} {
			require.Eventually(t, func() bool { return subState(t, srv, name).State.Status == sfsub.StatusFailing },
				15*time.Second, 20*time.Millisecond, "subscription %s failing", name)
			assert.Contains(t, subState(t, srv, name).State.LastError, "(a reconnect loop)", "subscription %s", name)
		}
		emit(12, 15)
		w.org.DropStreams(false)
		require.Eventually(t, everyID, 15*time.Second, 20*time.Millisecond, "the events of the outage arrive")
		for _, name := range []string{"a", "b"} {
			v := waitActive(t, srv, name)
			assert.Empty(t, v.State.LastError, "subscription %s", name)
		}
		time.Sleep(300 * time.Millisecond)
		check("after the reconnect loop")
	})
}
