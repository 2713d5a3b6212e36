package awslocal_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func TestMain(m *testing.M) { awslocaltest.Main(m) }

const dropFilter = `root = if this.Context__c.string == "drop" { deleted() } else { this }`

// TestWalkingSkeleton replays the walking skeleton in the AWS mode: every
// hop is a function binary under the Lambda emulator, the queues and table
// live in moto, created from template.yaml.
func TestWalkingSkeleton(t *testing.T) {
	t.Parallel()
	st := awslocaltest.New(t, awslocal.Options{})
	hook := awslocaltest.NewHook(t)

	tn := st.Provision(t, "my-app")
	require.NotEmpty(t, tn.ID)
	require.Contains(t, tn.Config["HEROKUEVENTS_API_URL"], st.URL[len("http://"):], "the API URL is the stack's HTTP API")
	ingestURL := st.FunctionURL("IngestFunctionUrl")
	require.NotEmpty(t, ingestURL)
	require.Contains(t, tn.Config["HEROKUEVENTS_PUBLISH_URL"], strings.TrimSuffix(ingestURL[len("http://"):], "/"),
		"the publish URL is the ingest function's URL: Publish goes through it")
	require.Contains(t, tn.Config["HEROKUEVENTS_SUBSCRIBE_URL"], strings.TrimSuffix(ingestURL[len("http://"):], "/"))

	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/webhook/subscriptions", map[string]any{"name": "inbound"}, nil)
	var pub struct {
		Extra struct {
			SigningSecret string `json:"signing_secret"`
		} `json:"extra"`
	}
	tn.MustCall(t, http.StatusCreated, "POST", "/platforms/webhook/publications",
		map[string]any{"name": "systemStatus", "url": hook.URL + "/hook", "token": "s3cret-token"}, &pub)
	tn.MustCall(t, http.StatusCreated, "POST", "/streams",
		map[string]any{"source": "inbound", "target": "systemStatus", "filter": dropFilter}, nil)

	const body = `{"Context__c":{"string":"subscription"},"CreatedById":"005Ws000001eUtGIAU","CreatedDate":1733842936}`
	kept := tn.Publish(t, "inbound", body) // through the function URL
	// publish URLs issued before the function URL, on the HTTP API, still work
	pubURL, err := url.Parse(tn.Config["HEROKUEVENTS_PUBLISH_URL"])
	require.NoError(t, err)
	pass, _ := pubURL.User.Password()
	var acc struct{ ID string }
	status, raw := st.Do(t, http.MethodPost, "/publish/inbound", func(r *http.Request) { r.SetBasicAuth(pubURL.User.Username(), pass) },
		`{"Context__c":{"string":"drop"}}`, &acc)
	require.Equal(t, http.StatusAccepted, status, "%s", raw)
	dropped := acc.ID
	// a batch of 12 events in one publish: two SQS requests of the ingest function
	elems := make([]string, 12)
	for i := range elems {
		elems[i] = fmt.Sprintf(`{"Context__c":{"string":"batch"},"n":%d}`, i)
	}
	base := *pubURL
	base.User = nil
	var batch struct {
		IDs []string `json:"ids"`
	}
	status, raw = st.Do(t, http.MethodPost, base.String()+"/inbound", func(r *http.Request) { r.SetBasicAuth(pubURL.User.Username(), pass) },
		"["+strings.Join(elems, ",")+"]", &batch)
	require.Equal(t, http.StatusAccepted, status, "%s", raw)
	require.Len(t, batch.IDs, len(elems))
	// a CloudEvents batch, claimed per event in DynamoDB (concurrently): the
	// event repeated inside it is queued once, and the batch sent again
	// queues nothing
	ceBatch := `[{"specversion":"1.0","id":"ce-1","source":"/e2e","type":"t","data":{"Context__c":{"string":"ce"}}},` +
		`{"specversion":"1.0","id":"ce-2","source":"/e2e","type":"t","data":{"Context__c":{"string":"ce"}}},` +
		`{"specversion":"1.0","id":"ce-1","source":"/e2e","type":"t","data":{"Context__c":{"string":"ce"}}}]`
	for round, replayed := range []string{"", "true"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base.String()+"/inbound", strings.NewReader(ceBatch))
		require.NoError(t, err)
		req.SetBasicAuth(pubURL.User.Username(), pass)
		req.Header.Set("Content-Type", "application/cloudevents-batch+json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var got struct {
			IDs []string `json:"ids"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&got))
		res.Body.Close()
		require.Equal(t, http.StatusAccepted, res.StatusCode, "round %d", round)
		assert.Equal(t, []string{"ce-1", "ce-2", "ce-1"}, got.IDs)
		assert.Equal(t, replayed, res.Header.Get("Idempotent-Replayed"), "round %d", round)
	}

	got := hook.Wait(t, kept, 1, 30*time.Second)[0]
	var ce map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(got.Body, &ce))
	assert.Equal(t, body, string(ce["data"]), "data is exactly the posted JSON")
	assert.JSONEq(t, `"1.0"`, string(ce["specversion"]))
	for _, attr := range []string{"source", "type", "time"} {
		assert.NotEmpty(t, ce[attr], attr)
	}
	assert.Equal(t, "/hook", got.Path)
	assert.Equal(t, "application/cloudevents+json", got.Header.Get("Content-Type"))
	assert.Equal(t, "Bearer s3cret-token", got.Header.Get("Authorization"))
	require.NoError(t, sink.Verify(pub.Extra.SigningSecret, got.Header, got.Body), "Standard Webhooks signature verifies")
	for i, id := range batch.IDs {
		got := hook.Wait(t, id, 1, 30*time.Second)[0]
		require.NoError(t, json.Unmarshal(got.Body, &ce))
		assert.Equal(t, elems[i], string(ce["data"]), "each event of the batch is delivered on its own")
	}
	hook.Wait(t, "ce-1", 1, 30*time.Second)
	hook.Wait(t, "ce-2", 1, 30*time.Second)

	// A poison message: what no producer of IngestQueue sends.
	require.NoError(t, st.Send(t.Context(), "IngestQueue", "{garbage", map[string]string{queue.AttrTenant: tn.ID}))
	require.NoError(t, st.Drain(t.Context()))
	assert.Empty(t, hook.Requests(dropped), "a filtered-out event never arrives")
	assert.Len(t, hook.Requests(kept), 1, "delivered once")
	assert.Len(t, hook.Requests("ce-1"), 1, "an event repeated in a batch, and the batch sent again, delivered once")
	assert.Len(t, hook.Requests("ce-2"), 1)

	dead, err := st.Peek(t.Context(), "IngestDLQ")
	require.NoError(t, err)
	require.Len(t, dead, 1)
	assert.Equal(t, "{garbage", dead[0].Body)
	assert.NotEmpty(t, dead[0].Attributes[queue.AttrReason], "dead letter carries its reason")
	assert.Equal(t, tn.ID, dead[0].Attributes[queue.AttrTenant])
	t.Logf("dead-letter reason: %s", dead[0].Attributes[queue.AttrReason])

	t.Run("logs carry the request id", func(t *testing.T) {
		for _, fn := range []string{"ApiFunction", "IngestFunction", "FilterFunction", "DeliverFunction"} {
			var logged int
			for _, rec := range st.Records(fn) {
				if _, isMetric := rec["_aws"]; isMetric || rec["msg"] == nil {
					continue
				}
				logged++
				assert.NotEmpty(t, rec["request_id"], "%s: %v", fn, rec)
			}
			assert.Positive(t, logged, "%s logged nothing", fn)
		}
	})

	t.Run("EMF metrics", func(t *testing.T) {
		cases := []struct {
			fn, metric string
			total      float64
		}{
			{"IngestFunction", metric.Ingested, 2 + 12 + 2},
			{"FilterFunction", metric.FilteredOut, 1},
			{"FilterFunction", metric.DeadLettered, 1},
			{"DeliverFunction", metric.Delivered, 1 + 12 + 2},
			{"DeliverFunction", metric.DeliveryLatency, -1},
		}
		for _, c := range cases {
			t.Run(c.fn+"/"+c.metric, func(t *testing.T) {
				var n int
				var sum float64
				for _, m := range st.Metrics(c.fn) {
					if m.Name != c.metric {
						continue
					}
					n++
					sum += m.Value
					assert.Equal(t, metric.Namespace, m.Namespace)
					assert.Equal(t, awslocal.Role(c.fn), m.Dimensions["Role"])
				}
				require.Positive(t, n, "no %s line from %s", c.metric, c.fn)
				if c.total >= 0 {
					assert.Equal(t, c.total, sum)
				}
			})
		}
	})
}

// TestHTTPAPIRoutes checks the HTTP API front against the template's
// routes: unknown paths get API Gateway's 404, the publish route reaches
// the ingest function and the management routes the api function.
func TestHTTPAPIRoutes(t *testing.T) {
	t.Parallel()
	st := awslocaltest.New(t, awslocal.Options{Functions: []string{"ApiFunction", "IngestFunction"}})
	cases := []struct {
		name, method, path string
		auth               func(*http.Request)
		want               int
		wantID             string
	}{
		{"no route", "GET", "/nowhere", nil, http.StatusNotFound, ""},
		{"publish without credentials", "POST", "/publish/orders", nil, http.StatusUnauthorized, "unauthorized"},
		{"publish with a wrong key", "POST", "/publish/orders", func(r *http.Request) { r.SetBasicAuth("t", "k") }, http.StatusUnauthorized, "unauthorized"},
		{"publish route is POST only", "GET", "/publish/orders", nil, http.StatusNotFound, ""},
		{"api without key", "GET", "/v1/tenants/x/subscriptions", nil, http.StatusUnauthorized, "unauthorized"},
		{"provisioning needs the operator", "POST", "/heroku/resources", func(r *http.Request) { r.SetBasicAuth("herokuevents", "nope") }, http.StatusUnauthorized, "unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, raw := st.Do(t, c.method, c.path, c.auth, `{"a":1}`, nil)
			assert.Equal(t, c.want, status, string(raw))
			if c.wantID != "" {
				var e struct{ ID string }
				require.NoError(t, json.Unmarshal(raw, &e), string(raw))
				assert.Equal(t, c.wantID, e.ID)
			}
		})
	}
	assert.True(t, slices.ContainsFunc(st.Records("ApiFunction"), func(r map[string]any) bool { return r["request_id"] != nil }))
}
