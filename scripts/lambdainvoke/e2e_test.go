package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/stack"
)

// TestSamplesUnderEmulator builds every function binary as it is deployed
// (static linux, lambda.norpc) for the host architecture and invokes it on
// every events/<function>-*.json under aws-lambda-rie, wired to a moto
// server holding the table, queues and key of template.yaml. HTTP samples
// must get an answer below 500, SQS samples an empty batchItemFailures, and
// poison samples must land in the function's dead-letter queue.
func TestSamplesUnderEmulator(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	rie := filepath.Join(root, ".bin", "aws-lambda-rie")
	_, err = os.Stat(rie)
	require.NoError(t, err, "aws-lambda-rie is missing: run scripts/setup-tools")

	tpl, err := stack.Parse(herokuevents.Template)
	require.NoError(t, err)
	bin := t.TempDir()
	var pkgs []string
	for _, id := range tpl.Functions() {
		pkgs = append(pkgs, "./functions/"+role(id))
	}
	build := exec.CommandContext(t.Context(), "go", append([]string{"build", "-tags", "lambda.norpc", "-trimpath", "-o", bin + "/"}, pkgs...)...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build functions:\n%s", out)

	moto := awstest.New(t)
	env := map[string]string{
		"AWS_ENDPOINT_URL": moto.URL, "AWS_ACCESS_KEY_ID": awstest.AccessKey, "AWS_SECRET_ACCESS_KEY": awstest.SecretKey,
		"AWS_REGION": awstest.Region, "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"CONFIG_TABLE": "config", "PUBLIC_URL": "https://events.example.com",
		"OPERATOR_PASSWORD": strings.Repeat("p", 32), "RIE_LOG_LEVEL": "error",
	}
	call(t, moto.URL, "dynamodb", "DynamoDB_20120810.CreateTable", map[string]any{
		"TableName": "config", "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": []map[string]string{
			{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"},
			{"AttributeName": "GSI1PK", "AttributeType": "S"}, {"AttributeName": "GSI1SK", "AttributeType": "S"},
		},
		"KeySchema": []map[string]string{{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}},
		"GlobalSecondaryIndexes": []map[string]any{{
			"IndexName":  "GSI1",
			"KeySchema":  []map[string]string{{"AttributeName": "GSI1PK", "KeyType": "HASH"}, {"AttributeName": "GSI1SK", "KeyType": "RANGE"}},
			"Projection": map[string]string{"ProjectionType": "ALL"},
		}},
	})
	for _, q := range []string{"INGEST_QUEUE_URL", "INGEST_DLQ_URL", "DELIVERY_QUEUE_URL", "DELIVERY_DLQ_URL"} {
		res := call(t, moto.URL, "sqs", "AmazonSQS.CreateQueue", map[string]any{"QueueName": strings.ToLower(strings.TrimSuffix(q, "_URL"))})
		env[q], _ = res["QueueUrl"].(string)
		require.NotEmpty(t, env[q])
	}
	key := call(t, moto.URL, "kms", "TrentService.CreateKey", map[string]any{})
	env["KMS_KEY_ID"], _ = key["KeyMetadata"].(map[string]any)["KeyId"].(string)
	for k, v := range env {
		t.Setenv(k, v)
	}

	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		name := filepath.Base(file)
		fn, _, _ := strings.Cut(name, "-")
		t.Run(name, func(t *testing.T) {
			dlq := map[string]string{"filter": env["INGEST_DLQ_URL"], "deliver": env["DELIVERY_DLQ_URL"]}[fn]
			before := depth(t, moto.URL, dlq)
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), rie, filepath.Join(bin, fn), fn, file, &stdout, &stderr)
			require.Equal(t, 0, code, "invocation failed\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			var resp struct {
				StatusCode        *int              `json:"statusCode"`
				BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
			}
			require.NoError(t, json.Unmarshal(stdout.Bytes(), &resp), stdout.String())
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var in struct {
				Records []json.RawMessage `json:"Records"`
			}
			require.NoError(t, json.Unmarshal(raw, &in))
			switch {
			case resp.StatusCode != nil:
				assert.Less(t, *resp.StatusCode, 500, "logs:\n%s", stderr.String())
			case in.Records != nil:
				assert.NotNil(t, resp.BatchItemFailures)
				assert.Empty(t, resp.BatchItemFailures, "logs:\n%s", stderr.String())
				if strings.Contains(name, "-poison") {
					assert.Equal(t, before+len(in.Records), depth(t, moto.URL, dlq), "poison dead-lettered; logs:\n%s", stderr.String())
				}
			}
		})
	}
}

// role is the functions/ folder of a logical id: ApiFunction -> api.
func role(id string) string { return strings.ToLower(strings.TrimSuffix(id, "Function")) }

// call makes one AWS JSON-protocol call to moto (which does not check
// signatures), keeping this test free of AWS SDK clients.
func call(t *testing.T, url, service, target string, in any) map[string]any {
	t.Helper()
	body, err := json.Marshal(in)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/", bytes.NewReader(body))
	require.NoError(t, err)
	ct := "application/x-amz-json-1.0"
	if service == "kms" {
		ct = "application/x-amz-json-1.1"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+awstest.AccessKey+"/20260101/"+awstest.Region+"/"+service+
		"/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %v", target, out)
	return out
}

// depth is the number of messages in the queue (0 for no queue).
func depth(t *testing.T, url, queueURL string) int {
	t.Helper()
	if queueURL == "" {
		return 0
	}
	res := call(t, url, "sqs", "AmazonSQS.GetQueueAttributes", map[string]any{
		"QueueUrl": queueURL, "AttributeNames": []string{"ApproximateNumberOfMessages"},
	})
	attrs, _ := res["Attributes"].(map[string]any)
	n, err := strconv.Atoi(attrs["ApproximateNumberOfMessages"].(string))
	require.NoError(t, err)
	return n
}
