package filter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/memrecent"
)

// keeper records what the filter keeps for the dry-run.
type keeper struct {
	mu   sync.Mutex
	kept []string // tenant/subscription/event id
}

func (k *keeper) Keep(tenant, subscription string, ev event.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kept = append(k.kept, tenant+"/"+subscription+"/"+ev.ID)
}

// TestKeepsRecentEvents: every decoded event is kept for streams:test,
// whatever its streams decide (passed, dropped, failed, no stream at all);
// a poison message is not.
func TestKeepsRecentEvents(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	k := &keeper{}
	h, err := filter.New(filter.Options{Store: st, Delivery: &recorder{}, Recent: k})
	require.NoError(t, err)
	res := h.HandleBatch(t.Context(), []queue.Message{
		routed(t, "1", "sub-1", `{"a":1}`),
		routed(t, "2", "sub-none", `{"a":2}`),
		{ID: "poison", Body: []byte(`{`)},
	})
	require.Len(t, res.Failures, 1)
	assert.Equal(t, "poison", res.Failures[0].ID)
	assert.Equal(t, []string{tenant + "/sub-1/ev-1", tenant + "/sub-none/ev-2"}, k.kept)
}

// BenchmarkKeepOverhead compares the routing of a batch of 10 events
// through a stream with a filter, without and with the recent events kept
// (through a recent.Writer on a memory store): what keeping costs the hot
// path.
func BenchmarkKeepOverhead(b *testing.B) {
	for _, keep := range []bool{false, true} {
		b.Run(map[bool]string{false: "without", true: "with-writer"}[keep], func(b *testing.B) {
			st := memstore.New()
			defer st.Close()
			s := config.Stream{ID: "s-1", Subscription: "sub-1", Publication: "pub-1", Filter: `root = if this.n % 2 == 0 { deleted() } else { this }`}
			_, err := config.Insert(b.Context(), st, config.Item{Tenant: tenant, Kind: config.KindStream, ID: s.ID, Name: config.StreamName(s.Subscription, s.Publication)}, s)
			require.NoError(b, err)
			o := filter.Options{Store: st, Delivery: discardSender{}, Logger: slog.New(slog.DiscardHandler)}
			var w *recent.Writer
			if keep {
				w = recent.NewWriter(memrecent.New(recent.Limits{}), recent.WriterOptions{Buffer: 1 << 16})
				defer w.Close(b.Context())
				o.Recent = w
			}
			h, err := filter.New(o)
			require.NoError(b, err)
			var msgs []queue.Message
			for i := range 10 {
				body, err := json.Marshal(event.Routed{Tenant: tenant, Subscription: "sub-1", Event: event.Event{
					ID: fmt.Sprint("ev-", i), Source: "/s", Type: "t", Data: json.RawMessage(fmt.Sprintf(`{"n":%d,"payload":"0123456789abcdef0123456789abcdef"}`, i))}})
				require.NoError(b, err)
				msgs = append(msgs, queue.Message{ID: fmt.Sprint(i), Body: body})
			}
			b.ResetTimer()
			for b.Loop() {
				h.HandleBatch(b.Context(), msgs)
			}
			b.StopTimer()
			if w != nil {
				require.NoError(b, w.Flush(b.Context()))
				b.ReportMetric(float64(w.Dropped()), "dropped")
			}
		})
	}
}

type discardSender struct{}

func (discardSender) Send(context.Context, ...queue.Message) error { return nil }
