package datacloud_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/datacloud"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// TestAgainstStandIn runs the exchange and the Ingestion API against the
// stand-in org, whose exchange answers a scheme-less loopback instance_url.
func TestAgainstStandIn(t *testing.T) {
	org, err := standin.Start(standin.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { org.Close() })
	org.RegisterIngestionObject("web", "PageView", "Url", "Visits")
	tok := org.IssueToken()
	src := org.OAuth("http://127.0.0.1/cb").RefreshTokenSource(tok, nil)

	x := &datacloud.Exchanger{HTTPClient: http.DefaultClient}
	dc, err := x.Exchange(t.Context(), tok.InstanceURL, tok.AccessToken)
	require.NoError(t, err)
	assert.Equal(t, "http://"+org.DataCloudInstanceURL(), dc.InstanceURL, "scheme-less loopback host normalized to http")
	assert.False(t, dc.Expiry.IsZero())
	_, err = x.Exchange(t.Context(), tok.InstanceURL, "not-a-token")
	require.ErrorIs(t, err, datacloud.ErrCoreTokenRejected)

	p := &datacloud.Publisher{Client: http.DefaultClient, Sessions: func(context.Context, string, string) (salesforce.SessionSource, error) { return src, nil }}
	pv := publication("web", "PageView")
	send := func(data string) error { return p.Publish(t.Context(), "t1", pv, ev(data)) }

	require.NoError(t, send(`{"Url":{"string":"/pricing"},"Visits":{"long":3}}`))
	assert.Equal(t, []map[string]any{{"Url": "/pricing", "Visits": json.Number("3")}}, org.Ingested("web", "PageView"))

	org.ExpireDataCloudTokens()
	org.ExpireAccessTokens()
	require.NoError(t, send(`{"Url":"/docs","Visits":1}`), "both tokens renewed")
	assert.Len(t, org.Ingested("web", "PageView"), 2)

	org.FailIngest(standin.Fault{Status: http.StatusTooManyRequests, RetryAfter: "2"}, standin.Fault{Status: http.StatusInternalServerError})
	for _, want := range []int{http.StatusTooManyRequests, http.StatusInternalServerError} {
		err := send(`{"Url":"/x","Visits":1}`)
		var se *sink.Error
		require.True(t, errors.As(err, &se), "%v", err)
		assert.Equal(t, want, se.Result.Status)
		assert.Equal(t, sink.Retry, se.Result.Class)
		assert.False(t, queue.IsPermanent(err))
	}

	for data, reason := range map[string]string{
		`{"Url":"/x"}`: "missing field Visits",
		`{"Url":{"com.example.Link":{"href":"/x"}},"Visits":1}`: "field Url must be a string, number, boolean or null",
	} {
		err := send(data)
		require.True(t, queue.IsPermanent(err), "%v", err)
		assert.Contains(t, err.Error(), "HTTP 400")
		assert.Contains(t, err.Error(), reason)
	}
	err = p.Publish(t.Context(), "t1", publication("web", "Missing"), ev(`{"Url":"/x"}`))
	require.True(t, queue.IsPermanent(err), "%v", err)
	assert.Contains(t, err.Error(), "unknown object Missing of source web")
	assert.Len(t, org.Ingested("web", "PageView"), 2, "nothing else accepted")
}
