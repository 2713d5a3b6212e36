package awslocal_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
)

// TestLocalStack checks what a long-running local stack uses: the HTTP API
// served on another listener, function output followed by offset, and the
// schedules ticking on their own at contiguous times.
func TestLocalStack(t *testing.T) {
	t.Parallel()
	st := awslocaltest.New(t, awslocal.Options{Functions: []string{"ApiFunction", "GenerateFunction", "SfsubscribeFunction"}})

	t.Run("handler on another listener", func(t *testing.T) {
		srv := httptest.NewServer(st.Handler())
		defer srv.Close()
		for path, want := range map[string]int{"/nowhere": http.StatusNotFound, "/heroku/resources": http.StatusUnauthorized} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, want, resp.StatusCode, path)
		}
	})

	t.Run("schedules", func(t *testing.T) {
		const interval = 300 * time.Millisecond
		ctx, cancel := context.WithCancel(t.Context())
		var mu sync.Mutex
		ticks := map[string][]time.Time{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			st.RunSchedules(ctx, interval, func(id string, at time.Time, err error) {
				assert.NoError(t, err, id)
				mu.Lock()
				defer mu.Unlock()
				ticks[id] = append(ticks[id], at)
				if len(ticks["GenerateFunction"]) >= 3 && len(ticks["SfsubscribeFunction"]) >= 3 {
					cancel()
				}
			})
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cancel()
			<-done
			t.Fatal("RunSchedules: fewer than 3 ticks per function in 20s")
		}
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, ticks, 2, "only the running scheduled functions tick")
		for id, ats := range ticks {
			for i := 1; i < len(ats); i++ {
				assert.Equal(t, interval, ats[i].Sub(ats[i-1]), "%s tick %d", id, i)
			}
		}
	})

	t.Run("logs from an offset", func(t *testing.T) {
		all := st.Logs("GenerateFunction")
		require.NotEmpty(t, all)
		head, off := st.LogsFrom("GenerateFunction", 0)
		assert.Equal(t, all, head[:len(all)])
		_, err := st.Tick(t.Context(), "GenerateFunction", time.Now())
		require.NoError(t, err)
		more, end := st.LogsFrom("GenerateFunction", off)
		assert.Equal(t, st.Logs("GenerateFunction")[off:end], more)
		rest, same := st.LogsFrom("GenerateFunction", end)
		assert.Empty(t, rest)
		assert.Equal(t, end, same)
		none, _ := st.LogsFrom("NoSuchFunction", 0)
		assert.Empty(t, none)
	})
}
