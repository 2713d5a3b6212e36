package embedded_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/salesforce/standin"
)

func TestDataCloudPublication(t *testing.T) {
	w := newSFWorld(t)
	srv := w.start(t)
	w.connect(t, srv)
	var pub struct {
		Name     string            `json:"name"`
		Platform string            `json:"platform"`
		Params   map[string]string `json:"params"`
	}
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/datacloud/publications",
		map[string]any{"name": "highPriorityOrders", "connector": standin.DataCloudConnector,
			"object": standin.DataCloudObject, "org_name": "example-org"}, &pub))
	assert.Equal(t, "datacloud", pub.Platform)
	assert.Equal(t, map[string]string{"connector": "salesConnector", "object": "HighPriorityOrder", "org_name": "example-org"}, pub.Params)
	var apiErr struct{ ID, Message string }
	assert.Equal(t, http.StatusUnprocessableEntity, call(t, srv, "POST", "/platforms/datacloud/publications",
		map[string]any{"name": "x", "connector": "c", "object": "o", "org_name": "other-org"}, &apiErr))
	assert.Contains(t, apiErr.Message, "org_name other-org: no such authorization")

	ingested := func(n int) func() bool {
		return func() bool {
			return len(w.org.Ingested(standin.DataCloudConnector, standin.DataCloudObject)) >= n
		}
	}
	publish(t, srv, "highPriorityOrders", `{"OrderId":{"string":"801xx0000001"},"TotalValue":{"double":150000.5},"Status":null}`)
	require.Eventually(t, ingested(1), 10*time.Second, 20*time.Millisecond)
	got := w.org.Ingested(standin.DataCloudConnector, standin.DataCloudObject)[0]
	assert.Equal(t, "801xx0000001", got["OrderId"])
	assert.Equal(t, json.Number("150000.5"), got["TotalValue"])
	assert.Nil(t, got["Status"])

	// Both tokens expire and the Ingestion API fails once: re-exchanged, retried, delivered.
	w.org.ExpireDataCloudTokens()
	w.org.ExpireAccessTokens()
	w.org.FailIngest(standin.Fault{Status: http.StatusServiceUnavailable})
	publish(t, srv, "highPriorityOrders", `{"OrderId":"801xx0000002","TotalValue":99,"Status":"Draft"}`)
	require.Eventually(t, ingested(2), 10*time.Second, 20*time.Millisecond)
	assert.Equal(t, "801xx0000002", w.org.Ingested(standin.DataCloudConnector, standin.DataCloudObject)[1]["OrderId"])

	// An object the connector does not have is dead-lettered with the reason.
	require.Equal(t, http.StatusCreated, call(t, srv, "POST", "/platforms/datacloud/publications",
		map[string]any{"name": "nowhere", "connector": standin.DataCloudConnector, "object": "MissingObject", "org_name": "example-org"}, nil))
	id := publish(t, srv, "nowhere", `{"OrderId":"x"}`)
	var dead []queue.Message
	require.Eventually(t, func() bool {
		var err error
		dead, err = srv.Queue("delivery-dlq").List(t.Context(), 10)
		require.NoError(t, err)
		return len(dead) == 1
	}, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, dead[0].Attributes[queue.AttrReason], "404")
	assert.Contains(t, dead[0].Attributes[queue.AttrReason], "unknown object MissingObject")
	var d event.Delivery
	require.NoError(t, json.Unmarshal(dead[0].Body, &d))
	assert.Equal(t, id, d.Event.ID)
	assert.Len(t, w.org.Ingested(standin.DataCloudConnector, standin.DataCloudObject), 2, "nothing else ingested")
}
