package awslocal_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal/awslocaltest"
	"github.com/herokuevents/herokuevents/infra/aws/dynamostore"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// TestResourcesFromTemplate: what moto holds is what template.yaml
// declares: each queue's numbers and redrive policy, the table's schema
// (the one dynamostore needs), and every function's environment resolves
// to the stack's physical resources.
func TestResourcesFromTemplate(t *testing.T) {
	t.Parallel()
	st := awslocaltest.New(t, awslocal.Options{Functions: []string{}})
	client := sqs.NewFromConfig(st.AWS)
	queues := 0
	for id, r := range st.Template.Resources {
		if r.Type != samtemplate.TypeQueue {
			continue
		}
		queues++
		t.Run(id, func(t *testing.T) {
			out, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
				QueueUrl: aws.String(st.Ref(id)), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
			require.NoError(t, err)
			for _, prop := range []string{"VisibilityTimeout", "MessageRetentionPeriod"} {
				if v, ok := r.Properties[prop]; ok {
					assert.Equal(t, fmt.Sprint(v), out.Attributes[prop], prop)
				}
			}
			assert.Equal(t, st.Attr(id, "Arn"), out.Attributes["QueueArn"])
			redrive, ok := r.Properties["RedrivePolicy"].(map[string]any)
			if !ok {
				assert.Empty(t, out.Attributes["RedrivePolicy"])
				return
			}
			var got struct {
				DeadLetterTargetArn string `json:"deadLetterTargetArn"`
				MaxReceiveCount     any    `json:"maxReceiveCount"`
			}
			require.NoError(t, json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &got))
			dlq := redrive["deadLetterTargetArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
			assert.Equal(t, st.Attr(dlq, "Arn"), got.DeadLetterTargetArn)
			assert.Equal(t, fmt.Sprint(redrive["maxReceiveCount"]), fmt.Sprint(got.MaxReceiveCount))
		})
	}
	require.Positive(t, queues)

	desc, err := dynamodb.NewFromConfig(st.AWS).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(st.Ref("ConfigTable"))})
	require.NoError(t, err)
	want := dynamostore.TableInput("x")
	assert.ElementsMatch(t, want.KeySchema, desc.Table.KeySchema)
	require.Len(t, desc.Table.GlobalSecondaryIndexes, len(want.GlobalSecondaryIndexes))
	for i, gsi := range want.GlobalSecondaryIndexes {
		assert.Equal(t, aws.ToString(gsi.IndexName), aws.ToString(desc.Table.GlobalSecondaryIndexes[i].IndexName))
		assert.ElementsMatch(t, gsi.KeySchema, desc.Table.GlobalSecondaryIndexes[i].KeySchema)
	}

	for _, id := range st.Template.Functions() {
		env := st.Env(id)
		assert.Equal(t, st.Ref("ConfigTable"), env["CONFIG_TABLE"], id)
		for k, v := range env {
			assert.NotContains(t, v, "${", "%s %s", id, k)
			if strings.HasSuffix(k, "_QUEUE_URL") || strings.HasSuffix(k, "_DLQ_URL") {
				assert.True(t, strings.HasPrefix(v, "http"), "%s %s=%s", id, k, v)
			}
		}
		if k := env["KMS_KEY_ID"]; k != "" {
			assert.Equal(t, st.Ref("SealKey"), k)
		}
	}
	assert.Equal(t, st.URL, st.Env("ApiFunction")["PUBLIC_URL"])
	assert.Equal(t, st.Ref("IngestQueue"), st.Env("IngestFunction")["INGEST_QUEUE_URL"])
}

// TestSecretsFromTemplate: the template's secrets are created in moto from
// their parameters, and functions get only their ARNs (NAME_ARN), never
// the values; the Salesforce app secret exists only when its parameter is
// set.
func TestSecretsFromTemplate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		clientSecret string
	}{
		{"without a connected app secret", ""},
		{"with a connected app secret", "connected-app-consumer-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := awslocaltest.New(t, awslocal.Options{Functions: []string{}, Params: map[string]string{"SalesforceClientSecret": tt.clientSecret}})
			sm := secretsmanager.NewFromConfig(st.AWS)
			value := func(arn string) string {
				out, err := sm.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
				require.NoError(t, err)
				return aws.ToString(out.SecretString)
			}
			_, password := st.Operator()
			api := st.Env("ApiFunction")
			assert.Equal(t, password, value(api["OPERATOR_PASSWORD_ARN"]))
			assert.Equal(t, st.Ref("OperatorPasswordSecret"), api["OPERATOR_PASSWORD_ARN"])
			for _, id := range []string{"ApiFunction", "DeliverFunction", "SfsubscribeFunction"} {
				env := st.Env(id)
				if tt.clientSecret == "" {
					assert.NotContains(t, env, "SALESFORCE_CLIENT_SECRET_ARN", id)
				} else {
					assert.Equal(t, tt.clientSecret, value(env["SALESFORCE_CLIENT_SECRET_ARN"]), id)
				}
			}
			for _, id := range st.Template.Functions() {
				for k, v := range st.Env(id) {
					assert.NotEqual(t, password, v, "%s %s holds the operator password", id, k)
					if tt.clientSecret != "" {
						assert.NotEqual(t, tt.clientSecret, v, "%s %s holds the client secret", id, k)
					}
				}
			}
		})
	}
}
