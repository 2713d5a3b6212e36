package embedded_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/order/ordertest"
)

// publishOrdered publishes a structured CloudEvent to name.
func publishOrdered(srv *embedded.Server, name string, body []byte) error {
	u, err := url.Parse(srv.Var("HEROKUEVENTS_PUBLISH_URL"))
	if err != nil {
		return err
	}
	pass, _ := u.User.Password()
	user := u.User.Username()
	u.User = nil
	req, err := http.NewRequest(http.MethodPost, u.String()+"/"+name, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/cloudevents+json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusAccepted {
		return fmt.Errorf("publish: %d %s", res.StatusCode, b)
	}
	return nil
}

// TestOrderedLanes is the acceptance test of ordered lanes in the
// embedded mode: 1,000 CDC-like events over 50 record ids, published
// through a subscription to an ordered publication (default key: the
// record id) whose real HTTP receiver fails one record's events for 30 s.
// Every record's events arrive in publish order, the failing record's
// only after it recovered, and the other 49 records' events each within
// 1 s of their publish (the retry backoff is cut to at most 1 s, so the
// failing head is retried about every 200 ms throughout).
func TestOrderedLanes(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 30 s")
	}
	const (
		keys, perKey = 50, 20
		failFor      = 30 * time.Second
	)
	// A retry backoff of up to 1 s (full jitter from 200 ms): the failing
	// head is retried about every half second and goes within a second of
	// its key's recovery, its attempts (about 60) within the default limit.
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 200 * time.Millisecond, Cap: time.Second}, DeliveryTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	rec := ordertest.NewReceiver(t, ordertest.Key(7), failFor)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "cdc"}, nil))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "accounts", "url": rec.URL + "/cdc", "source": "cdc", "ordered": true}, nil))

	var ks []string
	for i := range keys {
		ks = append(ks, ordertest.Key(i))
	}
	w := ordertest.Publish(t, ks, perKey, 10, 20*time.Millisecond, func(body []byte) error { return publishOrdered(srv, "cdc", body) })
	w.Check(t, rec, failFor+30*time.Second, time.Second)
}
