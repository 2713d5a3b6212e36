package awsapp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	syslog "github.com/influxdata/go-syslog/v3"
	"github.com/influxdata/go-syslog/v3/octetcounting"
	"github.com/influxdata/go-syslog/v3/rfc5424"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/webhooktest"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// TestTenantLogOnAWS: the deliver function ships the tenant's delivery
// line to its app's log_input_url (Logplex frames, parsed here with
// go-syslog) before its batch returns.
func TestTenantLogOnAWS(t *testing.T) {
	api := apiOnAWS(t, catalog.All(), "31234567-89ab-cdef-0123-456789abcdef")
	var mu sync.Mutex
	var lines []string
	input := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var got []string
		octetcounting.NewParser(syslog.WithListener(func(res *syslog.Result) {
			if res.Error != nil {
				t.Errorf("malformed frame: %v", res.Error)
				return
			}
			m := res.Message.(*rfc5424.SyslogMessage)
			if m.Appname == nil || *m.Appname != "app" || m.ProcID == nil || m.Hostname == nil || m.Timestamp == nil || m.Message == nil {
				t.Errorf("header fields missing: %+v", m.Base)
				return
			}
			got = append(got, *m.Message)
		})).Parse(bytes.NewReader(body))
		if n, _ := strconv.Atoi(r.Header.Get("Logplex-Msg-Count")); n != len(got) || r.Header.Get("Content-Type") != "application/logplex-1" {
			t.Errorf("count %q for %d frames, type %q", r.Header.Get("Logplex-Msg-Count"), len(got), r.Header.Get("Content-Type"))
		}
		mu.Lock()
		lines = append(lines, got...)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(input.Close)
	_, err := config.Modify(t.Context(), api.env.Store(), "", config.KindTenant, api.tenant, 3, func(r *config.Record[config.Tenant]) (bool, error) {
		r.Value.LogInputURL = strings.Replace(input.URL, "http://", "http://token:t.abc@", 1) + "/logs"
		return true, nil
	})
	require.NoError(t, err)
	hook := httptest.NewServer(webhooktest.Consent(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	t.Cleanup(hook.Close)
	var pub struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, api.path+"/platforms/webhook/publications", api.bearer,
		map[string]any{"name": "hook", "url": hook.URL + "/hook"}, &pub))

	for k, v := range api.st.Env("DeliverFunction") {
		t.Setenv(k, v)
	}
	denv := awsenv.MustLoad(t.Context(), "deliver")
	log := denv.JournalWriter()
	t.Cleanup(func() { _ = log.Close() })
	dapp, err := awsapp.New(denv, awsapp.Options{Platforms: catalog.All(), DataPlane: true, Journal: log,
		Engines: map[string]platform.Engine{config.PlatformSalesforce: sfsub.Engine{}, config.PlatformWebhook: cloudevent.Engine{}}})
	require.NoError(t, err)
	dh, err := dapp.Deliver(t.Context())
	require.NoError(t, err)
	body, err := json.Marshal(event.Delivery{Tenant: api.tenant, Publication: pub.ID, FirstTry: time.Now().UTC(),
		Event: event.Event{ID: "ev-log-1", Source: "/s", Type: event.TypePublish, Time: time.Now().UTC(), Data: json.RawMessage(`{"n":1}`)}})
	require.NoError(t, err)
	res := journal.FlushBatches(dh, log).HandleBatch(t.Context(), []queue.Message{{ID: "m", Body: body, Receives: 1}})
	require.Empty(t, res.Failures)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 1, "shipped before the batch returned")
	assert.Contains(t, lines[0], "event=delivered event_id=ev-log-1 publication=hook attempt=1 status=200 latency=")
	assert.NotContains(t, lines[0], "t.abc")
	assert.Zero(t, denv.TenantLog().Dropped())
}
