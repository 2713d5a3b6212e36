package dynamobatch

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
)

func count(t *testing.T, client *dynamodb.Client, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		require.NoError(t, err)
		n += len(page.Items)
	}
	return n
}

// TestWriteAndDelete writes and deletes more items than one request holds.
func TestWriteAndDelete(t *testing.T) {
	client, table := awstest.Table(t, awstest.New(t), "batch", func(ctx context.Context, client *dynamodb.Client, table string) error {
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table),
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
		})
		return err
	})

	const n = 2*Limit + 3
	reqs := make([]types.WriteRequest, n)
	keys := make([]map[string]types.AttributeValue, n)
	for i := range n {
		keys[i] = map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: strconv.Itoa(i)}}
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: keys[i]}}
	}
	require.NoError(t, Write(t.Context(), client, table, reqs))
	require.Equal(t, n, count(t, client, table))

	require.NoError(t, Delete(t.Context(), client, table, keys[:Limit+1]))
	require.Equal(t, n-Limit-1, count(t, client, table))
	require.NoError(t, Delete(t.Context(), client, table, keys))
	require.Zero(t, count(t, client, table))

	require.NoError(t, Write(t.Context(), client, table, nil), "nothing to write is no request")
	require.ErrorContains(t, Write(t.Context(), client, "missing", reqs[:1]), "batch write")
}
