package datacloud_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/datacloud"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// FuzzBody: any event data becomes an Ingestion API body {"data":[record]}
// within MaxBody, unwrapped of Avro unions, or fails with ErrRecord; the
// record of a body makes the same body again.
func FuzzBody(f *testing.F) {
	for _, s := range []string{`{"OrderId":"801","TotalValue":150000}`, `{"Context__c":{"string":"x"},"Amount__c":{"double":1.5},"N":{"long":12345678901234567890}}`,
		`{"com.sforce.Address":{"City":{"string":"Paris"}}}`, `{"string":"x"}`, `[]`, `null`, `1e999`, `{"a":1} trailing`, `{"a":[{"map":{"k":{"int":1}}}]}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := datacloud.Body(data)
		if err != nil {
			require.ErrorIs(t, err, datacloud.ErrRecord)
			return
		}
		require.LessOrEqual(t, len(b), datacloud.MaxBody)
		var body struct {
			Data []json.RawMessage `json:"data"`
		}
		require.NoError(t, json.Unmarshal(b, &body))
		require.Len(t, body.Data, 1)
		again, err := datacloud.Body(body.Data[0])
		require.NoError(t, err)
		require.JSONEq(t, string(b), string(again))
	})
}

// FuzzNormalizeURL: an instance URL from a token answer normalises to an
// https (or loopback http) base URL that normalises to itself, or fails
// with ErrInstanceURL.
func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{"xxxx.c360a.salesforce.com", "https://x.my.salesforce.com/", "http://127.0.0.1:8080", "localhost:1/p/", "http://example.com",
		"https://u@h", "https://h?q", "", "::1", "[::1]:80", "ftp://h", "https://h/%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := datacloud.NormalizeURL(raw)
		if err != nil {
			require.ErrorIs(t, err, datacloud.ErrInstanceURL)
			return
		}
		again, err := datacloud.NormalizeURL(u)
		require.NoError(t, err)
		require.Equal(t, u, again)
	})
}

// FuzzExchange: whatever the token exchange answers (status, body), the
// result is a token with a Data Cloud URL and an expiry in the future (or
// none), ErrCoreTokenRejected, or a *sink.Error the deliverer can
// classify; never a panic.
func FuzzExchange(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"access_token":"dc","instance_url":"xxxx.c360a.salesforce.com","expires_in":7200}`},
		{200, `{"access_token":"dc","instance_url":"127.0.0.1:1","expires_in":"7200"}`},
		{200, `{"access_token":"dc","instance_url":"http://example.com","expires_in":-1}`},
		{200, `{"access_token":"dc","instance_url":"h.example","expires_in":9223372036854775807}`},
		{200, `{}`}, {200, `x`}, {400, `{"error":"invalid_grant"}`}, {401, ``}, {429, `slow down`}, {500, ``}, {410, ``},
	} {
		f.Add(s.status, []byte(s.body))
	}
	var status atomic.Int64
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	x := &datacloud.Exchanger{HTTPClient: srv.Client(), Now: func() time.Time { return now }}
	f.Fuzz(func(t *testing.T, st int, b []byte) {
		if st < 200 || st > 599 {
			st = 200 + (st%400+400)%400
		}
		status.Store(int64(st))
		body.Store(&b)
		tok, err := x.Exchange(t.Context(), srv.URL, "core-token")
		if err != nil {
			var se *sink.Error
			require.True(t, errors.Is(err, datacloud.ErrCoreTokenRejected) || errors.As(err, &se), "%v", err)
			return
		}
		require.Equal(t, http.StatusOK, st)
		require.NotEmpty(t, tok.AccessToken)
		_, err = datacloud.NormalizeURL(tok.InstanceURL)
		require.NoError(t, err)
		require.True(t, tok.Expiry.IsZero() || tok.Expiry.After(now), "expiry %s for %s", tok.Expiry, bytes.TrimSpace(b))
	})
}
