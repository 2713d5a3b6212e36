// Package dynamodedup is the AWS driver of dedup.Store: one DynamoDB table
// with a TTL (PublishKeysTable in template.yaml; TableInput), written with
// conditional writes so that the concurrent Lambda instances of the ingest
// function agree on who claimed a key.
//
//	PK = "K#{tenant}#{key}"  EventID (S), Done (BOOL), Until (N, unix ms: end of the window),
//	                         LeaseUntil (N, unix ms), Expires (N, unix s: the TTL attribute)
//
// Claim is one PutItem conditioned on attribute_not_exists(PK) or a
// passed window (TTL deletes expired items only eventually, so the
// condition, not the TTL, decides). When the condition fails, the item
// returned with the failure (or read again, consistently) tells a
// duplicate from a claim in flight; a pending claim whose lease passed is
// taken over by an UpdateItem conditioned on the lease it read, so that of
// two takers one wins. Confirm and Release are conditional on the event id.
package dynamodedup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/herokuevents/herokuevents/infra/aws/dynamotable"
	"github.com/herokuevents/herokuevents/shared/dedup"
)

// Attribute names of the table.
const (
	AttrPK         = "PK"
	AttrEventID    = "EventID"
	AttrDone       = "Done"
	AttrUntil      = "Until"
	AttrLeaseUntil = "LeaseUntil"
	// AttrExpires is the table's TTL attribute (unix seconds).
	AttrExpires = "Expires"
)

// claimAttempts bounds the rounds of a Claim that races with the expiry
// or the release of the item it read.
const claimAttempts = 4

// Store is a dedup.Store on a DynamoDB table. Safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
	now    func() time.Time
}

var _ dedup.Store = (*Store)(nil)

// New returns a store on table (the schema of TableInput) with the clock
// now (time.Now when nil). The client stays the caller's.
func New(client *dynamodb.Client, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{client: client, table: table, now: now}
}

// TableInput is the table's schema: key PK (string), on-demand billing,
// encrypted.
func TableInput(table string) *dynamodb.CreateTableInput {
	in := dynamotable.Input(table, AttrPK, "")
	in.SSESpecification = &types.SSESpecification{Enabled: aws.Bool(true)}
	return in
}

// CreateTable creates table (TableInput), waits until it is active and
// enables its TTL on Expires.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	return dynamotable.Create(ctx, client, TableInput(table), AttrExpires)
}

func pk(tenant, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str("K#" + tenant + "#" + key)}
}
func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return cf.Item, true
	}
	return nil, false
}

// Claim implements dedup.Store.
func (s *Store) Claim(ctx context.Context, tenant, key, eventID string, window time.Duration) (dedup.Result, error) {
	for range claimAttempts {
		now := s.now()
		until := now.Add(dedup.WindowOrDefault(window))
		item := pk(tenant, key)
		item[AttrEventID] = str(eventID)
		item[AttrDone] = &types.AttributeValueMemberBOOL{Value: false}
		item[AttrUntil] = num(until.UnixMilli())
		item[AttrLeaseUntil] = num(now.Add(dedup.Lease).UnixMilli())
		item[AttrExpires] = num(until.Add(time.Second).Unix())
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                           aws.String(s.table),
			Item:                                item,
			ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #until <= :now"),
			ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#until": AttrUntil},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.UnixMilli())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return dedup.Result{Outcome: dedup.Claimed, EventID: eventID}, nil
		}
		old, failed := conditionFailed(err)
		if !failed {
			return dedup.Result{}, fmt.Errorf("claim publish key: %w", err)
		}
		if old == nil {
			out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: pk(tenant, key), ConsistentRead: aws.Bool(true)})
			if err != nil {
				return dedup.Result{}, fmt.Errorf("read publish key: %w", err)
			}
			if old = out.Item; old == nil {
				continue // released meanwhile
			}
		}
		first, _ := old[AttrEventID].(*types.AttributeValueMemberS)
		done, _ := old[AttrDone].(*types.AttributeValueMemberBOOL)
		lease, _ := old[AttrLeaseUntil].(*types.AttributeValueMemberN)
		if first == nil || done == nil || lease == nil {
			return dedup.Result{}, fmt.Errorf("claim publish key: item without %s, %s or %s", AttrEventID, AttrDone, AttrLeaseUntil)
		}
		if number(old, AttrUntil) <= now.UnixMilli() {
			continue // expired meanwhile
		}
		switch {
		case done.Value:
			return dedup.Result{Outcome: dedup.Duplicate, EventID: first.Value}, nil
		case number(old, AttrLeaseUntil) > now.UnixMilli():
			return dedup.Result{Outcome: dedup.InFlight, EventID: first.Value}, nil
		}
		// A claim left by a crash: taken over if nobody else took it.
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       pk(tenant, key),
			UpdateExpression:          aws.String("SET #lease = :new"),
			ConditionExpression:       aws.String("#lease = :old AND #done = :false AND #id = :id"),
			ExpressionAttributeNames:  map[string]string{"#lease": AttrLeaseUntil, "#done": AttrDone, "#id": AttrEventID},
			ExpressionAttributeValues: map[string]types.AttributeValue{":new": num(now.Add(dedup.Lease).UnixMilli()), ":old": lease, ":false": &types.AttributeValueMemberBOOL{Value: false}, ":id": first},
		})
		if err == nil {
			return dedup.Result{Outcome: dedup.Claimed, EventID: first.Value}, nil
		}
		if _, failed := conditionFailed(err); !failed {
			return dedup.Result{}, fmt.Errorf("take over publish key: %w", err)
		}
	}
	return dedup.Result{}, errors.New("claim publish key: the key changed under every attempt")
}

func number(it map[string]types.AttributeValue, name string) int64 {
	n, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

// Confirm implements dedup.Store.
func (s *Store) Confirm(ctx context.Context, tenant, key, eventID string) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       pk(tenant, key),
		UpdateExpression:          aws.String("SET #done = :true"),
		ConditionExpression:       aws.String("#id = :id"),
		ExpressionAttributeNames:  map[string]string{"#done": AttrDone, "#id": AttrEventID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":true": &types.AttributeValueMemberBOOL{Value: true}, ":id": str(eventID)},
	})
	if _, failed := conditionFailed(err); err != nil && !failed {
		return fmt.Errorf("confirm publish key: %w", err)
	}
	return nil
}

// Release implements dedup.Store.
func (s *Store) Release(ctx context.Context, tenant, key, eventID string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       pk(tenant, key),
		ConditionExpression:       aws.String("#id = :id AND #done = :false"),
		ExpressionAttributeNames:  map[string]string{"#done": AttrDone, "#id": AttrEventID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":false": &types.AttributeValueMemberBOOL{Value: false}, ":id": str(eventID)},
	})
	if _, failed := conditionFailed(err); err != nil && !failed {
		return fmt.Errorf("release publish key: %w", err)
	}
	return nil
}

// Close implements dedup.Store.
func (s *Store) Close() error { return nil }
