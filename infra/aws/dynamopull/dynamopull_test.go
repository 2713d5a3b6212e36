package dynamopull_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/infra/aws/dynamopull"
	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/pull/pulltest"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

func TestConformance(t *testing.T) {
	pulltest.Run(t, func(t *testing.T, retention time.Duration, now func() time.Time) pull.Buffer {
		client, table := awstest.Table(t, moto, "pull", dynamopull.CreateTable)
		return dynamopull.New(client, table, dynamopull.Options{Retention: retention, Now: now})
	})
}

// Every item carries the TTL attribute, past the retention.
func TestItemsExpireByTTL(t *testing.T) {
	client, table := awstest.Table(t, moto, "pull", dynamopull.CreateTable)
	b := dynamopull.New(client, table, dynamopull.Options{Retention: time.Hour})
	require.NoError(t, b.Put(t.Context(), "t", "s", pulltest.Event(1)))
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, out.Items, 1)
	exp, ok := out.Items[0][dynamopull.AttrExpires].(*types.AttributeValueMemberN)
	require.True(t, ok)
	assert.NotEmpty(t, exp.Value)
	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Equal(t, dynamopull.AttrExpires, aws.ToString(ttl.TimeToLiveDescription.AttributeName))
}
