package dynamorecent

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/recent/recenttest"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

func newStore(t *testing.T, l recent.Limits) (*Store, *dynamodb.Client) {
	t.Helper()
	client, table := awstest.Table(t, moto, "recent", CreateTable)
	return New(client, table, l), client
}

func TestConformance(t *testing.T) {
	recenttest.Run(t, func(t *testing.T, l recent.Limits) recent.Store {
		s, _ := newStore(t, l)
		return s
	})
}

// TestRingLayout: a subscription holds at most N event items plus its
// counter, whatever it has kept, each with the TTL attribute.
func TestRingLayout(t *testing.T) {
	s, client := newStore(t, recent.Limits{PerSubscription: 3})
	for i := range 10 {
		require.NoError(t, s.Keep(t.Context(), recent.Entry{Tenant: "t", Subscription: "s",
			Event: event.Event{ID: fmt.Sprint("e", i), Source: "/s", Type: "x", Data: []byte(`{}`)}}))
	}
	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: &s.table})
	require.NoError(t, err)
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it[AttrSK].(*types.AttributeValueMemberS).Value)
		assert.Contains(t, it, AttrExpires)
		assert.Equal(t, "R#t#s", it[AttrPK].(*types.AttributeValueMemberS).Value)
	}
	assert.ElementsMatch(t, []string{"#seq", "S#000000", "S#000001", "S#000002"}, sks)

	ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(s.table)})
	require.NoError(t, err)
	assert.Equal(t, AttrExpires, aws.ToString(ttl.TimeToLiveDescription.AttributeName))
}

// TestMaxEventBytesClamped: an item never exceeds DynamoDB's 400 KB.
func TestMaxEventBytesClamped(t *testing.T) {
	s, _ := newStore(t, recent.Limits{MaxEventBytes: 1 << 20})
	big := `{"b":"` + strings.Repeat("x", MaxEventBytes) + `"}`
	require.NoError(t, s.Keep(t.Context(), recent.Entry{Tenant: "t", Subscription: "s",
		Event: event.Event{ID: "big", Source: "/s", Type: "x", Data: []byte(big)}}))
	got, err := s.Latest(t.Context(), "t", "s", 0)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.True(t, got[0].Oversize)
}
