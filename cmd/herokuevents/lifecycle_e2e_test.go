package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// receiver is a webhook endpoint on loopback: it consents to the CloudEvents
// handshake, answers deliveries with the status of the moment and records
// each request.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	status int
	got    []received
}

type received struct {
	id     string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			w.Header().Set("WebHook-Allowed-Origin", r.Header.Get("WebHook-Request-Origin"))
			w.WriteHeader(http.StatusOK)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var ce struct{ ID string }
		_ = json.Unmarshal(b, &ce)
		rc.mu.Lock()
		rc.got = append(rc.got, received{id: ce.ID, header: r.Header.Clone(), body: b})
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, g := range rc.got {
		out = append(out, g.id)
	}
	return out
}

func (rc *receiver) last() received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.got[len(rc.got)-1]
}

// startEmbedded runs the embedded mode for app my-app, allowed to reach
// loopback, and returns a runner of CLI commands against it.
func startEmbedded(t *testing.T) (*embedded.Server, func(args ...string) result) {
	t.Helper()
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: t.TempDir(), App: testApp,
		AllowEgress: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:      slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	apiURL := srv.Var("HEROKUEVENTS_API_URL")
	return srv, func(args ...string) result {
		t.Helper()
		return run(t, nil, append(args, "-a", testApp, "--api-url", apiURL)...)
	}
}

func must(t *testing.T, r result) result {
	t.Helper()
	require.NoError(t, r.err, "stderr: %s", r.stderr)
	return r
}

// TestLifecycleGoneUpdateEnableRedrive is the acceptance of the publication
// lifecycle: a 410 disables the publication and publications:info says
// why; publications:update -u and publications:enable make the next event
// go to the new URL; the dead letter of the 410, once the publication was
// destroyed and created again under its name, is redriven to the new one.
func TestLifecycleGoneUpdateEnableRedrive(t *testing.T) {
	gone := newReceiver(t, http.StatusGone)
	fixed := newReceiver(t, http.StatusNoContent)
	srv, cli := startEmbedded(t)
	publishURL := srv.Var("HEROKUEVENTS_PUBLISH_URL")

	must(t, cli("publications:webhook:create", "hook", "-u", gone.srv.URL+"/events"))
	first := publishTo(t, publishURL, "hook", `{"n":1}`)
	var info string
	require.Eventually(t, func() bool {
		info = must(t, cli("publications:info", "hook")).stdout
		return strings.Contains(info, "Disabled:")
	}, 10*time.Second, 50*time.Millisecond, "a 410 disables the publication")
	assert.Regexp(t, `(?m)^Disabled: +endpoint answered 410 Gone at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`, info)
	assert.Equal(t, []string{first}, gone.ids())

	r := must(t, cli("publications:update", "hook", "-u", fixed.srv.URL+"/events"))
	assert.Equal(t, "Updating publication hook... done\n", r.stderr)
	r = must(t, cli("publications:enable", "hook"))
	assert.Contains(t, r.stderr, "Enabling publication hook... done\n")
	info = must(t, cli("publications:info", "hook")).stdout
	assert.NotContains(t, info, "Disabled")
	assert.Contains(t, info, fixed.srv.URL+"/events")

	second := publishTo(t, publishURL, "hook", `{"n":2}`)
	require.Eventually(t, func() bool { return len(fixed.ids()) == 1 }, 10*time.Second, 20*time.Millisecond, "the next event is delivered")
	assert.Equal(t, []string{second}, fixed.ids())
	assert.Equal(t, []string{first}, gone.ids(), "nothing more to the old URL")

	// The 410's event is a dead letter of the publication as it was.
	var dead []deadLetter
	require.NoError(t, json.Unmarshal([]byte(must(t, cli("deadletters", "--json")).stdout), &dead))
	require.Len(t, dead, 1)
	assert.Equal(t, first, dead[0].EventID)
	assert.Equal(t, "hook", dead[0].Target)

	// Destroyed and created again: a new id, the same name.
	must(t, cli("publications:destroy", "hook", "-c", testApp))
	must(t, cli("publications:webhook:create", "hook", "-u", fixed.srv.URL+"/events"))
	require.NoError(t, json.Unmarshal([]byte(must(t, cli("deadletters", "--json")).stdout), &dead))
	require.Len(t, dead, 1)
	assert.Equal(t, "hook", dead[0].Target, "the dead letter names the publication it follows")
	r = must(t, cli("deadletters:redrive"))
	assert.Equal(t, "Redriving 1 dead letter... done\n", r.stderr)
	require.Eventually(t, func() bool { return len(fixed.ids()) == 2 }, 10*time.Second, 20*time.Millisecond,
		"the dead letter is redriven to the new publication")
	assert.Equal(t, []string{second, first}, fixed.ids())
	assert.Equal(t, "No dead letters for app my-app.\n", must(t, cli("deadletters")).stdout)
}

// TestLifecycleSecretRotation is the acceptance of secret rotation: during
// the overlap, a receiver verifying with the old secret and one verifying
// with the new both accept each request, checked with the Standard Webhooks
// reference library (github.com/standard-webhooks/standard-webhooks); once
// the overlap is over only the new secret verifies.
func TestLifecycleSecretRotation(t *testing.T) {
	rc := newReceiver(t, http.StatusNoContent)
	srv, cli := startEmbedded(t)
	publishURL := srv.Var("HEROKUEVENTS_PUBLISH_URL")
	secretLine := regexp.MustCompile(`Signing secret \(shown once\): (whsec_\S+)`)
	secretOf := func(out string) string {
		t.Helper()
		m := secretLine.FindStringSubmatch(out)
		require.NotNil(t, m, "no signing secret in %q", out)
		return m[1]
	}
	verifier := func(secret string) *standardwebhooks.Webhook {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		return wh
	}
	deliver := func(body string) received {
		t.Helper()
		id := publishTo(t, publishURL, "hook", body)
		require.Eventually(t, func() bool { ids := rc.ids(); return len(ids) > 0 && ids[len(ids)-1] == id },
			10*time.Second, 20*time.Millisecond)
		return rc.last()
	}

	oldSecret := secretOf(must(t, cli("publications:webhook:create", "hook", "-u", rc.srv.URL+"/events")).stdout)
	oldReceiver := verifier(oldSecret)
	before := deliver(`{"n":0}`)
	require.NoError(t, oldReceiver.Verify(before.body, before.header))

	r := must(t, cli("publications:webhook:rotate-secret", "hook", "--overlap", "1h"))
	newSecret := secretOf(r.stdout)
	assert.NotEqual(t, oldSecret, newSecret)
	assert.Regexp(t, `The previous secret keeps signing until \S+Z \(webhook-signature carries both\)\.`, r.stdout)
	assert.Contains(t, must(t, cli("publications:info", "hook")).stdout, "Previous Secret:")
	newReceiver := verifier(newSecret)

	during := deliver(`{"n":1}`)
	assert.Len(t, strings.Split(during.header.Get("webhook-signature"), " "), 2, "two signatures")
	assert.NoError(t, oldReceiver.Verify(during.body, during.header), "a receiver with the old secret accepts")
	assert.NoError(t, newReceiver.Verify(during.body, during.header), "a receiver with the new secret accepts")

	// Another rotation without overlap: only the newest secret signs.
	newest := secretOf(must(t, cli("publications:webhook:rotate-secret", "hook", "--overlap", "0")).stdout)
	after := deliver(`{"n":2}`)
	assert.NoError(t, verifier(newest).Verify(after.body, after.header))
	assert.ErrorIs(t, newReceiver.Verify(after.body, after.header), standardwebhooks.ErrNoMatchingSignature)
	assert.ErrorIs(t, oldReceiver.Verify(after.body, after.header), standardwebhooks.ErrNoMatchingSignature)
}

// TestLifecyclePauseResume: while paused, events wait (nothing delivered,
// nothing dead-lettered); on resume they are delivered at once.
func TestLifecyclePauseResume(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		queue  string
		marked int // messages marked held for the publication
	}{
		{"unordered", nil, embedded.DeliveryQueue, 3},
		// An ordered publication's first event is held in its place and
		// the other two are parked behind it: the resume wakes it all the
		// same (it waited out its 5-10 s hold before).
		{"ordered", []string{"--ordered"}, embedded.OrderedQueue, 1},
	} {
		t.Run(tt.name, func(t *testing.T) { testPauseResume(t, tt.queue, tt.marked, tt.args...) })
	}
}

func testPauseResume(t *testing.T, queueName string, marked int, createArgs ...string) {
	rc := newReceiver(t, http.StatusNoContent)
	srv, cli := startEmbedded(t)
	publishURL := srv.Var("HEROKUEVENTS_PUBLISH_URL")
	must(t, cli(append([]string{"publications:webhook:create", "hook", "-u", rc.srv.URL + "/events"}, createArgs...)...))
	r := must(t, cli("publications:pause", "hook"))
	assert.Equal(t, "Pausing publication hook... done\nEvents for hook wait until publications:resume hook.\n", r.stderr)
	assert.Regexp(t, `(?m)^Paused: +since \S+Z$`, must(t, cli("publications:info", "hook")).stdout)

	var ids []string
	for _, body := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		ids = append(ids, publishTo(t, publishURL, "hook", body))
	}
	// Held: the three wait (none visible) and the holds are settled, each
	// marked with the publication the resume wakes.
	held := func() bool {
		t.Helper()
		q := srv.Queue(queueName)
		s, err := q.Stats(t.Context())
		require.NoError(t, err)
		msgs, err := q.List(t.Context(), 10)
		require.NoError(t, err)
		n := 0
		for _, m := range msgs {
			if m.Attributes[queue.AttrHeld] != "" {
				n++
			}
		}
		return s.Visible == 0 && s.Delayed+s.InFlight == 3 && n == marked
	}
	require.Eventually(t, held, 10*time.Second, 20*time.Millisecond, "the three are held")
	assert.Empty(t, rc.ids(), "nothing is attempted while paused")
	assert.Equal(t, "No dead letters for app my-app.\n", must(t, cli("deadletters")).stdout)

	start := time.Now()
	must(t, cli("publications:resume", "hook"))
	require.Eventually(t, func() bool { return len(rc.ids()) == 3 }, 5*time.Second, 20*time.Millisecond, "delivered on resume")
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.ElementsMatch(t, ids, rc.ids())
	assert.NotContains(t, must(t, cli("publications:info", "hook")).stdout, "Paused")
}

// TestLifecycleNamesAreExclusive: a publication cannot take the name of an
// inbound subscription, which would capture every POST to it.
func TestLifecycleNamesAreExclusive(t *testing.T) {
	rc := newReceiver(t, http.StatusNoContent)
	_, cli := startEmbedded(t)
	must(t, cli("subscriptions:webhook:create", "inbound"))
	r := cli("publications:webhook:create", "inbound", "-u", rc.srv.URL)
	require.Error(t, r.err)
	assert.Contains(t, r.err.Error(), "Name inbound is taken by the subscription inbound")
	assert.Contains(t, must(t, cli("publications")).stdout, "No Heroku Events publications")
}
