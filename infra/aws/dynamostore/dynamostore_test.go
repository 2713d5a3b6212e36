package dynamostore

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/config/storetest"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

// newStore returns a store on a new table of the shared moto server.
func newStore(t *testing.T) (*Store, *dynamodb.Client) {
	t.Helper()
	client, table := awstest.Table(t, moto, "config", CreateTable)
	st := New(client, table)
	// Small pages so that List, IndexedBefore and DeleteTenant page.
	st.pageSize = 10
	return st, client
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) config.Store {
		st, _ := newStore(t)
		return st
	})
}

func TestTableSchema(t *testing.T) {
	st, client := newStore(t)
	out, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &st.table})
	require.NoError(t, err)
	td := out.Table
	require.Len(t, td.KeySchema, 2)
	require.Equal(t, AttrPK, *td.KeySchema[0].AttributeName)
	require.Equal(t, AttrSK, *td.KeySchema[1].AttributeName)
	require.Len(t, td.GlobalSecondaryIndexes, 1)
	gsi := td.GlobalSecondaryIndexes[0]
	require.Equal(t, GSI1, *gsi.IndexName)
	require.Equal(t, AttrGSI1PK, *gsi.KeySchema[0].AttributeName)
	require.Equal(t, AttrGSI1SK, *gsi.KeySchema[1].AttributeName)
}

func TestLayout(t *testing.T) {
	st, client := newStore(t)
	_, err := st.Create(t.Context(), config.Item{Tenant: "t1", Kind: config.KindSubscription, ID: "s1", Name: "orders", Index: "0005", Body: []byte("{}")})
	require.NoError(t, err)

	out, err := client.Scan(t.Context(), &dynamodb.ScanInput{TableName: &st.table})
	require.NoError(t, err)
	got := map[string]map[string]string{}
	for _, r := range out.Items {
		flat := map[string]string{}
		for k, v := range r {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				flat[k] = v.Value
			case *types.AttributeValueMemberN:
				flat[k] = v.Value
			case *types.AttributeValueMemberB:
				flat[k] = string(v.Value)
			}
		}
		got[flat[AttrSK]] = flat
	}
	require.Equal(t, map[string]map[string]string{
		"subscription#ID#s1": {
			AttrPK: "T#t1", AttrSK: "subscription#ID#s1", AttrTenant: "t1", AttrKind: "subscription", AttrID: "s1",
			AttrName: "orders", AttrIndex: "0005", AttrVersion: "1", AttrBody: "{}",
			AttrGSI1PK: "subscription", AttrGSI1SK: "0005",
		},
		"subscription#NAME#orders": {AttrPK: "T#t1", AttrSK: "subscription#NAME#orders", AttrID: "s1"},
	}, got)
}

func TestInvalidKind(t *testing.T) {
	st, _ := newStore(t)
	for _, kind := range []string{"", "a#b"} {
		_, err := st.Create(t.Context(), config.Item{Tenant: "t", Kind: kind, ID: "x"})
		require.Error(t, err)
		_, err = st.Get(t.Context(), "t", kind, "x")
		require.Error(t, err)
		require.NotErrorIs(t, err, config.ErrNotFound)
	}
}
