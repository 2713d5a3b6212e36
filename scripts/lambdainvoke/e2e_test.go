package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/config"
)

func TestMain(m *testing.M) { awslocaltest.Main(m) }

// sample is the Lambda input of an events/*.json file, the parts the
// assertions need.
type sample struct {
	Headers map[string]string `json:"headers"`
	Records []json.RawMessage `json:"Records"`
}

// TestSamplesUnderEmulator invokes every function binary (built as
// deployed: static linux, lambda.norpc) on every events/<function>-*.json
// through this command, under aws-lambda-rie, wired to a stack of
// template.yaml in moto (awslocal: queues, table and key created from the
// template, each function's environment resolved from it). The sample
// tenant exists with the samples' keys, so a publish is accepted (202 with
// an id), bad credentials get 401, the API answers 200, batches are handled
// without failures, poison records land in the function's dead-letter queue
// and scheduled ticks succeed.
func TestSamplesUnderEmulator(t *testing.T) {
	rie, err := awslocal.RIEPath()
	require.NoError(t, err)
	bins := awslocaltest.Binaries(t)
	st := awslocaltest.New(t, awslocal.Options{Functions: []string{}}) // resources only: this command runs the functions
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	seedSampleTenant(t, st, files)

	covered := map[string]bool{}
	for _, file := range files {
		name := filepath.Base(file)
		fn, _, _ := strings.Cut(name, "-")
		id := strings.ToUpper(fn[:1]) + fn[1:] + "Function"
		covered[id] = true
		t.Run(name, func(t *testing.T) {
			env := st.Env(id)
			require.NotEmpty(t, env, "template.yaml has no %s", id)
			for k, v := range env {
				t.Setenv(k, v)
			}
			t.Setenv("RIE_LOG_LEVEL", "error")
			if fn == "dashboard" { // an operator's salt (a deployment keeps it in Secrets Manager)
				t.Setenv("HEROKU_SSO_SALT", "sample-salt")
			}
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var in sample
			require.NoError(t, json.Unmarshal(raw, &in))
			dlq := deadLetterQueue(st, id)
			before, queued := 0, 0
			if fn == "ingest" {
				queued, _, _, err = st.Depth(t.Context(), "IngestQueue")
				require.NoError(t, err)
			}
			if dlq != "" {
				before, _, _, err = st.Depth(t.Context(), dlq)
				require.NoError(t, err)
			}

			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, rie, bins[fn], fn, file, &stdout, &stderr)
			require.Equal(t, 0, code, "invocation failed\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			logs := stderr.String()

			var resp struct {
				StatusCode        *int              `json:"statusCode"`
				Body              string            `json:"body"`
				BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
			}
			if strings.TrimSpace(stdout.String()) != "null" {
				require.NoError(t, json.Unmarshal(stdout.Bytes(), &resp), stdout.String())
			}
			switch {
			case in.Headers != nil:
				require.NotNil(t, resp.StatusCode, "HTTP response; logs:\n%s", logs)
				want := http.StatusOK
				switch {
				case strings.Contains(name, "bad-credentials"):
					want = http.StatusUnauthorized
				case strings.Contains(name, "expired-session"):
					want = http.StatusForbidden
				case fn == "ingest":
					want = http.StatusAccepted
				}
				require.Equal(t, want, *resp.StatusCode, "body %s; logs:\n%s", resp.Body, logs)
				if fn == "dashboard" {
					// a browser's page: the SSO refusal is HTML, never the API's JSON
					assert.Contains(t, resp.Body, "Access denied")
					return
				}
				require.True(t, json.Valid([]byte(resp.Body)), "JSON answer: %s", resp.Body)
				var body struct{ ID string }
				_ = json.Unmarshal([]byte(resp.Body), &body) // an object for 202 and errors
				if want == http.StatusAccepted {
					assert.NotEmpty(t, body.ID, "a publish answers the event id")
					after, _, _, err := st.Depth(t.Context(), "IngestQueue")
					require.NoError(t, err)
					assert.Equal(t, queued+1, after, "the event is queued for the subscription's streams")
				}
				if want == http.StatusUnauthorized {
					assert.Equal(t, "unauthorized", body.ID)
				}
			case in.Records != nil:
				assert.NotNil(t, resp.BatchItemFailures, "a batch response; logs:\n%s", logs)
				assert.Empty(t, resp.BatchItemFailures, "logs:\n%s", logs)
				if strings.Contains(name, "-poison") {
					require.NotEmpty(t, dlq, "%s has no dead-letter queue", id)
					after, _, _, err := st.Depth(t.Context(), dlq)
					require.NoError(t, err)
					assert.Equal(t, before+len(in.Records), after, "poison dead-lettered; logs:\n%s", logs)
				}
			default: // scheduled tick: no error (run checked), nothing to return
				assert.Equal(t, "null", strings.TrimSpace(stdout.String()), "logs:\n%s", logs)
			}
		})
	}
	for _, id := range st.Template.Functions() {
		assert.True(t, covered[id], "no events/%s-*.json sample", awslocal.Role(id))
	}
}

// deadLetterQueue is the logical id of the dead-letter queue of the queue
// feeding function id ("" when it has none).
func deadLetterQueue(st *awslocaltest.Stack, id string) string {
	fn, err := st.Template.Function(id)
	if err != nil || fn.Queue == "" {
		return ""
	}
	redrive, _ := st.Template.Resources[fn.Queue].Properties["RedrivePolicy"].(map[string]any)
	target, _ := redrive["deadLetterTargetArn"].(map[string]any)
	ga, _ := target["Fn::GetAtt"].([]any)
	if len(ga) != 2 {
		return ""
	}
	dlq, _ := ga[0].(string)
	return dlq
}

// seedSampleTenant stores the tenant the HTTP samples authenticate as (its
// keys are in their Authorization headers) and an inbound webhook
// subscription for each publish sample's name.
func seedSampleTenant(t *testing.T, st *awslocaltest.Stack, files []string) {
	t.Helper()
	store := st.Store("ConfigTable")
	var tenant config.Tenant
	names := map[string]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var in struct {
			RawPath string            `json:"rawPath"`
			Headers map[string]string `json:"headers"`
		}
		require.NoError(t, json.Unmarshal(raw, &in))
		if strings.Contains(file, "bad-credentials") {
			continue
		}
		auth := in.Headers["authorization"]
		switch {
		case strings.HasPrefix(auth, "Bearer "):
			tenant.APIKeyHash = api.HashKey(strings.TrimPrefix(auth, "Bearer "))
			if rest, ok := strings.CutPrefix(in.RawPath, "/v1/tenants/"); ok {
				tenant.ID, _, _ = strings.Cut(rest, "/")
			}
		case strings.HasPrefix(auth, "Basic "):
			dec, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
			require.NoError(t, err)
			user, key, _ := strings.Cut(string(dec), ":")
			tenant.ID = user
			tenant.PublishKeyHash = api.HashKey(key)
			names[strings.TrimPrefix(in.RawPath, "/publish/")] = true
		}
	}
	require.NotEmpty(t, tenant.ID)
	tenant.App = "sample-app"
	tenant.Created = time.Now().UTC()
	_, err := config.Insert(t.Context(), store, config.Item{Kind: config.KindTenant, ID: tenant.ID, Name: tenant.App}, tenant)
	require.NoError(t, err)
	for name := range names {
		sub := config.Subscription{ID: name + "-id", Name: name, Platform: config.PlatformWebhook, Created: time.Now().UTC()}
		_, err := config.Insert(t.Context(), store, config.Item{Tenant: tenant.ID, Kind: config.KindSubscription, ID: sub.ID, Name: name}, sub)
		require.NoError(t, err)
	}
}
