package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
)

// arrival is one request a replay receiver got.
type arrival struct {
	id, replayed, key string
	n                 int
	at                time.Time
}

type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []arrival
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ce struct {
			ID       string `json:"id"`
			Replayed string `json:"replayed"`
			Data     struct {
				Key string `json:"key"`
				N   int    `json:"n"`
			} `json:"data"`
		}
		_ = json.Unmarshal(b, &ce)
		rc.mu.Lock()
		rc.got = append(rc.got, arrival{id: ce.ID, replayed: ce.Replayed, key: ce.Data.Key, n: ce.Data.N, at: time.Now()})
		rc.mu.Unlock()
	})))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) arrivals() []arrival {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]arrival(nil), rc.got...)
}

// publishCE publishes a binary-mode CloudEvent whose subject is key.
func publishCE(t *testing.T, srv *embedded.Server, name, key, data string) string {
	t.Helper()
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	require.NoError(t, err)
	user := u.User.Username()
	pass, _ := u.User.Password()
	u.User = nil
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.String()+"/"+name, strings.NewReader(data))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	id := uuid.NewString()
	for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": id,
		"ce-source": "/orders", "ce-type": "order.changed", "ce-subject": key} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusAccepted, res.StatusCode, string(b))
	return id
}

type replayView struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Sent   int    `json:"sent"`
	Total  *int   `json:"total"`
	Failed int    `json:"failed"`
}

// TestReplayWindow is the acceptance test of replay: 500 events are
// published to an inbound subscription streamed to a webhook, in three
// phases accepted hours apart (the archive's clock is moved); replaying a
// one-minute window around the middle phase to a new publication at 100
// events/s delivers exactly that phase's events, in order per key,
// flagged replayed with their original ids, at the rate asked.
func TestReplayWindow(t *testing.T) {
	var offset atomic.Int64
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff:      deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		ArchiveClock: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) },
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	stream, target := newReceiver(t), newReceiver(t)
	wire(t, srv, stream.URL, "")
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "replayTarget", "url": target.URL + "/hook"}, nil))

	const keys = 50
	phases := []struct {
		offset time.Duration
		count  int
	}{{-3 * time.Hour, 150}, {-2 * time.Hour, 200}, {0, 150}}
	var windowFrom time.Time
	var inWindow []string
	n := 0
	for i, p := range phases {
		offset.Store(int64(p.offset))
		if i == 1 {
			windowFrom = time.Now().Add(p.offset).Add(-5 * time.Second)
		}
		for range p.count {
			id := publishCE(t, srv, "inbound", fmt.Sprintf("k%d", n%keys), fmt.Sprintf(`{"key":"k%d","n":%d}`, n%keys, n))
			if i == 1 {
				inWindow = append(inWindow, id)
			}
			n++
		}
	}
	require.Less(t, time.Since(windowFrom.Add(2*time.Hour)), 50*time.Second, "the middle phase fits its one-minute window")
	require.Eventually(t, func() bool { return len(stream.arrivals()) >= 500 }, 30*time.Second, 20*time.Millisecond)

	var created replayView
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/subscriptions/inbound/replays", map[string]any{
		"from": windowFrom.Format(time.RFC3339Nano), "to": windowFrom.Add(time.Minute).Format(time.RFC3339Nano),
		"publication": "replayTarget", "rate": 100,
	}, &created))
	require.NotEmpty(t, created.ID)

	require.Eventually(t, func() bool { return len(target.arrivals()) >= len(inWindow) }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // nothing more arrives
	got := target.arrivals()
	require.Len(t, got, len(inWindow), "exactly the window")
	var ids []string
	last := map[string]int{}
	for _, a := range got {
		ids = append(ids, a.id)
		assert.Equal(t, created.ID, a.replayed, "flagged with the replay's id")
		if prev, ok := last[a.key]; ok {
			assert.Greater(t, a.n, prev, "key %s in publish order", a.key)
		}
		last[a.key] = a.n
	}
	assert.ElementsMatch(t, inWindow, ids, "the original ids of the window's events")

	elapsed := got[len(got)-1].at.Sub(got[0].at)
	want := time.Duration(len(got)-1) * time.Second / 100
	t.Logf("replayed %d events in %s: %.1f events/s (asked 100)", len(got), elapsed, float64(len(got)-1)/elapsed.Seconds())
	assert.InDelta(t, want.Seconds(), elapsed.Seconds(), 0.35*want.Seconds(), "elapsed ≈ n/100 s")
	for i := range got {
		j := i
		for j < len(got) && got[j].at.Sub(got[i].at) < 2*time.Second {
			j++
		}
		// the runner never sends ahead of its schedule; the queue's batches
		// bunch arrivals a little, more so after a moment the host stalled
		// delivery (135 in one second was seen under -race beside other
		// packages' tests), so the cap is checked over two seconds
		require.LessOrEqual(t, j-i, 250, "at most about 200 events in any two seconds")
	}

	var done replayView
	require.Eventually(t, func() bool {
		call(t, srv, "GET", "/replays/"+created.ID, nil, &done)
		return done.State == "done"
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, len(inWindow), done.Sent)
	require.NotNil(t, done.Total)
	assert.Equal(t, len(inWindow), *done.Total)
	assert.Len(t, stream.arrivals(), 500, "a replay to one publication leaves the stream's alone")
}

// TestReplayResumesAfterRestart: a replay left running by a stopped serve
// goes on from its cursor in the next one; every event of the window
// arrives (one may arrive twice: the slice in flight at the stop).
func TestReplayResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	open := func() *embedded.Server {
		srv, err := embedded.Start(t.Context(), embedded.Options{Addr: "127.0.0.1:0", DataDir: dir, App: "my-app", AllowEgress: loopback})
		require.NoError(t, err)
		return srv
	}
	srv := open()
	target := newReceiver(t)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, nil))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications", map[string]any{"name": "audit", "url": target.URL + "/hook"}, nil))
	var ids []string
	for i := range 8 {
		ids = append(ids, publishCE(t, srv, "inbound", "", fmt.Sprintf(`{"key":"k","n":%d}`, i)))
	}
	time.Sleep(200 * time.Millisecond) // archived within the writer's linger
	var job replayView
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/subscriptions/inbound/replays",
		map[string]any{"from": "-1h", "to": "now", "publication": "audit", "rate": 4}, &job))
	require.Eventually(t, func() bool {
		call(t, srv, "GET", "/replays/"+job.ID, nil, &job)
		return job.Sent >= 4
	}, 10*time.Second, 20*time.Millisecond, "the first step is saved")
	require.NoError(t, srv.Close())

	srv = open()
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	require.Eventually(t, func() bool {
		call(t, srv, "GET", "/replays/"+job.ID, nil, &job)
		return job.State == "done"
	}, 15*time.Second, 50*time.Millisecond)
	assert.Equal(t, 8, job.Sent)
	require.Eventually(t, func() bool {
		seen := map[string]bool{}
		for _, a := range target.arrivals() {
			seen[a.id] = true
		}
		return len(seen) == len(ids)
	}, 10*time.Second, 20*time.Millisecond, "every event of the window arrives")
}
