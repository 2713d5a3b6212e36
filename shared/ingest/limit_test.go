package ingest_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/backlog"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/plan"
)

// limited is an ingest handler serving tenants a (plan basic) and b (plan
// premium), each with a publication "out", on a clock the test moves.
type limited struct {
	h       *ingest.Handler
	st      config.Store
	now     atomic.Int64 // unix nanos
	backlog *backlog.Counter
}

func setupLimited(t *testing.T, maxBacklog int64) *limited {
	t.Helper()
	return setupLimitedOn(t, maxBacklog, nil)
}

// setupLimitedOn is setupLimited on the store wrap makes of a memstore
// (when not nil), which the test writes through too.
func setupLimitedOn(t *testing.T, maxBacklog int64, wrap func(config.Store) config.Store) *limited {
	t.Helper()
	var st config.Store = memstore.New()
	t.Cleanup(func() { st.Close() })
	if wrap != nil {
		st = wrap(st)
	}
	l := &limited{st: st, backlog: &backlog.Counter{}}
	l.now.Store(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC).UnixNano())
	for _, tn := range []struct{ id, plan string }{{"a", "basic"}, {"b", "premium"}} {
		sum := sha256.Sum256([]byte("key-" + tn.id))
		_, err := config.Insert(t.Context(), st, config.Item{Kind: config.KindTenant, ID: tn.id, Name: "app-" + tn.id},
			config.Tenant{ID: tn.id, App: "app-" + tn.id, Plan: tn.plan, PublishKeyHash: hex.EncodeToString(sum[:])})
		require.NoError(t, err)
		_, err = config.Insert(t.Context(), st, config.Item{Tenant: tn.id, Kind: config.KindPublication, ID: "pub-" + tn.id, Name: "out"},
			config.Publication{ID: "pub-" + tn.id, Name: "out", Platform: config.PlatformWebhook})
		require.NoError(t, err)
	}
	h, err := ingest.New(ingest.Options{Store: st, Ingest: &recorder{}, Delivery: &recorder{},
		Now: func() time.Time { return time.Unix(0, l.now.Load()) }, Backlog: l.backlog, MaxBacklog: maxBacklog})
	require.NoError(t, err)
	l.h = h
	return l
}

func (l *limited) publish(tenant string) (int, http.Header, string) {
	w := post(l.h, "out", tenant, "key-"+tenant, "application/json", payload, nil)
	return w.Code, w.Header(), w.Body.String()
}

// burst publishes n events of tenant and returns how many were accepted
// before the first refusal, and that refusal.
func (l *limited) burst(tenant string, n int) (accepted, status int, hdr http.Header, body string) {
	for range n {
		code, h, b := l.publish(tenant)
		if code != http.StatusAccepted {
			return accepted, code, h, b
		}
		accepted++
	}
	return accepted, http.StatusAccepted, nil, ""
}

func (l *limited) advance(d time.Duration) { l.now.Add(int64(d)) }

func TestRateLimitPerTenant(t *testing.T) {
	l := setupLimited(t, 0)
	basic := plan.For("basic")

	accepted, status, hdr, body := l.burst("a", basic.Burst+10)
	assert.Equal(t, basic.Burst, accepted, "tenant a on plan basic gets its burst")
	require.Equal(t, http.StatusTooManyRequests, status, body)
	assert.Equal(t, "1", hdr.Get("Retry-After"), "one event of 50/s is due in 20 ms: Retry-After is at least a second")
	var e ingest.Error
	require.NoError(t, json.Unmarshal([]byte(body), &e))
	assert.Equal(t, "rate_limited", e.ID)
	assert.Contains(t, e.Message, "basic")

	t.Run("another tenant is not slowed", func(t *testing.T) {
		accepted, status, _, body := l.burst("b", 2*basic.Burst)
		assert.Equal(t, 2*basic.Burst, accepted, "tenant b (premium) while a is refused: %d %s", status, body)
	})
	t.Run("the rate refills", func(t *testing.T) {
		l.advance(time.Second)
		accepted, status, _, _ := l.burst("a", basic.Burst)
		assert.Equal(t, int(basic.Rate), accepted, "a second of plan basic's rate")
		assert.Equal(t, http.StatusTooManyRequests, status)
	})
	t.Run("the limit follows a plan change", func(t *testing.T) {
		_, err := config.Modify(t.Context(), l.st, "", config.KindTenant, "a", 3, func(r *config.Record[config.Tenant]) (bool, error) {
			r.Value.Plan = "premium"
			return true, nil
		})
		require.NoError(t, err)
		l.publish("a") // the new plan counts from the first publish that sees it
		l.advance(time.Second)
		accepted, _, _, _ := l.burst("a", 3*basic.Burst)
		assert.Equal(t, 3*basic.Burst, accepted, "on premium a second refills far more than plan basic's %v", basic.Rate)
	})
}

func TestBacklogBound(t *testing.T) {
	l := setupLimited(t, 1000)
	basic := plan.For("basic")

	t.Run("a tenant at its plan's backlog gets 429", func(t *testing.T) {
		l.backlog.Add("a", basic.Backlog)
		code, hdr, body := l.publish("a")
		require.Equal(t, http.StatusTooManyRequests, code, body)
		assert.Equal(t, "1", hdr.Get("Retry-After"))
		assert.Contains(t, body, "backlog_full")
		l.backlog.Add("a", -basic.Backlog)
		code, _, body = l.publish("a")
		assert.Equal(t, http.StatusAccepted, code, "drained: %s", body)
	})
	t.Run("over capacity, the tenant with the backlog gets 503, the other 202", func(t *testing.T) {
		l.backlog.Add("b", 990)
		l.backlog.Add("a", 10)
		code, hdr, body := l.publish("b")
		require.Equal(t, http.StatusServiceUnavailable, code, body)
		assert.Equal(t, "1", hdr.Get("Retry-After"))
		assert.Contains(t, body, "over_capacity")
		code, _, body = l.publish("a")
		assert.Equal(t, http.StatusAccepted, code, "a is under its fair share: %s", body)
	})
	t.Run("far over capacity, everyone waits", func(t *testing.T) {
		l.backlog.Add("b", 600)
		code, _, body := l.publish("a")
		assert.Equal(t, http.StatusServiceUnavailable, code, body)
	})
}
