package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// TestInvokeScriptWithNothingExported runs scripts/invoke itself, as a
// newcomer pastes it, on every events/*.json with no AWS variable and none
// of the template's variables in the environment: the script installs its
// tools, builds the function and gives the call its own local AWS
// (template.yaml's resources in moto, seeded with events/fixtures/seed.json).
// The first sample starts its own moto server, as on a fresh clone; the
// others share the test's ($INVOKE_MOTO_URL) to keep the test fast. Every
// sample succeeds and does what it is for: the API answers, a publish is
// queued, bad credentials are refused, batches are handled without failures
// and delivered to the receiver the script runs, poison records are
// dead-lettered, scheduled ticks succeed.
func TestInvokeScriptWithNothingExported(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	tpl, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	env := pristineEnv(t, tpl)
	moto := awslocaltest.Moto(t)

	for i, file := range files {
		name := filepath.Base(file)
		fn, _, _ := strings.Cut(name, "-")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var in sample
			require.NoError(t, json.Unmarshal(raw, &in))

			callEnv := env
			if i > 0 {
				callEnv = append(env[:len(env):len(env)], EnvMotoURL+"="+moto.URL)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a first build of the function included
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "invoke"), fn, filepath.Join("events", name))
			cmd.Dir = root
			cmd.Env = callEnv
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err = cmd.Run()
			t.Logf("scripts/invoke %s events/%s: %s", fn, name, time.Since(start).Round(time.Millisecond))
			require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			logs := stderr.String()
			require.Contains(t, logs, "lambdainvoke: local AWS for this call", "the script brought up the local AWS")
			report := logs[strings.LastIndex(logs, "--- local AWS after the call ---"):]

			var resp struct {
				StatusCode        *int              `json:"statusCode"`
				BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
			}
			if strings.TrimSpace(stdout.String()) != "null" {
				require.NoError(t, json.Unmarshal(stdout.Bytes(), &resp), stdout.String())
			}
			switch {
			case in.Headers != nil:
				require.NotNil(t, resp.StatusCode, "an HTTP response; logs:\n%s", logs)
				want := 200
				switch {
				case strings.Contains(name, "bad-credentials"):
					want = 401
				case fn == "ingest":
					want = 202
				case fn == "dashboard":
					want = 403 // a session it cannot verify: the page that says to open it from Heroku
				}
				assert.Equal(t, want, *resp.StatusCode, "logs:\n%s", logs)
				if want == 202 {
					assert.Contains(t, report, "IngestQueue: 1 message(s)", "the event is queued")
				}
			case in.Records != nil:
				assert.NotNil(t, resp.BatchItemFailures, "a batch response; logs:\n%s", logs)
				assert.Empty(t, resp.BatchItemFailures, "logs:\n%s", logs)
				switch {
				case strings.Contains(name, "-poison"):
					assert.Regexp(t, fmt.Sprintf(`\w+DLQ: %d message\(s\)`, len(in.Records)), report, "poison dead-lettered")
				case fn == "deliver" || fn == "partnernotify":
					assert.Contains(t, report, fmt.Sprintf(": %d request(s)", len(in.Records)), "every record reaches the receiver")
				}
				if !strings.Contains(name, "-poison") {
					assert.NotRegexp(t, `DLQ: \d+ message`, report, "nothing dead-lettered")
				}
			default:
				assert.Equal(t, "null", strings.TrimSpace(stdout.String()), "logs:\n%s", logs)
			}
		})
	}
}

// pristineEnv is the test's environment without anything a newcomer would
// not have exported: no AWS_* variable, none of the template's function
// variables, no moto or emulator override.
func pristineEnv(t *testing.T, tpl *samtemplate.Template) []string {
	t.Helper()
	drop := map[string]bool{EnvMotoURL: true, "MOTO_SERVER": true, "AWS_LAMBDA_RIE": true, "NO_BUILD": true}
	for _, id := range tpl.Functions() {
		fn, err := tpl.Function(id)
		require.NoError(t, err)
		for k := range fn.Env {
			drop[k] = true
		}
		for k := range fn.Unresolved {
			drop[k] = true
		}
	}
	aws := regexp.MustCompile(`^AWS_`)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] && !aws.MatchString(k) {
			env = append(env, kv)
		}
	}
	return env
}
