package lambdaio

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// FuzzHTTPEvent: any API Gateway payload 2.0 event the runtime decodes is
// served (the handler sees the body it carried, base64 decoded) or refused
// with a 400 JSON {id, message}; the adapter never fails the invocation.
func FuzzHTTPEvent(f *testing.F) {
	for _, ev := range []events.APIGatewayV2HTTPRequest{
		v2("POST", "/publish/inbound", "a=1&b=%20"),
		v2("GET", "/v1/apps/my%2Fapp/streams", ""),
		{RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}, Body: "eyJhIjoxfQ==", IsBase64Encoded: true},
		{RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST"}}, Body: "%%%", IsBase64Encoded: true},
		{},
	} {
		b, err := json.Marshal(ev)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"rawPath":"/%zz","requestContext":{"http":{"method":"GE T"}},"cookies":["a=b"],"headers":{"x":"\u0000"}}`))
	// The handler echoes the body as bytes (base64 in JSON): echo's string
	// Body would turn a binary body's invalid UTF-8 into U+FFFD.
	h := HTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Body: b})
	}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev events.APIGatewayV2HTTPRequest
		if json.Unmarshal(raw, &ev) != nil {
			return // the runtime refuses it before the handler
		}
		res, err := h(t.Context(), ev)
		require.NoError(t, err)
		body := []byte(res.Body)
		if res.IsBase64Encoded {
			body, err = base64.StdEncoding.DecodeString(res.Body)
			require.NoError(t, err)
		}
		switch res.StatusCode {
		case http.StatusOK:
			var s echoed
			require.NoError(t, json.Unmarshal(body, &s))
			want := []byte(ev.Body)
			if ev.IsBase64Encoded {
				want, err = base64.StdEncoding.DecodeString(ev.Body)
				require.NoError(t, err)
			}
			require.Equal(t, string(want), string(s.Body))
			require.Equal(t, ev.RequestContext.HTTP.Method, s.Method)
		case http.StatusBadRequest:
			var e struct{ ID, Message string }
			require.NoError(t, json.Unmarshal(body, &e), "%s", body)
			require.NotEmpty(t, e.ID)
			require.NotEmpty(t, e.Message)
		default:
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
	})
}

// echoed is what FuzzHTTPEvent's handler saw, the body byte for byte.
type echoed struct {
	Method string
	Body   []byte
}

// FuzzSQSEvent: any SQS event the runtime decodes is handed to the batch
// handler; the response lists only messages the handler failed (and not
// dead-lettered), permanent failures and exhausted messages go to the
// dead-letter queue, and the invocation itself never fails.
func FuzzSQSEvent(f *testing.F) {
	ev := events.SQSEvent{Records: []events.SQSMessage{
		record("m1", `{"event":{"id":"e1"}}`, "1", map[string]string{queue.AttrTenant: "t1"}),
		record("m2", "odd", "5", nil),
		record("m3", "p-permanent", "x", map[string]string{queue.AttrAttempt: "2"}),
	}}
	b, err := json.Marshal(ev)
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"Records":[{"messageId":"","body":"","attributes":{"ApproximateReceiveCount":"-1"}},{"messageId":"","body":"x"}]}`))
	f.Add([]byte(`{"Records":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev events.SQSEvent
		if json.Unmarshal(raw, &ev) != nil {
			return
		}
		failed := map[string]bool{}
		h := queue.BatchHandlerFunc(func(_ context.Context, msgs []queue.Message) queue.BatchResult {
			var r queue.BatchResult
			for _, m := range msgs {
				switch {
				case len(m.Body) > 0 && m.Body[0] == 'p':
					r.Fail(m.ID, queue.Permanent(errors.New("permanent")))
				case len(m.Body)%2 == 1:
					r.Fail(m.ID, errors.New("retry"))
					failed[m.ID] = true
				}
			}
			return r
		})
		dlq := &memDLQ{}
		res, err := SQS(h, settings, dlq)(t.Context(), ev)
		require.NoError(t, err)
		require.NotNil(t, res.BatchItemFailures)
		ids := make([]string, 0, len(ev.Records))
		for _, r := range ev.Records {
			ids = append(ids, r.MessageId)
		}
		for _, f := range res.BatchItemFailures {
			require.True(t, slices.Contains(ids, f.ItemIdentifier))
			require.True(t, failed[f.ItemIdentifier], "%s was not failed by the handler", f.ItemIdentifier)
		}
		require.LessOrEqual(t, len(dlq.sent)+len(res.BatchItemFailures), len(ev.Records))
	})
}
