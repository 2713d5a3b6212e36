package main

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

func TestFailure(t *testing.T) {
	tests := []struct {
		name   string
		status int
		fnErr  string
		body   string
		want   string
	}{
		{"http response", 200, "", `{"statusCode":401,"body":"{}"}`, ""},
		{"batch response", 200, "", `{"batchItemFailures":[{"itemIdentifier":"m1"}]}`, ""},
		{"crash", 502, "", ``, "emulator answered HTTP 502"},
		{"error header", 200, "Unhandled", `{}`, "function error Unhandled"},
		{"error body", 200, "", `{"errorMessage":"boom","errorType":"string"}`, "string: boom"},
		{"timeout", 200, "", `Task timed out after 30.00 seconds`, "Task timed out after 30.00 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, failure(tt.status, tt.fnErr, []byte(tt.body)))
		})
	}
}

func TestSummary(t *testing.T) {
	assert.Equal(t, " (HTTP 401)", summary([]byte(`{"statusCode":401}`)))
	assert.Equal(t, " (1 batch item failures)", summary([]byte(`{"batchItemFailures":[{"itemIdentifier":"a"}]}`)))
	assert.Equal(t, " (0 batch item failures)", summary([]byte(`{"batchItemFailures":[]}`)))
	assert.Empty(t, summary([]byte(`null`)))
}

func TestEnvironmentCallerOverrides(t *testing.T) {
	t.Setenv("LOG_LEVEL", "DEBUG")
	t.Setenv("CONFIG_TABLE", "local-table")
	fn := samtemplate.Function{
		ID: "FilterFunction", Timeout: 60 * time.Second, MemoryMB: 256,
		Env:        map[string]string{"LOG_LEVEL": "INFO", "ALLOW_EGRESS": ""},
		Unresolved: map[string]string{"CONFIG_TABLE": "Ref ConfigTable", "INGEST_DLQ_URL": "Ref IngestDLQ"},
	}
	env, missing := environment(fn)
	assert.Contains(t, env, "LOG_LEVEL=DEBUG")
	assert.NotContains(t, env, "LOG_LEVEL=INFO")
	assert.Contains(t, env, "ALLOW_EGRESS=")
	assert.Contains(t, env, "CONFIG_TABLE=local-table")
	assert.Contains(t, env, "AWS_LAMBDA_FUNCTION_TIMEOUT=60")
	assert.Contains(t, env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256")
	assert.Contains(t, env, "AWS_LAMBDA_FUNCTION_NAME=FilterFunction")
	assert.Equal(t, map[string]string{"INGEST_DLQ_URL": "Ref IngestDLQ"}, missing)
	assert.False(t, slices.ContainsFunc(env, func(kv string) bool { return kv == "INGEST_DLQ_URL=" }))
}

func TestFreeAddrIsLoopback(t *testing.T) {
	addr, err := freeAddr()
	assert.NoError(t, err)
	assert.Regexp(t, `^127\.0\.0\.1:\d+$`, addr)
}
