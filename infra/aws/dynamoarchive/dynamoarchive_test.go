package dynamoarchive

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/archive/archivetest"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

func TestConformance(t *testing.T) {
	archivetest.Run(t, func(t *testing.T, l archive.Limits) archive.Store {
		client, table := awstest.Table(t, moto, "archive", CreateTable)
		return New(client, table, l)
	})
}

// TestLayout: records carry the TTL attribute, and the table's TTL is on.
func TestLayout(t *testing.T) {
	client, table := awstest.Table(t, moto, "archive", CreateTable)
	s := New(client, table, archive.Limits{})
	require.NoError(t, s.Append(t.Context(), archivetest.Rec("t", "s", "e1", 0)))
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, out.Items, 2) // the record and its tenant's byte count
	for _, it := range out.Items {
		assert.Contains(t, it, AttrExpires)
	}
	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Equal(t, AttrExpires, aws.ToString(ttl.TimeToLiveDescription.AttributeName))
}
