package filter_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config/memstore"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/queue"
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
