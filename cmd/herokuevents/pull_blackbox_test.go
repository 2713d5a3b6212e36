package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pull sends a request to the subscribe URL as an app does (Basic auth
// from the userinfo).
func (s *server) pull(t *testing.T, method, rel, body string) (int, []byte) {
	t.Helper()
	u, err := url.Parse(s.vars["HEROKUEVENTS_SUBSCRIBE_URL"])
	require.NoError(t, err)
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequest(method, u.String()+rel, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, b
}

func batchIDs(t *testing.T, b []byte) []string {
	t.Helper()
	var evs []struct {
		ID   string          `json:"id"`
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(b, &evs), string(b))
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// kill -9 loses no pulled but unacknowledged event: leased before the
// crash, each comes back after its lease in the restarted process.
func TestBlackBoxPullSurvivesKill9(t *testing.T) {
	dataDir := t.TempDir()
	srv := serve(t, dataDir)
	require.NotEmpty(t, srv.vars["HEROKUEVENTS_SUBSCRIBE_URL"], "serve prints HEROKUEVENTS_SUBSCRIBE_URL")
	_, errs := srv.mustCLI(t, "subscriptions:webhook:create", "orders", "--pull", "-a", "my-app")
	assert.Contains(t, errs, "Creating subscription orders... done")

	var published []string
	for i := range 5 {
		status, id := srv.publish(t, "orders", fmt.Sprintf(`{"n":%d}`, i))
		require.Equal(t, http.StatusAccepted, status)
		published = append(published, id)
	}
	var leased []string
	deadline := time.Now().Add(20 * time.Second)
	for len(leased) < len(published) && time.Now().Before(deadline) {
		status, b := srv.pull(t, http.MethodGet, "/orders?max=10&visibility=3s&wait=1s", "")
		require.Equal(t, http.StatusOK, status, string(b))
		leased = append(leased, batchIDs(t, b)...)
	}
	require.ElementsMatch(t, published, leased, "every event pulled once")
	status, b := srv.pull(t, http.MethodDelete, "/orders/"+leased[0], "")
	require.Equal(t, http.StatusNoContent, status, string(b))

	require.NoError(t, srv.cmd.Process.Signal(syscall.SIGKILL))
	_ = srv.cmd.Wait()
	srv = serve(t, dataDir)

	out, _ := srv.mustCLI(t, "subscriptions:info", "orders", "-a", "my-app")
	assert.Contains(t, out, "Pull Backlog: 4 events")
	var back []string
	deadline = time.Now().Add(20 * time.Second)
	for len(back) < 4 && time.Now().Before(deadline) {
		status, b := srv.pull(t, http.MethodGet, "/orders?max=10&wait=5s", "")
		require.Equal(t, http.StatusOK, status, string(b))
		back = append(back, batchIDs(t, b)...)
	}
	assert.ElementsMatch(t, leased[1:], back, "the unacknowledged events come back after their lease, the acknowledged one does not")
	ack, err := json.Marshal(map[string]any{"ids": back})
	require.NoError(t, err)
	status, b = srv.pull(t, http.MethodPost, "/orders/ack", string(ack))
	require.Equal(t, http.StatusOK, status, string(b))
	status, b = srv.pull(t, http.MethodGet, "/orders", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, b, "all acknowledged: nothing pending")
}
