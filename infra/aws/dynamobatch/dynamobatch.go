// Package dynamobatch writes and deletes DynamoDB items through
// BatchWriteItem, at most Limit a request, re-sending the unprocessed items
// DynamoDB hands back with exponential backoff, as DynamoDB asks. Nothing
// else is retried here: throttling and transport errors are the SDK
// client's business.
package dynamobatch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Limit is DynamoDB's BatchWriteItem maximum of requests.
const Limit = 25

// Backoff of the re-sends: the first waits firstDelay, each next twice as
// long, and after maxResends re-sends the items left are an error.
const (
	firstDelay = 50 * time.Millisecond
	maxResends = 8
)

// Write sends reqs to table in batches of at most Limit. A failed batch
// stops it: the batches before it stay written.
func Write(ctx context.Context, client *dynamodb.Client, table string, reqs []types.WriteRequest) error {
	for batch := range slices.Chunk(reqs, Limit) {
		if err := write(ctx, client, table, batch); err != nil {
			return err
		}
	}
	return nil
}

// Delete deletes the items with the given keys from table, as Write does.
func Delete(ctx context.Context, client *dynamodb.Client, table string, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	return Write(ctx, client, table, reqs)
}

// write sends one batch of at most Limit requests.
func write(ctx context.Context, client *dynamodb.Client, table string, reqs []types.WriteRequest) error {
	delay := firstDelay
	for attempt := 0; len(reqs) > 0; attempt++ {
		if attempt > 0 {
			if attempt > maxResends {
				return fmt.Errorf("batch write: %d items left unprocessed", len(reqs))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay *= 2
		}
		out, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs},
		})
		if err != nil {
			return fmt.Errorf("batch write: %w", err)
		}
		reqs = out.UnprocessedItems[table]
	}
	return nil
}
