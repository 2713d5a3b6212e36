package sink_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/sink"
)

func TestObserve(t *testing.T) {
	body := "  line one\n" + strings.Repeat("é", 700)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	client := sink.NewEgress([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}).Client(5 * time.Second)

	t.Run("a response", func(t *testing.T) {
		ctx, seen := sink.Observe(t.Context())
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
		require.NoError(t, err)
		r := sink.Do(client, req)
		require.True(t, seen.Seen)
		assert.Equal(t, r, seen.Result)
		assert.Equal(t, 500, seen.Result.Status)
		assert.LessOrEqual(t, len(seen.Body), sink.BodySize)
		assert.True(t, strings.HasPrefix(seen.Body, "  line one\n"), "the body as received, not the excerpt")
		assert.LessOrEqual(t, len(r.Excerpt), sink.ExcerptSize, "the excerpt keeps its size")
		assert.Positive(t, seen.Result.Latency)
	})
	t.Run("no response", func(t *testing.T) {
		ctx, seen := sink.Observe(t.Context())
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
		require.NoError(t, err)
		sink.Do(client, req)
		require.True(t, seen.Seen)
		assert.Zero(t, seen.Result.Status)
		assert.Equal(t, sink.Retry, seen.Result.Class)
		assert.Empty(t, seen.Body)
	})
	t.Run("without Observe nothing is kept", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, nil)
		require.NoError(t, err)
		assert.Equal(t, 500, sink.Do(client, req).Status)
	})
}
