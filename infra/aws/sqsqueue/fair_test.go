package sqsqueue_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/sqsqueue"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// groups records the MessageGroupId of every SendMessageBatch entry on
// its way to the local AWS API.
type groups struct {
	mu      sync.Mutex
	entries []map[string]any
}

func (g *groups) Do(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".SendMessageBatch") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct{ Entries []map[string]any }
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, err
		}
		g.mu.Lock()
		g.entries = append(g.entries, in.Entries...)
		g.mu.Unlock()
	}
	return http.DefaultClient.Do(r)
}

// TestSendGroupsByTenant: every entry of every SendMessageBatch carries
// MessageGroupId = its tenant (SQS fair queues on the standard queues; the
// local AWS API does not show the effect), and the queue accepts them.
func TestSendGroupsByTenant(t *testing.T) {
	t.Parallel()
	cfg := moto.Config()
	g := &groups{}
	cfg.HTTPClient = g
	c := sqs.NewFromConfig(cfg)
	q := newTestQueue(t, c)
	long := strings.Repeat("t", 200)
	var msgs []queue.Message
	tenants := []string{"tenant-a", "tenant-b", "tenant-a", long}
	for i := range 23 {
		tenant := tenants[i%len(tenants)]
		msgs = append(msgs, queue.Message{Body: []byte(`{}`), Attributes: map[string]string{queue.AttrTenant: tenant}})
	}
	require.NoError(t, q.Send(t.Context(), msgs...))
	g.mu.Lock()
	defer g.mu.Unlock()
	require.Len(t, g.entries, len(msgs), "three requests of up to 10 entries")
	for _, e := range g.entries {
		attrs, _ := e["MessageAttributes"].(map[string]any)
		tenant, _ := attrs[queue.AttrTenant].(map[string]any)["StringValue"].(string)
		assert.Equal(t, sqsqueue.GroupID(tenant), e["MessageGroupId"], "entry %v", e["Id"])
	}
	got := receiveWithin(t, q, len(msgs), 10*time.Second)
	assert.Len(t, got, len(msgs), "the queue took every entry")
}

func TestGroupID(t *testing.T) {
	for _, c := range []struct{ tenant, want string }{
		{"", ""},
		{"8f0e6c52-1f5e-4c1e-9a57-3d2f1b0c9e11", "8f0e6c52-1f5e-4c1e-9a57-3d2f1b0c9e11"},
		{strings.Repeat("x", 128), strings.Repeat("x", 128)},
	} {
		assert.Equal(t, c.want, sqsqueue.GroupID(c.tenant))
	}
	for _, tenant := range []string{strings.Repeat("x", 129), "with space", "é"} {
		g := sqsqueue.GroupID(tenant)
		assert.Len(t, g, 64, "a digest for %q", tenant)
		assert.Equal(t, g, sqsqueue.GroupID(tenant), "stable")
	}
}
