// Package dynamopull is the AWS driver of pull.Buffer: one DynamoDB table
// with a lease attribute and a TTL (PullTable in template.yaml; TableInput).
//
// Each pull subscription is one partition, one item per kept event:
//
//	PK = "P#{tenant}#{subscription}"  SK = event id
//	Kept (N, unix ns: the buffer order), LeaseUntil (N, unix ms; 0 never
//	leased), Receives (N), Event (S, JSON), Expires (N, unix s: the TTL)
//
// with a local secondary index ByKept (sort key Kept, projecting
// LeaseUntil) that lists a partition oldest first. Put is a conditional
// PutItem (attribute_not_exists: an event kept already, leased or not, is
// left as it is). Lease reads the oldest available candidates from ByKept
// (Kept within the retention, LeaseUntil ≤ now) and takes each with a
// conditional UpdateItem (LeaseUntil ≤ now): of two concurrent Leases one
// wins an event, the other moves on to the next candidates. Ack is a
// DeleteItem. Reads skip events older than the retention, which the TTL
// removes only eventually. An item holds at most 400 KB: a larger event
// cannot be kept (Put fails, and the filter retries it until it is
// dead-lettered).
package dynamopull

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/herokuevents/herokuevents/infra/aws/dynamobatch"
	"github.com/herokuevents/herokuevents/infra/aws/dynamotable"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/pull"
)

// Attribute names and the index of the table.
const (
	AttrPK         = "PK"
	AttrSK         = "SK"
	AttrKept       = "Kept"
	AttrLeaseUntil = "LeaseUntil"
	AttrReceives   = "Receives"
	AttrEvent      = "Event"
	// AttrExpires is the table's TTL attribute (unix seconds).
	AttrExpires = "Expires"
	// IndexByKept lists a partition in buffer order.
	IndexByKept = "ByKept"
)

// Buffer is a pull.Buffer on a DynamoDB table. Safe for concurrent use.
type Buffer struct {
	client    *dynamodb.Client
	table     string
	retention time.Duration
	now       func() time.Time
}

var _ pull.Buffer = (*Buffer)(nil)

// Options configure a Buffer.
type Options struct {
	// Retention is how long an event is kept; pull.DefaultRetention when ≤ 0.
	Retention time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// New returns a buffer on table (the schema of TableInput). The client
// stays the caller's.
func New(client *dynamodb.Client, table string, o Options) *Buffer {
	if o.Retention <= 0 {
		o.Retention = pull.DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Buffer{client: client, table: table, retention: o.Retention, now: o.Now}
}

// TableInput is the table's schema: keys PK/SK (strings), the index
// ByKept, on-demand billing. template.yaml declares the same, with TTL on
// Expires.
func TableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrKept), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName: aws.String(IndexByKept),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrKept), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{AttrLeaseUntil}},
		}},
	}
}

// CreateTable creates table (TableInput), waits until it is active and
// enables its TTL on Expires.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	return dynamotable.Create(ctx, client, TableInput(table), AttrExpires)
}

func pk(tenant, subscription string) string { return "P#" + tenant + "#" + subscription }
func str(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func number(it map[string]types.AttributeValue, name string) int64 {
	n, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

func (b *Buffer) cutoff(now time.Time) int64 { return now.Add(-b.retention).UnixNano() }

func conditionFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// Put implements pull.Putter: one conditional PutItem per event, in order.
func (b *Buffer) Put(ctx context.Context, tenant, subscription string, evs ...event.Event) error {
	now := b.now()
	for i, ev := range evs {
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		_, err = b.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(b.table),
			Item: map[string]types.AttributeValue{
				AttrPK: str(pk(tenant, subscription)), AttrSK: str(ev.ID),
				AttrKept:       num(now.UnixNano() + int64(i)), // the order of the batch
				AttrLeaseUntil: num(0), AttrReceives: num(0),
				AttrEvent:   str(string(body)),
				AttrExpires: num(now.Add(b.retention).Unix() + 1),
			},
			ConditionExpression:      aws.String("attribute_not_exists(#sk)"),
			ExpressionAttributeNames: map[string]string{"#sk": AttrSK},
		})
		if err != nil && !conditionFailed(err) {
			return fmt.Errorf("buffer event %s: %w", ev.ID, err)
		}
	}
	return nil
}

// candidates returns the ids of up to n available events, oldest first,
// skipping those in tried.
func (b *Buffer) candidates(ctx context.Context, key string, now time.Time, n int, tried map[string]bool) ([]string, error) {
	var out []string
	var start map[string]types.AttributeValue
	for {
		res, err := b.client.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(b.table),
			IndexName:              aws.String(IndexByKept),
			KeyConditionExpression: aws.String("#pk = :pk AND #kept > :cutoff"),
			FilterExpression:       aws.String("#lease <= :now"),
			ExpressionAttributeNames: map[string]string{
				"#pk": AttrPK, "#kept": AttrKept, "#lease": AttrLeaseUntil,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(key), ":cutoff": num(b.cutoff(now)), ":now": num(now.UnixMilli()),
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
			Limit:             aws.Int32(int32(max(2*n, 25))),
		})
		if err != nil {
			return nil, fmt.Errorf("read pulled events: %w", err)
		}
		for _, it := range res.Items {
			id := it[AttrSK].(*types.AttributeValueMemberS).Value
			if !tried[id] {
				out = append(out, id)
			}
			if len(out) >= n {
				return out, nil
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

// Lease implements pull.Buffer.
func (b *Buffer) Lease(ctx context.Context, tenant, subscription string, max int, visibility time.Duration) ([]pull.Leased, error) {
	now := b.now()
	key := pk(tenant, subscription)
	until := now.Add(visibility)
	tried := map[string]bool{}
	var out []pull.Leased
	for len(out) < max {
		ids, err := b.candidates(ctx, key, now, max-len(out), tried)
		if err != nil || len(ids) == 0 {
			return out, err
		}
		for _, id := range ids {
			tried[id] = true
			res, err := b.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:           aws.String(b.table),
				Key:                 map[string]types.AttributeValue{AttrPK: str(key), AttrSK: str(id)},
				UpdateExpression:    aws.String("SET #lease = :until ADD #receives :one"),
				ConditionExpression: aws.String("attribute_exists(#pk) AND #lease <= :now AND #kept > :cutoff"),
				ExpressionAttributeNames: map[string]string{
					"#pk": AttrPK, "#lease": AttrLeaseUntil, "#receives": AttrReceives, "#kept": AttrKept,
				},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":until": num(until.UnixMilli()), ":one": num(1), ":now": num(now.UnixMilli()), ":cutoff": num(b.cutoff(now)),
				},
				ReturnValues: types.ReturnValueAllNew,
			})
			if conditionFailed(err) {
				continue // another Lease took it, or it was acknowledged
			}
			if err != nil {
				return out, fmt.Errorf("lease event %s: %w", id, err)
			}
			l := pull.Leased{Until: time.UnixMilli(until.UnixMilli()).UTC(), Receives: int(number(res.Attributes, AttrReceives))}
			body, _ := res.Attributes[AttrEvent].(*types.AttributeValueMemberS)
			if body == nil {
				return out, fmt.Errorf("lease event %s: no event attribute", id)
			}
			if err := json.Unmarshal([]byte(body.Value), &l.Event); err != nil {
				return out, fmt.Errorf("decode pulled event %s: %w", id, err)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// Ack implements pull.Buffer.
func (b *Buffer) Ack(ctx context.Context, tenant, subscription string, ids ...string) ([]string, error) {
	cutoff := b.cutoff(b.now())
	var acked []string
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		res, err := b.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:    aws.String(b.table),
			Key:          map[string]types.AttributeValue{AttrPK: str(pk(tenant, subscription)), AttrSK: str(id)},
			ReturnValues: types.ReturnValueAllOld,
		})
		if err != nil {
			return acked, fmt.Errorf("acknowledge event %s: %w", id, err)
		}
		if len(res.Attributes) > 0 && number(res.Attributes, AttrKept) > cutoff {
			acked = append(acked, id)
		}
	}
	return acked, nil
}

// Backlog implements pull.Reader.
func (b *Buffer) Backlog(ctx context.Context, tenant, subscription string) (pull.Backlog, error) {
	now := b.now()
	var out pull.Backlog
	var start map[string]types.AttributeValue
	for {
		res, err := b.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                aws.String(b.table),
			IndexName:                aws.String(IndexByKept),
			KeyConditionExpression:   aws.String("#pk = :pk AND #kept > :cutoff"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#kept": AttrKept},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": str(pk(tenant, subscription)), ":cutoff": num(b.cutoff(now)),
			},
			ConsistentRead:    aws.Bool(true),
			ExclusiveStartKey: start,
		})
		if err != nil {
			return pull.Backlog{}, fmt.Errorf("count pulled events: %w", err)
		}
		for _, it := range res.Items {
			if out.Pending == 0 {
				out.Oldest = time.Unix(0, number(it, AttrKept)).UTC()
			}
			out.Pending++
			if number(it, AttrLeaseUntil) > now.UnixMilli() {
				out.Leased++
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		start = res.LastEvaluatedKey
	}
}

// Drop implements pull.Buffer.
func (b *Buffer) Drop(ctx context.Context, tenant, subscription string) error {
	var start map[string]types.AttributeValue
	for {
		res, err := b.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(b.table),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk(tenant, subscription))},
			ProjectionExpression:      aws.String("#pk, #sk"),
			ExclusiveStartKey:         start,
		})
		if err != nil {
			return fmt.Errorf("drop pulled events: %w", err)
		}
		if err := dynamobatch.Delete(ctx, b.client, b.table, res.Items); err != nil {
			return fmt.Errorf("drop pulled events: %w", err)
		}
		if len(res.LastEvaluatedKey) == 0 {
			return nil
		}
		start = res.LastEvaluatedKey
	}
}
