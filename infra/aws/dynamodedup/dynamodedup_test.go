package dynamodedup

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/dedup/deduptest"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

func TestConformance(t *testing.T) {
	deduptest.Run(t, func(t *testing.T, now func() time.Time) dedup.Store {
		client, table := awstest.Table(t, moto, "publish-keys", CreateTable)
		return New(client, table, now)
	})
}

// TestItemLayout: one item per key, with the TTL attribute a second past
// the window, and the table's TTL on it.
func TestItemLayout(t *testing.T) {
	client, table := awstest.Table(t, moto, "publish-keys", CreateTable)
	c := deduptest.NewClock()
	s := New(client, table, c.Now)
	k := dedup.Key("pub", dedup.KindHeader, "a")
	_, err := s.Claim(t.Context(), "tenant", k, "ev-1", time.Hour)
	require.NoError(t, err)
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: aws.String(table)})
	require.NoError(t, err)
	require.Len(t, out.Items, 1)
	it := out.Items[0]
	assert.Equal(t, "K#tenant#"+k, it[AttrPK].(*types.AttributeValueMemberS).Value)
	assert.Equal(t, c.Now().Add(time.Hour+time.Second).Unix(), number(it, AttrExpires))

	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Equal(t, AttrExpires, aws.ToString(ttl.TimeToLiveDescription.AttributeName))
}
