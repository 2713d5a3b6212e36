package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/embedded"
	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitestore"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/pubsub"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

const createFilter = `root = if this.ChangeEventHeader.changeType == "CREATE" { this } else { deleted() }`

// sfWorld is the stand-in org and the environment that points the embedded
// mode at it, as `eval $(herokuevents dev:salesforce)` would.
type sfWorld struct {
	org *standin.Org
	dir string
}

func newSFWorld(t *testing.T) *sfWorld {
	t.Helper()
	org, err := standin.Start(standin.Options{Keepalive: 100 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { org.Close() })
	t.Setenv(sfsub.EnvPubSubEndpoint, org.PubSubEndpoint())
	t.Setenv(sfsub.EnvCACert, org.CACertFile())
	t.Setenv(authorization.EnvClientID, org.ClientID())
	t.Setenv(authorization.EnvClientSecret, org.ClientSecret())
	return &sfWorld{org: org, dir: t.TempDir()}
}

func (w *sfWorld) start(t *testing.T) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(t.Context(), embedded.Options{
		Addr: "127.0.0.1:0", DataDir: w.dir, App: "my-app", AllowEgress: loopback,
		Backoff: deliver.Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// connect creates the authorization example-org with the web flow, following
// the authorize redirect back to the callback like a browser.
func (w *sfWorld) connect(t *testing.T, srv *embedded.Server) {
	t.Helper()
	var created struct {
		Extra struct {
			RedirectURI string `json:"redirect_uri"`
		} `json:"extra"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/salesforce/authorizations",
		map[string]any{"org_name": "example-org", "login_url": w.org.LoginURL()}, &created))
	require.NotEmpty(t, created.Extra.RedirectURI)
	res, err := http.Get(created.Extra.RedirectURI)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	var a struct{ Status string }
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/authorizations/example-org", nil, &a))
	require.Equal(t, config.AuthConnected, a.Status)
}

type subView struct {
	ID    string `json:"id"`
	State *struct {
		Status       string    `json:"status"`
		LastError    string    `json:"last_error"`
		CheckpointAt time.Time `json:"checkpoint_at"`
	} `json:"state"`
}

func subState(t *testing.T, srv *embedded.Server, name string) subView {
	t.Helper()
	var v subView
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/subscriptions/"+name, nil, &v))
	if v.State == nil {
		v.State = &struct {
			Status       string    `json:"status"`
			LastError    string    `json:"last_error"`
			CheckpointAt time.Time `json:"checkpoint_at"`
		}{}
	}
	return v
}

func waitActive(t *testing.T, srv *embedded.Server, name string) subView {
	t.Helper()
	require.Eventually(t, func() bool { return subState(t, srv, name).State.Status == sfsub.StatusActive },
		10*time.Second, 20*time.Millisecond, "subscription %s becomes active", name)
	return subState(t, srv, name)
}

// received returns the CloudEvents the hook got, by id.
func (h *hook) received() map[string]map[string]json.RawMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]map[string]json.RawMessage{}
	for id, b := range h.bodies {
		var ce map[string]json.RawMessage
		if json.Unmarshal(b, &ce) == nil {
			out[id] = ce
		}
	}
	return out
}

func account(i int, change string) string {
	return fmt.Sprintf(`{"ChangeEventHeader":{"changeType":%q,"recordIds":["001xx00000000%02dAAA"]},"Name":"Acme %d"}`, change, i, i)
}

func TestSalesforceEventsThroughFilterToWebhook(t *testing.T) {
	w := newSFWorld(t)
	srv := w.start(t)
	w.connect(t, srv)
	h := newHook(t, ok)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "accountCreated", "url": h.URL + "/hook"}, nil))
	var cdc, pe subView
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/salesforce/subscriptions",
		map[string]any{"name": "accountChange", "event": standin.AccountChangeTopic, "org_name": "example-org",
			"target": "accountCreated", "filter": createFilter}, &cdc))
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/salesforce/subscriptions",
		map[string]any{"name": "systemStatus", "event": standin.SystemStatusTopic, "org_name": "example-org",
			"target": "accountCreated", "filter": createFilter}, &pe))
	waitActive(t, srv, "accountChange")
	waitActive(t, srv, "systemStatus")
	var apiErr struct{ ID, Message string }
	assert.Equal(t, http.StatusUnprocessableEntity, call(t, srv, "POST", "/platforms/salesforce/subscriptions",
		map[string]any{"name": "x", "event": standin.AccountChangeTopic, "org_name": "other-org"}, &apiErr))
	assert.Contains(t, apiErr.Message, "org_name other-org: no such authorization")
	assert.Equal(t, http.StatusUnprocessableEntity, call(t, srv, "POST", "/platforms/salesforce/publications",
		map[string]any{"name": "x", "event": standin.AccountChangeTopic, "org_name": "example-org"}, &apiErr))
	assert.Contains(t, apiErr.Message, "change events cannot be published")

	var creates []*standin.EmitResult
	for i, change := range []string{"CREATE", "UPDATE", "CREATE", "DELETE"} {
		r, err := w.org.Emit(standin.AccountChangeTopic, []byte(account(i, change)))
		require.NoError(t, err)
		if change == "CREATE" {
			creates = append(creates, r)
		}
	}
	_, err := w.org.Emit(standin.SystemStatusTopic, []byte(`{"Context__c":"up"}`))
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(h.received()) >= 2 }, 10*time.Second, 20*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // anything filtered out would have arrived by now
	got := h.received()
	require.Len(t, got, 2, "exactly the CREATE events")
	for i, r := range creates {
		id := sfsub.EventID(cdc.ID, standin.AccountChangeTopic, r.ReplayID)
		ce, ok := got[id]
		require.True(t, ok, "CREATE %d delivered with its stable id", i)
		assert.JSONEq(t, `"/data/AccountChangeEvent"`, string(ce["subject"]))
		assert.JSONEq(t, `"com.salesforce.cdc"`, string(ce["type"]))
		assert.JSONEq(t, `"/tenants/`+tenantOf(t, srv)+`/subscriptions/accountChange"`, string(ce["source"]))
		assert.JSONEq(t, string(r.Data), string(ce["data"]), "data is the union-wrapped Avro JSON")
		assert.Contains(t, string(ce["data"]), fmt.Sprintf(`"Name":{"string":"Acme %d"}`, i*2))
		assert.JSONEq(t, `"Name"`, string(ce[sfsub.ExtChangedFields]), "decoded bitmap as an extension attribute")
	}

	t.Run("publication to a platform event reaches a Pub/Sub subscriber", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/salesforce/publications",
			map[string]any{"name": "statusOut", "event": standin.SystemStatusTopic, "org_name": "example-org"}, nil))
		id := publish(t, srv, "statusOut", `{"CreatedById":"005am000004KT8PAAW","Context__c":{"string":"Quotes Generated: 3"}}`)

		client, err := pubsub.Dial(t.Context(), w.org.PubSubEndpoint(), pubsub.WithCAFile(w.org.CACertFile()),
			pubsub.WithSession(salesforce.StaticSession(w.org.IssueToken().Session())))
		require.NoError(t, err)
		defer client.Close()
		sub, err := client.Subscribe(t.Context(), pubsub.SubscribeRequest{Topic: standin.SystemStatusTopic, Replay: pubsub.ReplayEarliest})
		require.NoError(t, err)
		defer sub.Close()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			b, err := sub.Recv()
			require.NoError(t, err)
			for _, ev := range b.Events {
				if ev.ID != id {
					continue
				}
				var data map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(ev.Data, &data))
				assert.JSONEq(t, `{"string":"Quotes Generated: 3"}`, string(data["Context__c"]))
				assert.JSONEq(t, `"005am000004KT8PAAW"`, string(data["CreatedById"]))
				assert.NotEmpty(t, string(data["CreatedDate"]))
				return
			}
		}
		t.Fatalf("published event %s never reached the subscriber", id)
	})
}

func tenantOf(t *testing.T, srv *embedded.Server) string {
	t.Helper()
	_, after, ok := strings.Cut(srv.Var("HEROKUEVENTS_API_URL"), "/tenants/")
	require.True(t, ok)
	return strings.Trim(after, "/")
}

// refreshToken reads the stored refresh token of example-org (the test plays
// an admin revoking the app's access in Salesforce).
func refreshToken(t *testing.T, srv *embedded.Server, dir string) string {
	t.Helper()
	r, err := config.Load[config.Authorization](t.Context(), srv.Store(), tenantOf(t, srv), config.KindAuthorization, "example-org")
	require.NoError(t, err)
	sealer, err := filesealer.Open(filepath.Join(dir, "seal.key"))
	require.NoError(t, err)
	raw, err := sealer.Open(t.Context(), r.Value.TokenSealed)
	require.NoError(t, err)
	var tok salesforce.Token
	require.NoError(t, json.Unmarshal(raw, &tok))
	require.NotEmpty(t, tok.RefreshToken)
	return tok.RefreshToken
}

func TestSalesforceResumeExpiryCorruptionAndRevocation(t *testing.T) {
	w := newSFWorld(t)
	srv := w.start(t)
	w.connect(t, srv)
	h := newHook(t, ok)
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "all", "url": h.URL + "/hook"}, nil))
	var sub subView
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/salesforce/subscriptions",
		map[string]any{"name": "accountChange", "event": standin.AccountChangeTopic, "org_name": "example-org", "target": "all"}, &sub))
	waitActive(t, srv, "accountChange")

	var emitted []*standin.EmitResult
	emit := func(from, to int) {
		for i := from; i < to; i++ {
			r, err := w.org.Emit(standin.AccountChangeTopic, []byte(account(i, "CREATE")))
			require.NoError(t, err)
			emitted = append(emitted, r)
		}
	}
	delivered := func(rs []*standin.EmitResult) func() bool {
		return func() bool {
			for _, r := range rs {
				if h.attemptsOf(sfsub.EventID(sub.ID, standin.AccountChangeTopic, r.ReplayID)) == 0 {
					return false
				}
			}
			return true
		}
	}

	// Resume: stop the process mid-stream, emit more, restart.
	emit(0, 3)
	require.Eventually(t, delivered(emitted), 10*time.Second, 20*time.Millisecond)
	require.NoError(t, srv.Close())
	emit(3, 6)
	srv = w.start(t)
	require.Eventually(t, delivered(emitted), 10*time.Second, 20*time.Millisecond, "none skipped")
	for _, r := range emitted {
		id := sfsub.EventID(sub.ID, standin.AccountChangeTopic, r.ReplayID)
		assert.Equal(t, 1, h.attemptsOf(id), "delivered once: the stop was between batches")
	}

	// Token expiry mid-stream: refreshed, nothing lost.
	w.org.ExpireAccessTokens()
	emit(6, 8)
	require.Eventually(t, delivered(emitted), 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, sfsub.StatusActive, subState(t, srv, "accountChange").State.Status)

	// A corrupted checkpoint with --on-replay-gap latest: resumes from LATEST.
	require.NoError(t, srv.Close())
	store, err := sqlitestore.Open(filepath.Join(w.dir, "config.db"))
	require.NoError(t, err)
	rec, err := config.Load[config.Subscription](t.Context(), store, tenantOf(t, srv), config.KindSubscription, "accountChange")
	require.NoError(t, err)
	rec.Value.State.Checkpoint = []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1}
	rec.Value.Params.OnReplayGap = sfsub.GapLatest
	_, err = config.Save(t.Context(), store, rec)
	require.NoError(t, err)
	require.NoError(t, store.Close())
	skipped, err := w.org.Emit(standin.AccountChangeTopic, []byte(account(90, "CREATE")))
	require.NoError(t, err)
	srv = w.start(t)
	require.Eventually(t, func() bool {
		return strings.Contains(subState(t, srv, "accountChange").State.LastError, "Salesforce refused replay id ffffffff00000001")
	}, 10*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return strings.Contains(subState(t, srv, "accountChange").State.LastError, "resumed from LATEST (--on-replay-gap latest) at replay id")
	}, 10*time.Second, 20*time.Millisecond, "the fallback with the replay ids before and after")
	waitActive(t, srv, "accountChange")
	emit(8, 9)
	require.Eventually(t, delivered(emitted), 10*time.Second, 20*time.Millisecond)
	assert.Zero(t, h.attemptsOf(sfsub.EventID(sub.ID, standin.AccountChangeTopic, skipped.ReplayID)),
		"LATEST skips what was published while the checkpoint was unusable")

	// Revoked refresh token: failing, with a clear error, and no crash loop.
	require.True(t, w.org.RevokeRefreshToken(refreshToken(t, srv, w.dir)))
	require.Eventually(t, func() bool { return subState(t, srv, "accountChange").State.Status == sfsub.StatusFailing },
		10*time.Second, 20*time.Millisecond)
	st := subState(t, srv, "accountChange").State
	assert.Contains(t, st.LastError, "example-org")
	assert.Contains(t, st.LastError, "authorizations:salesforce:create example-org")
	select {
	case err := <-srv.Err():
		t.Fatalf("a role stopped: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}
