package datacloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/datacloud"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/sink"
)

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "xxxx.c360a.salesforce.com", want: "https://xxxx.c360a.salesforce.com"},
		{in: "https://xxxx.c360a.salesforce.com/", want: "https://xxxx.c360a.salesforce.com"},
		{in: " https://acme.my.salesforce.com ", want: "https://acme.my.salesforce.com"},
		{in: "127.0.0.1:4545", want: "http://127.0.0.1:4545"},
		{in: "localhost:80", want: "http://localhost:80"},
		{in: "[::1]:9000", want: "http://[::1]:9000"},
		{in: "http://127.0.0.1:4545/", want: "http://127.0.0.1:4545"},
		{in: "http://xxxx.c360a.salesforce.com", err: "use https"},
		{in: "ftp://xxxx.c360a.salesforce.com", err: "use https"},
		{in: "", err: "empty"},
		{in: "https://user:pw@host.example.com", err: "invalid instance URL"},
		{in: "https://host.example.com?x=1", err: "invalid instance URL"},
		{in: "0\u00a0#", err: "not a DNS name or IP address"},
		{in: "https://:443", err: "not a DNS name or IP address"},
		{in: "https://[fe80::1%25eth0]", err: "not a DNS name or IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := datacloud.NormalizeURL(tt.in)
			if tt.err != "" {
				require.ErrorIs(t, err, datacloud.ErrInstanceURL)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBodyUnwrapsUnions(t *testing.T) {
	tests := []struct{ name, in, want, err string }{
		{name: "plain", in: `{"OrderId":"o1","TotalValue":150000.25,"Status":null}`,
			want: `{"data":[{"OrderId":"o1","TotalValue":150000.25,"Status":null}]}`},
		{name: "primitive unions", in: `{"OrderId":{"string":"o1"},"TotalValue":{"double":1.5},"Qty":{"long":12345678901234567},"Status":null,"Ok":{"boolean":true}}`,
			want: `{"data":[{"OrderId":"o1","TotalValue":1.5,"Qty":12345678901234567,"Status":null,"Ok":true}]}`},
		{name: "named and nested", in: `{"BillingAddress":{"com.sforce.eventbus.Address":{"City":{"string":"Paris"}}},"Tags":{"array":[{"string":"a"}]}}`,
			want: `{"data":[{"BillingAddress":{"City":"Paris"},"Tags":["a"]}]}`},
		{name: "single plain key kept", in: `{"Name":"x"}`, want: `{"data":[{"Name":"x"}]}`},
		{name: "not an object", in: `[1,2]`, err: "must be a JSON object"},
		{name: "wrapped scalar", in: `{"string":"x"}`, err: "must be a JSON object"},
		{name: "malformed", in: `{`, err: "not a Data Cloud record"},
		{name: "over 200 KB", in: `{"Big":"` + strings.Repeat("x", datacloud.MaxBody) + `"}`, err: "over the 204800 byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := datacloud.Body([]byte(tt.in))
			if tt.err != "" {
				require.ErrorIs(t, err, datacloud.ErrRecord)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
			if strings.Contains(tt.in, "12345678901234567") {
				assert.Contains(t, string(got), "12345678901234567", "large integers keep their digits")
			}
		})
	}
}

// fakeDC is a Data Cloud: the token exchange (on the core instance) and the
// Ingestion API (on the tenant host, returned without a scheme).
type fakeDC struct {
	*httptest.Server
	mu        sync.Mutex
	exchanges int
	subjects  []string
	bodies    []string
	auths     []string
	ingest    []func(w http.ResponseWriter) // answers in turn; then 202
	exchange  func(w http.ResponseWriter) bool
	expiresIn int
}

func newFakeDC(t *testing.T) *fakeDC {
	f := &fakeDC{expiresIn: 7191}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.URL.Path == datacloud.TokenPath:
			assert.Equal(t, datacloud.GrantType, r.FormValue("grant_type"))
			assert.Equal(t, datacloud.SubjectTokenType, r.FormValue("subject_token_type"))
			f.exchanges++
			f.subjects = append(f.subjects, r.FormValue("subject_token"))
			if f.exchange != nil && !f.exchange(w) {
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "dc-" + strings.Repeat("x", f.exchanges),
				"instance_url": strings.TrimPrefix(f.URL, "http://"), "token_type": "Bearer", "expires_in": f.expiresIn})
		case r.URL.Path == datacloud.IngestPath("salesConnector", "HighPriorityOrder"):
			b, _ := io.ReadAll(r.Body)
			f.bodies = append(f.bodies, string(b))
			f.auths = append(f.auths, r.Header.Get("Authorization"))
			if len(f.ingest) > 0 {
				answer := f.ingest[0]
				f.ingest = f.ingest[1:]
				answer(w)
				return
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, `{"accepted":true}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func answer(status int, retryAfter, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// coreSource is a core session source that counts invalidations.
type coreSource struct {
	url         string
	mu          sync.Mutex
	n           int
	invalidated []string
}

func (c *coreSource) Session(context.Context) (salesforce.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return salesforce.Session{AccessToken: "core-" + strings.Repeat("k", c.n+1), InstanceURL: c.url}, nil
}

func (c *coreSource) Invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.invalidated = append(c.invalidated, tok)
	c.n++
}

func publication(connector, object string) config.Publication {
	return config.Publication{ID: "p1", Name: "highPriorityOrders", Platform: config.PlatformDataCloud,
		Params: config.Params{Connector: connector, Object: object, OrgName: "example-org"}}
}

func ev(data string) event.Event {
	return event.Event{ID: "e1", Source: "s", Type: "t", Time: time.Now(), Data: json.RawMessage(data)}
}

func newPublisher(f *fakeDC, src salesforce.SessionSource) *datacloud.Publisher {
	return &datacloud.Publisher{Client: f.Client(), Sessions: func(_ context.Context, _, alias string) (salesforce.SessionSource, error) {
		if alias != "example-org" {
			return nil, &authorization.Error{Kind: authorization.ErrNotFound, Message: "Authorization " + alias + " not found."}
		}
		return src, nil
	}}
}

func TestPublisherOutcomes(t *testing.T) {
	const record = `{"OrderId":{"string":"o1"},"TotalValue":{"double":150000},"Status":"new"}`
	tests := []struct {
		name       string
		pub        config.Publication
		data       string
		ingest     []func(http.ResponseWriter)
		exchange   func(http.ResponseWriter) bool
		permanent  bool
		retryAfter time.Duration
		contains   string
		requests   int
	}{
		{name: "202 accepted", data: record, requests: 1},
		{name: "400 is permanent with the answer", data: record, permanent: true, requests: 1, contains: "missing field Status",
			ingest: []func(http.ResponseWriter){answer(400, "", `{"error":"INVALID_RECORD","message":"missing field Status"}`)}},
		{name: "404 unknown object is permanent", data: record, permanent: true, requests: 1, contains: "HTTP 404",
			ingest: []func(http.ResponseWriter){answer(404, "", `{"message":"unknown object"}`)}},
		{name: "410 is permanent, not gone", data: record, permanent: true, requests: 1, contains: "HTTP 410",
			ingest: []func(http.ResponseWriter){answer(410, "", ``)}},
		{name: "429 retries after", data: record, retryAfter: 7 * time.Second, requests: 1, contains: "HTTP 429",
			ingest: []func(http.ResponseWriter){answer(429, "7", ``)}},
		{name: "500 retries", data: record, requests: 1, contains: "HTTP 500",
			ingest: []func(http.ResponseWriter){answer(500, "", `oops`)}},
		{name: "401 re-exchanges once then succeeds", data: record, requests: 2,
			ingest: []func(http.ResponseWriter){answer(401, "", ``)}},
		{name: "401 twice is retried later", data: record, requests: 2, contains: "HTTP 401",
			ingest: []func(http.ResponseWriter){answer(401, "", ``), answer(401, "", ``)}},
		{name: "data not an object", data: `"x"`, permanent: true, contains: "must be a JSON object"},
		{name: "bad object name", pub: publication("salesConnector", "bad/object"), data: record, permanent: true, contains: "Ingestion API names"},
		{name: "unknown authorization", pub: config.Publication{Name: "p", Params: config.Params{Connector: "salesConnector", Object: "HighPriorityOrder", OrgName: "other"}},
			data: record, permanent: true, contains: "not connected"},
		{name: "exchange unavailable retries", data: record, contains: "HTTP 503",
			exchange: func(w http.ResponseWriter) bool { answer(503, "3", "")(w); return false }, retryAfter: 3 * time.Second},
		{name: "exchange refusing the org is permanent", data: record, permanent: true, contains: "not connected",
			exchange: func(w http.ResponseWriter) bool {
				answer(400, "", `{"error":"invalid_grant","error_description":"no Data Cloud"}`)(w)
				return false
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeDC(t)
			f.ingest, f.exchange = tt.ingest, tt.exchange
			p := newPublisher(f, &coreSource{url: f.URL})
			pub := tt.pub
			if pub.Name == "" {
				pub = publication("salesConnector", "HighPriorityOrder")
			}
			err := p.Publish(t.Context(), "t1", pub, ev(tt.data))
			f.mu.Lock()
			defer f.mu.Unlock()
			assert.Len(t, f.bodies, tt.requests, "ingest requests")
			if tt.contains == "" && !tt.permanent {
				require.NoError(t, err)
				assert.JSONEq(t, `{"data":[{"OrderId":"o1","TotalValue":150000,"Status":"new"}]}`, f.bodies[len(f.bodies)-1])
				assert.Equal(t, "Bearer dc-"+strings.Repeat("x", f.exchanges), f.auths[len(f.auths)-1])
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.contains)
			assert.Equal(t, tt.permanent, queue.IsPermanent(err), "permanent: %v", err)
			var se *sink.Error
			if errors.As(err, &se) {
				want := sink.Retry
				if tt.permanent {
					want = sink.Permanent
				}
				assert.Equal(t, want, se.Result.Class)
				assert.Equal(t, tt.retryAfter, se.Result.RetryAfter)
			} else {
				assert.True(t, tt.permanent, "a retry carries a *sink.Error: %v", err)
			}
		})
	}
}

func TestTokenCacheAndReexchange(t *testing.T) {
	f := newFakeDC(t)
	src := &coreSource{url: f.URL}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newPublisher(f, src)
	p.Now = func() time.Time { return now }
	pub := publication("salesConnector", "HighPriorityOrder")
	publish := func() { require.NoError(t, p.Publish(t.Context(), "t1", pub, ev(`{"OrderId":"o"}`))) }
	exchanges := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.exchanges }

	publish()
	publish()
	assert.Equal(t, 1, exchanges(), "the token is cached")

	now = now.Add(7191*time.Second - datacloud.RefreshMargin + time.Second)
	publish()
	assert.Equal(t, 2, exchanges(), "exchanged again shortly before expiry")

	f.mu.Lock()
	f.ingest = []func(http.ResponseWriter){answer(401, "", "")}
	f.mu.Unlock()
	publish()
	assert.Equal(t, 3, exchanges(), "a 401 drops the cached token")
	f.mu.Lock()
	assert.Equal(t, []string{"Bearer dc-xx", "Bearer dc-xxx"}, f.auths[len(f.auths)-2:])
	f.mu.Unlock()

	t.Run("a rejected core token is refreshed once", func(t *testing.T) {
		f.mu.Lock()
		f.exchange = func(w http.ResponseWriter) bool {
			if len(f.subjects) == 4 {
				answer(401, "", `{"error":"invalid_token"}`)(w)
				return false
			}
			return true
		}
		f.ingest = []func(http.ResponseWriter){answer(401, "", "")}
		f.mu.Unlock()
		publish()
		src.mu.Lock()
		assert.Equal(t, []string{"core-k"}, src.invalidated)
		src.mu.Unlock()
		f.mu.Lock()
		assert.Equal(t, []string{"core-k", "core-k", "core-k", "core-k", "core-kk"}, f.subjects)
		f.mu.Unlock()
	})
}
