package herokuevents_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// The test reads template.yaml on its own, into typed structs: yaml.v3
// keeps the value of a CloudFormation short tag and drops the tag, so
// `!GetAtt Q.Arn` reads as "Q.Arn" and `!Ref X` as "X". That reading is
// independent of shared/stack, whose results it checks.

type cfnTemplate struct {
	Globals struct {
		Function cfnProps `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]cfnResource `yaml:"Resources"`
}

type cfnResource struct {
	Type       string         `yaml:"Type"`
	Metadata   map[string]any `yaml:"Metadata"`
	Properties cfnProps       `yaml:"Properties"`
}

type cfnProps struct {
	// function
	CodeURI       string              `yaml:"CodeUri"`
	Timeout       int                 `yaml:"Timeout"`
	Architectures []string            `yaml:"Architectures"`
	Role          any                 `yaml:"Role"`
	Policies      []any               `yaml:"Policies"`
	Events        map[string]cfnEvent `yaml:"Events"`
	// API Gateway v2 and Lambda permissions
	RouteKey             string `yaml:"RouteKey"`
	Target               string `yaml:"Target"`
	IntegrationType      string `yaml:"IntegrationType"`
	IntegrationURI       string `yaml:"IntegrationUri"`
	PayloadFormatVersion string `yaml:"PayloadFormatVersion"`
	FunctionName         string `yaml:"FunctionName"`
	Principal            string `yaml:"Principal"`
	// queue
	VisibilityTimeout      *int `yaml:"VisibilityTimeout"`
	MessageRetentionPeriod int  `yaml:"MessageRetentionPeriod"`
	RedrivePolicy          *struct {
		DeadLetterTargetArn string `yaml:"deadLetterTargetArn"`
		MaxReceiveCount     int    `yaml:"maxReceiveCount"`
	} `yaml:"RedrivePolicy"`
}

type cfnEvent struct {
	Type       string `yaml:"Type"`
	Properties struct {
		Queue                          string   `yaml:"Queue"`
		BatchSize                      int      `yaml:"BatchSize"`
		MaximumBatchingWindowInSeconds int      `yaml:"MaximumBatchingWindowInSeconds"`
		FunctionResponseTypes          []string `yaml:"FunctionResponseTypes"`
		ScalingConfig                  struct {
			MaximumConcurrency int `yaml:"MaximumConcurrency"`
		} `yaml:"ScalingConfig"`
	} `yaml:"Properties"`
}

func readTemplate(t *testing.T) cfnTemplate {
	t.Helper()
	raw, err := os.ReadFile("template.yaml")
	require.NoError(t, err)
	require.True(t, bytes.Equal(raw, herokuevents.Template), "the embedded template is template.yaml")
	var tpl cfnTemplate
	require.NoError(t, yaml.Unmarshal(raw, &tpl))
	require.NotEmpty(t, tpl.Resources)
	return tpl
}

func (tpl cfnTemplate) functions() map[string]cfnResource {
	out := map[string]cfnResource{}
	for id, r := range tpl.Resources {
		if r.Type == "AWS::Serverless::Function" {
			out[id] = r
		}
	}
	return out
}

func (tpl cfnTemplate) timeout(fn cfnResource) time.Duration {
	switch {
	case fn.Properties.Timeout > 0:
		return time.Duration(fn.Properties.Timeout) * time.Second
	case tpl.Globals.Function.Timeout > 0:
		return time.Duration(tpl.Globals.Function.Timeout) * time.Second
	}
	return 3 * time.Second // the Lambda default
}

// queueOf returns the logical id of the queue of an SQS event ("Q.Arn").
func queueOf(ev cfnEvent) string {
	id, _ := strings.CutSuffix(ev.Properties.Queue, ".Arn")
	return id
}

func TestTemplateFunctionsMatchFolders(t *testing.T) {
	tpl := readTemplate(t)
	dirs, err := filepath.Glob("functions/*")
	require.NoError(t, err)
	var folders []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			folders = append(folders, filepath.Base(d))
		}
	}
	byFolder := map[string]string{}
	for id, fn := range tpl.functions() {
		t.Run(id, func(t *testing.T) {
			dir := strings.TrimSuffix(fn.Properties.CodeURI, "/")
			role, ok := strings.CutPrefix(dir, "functions/")
			require.True(t, ok, "CodeUri %q must be functions/<role>/", fn.Properties.CodeURI)
			assert.Equal(t, strings.ToLower(strings.TrimSuffix(id, "Function")), role,
				"logical id <Role>Function builds functions/<role> (functions/Makefile derives the folder from the id)")
			assert.Contains(t, folders, role, "function %s has no folder functions/%s", id, role)
			mains, _ := filepath.Glob(filepath.Join("functions", role, "*.go"))
			assert.NotEmpty(t, mains, "functions/%s has no Go main", role)
			assert.Equal(t, "makefile", fn.Metadata["BuildMethod"])
			assert.Equal(t, ".", fn.Metadata["ProjectRootDirectory"])
			assert.Equal(t, "functions", fn.Metadata["ContextPath"])
			byFolder[role] = id
		})
	}
	for _, f := range folders {
		assert.Contains(t, byFolder, f, "folder functions/%s has no function resource in template.yaml", f)
	}
}

func TestTemplateSAMBuildTargets(t *testing.T) {
	tpl := readTemplate(t)
	arch := map[string]string{"arm64": "arm64", "x86_64": "amd64"}
	for id, fn := range tpl.functions() {
		t.Run(id, func(t *testing.T) {
			archs := fn.Properties.Architectures
			if len(archs) == 0 {
				archs = tpl.Globals.Function.Architectures
			}
			require.Len(t, archs, 1)
			out, err := exec.CommandContext(t.Context(), "make", "--dry-run", "-f", "functions/Makefile",
				"build-"+id, "ARTIFACTS_DIR=/artifacts").CombinedOutput()
			require.NoError(t, err, "%s", out)
			role := strings.TrimPrefix(strings.TrimSuffix(fn.Properties.CodeURI, "/"), "functions/")
			assert.Contains(t, string(out), "GOARCH="+arch[archs[0]]+" ", "the binary's arch matches Architectures")
			assert.Contains(t, string(out), "-o /artifacts/bootstrap ./functions/"+role+"\n")
			assert.Contains(t, string(out), "-tags lambda.norpc,grpcnotrace")
			assert.Contains(t, string(out), "CGO_ENABLED=0")
		})
	}
}

func TestTemplateQueues(t *testing.T) {
	tpl := readTemplate(t)
	dlqs := map[string]bool{}
	for _, r := range tpl.Resources {
		if r.Type == "AWS::SQS::Queue" && r.Properties.RedrivePolicy != nil {
			dlqs[strings.TrimSuffix(r.Properties.RedrivePolicy.DeadLetterTargetArn, ".Arn")] = true
		}
	}
	consumers := map[string][]string{}
	for id, fn := range tpl.functions() {
		for _, ev := range fn.Properties.Events {
			if ev.Type == "SQS" {
				consumers[queueOf(ev)] = append(consumers[queueOf(ev)], id)
			}
		}
	}
	for id, r := range tpl.Resources {
		if r.Type != "AWS::SQS::Queue" {
			continue
		}
		t.Run(id, func(t *testing.T) {
			if dlqs[id] {
				assert.Equal(t, 14*24*3600, r.Properties.MessageRetentionPeriod, "dead letters are kept 14 days")
				assert.Nil(t, r.Properties.RedrivePolicy, "a DLQ has no DLQ")
				return
			}
			rp := r.Properties.RedrivePolicy
			require.NotNil(t, rp, "queue %s has no dead-letter queue", id)
			dlq, ok := tpl.Resources[strings.TrimSuffix(rp.DeadLetterTargetArn, ".Arn")]
			require.True(t, ok, "DLQ %s of %s is not declared", rp.DeadLetterTargetArn, id)
			assert.Equal(t, "AWS::SQS::Queue", dlq.Type)
			assert.GreaterOrEqual(t, rp.MaxReceiveCount, 5)
			require.Len(t, consumers[id], 1, "queue %s has exactly one consumer function", id)
			fn := tpl.Resources[consumers[id][0]]
			require.NotNil(t, r.Properties.VisibilityTimeout)
			vis := time.Duration(*r.Properties.VisibilityTimeout) * time.Second
			for _, ev := range fn.Properties.Events {
				if ev.Type == "SQS" && queueOf(ev) == id {
					window := time.Duration(ev.Properties.MaximumBatchingWindowInSeconds) * time.Second
					assert.GreaterOrEqual(t, vis, 6*tpl.timeout(fn)+window,
						"visibility of %s ≥ 6 × timeout of %s + batching window", id, consumers[id][0])
				}
			}
		})
	}
}

func TestTemplateHTTPRoutes(t *testing.T) {
	tpl := readTemplate(t)
	routes := map[string]string{}
	permitted := map[string]bool{}
	for id, r := range tpl.Resources {
		switch r.Type {
		case "AWS::ApiGatewayV2::Route":
			integ, ok := strings.CutPrefix(r.Properties.Target, "integrations/${")
			require.True(t, ok, "route %s targets an integration", id)
			in := tpl.Resources[strings.TrimSuffix(integ, "}")]
			require.Equal(t, "AWS::ApiGatewayV2::Integration", in.Type, "route %s", id)
			assert.Equal(t, "AWS_PROXY", in.Properties.IntegrationType)
			assert.Equal(t, "2.0", in.Properties.PayloadFormatVersion, "lambdaio.HTTP speaks payload format 2.0")
			routes[r.Properties.RouteKey] = strings.TrimSuffix(in.Properties.IntegrationURI, ".Arn")
		case "AWS::Lambda::Permission":
			if r.Properties.Principal == "apigateway.amazonaws.com" {
				permitted[r.Properties.FunctionName] = true
			}
		}
	}
	assert.Equal(t, map[string]string{
		"ANY /v1/{proxy+}":     "ApiFunction",
		"ANY /heroku/{proxy+}": "ApiFunction",
		"GET /oauth/{proxy+}":  "ApiFunction",
		"POST /publish/{name}": "IngestFunction",
		// the CloudEvents webhook handshake, answered by ingest
		"OPTIONS /publish/{name}": "IngestFunction",
		// add-on SSO (the manifest's sso_url) and the tenant's dashboard
		"POST /sso/login":          "DashboardFunction",
		"GET /dashboard":           "DashboardFunction",
		"POST /dashboard/{proxy+}": "DashboardFunction",
		// pull subscriptions (HEROKUEVENTS_SUBSCRIBE_URL) and Data Cloud
		// data action targets, served by ingest
		"GET /subscribe/{name}":                     "IngestFunction",
		"DELETE /subscribe/{name}/{id}":             "IngestFunction",
		"POST /subscribe/{name}/ack":                "IngestFunction",
		"POST /dataactions/{tenant}/{subscription}": "IngestFunction",
	}, routes)
	for _, fn := range routes {
		assert.True(t, permitted[fn], "API Gateway may invoke %s", fn)
	}
}

// TestTemplateIngestFunctionURL: the tenants' publish and subscribe URLs
// are on the ingest function's own URL (no API Gateway request per
// publish), open to anyone because ingest authenticates every request
// itself, and the stack outputs it.
func TestTemplateIngestFunctionURL(t *testing.T) {
	var tpl struct {
		Resources map[string]struct {
			Type     string         `yaml:"Type"`
			Metadata map[string]any `yaml:"Metadata"`
			Props    struct {
				TargetFunctionArn     string `yaml:"TargetFunctionArn"`
				AuthType              string `yaml:"AuthType"`
				Action                string `yaml:"Action"`
				FunctionName          string `yaml:"FunctionName"`
				Principal             string `yaml:"Principal"`
				FunctionURLAuthType   string `yaml:"FunctionUrlAuthType"`
				InvokedViaFunctionURL bool   `yaml:"InvokedViaFunctionUrl"`
				Environment           struct {
					Variables map[string]any `yaml:"Variables"`
				} `yaml:"Environment"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
		Outputs map[string]struct {
			Value string `yaml:"Value"`
		} `yaml:"Outputs"`
	}
	require.NoError(t, yaml.Unmarshal(herokuevents.Template, &tpl))
	var urls []string
	actions := map[string]bool{}
	for id, r := range tpl.Resources {
		switch {
		case r.Type == "AWS::Lambda::Url":
			urls = append(urls, id)
			assert.Equal(t, "IngestFunction.Arn", r.Props.TargetFunctionArn)
			assert.Equal(t, "NONE", r.Props.AuthType, "ingest checks the publish key itself")
			skip, _ := r.Metadata["checkov"].(map[string]any)["skip"].([]any)
			require.Len(t, skip, 1, "the checkov skip of AuthType NONE, with its reason")
			assert.Equal(t, "CKV_AWS_258", skip[0].(map[string]any)["id"])
			assert.NotEmpty(t, skip[0].(map[string]any)["comment"])
		case r.Type == "AWS::Lambda::Permission" && r.Props.Principal == "*":
			assert.Equal(t, "IngestFunction", r.Props.FunctionName, "%s: only ingest is open to anyone", id)
			switch r.Props.Action {
			case "lambda:InvokeFunctionUrl":
				assert.Equal(t, "NONE", r.Props.FunctionURLAuthType, id)
			case "lambda:InvokeFunction":
				assert.True(t, r.Props.InvokedViaFunctionURL, "%s: through the function URL only", id)
			}
			actions[r.Props.Action] = true
		}
	}
	require.Equal(t, []string{"IngestFunctionUrl"}, urls)
	assert.Equal(t, map[string]bool{"lambda:InvokeFunctionUrl": true, "lambda:InvokeFunction": true}, actions,
		"a function URL with AuthType NONE needs both permissions")
	assert.Equal(t, "IngestFunctionUrl.FunctionUrl", tpl.Resources["ApiFunction"].Props.Environment.Variables["PUBLISH_BASE_URL"],
		"the api hands out publish and subscribe URLs on the function URL")
	assert.Equal(t, "IngestFunctionUrl.FunctionUrl", tpl.Outputs["PublishUrl"].Value)
}

func TestTemplateSQSEvents(t *testing.T) {
	tpl := readTemplate(t)
	n := 0
	for id, fn := range tpl.functions() {
		for name, ev := range fn.Properties.Events {
			if ev.Type != "SQS" {
				continue
			}
			n++
			t.Run(id+"/"+name, func(t *testing.T) {
				p := ev.Properties
				assert.Equal(t, []string{"ReportBatchItemFailures"}, p.FunctionResponseTypes)
				assert.Positive(t, p.ScalingConfig.MaximumConcurrency)
				assert.GreaterOrEqual(t, p.ScalingConfig.MaximumConcurrency, 2, "the SQS minimum")
				assert.Contains(t, tpl.Resources, queueOf(ev))
			})
		}
	}
	assert.Positive(t, n, "the template has SQS consumers")
}

// samPolicyTemplates are the SAM policy templates functions may use.
var samPolicyTemplates = []string{
	"DynamoDBCrudPolicy", "DynamoDBReadPolicy", "DynamoDBWritePolicy",
	"SQSSendMessagePolicy", "SQSPollerPolicy",
	"KMSDecryptPolicy", "KMSEncryptPolicy", "KMSEncryptPolicy_v2",
	"CloudWatchPutMetricPolicy", "EventBridgePutEventsPolicy", "LambdaInvokePolicy",
	"SSMParameterReadPolicy", "AWSSecretsManagerGetSecretValuePolicy",
}

// batchSecretsStatement lets a function read its secrets in one
// BatchGetSecretValue request (infra/aws/smsecret). The action has no
// resource-level permission, so its resource is "*"; it returns only the
// secrets the function may also GetSecretValue (each granted by
// AWSSecretsManagerGetSecretValuePolicy on one secret), so it widens
// nothing. No SAM policy template holds it.
var batchSecretsStatement = []any{map[string]any{
	"Effect": "Allow", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*",
}}

func TestTemplateIAMOnlyPolicyTemplates(t *testing.T) {
	tpl := readTemplate(t)
	for id, r := range tpl.Resources {
		assert.False(t, strings.HasPrefix(r.Type, "AWS::IAM::"), "resource %s: IAM only through SAM policy templates", id)
	}
	for id, fn := range tpl.functions() {
		t.Run(id, func(t *testing.T) {
			assert.Nil(t, fn.Properties.Role, "no hand-made role")
			require.NotEmpty(t, fn.Properties.Policies, "least privilege is declared, not implied")
			for _, p := range fn.Properties.Policies {
				if alt, ok := p.([]any); ok && len(alt) == 3 {
					// !If [Condition, policy template, !Ref AWS::NoValue]
					assert.Equal(t, "AWS::NoValue", alt[2], "a conditional policy is a template or nothing")
					p = alt[1]
				}
				m, ok := p.(map[string]any)
				require.True(t, ok, "policy %v is not a SAM policy template (managed policy names are not allowed)", p)
				require.Len(t, m, 1)
				for name, params := range m {
					if name == "Statement" {
						// The one inline statement allowed: an action
						// that takes no resource and grants nothing alone.
						assert.Equal(t, batchSecretsStatement, params, "no inline statements but BatchGetSecretValue's")
						continue
					}
					assert.Contains(t, samPolicyTemplates, name)
					pm, _ := params.(map[string]any)
					for k, v := range pm {
						assert.NotEqual(t, "*", v, "%s %s must name one resource", name, k)
						assert.NotEmpty(t, v)
					}
				}
			}
		})
	}
}

func TestTemplateEmbeddedSettings(t *testing.T) {
	tpl := readTemplate(t)
	n := 0
	for id, fn := range tpl.functions() {
		for _, ev := range fn.Properties.Events {
			if ev.Type != "SQS" {
				continue
			}
			n++
			t.Run(id, func(t *testing.T) {
				q := tpl.Resources[queueOf(ev)]
				want := queue.Settings{
					BatchSize:         ev.Properties.BatchSize,
					BatchWindow:       time.Duration(ev.Properties.MaximumBatchingWindowInSeconds) * time.Second,
					VisibilityTimeout: time.Duration(*q.Properties.VisibilityTimeout) * time.Second,
					MaxReceives:       q.Properties.RedrivePolicy.MaxReceiveCount,
					Concurrency:       ev.Properties.ScalingConfig.MaximumConcurrency,
				}
				st, err := samtemplate.Parse(herokuevents.Template)
				require.NoError(t, err)
				got, err := st.QueueSettings(id, queueOf(ev))
				require.NoError(t, err)
				assert.Equal(t, want, got)
				if fn, _ := st.Function(id); fn.Queue == queueOf(ev) {
					assert.Equal(t, want, samtemplate.MustSettings(herokuevents.Template, id), "Settings are those of the first SQS event")
				}
			})
		}
	}
	assert.Positive(t, n)
}

func TestTemplateEnvironment(t *testing.T) {
	parsed, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	required := map[string][]string{
		"ApiFunction":       {"CONFIG_TABLE", "KMS_KEY_ID", "OPERATOR_ID", "OPERATOR_PASSWORD_ARN", "PUBLIC_URL", "ALLOW_EGRESS", "LOG_LEVEL", "RECENT_EVENTS_TABLE"},
		"IngestFunction":    {"CONFIG_TABLE", "INGEST_QUEUE_URL", "DELIVERY_QUEUE_URL", "LOG_LEVEL"},
		"FilterFunction":    {"CONFIG_TABLE", "DELIVERY_QUEUE_URL", "INGEST_DLQ_URL", "LOG_LEVEL", "RECENT_EVENTS_TABLE"},
		"DeliverFunction":   {"CONFIG_TABLE", "KMS_KEY_ID", "DELIVERY_QUEUE_URL", "DELIVERY_DLQ_URL", "ALLOW_EGRESS", "LOG_LEVEL"},
		"DashboardFunction": {"CONFIG_TABLE", "JOURNAL_TABLE", "INGEST_DLQ_URL", "DELIVERY_DLQ_URL", "INGEST_QUEUE_URL", "DELIVERY_QUEUE_URL", "LOG_LEVEL"},
	}
	for id, names := range required {
		t.Run(id, func(t *testing.T) {
			fn, err := parsed.Function(id)
			require.NoError(t, err)
			for _, n := range names {
				_, lit := fn.Env[n]
				_, ref := fn.Unresolved[n]
				assert.True(t, lit || ref, "%s sets %s", id, n)
			}
		})
	}
}

// TestTemplateDeclaresWhatMainsRead checks that every setting a function
// main requires (lambdaio.MustEnv, the awsenv helpers) is declared
// for that function in template.yaml.
func TestTemplateDeclaresWhatMainsRead(t *testing.T) {
	parsed, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	named := regexp.MustCompile(`(?:MustEnv|\.Queue)\("([A-Z0-9_]+)"\)`)
	implied := map[string][]string{
		".Store()": {"CONFIG_TABLE"}, ".DataStore()": {"CONFIG_TABLE"}, ".Recent()": {"RECENT_EVENTS_TABLE"}, ".Sealer()": {"KMS_KEY_ID"}, ".Egress()": {"ALLOW_EGRESS"},
		".DeadLetters()": {"INGEST_DLQ_URL", "DELIVERY_DLQ_URL", "INGEST_QUEUE_URL", "DELIVERY_QUEUE_URL"},
		".Journal":       {"JOURNAL_TABLE"},
		".Salesforce(":   {"SALESFORCE_PUBSUB_ENDPOINT", "SALESFORCE_CA_CERT"},
	}
	for _, id := range parsed.Functions() {
		t.Run(id, func(t *testing.T) {
			fn, err := parsed.Function(id)
			require.NoError(t, err)
			srcs, err := filepath.Glob(filepath.Join(strings.TrimSuffix(fn.CodeURI, "/"), "*.go"))
			require.NoError(t, err)
			require.NotEmpty(t, srcs)
			for _, src := range srcs {
				b, err := os.ReadFile(src)
				require.NoError(t, err)
				var want []string
				for _, m := range named.FindAllStringSubmatch(string(b), -1) {
					want = append(want, m[1])
				}
				for call, names := range implied {
					if strings.Contains(string(b), call) {
						want = append(want, names...)
					}
				}
				for _, name := range want {
					_, lit := fn.Env[name]
					_, ref := fn.Unresolved[name]
					assert.True(t, lit || ref, "%s reads %s but template.yaml does not set it for %s", src, name, id)
				}
			}
		})
	}
}

func TestTemplateLint(t *testing.T) {
	lint := filepath.Join(".venv", "bin", "cfn-lint")
	_, err := os.Stat(lint)
	require.NoError(t, err, "cfn-lint is missing: run scripts/setup-tools")
	out, err := exec.CommandContext(t.Context(), lint, "template.yaml").CombinedOutput()
	require.NoError(t, err, "cfn-lint template.yaml:\n%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "cfn-lint prints nothing: zero errors and zero warnings")
}

// TestSAMBuild runs the pinned `sam build` on template.yaml, without Docker,
// and checks every function came out as a static linux/arm64 bootstrap.
func TestSAMBuild(t *testing.T) {
	sam := filepath.Join(".venv", "bin", "sam")
	_, err := os.Stat(sam)
	require.NoError(t, err, "sam is missing: run scripts/setup-tools")
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), sam, "build", "--build-dir", dir)
	cmd.Env = append(os.Environ(), "SAM_CLI_TELEMETRY=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "sam build:\n%s", out)
	assert.Contains(t, string(out), "Build Succeeded")
	tpl, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	for _, fn := range tpl.Functions() {
		t.Run(fn, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, fn, "bootstrap"))
			require.NoError(t, err)
			require.Greater(t, len(b), 20)
			assert.Equal(t, []byte("\x7fELF"), b[:4], "an ELF binary")
			assert.Equal(t, []byte{0xb7, 0x00}, b[18:20], "for arm64 (e_machine EM_AARCH64)")
		})
	}
}
