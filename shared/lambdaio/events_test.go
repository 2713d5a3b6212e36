package lambdaio

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/event"
)

// inputs maps a function (the events/<function>-<case>.json prefix) to a
// decoder of its Lambda input type.
var inputs = map[string]func(*json.Decoder) (any, error){
	"api":           decodeAs[events.APIGatewayV2HTTPRequest],
	"ingest":        decodeAs[events.APIGatewayV2HTTPRequest],
	"dashboard":     decodeAs[events.APIGatewayV2HTTPRequest],
	"filter":        decodeAs[events.SQSEvent],
	"deliver":       decodeAs[events.SQSEvent],
	"partnernotify": decodeAs[events.SQSEvent],
	"generate":      decodeAs[events.EventBridgeEvent],
	"sfsubscribe":   decodeAs[events.EventBridgeEvent],
}

func decodeAs[T any](d *json.Decoder) (any, error) {
	var v T
	err := d.Decode(&v)
	return v, err
}

func strict(b []byte) *json.Decoder {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d
}

func TestSampleEvents(t *testing.T) {
	files, err := filepath.Glob("../../events/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	tpl, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	sampled := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			fn, _, ok := strings.Cut(strings.TrimSuffix(name, ".json"), "-")
			require.True(t, ok, "name events/<function>-<case>.json")
			decode, ok := inputs[fn]
			require.True(t, ok, "unknown function %q", fn)
			_, err := tpl.Function(functionID(fn))
			require.NoError(t, err, "events for a function template.yaml does not declare")
			sampled[fn] = true

			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			in, err := decode(strict(raw))
			if strings.Contains(name, "-function-url") && err == nil {
				// The function's own URL, not the HTTP API: what lambdaio.HTTP
				// decodes (strictly, above) is a function URL request too.
				// aws-lambda-go's type lacks routeKey and stage, which Lambda
				// sends ($default).
				in, err = decodeAs[events.LambdaFunctionURLRequest](json.NewDecoder(bytes.NewReader(raw)))
			}
			require.NoError(t, err, "decode %s as the input of %s", name, fn)

			switch v := in.(type) {
			case events.APIGatewayV2HTTPRequest:
				checkHTTPSample(t, v)
			case events.LambdaFunctionURLRequest:
				checkFunctionURLSample(t, v, raw)
			case events.SQSEvent:
				checkSQSSample(t, fn, strings.Contains(name, "-poison"), v)
			case events.EventBridgeEvent:
				assert.False(t, v.Time.IsZero(), "scheduled events carry a time")
			}
		})
	}
	for _, id := range tpl.Functions() {
		fn := strings.ToLower(strings.TrimSuffix(id, "Function"))
		assert.True(t, sampled[fn], "no events/%s-*.json sample for %s", fn, id)
	}
}

// functionID is the template logical id of a function: api -> ApiFunction.
func functionID(fn string) string {
	return strings.ToUpper(fn[:1]) + fn[1:] + "Function"
}

// checkHTTPSample runs the request through the HTTP adapter.
func checkHTTPSample(t *testing.T, in events.APIGatewayV2HTTPRequest) {
	t.Helper()
	assert.Equal(t, "2.0", in.Version)
	assert.NotEmpty(t, in.RequestContext.DomainName)
	resp, err := HTTP(http.HandlerFunc(echo))(t.Context(), in)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	var got seen
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
	assert.Equal(t, in.RequestContext.HTTP.Method, got.Method)
	assert.Equal(t, in.RawPath, got.Path)
	assert.True(t, got.Auth != "" || len(in.Cookies) > 0, "samples are authenticated (a bearer token, or the dashboard's session cookie)")
}

// checkFunctionURLSample runs the raw request through the HTTP adapter as
// the Lambda runtime does (JSON in, JSON out) and reads the answer as a
// function URL response.
func checkFunctionURLSample(t *testing.T, in events.LambdaFunctionURLRequest, raw []byte) {
	t.Helper()
	assert.Equal(t, "2.0", in.Version)
	assert.Contains(t, in.RequestContext.DomainName, ".lambda-url.", "a function URL's host")
	out, err := lambda.NewHandler(HTTP(http.HandlerFunc(echo))).Invoke(t.Context(), raw)
	require.NoError(t, err)
	var resp events.LambdaFunctionURLResponse
	require.NoError(t, json.Unmarshal(out, &resp))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	var got seen
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &got))
	assert.Equal(t, in.RequestContext.HTTP.Method, got.Method)
	assert.Equal(t, in.RawPath, got.Path)
	assert.Equal(t, in.RequestContext.DomainName, got.Host)
	assert.NotEmpty(t, got.Auth, "samples are authenticated")
}

// checkSQSSample decodes the bodies into the message type of the queue:
// good samples must be valid, poison samples must not.
func checkSQSSample(t *testing.T, fn string, poison bool, in events.SQSEvent) {
	t.Helper()
	require.NotEmpty(t, in.Records)
	for _, r := range in.Records {
		assert.Equal(t, "aws:sqs", r.EventSource)
		m := message(r)
		assert.NotEmpty(t, m.Attributes["tenant"])
		var err error
		switch fn {
		case "filter":
			var v event.Routed
			if err = strict(m.Body).Decode(&v); err == nil {
				err = v.Event.Validate()
			}
		case "deliver":
			var v event.Delivery
			if err = strict(m.Body).Decode(&v); err == nil {
				err = v.Event.Validate()
			}
		default:
			continue
		}
		if poison {
			assert.Error(t, err, "poison message %s must not be a valid body", r.MessageId)
		} else {
			assert.NoError(t, err, "message %s", r.MessageId)
		}
	}
}
