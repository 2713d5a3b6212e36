// Package dynamorecent is the AWS driver of recent.Store: one DynamoDB
// table with a TTL (RecentEventsTable in template.yaml; TableInput).
//
// Each subscription's events are a ring of Limits.PerSubscription slots in
// its own partition:
//
//	counter  PK = "R#{tenant}#{subscription}"  SK = "#seq"        Seq (N), Expires (N)
//	event    PK = "R#{tenant}#{subscription}"  SK = "S#{seq mod N}" Seq, EventID, Kept (N, µs),
//	         Size (N), Oversize (BOOL), Event (B, JSON), Expires (N, unix seconds)
//
// Keep reserves k sequence numbers with one atomic UpdateItem (ADD) per
// subscription of the batch, then writes the events to their slots with
// BatchWriteItem: an event overwrites the one kept N events before it, so a
// subscription never holds more than N items, with no read and no delete.
// Expires (Kept + Limits.MaxAge) lets DynamoDB's TTL remove what a
// subscription no longer refreshes; Latest also skips expired items, which
// TTL deletes only eventually. Latest reads the partition (N + 1 items) and
// orders by Seq; an event kept twice (a redelivered batch) is listed once.
// Two writers racing on one slot may leave the older of their two events
// there: keeping is best effort.
package dynamorecent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/herokuevents/herokuevents/infra/aws/dynamotable"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/recent"
)

// Attribute names of the table.
const (
	AttrPK       = "PK"
	AttrSK       = "SK"
	AttrSeq      = "Seq"
	AttrEventID  = "EventID"
	AttrKept     = "Kept"
	AttrSize     = "Size"
	AttrOversize = "Oversize"
	AttrEvent    = "Event"
	// AttrExpires is the table's TTL attribute (unix seconds).
	AttrExpires = "Expires"
)

// MaxEventBytes is the largest Limits.MaxEventBytes this driver keeps: a
// DynamoDB item holds at most 400 KB.
const MaxEventBytes = 300 << 10

// batchLimit is DynamoDB's BatchWriteItem maximum; writeAttempts bounds the
// retries of unprocessed items.
const (
	batchLimit    = 25
	writeAttempts = 5
)

const counterSK = "#seq"

// Store is a recent.Store on a DynamoDB table. Safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
	limits recent.Limits
	now    func() time.Time
}

var _ recent.Store = (*Store)(nil)

// New returns a store on table (the schema of TableInput) with limits l
// (the recent package's defaults for zero fields; MaxEventBytes at most
// MaxEventBytes). The client stays the caller's.
func New(client *dynamodb.Client, table string, l recent.Limits) *Store {
	l = l.WithDefaults()
	l.MaxEventBytes = min(l.MaxEventBytes, MaxEventBytes)
	return &Store{client: client, table: table, limits: l, now: time.Now}
}

// TableInput is the table's schema: keys PK/SK (strings), on-demand
// billing. template.yaml declares the same, with TTL on Expires
// (EnableTTL).
func TableInput(table string) *dynamodb.CreateTableInput {
	return dynamotable.Input(table, AttrPK, AttrSK)
}

// CreateTable creates table (TableInput), waits until it is active and
// enables its TTL on Expires.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	return dynamotable.Create(ctx, client, TableInput(table), AttrExpires)
}

func pk(tenant, subscription string) string { return "R#" + tenant + "#" + subscription }
func slotSK(seq int64, n int) string        { return fmt.Sprintf("S#%06d", seq%int64(n)) }
func str(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// group is the entries of one subscription in one Keep, in order.
type group struct {
	tenant, subscription string
	entries              []recent.Entry
}

// Keep implements recent.Store.
func (s *Store) Keep(ctx context.Context, entries ...recent.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var groups []*group
	byKey := map[[2]string]*group{}
	for _, e := range entries {
		k := [2]string{e.Tenant, e.Subscription}
		g := byKey[k]
		if g == nil {
			g = &group{tenant: e.Tenant, subscription: e.Subscription}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.entries = append(g.entries, e)
	}
	var puts []types.WriteRequest
	for _, g := range groups {
		reqs, err := s.reserve(ctx, g)
		if err != nil {
			return err
		}
		puts = append(puts, reqs...)
	}
	for chunk := range slices.Chunk(puts, batchLimit) {
		if err := s.write(ctx, chunk); err != nil {
			return err
		}
	}
	return nil
}

// reserve takes the sequence numbers of a group's entries and returns the
// puts of those that fit in the ring (the last N).
func (s *Store) reserve(ctx context.Context, g *group) ([]types.WriteRequest, error) {
	now := s.now()
	k := int64(len(g.entries))
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{AttrPK: str(pk(g.tenant, g.subscription)), AttrSK: str(counterSK)},
		UpdateExpression:          aws.String("ADD #seq :k SET #exp = :exp"),
		ExpressionAttributeNames:  map[string]string{"#seq": AttrSeq, "#exp": AttrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": num(k), ":exp": num(now.Add(s.limits.MaxAge).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return nil, fmt.Errorf("reserve recent event slots: %w", err)
	}
	last, err := number(out.Attributes, AttrSeq)
	if err != nil {
		return nil, fmt.Errorf("reserve recent event slots: %w", err)
	}
	n := s.limits.PerSubscription
	var reqs []types.WriteRequest
	for i, e := range g.entries {
		seq := last - k + 1 + int64(i)
		if seq <= last-int64(n) {
			continue // overwritten by a later entry of this batch
		}
		e = e.Fit(s.limits.MaxEventBytes)
		if e.Kept.IsZero() {
			e.Kept = now
		}
		body, err := json.Marshal(e.Event)
		if err != nil {
			return nil, fmt.Errorf("encode event %s: %w", e.Event.ID, err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			AttrPK:       str(pk(g.tenant, g.subscription)),
			AttrSK:       str(slotSK(seq, n)),
			AttrSeq:      num(seq),
			AttrEventID:  str(e.Event.ID),
			AttrKept:     num(e.Kept.UnixMicro()),
			AttrSize:     num(int64(e.Size)),
			AttrOversize: &types.AttributeValueMemberBOOL{Value: e.Oversize},
			AttrEvent:    &types.AttributeValueMemberB{Value: body},
			AttrExpires:  num(e.Kept.Add(s.limits.MaxAge).Unix()),
		}}})
	}
	return reqs, nil
}

// write sends one BatchWriteItem, retrying its unprocessed items a few
// times with a short backoff.
func (s *Store) write(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := range writeAttempts {
		out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: reqs},
		})
		if err != nil {
			return fmt.Errorf("keep recent events: %w", err)
		}
		reqs = out.UnprocessedItems[s.table]
		if len(reqs) == 0 {
			return nil
		}
		select {
		case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return fmt.Errorf("keep recent events: %d left unprocessed", len(reqs))
}

// Latest implements recent.Store.
func (s *Store) Latest(ctx context.Context, tenant, subscription string, n int) ([]recent.Entry, error) {
	cutoff := s.now().Add(-s.limits.MaxAge).UnixMicro()
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :slot)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk(tenant, subscription)), ":slot": str("S#")},
		ConsistentRead:            aws.Bool(true),
	})
	type kept struct {
		seq int64
		e   recent.Entry
	}
	var all []kept
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list recent events: %w", err)
		}
		for _, it := range page.Items {
			k, err := decode(it)
			if err != nil {
				return nil, err
			}
			if k.Kept.UnixMicro() < cutoff {
				continue
			}
			seq, _ := number(it, AttrSeq)
			k.Tenant, k.Subscription = tenant, subscription
			all = append(all, kept{seq: seq, e: k})
		}
	}
	slices.SortFunc(all, func(a, b kept) int { return -cmpInt(a.seq, b.seq) })
	var out []recent.Entry
	seen := map[string]bool{}
	for _, k := range all {
		if seen[k.e.Event.ID] {
			continue
		}
		seen[k.e.Event.ID] = true
		out = append(out, k.e)
		if n > 0 && len(out) == n {
			break
		}
	}
	slices.Reverse(out)
	return out, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decode reads an event item.
func decode(it map[string]types.AttributeValue) (recent.Entry, error) {
	var e recent.Entry
	body, ok := it[AttrEvent].(*types.AttributeValueMemberB)
	if !ok {
		return e, errors.New("decode recent event: no Event attribute")
	}
	var ev event.Event
	if err := json.Unmarshal(body.Value, &ev); err != nil {
		return e, fmt.Errorf("decode recent event: %w", err)
	}
	e.Event = ev
	kept, err := number(it, AttrKept)
	if err != nil {
		return e, fmt.Errorf("decode recent event %s: %w", ev.ID, err)
	}
	e.Kept = time.UnixMicro(kept).UTC()
	size, _ := number(it, AttrSize)
	e.Size = int(size)
	if b, ok := it[AttrOversize].(*types.AttributeValueMemberBOOL); ok {
		e.Oversize = b.Value
	}
	return e, nil
}

func number(it map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("no number %s", name)
	}
	return strconv.ParseInt(v.Value, 10, 64)
}

// Close implements recent.Store; the client stays the caller's.
func (s *Store) Close() error { return nil }
