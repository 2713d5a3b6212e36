package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/generate/generatetest"
)

// TestConcurrentTicksDynamoDB: the store this function uses (DynamoDB, its
// due generators found on GSI1) lets two concurrent ticks emit each slot
// exactly once. Runs against moto, with the function's own environment.
func TestConcurrentTicksDynamoDB(t *testing.T) {
	moto := awstest.New(t)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": moto.URL, "AWS_ACCESS_KEY_ID": awstest.AccessKey, "AWS_SECRET_ACCESS_KEY": awstest.SecretKey,
		"AWS_REGION": awstest.Region, "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"CONFIG_TABLE": "config", "LOG_LEVEL": "ERROR",
	} {
		t.Setenv(k, v)
	}
	createTable(t, moto.URL, "config")
	store := awsenv.MustLoad(t.Context(), "generate").Store()
	generatetest.ConcurrentTicks(t, store)
}

// createTable creates the config table (schema of dynamostore.TableInput)
// with one JSON-protocol call to moto, which does not check signatures.
func createTable(t *testing.T, url, table string) {
	t.Helper()
	attr := func(n string) map[string]string { return map[string]string{"AttributeName": n, "AttributeType": "S"} }
	key := func(h, r string) []map[string]string {
		return []map[string]string{{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}}
	}
	body, err := json.Marshal(map[string]any{
		"TableName": table, "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": []map[string]string{attr("PK"), attr("SK"), attr("GSI1PK"), attr("GSI1SK")},
		"KeySchema":            key("PK", "SK"),
		"GlobalSecondaryIndexes": []map[string]any{{
			"IndexName": "GSI1", "KeySchema": key("GSI1PK", "GSI1SK"), "Projection": map[string]string{"ProjectionType": "ALL"},
		}},
	})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.CreateTable")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+awstest.AccessKey+"/20260101/"+awstest.Region+
		"/dynamodb/aws4_request, SignedHeaders=host, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "create table %s", table)
}
