// Package dynamoarchive is the AWS driver of archive.Store: one DynamoDB
// table with a TTL (ArchiveTable in template.yaml; TableInput).
//
//	record  PK = "A#{tenant}#{subscription}"  SK = "{seq, 19 digits}#{event id}"
//	        Event (B, JSON), Size (N), Expires (N, unix seconds: the TTL)
//	bytes   PK = "B#{tenant}"  SK = "{day the records expire, 2006-01-02}"
//	        Bytes (N), Expires (N, the end of that day)
//
// A window of a subscription is one Query of its partition between two
// sort keys; the cursor is the last sort key of a page. Expired records
// are skipped by a filter until the TTL deletes them (within days, free of
// charge). Each tenant's bytes are counted in one item per expiry day:
// Append sums the live ones (one Query), keeps what fits under
// Limits.MaxTenantBytes and adds its bytes to their days (one UpdateItem
// per day and tenant of the batch); a day's count expires with its
// records. A record appended twice (a redelivered batch) is stored once,
// counted twice: the budget is conservative.
//
// # Why DynamoDB and not S3
//
// Per million events of about 1 KB (us-east-1, on-demand prices of 2025):
//
//   - DynamoDB: an item of ~1.3 KB costs 2 write request units: $1.25 in
//     writes (BatchWriteItem, 25 items per call; the byte counts add one
//     unit per batch), ~1.4 GB stored for 7 days ≈ 0.33 GB-month ≈ $0.08,
//     TTL deletion free: ≈ $1.33 per million events archived. A replay
//     reads them with eventually consistent Queries, half a read unit
//     per 4 KB ($0.125 per million units): ≈ $0.02 per million events
//     replayed (twice that with the count of its first step).
//   - S3: $5 per million PUTs; batching the events of one filter batch
//     (≤ 10) into one object gives ≥ 100,000 PUTs ≈ $0.50, storage ≈
//     $0.01. Cheaper to write by about $0.80 per million events, but: a
//     window is read by listing and fetching objects (GETs at $0.40 per
//     million, and objects that straddle the window), ordering across
//     concurrent writers needs a sort after the read, and expiry is a
//     lifecycle rule per prefix with a one-day granularity and at most
//     1,000 rules: per-subscription retention (--retention 72h) does not
//     fit, nor does a byte bound per tenant without a second store.
//
// The difference (< $1 per million events) does not pay for that; the
// table is also what the other stores of the AWS mode are (and what the
// tests run on moto).
package dynamoarchive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/herokuevents/herokuevents/infra/aws/dynamobatch"
	"github.com/herokuevents/herokuevents/infra/aws/dynamotable"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/event"
)

// Attribute names of the table.
const (
	AttrPK    = "PK"
	AttrSK    = "SK"
	AttrEvent = "Event"
	AttrSize  = "Size"
	AttrBytes = "Bytes"
	// AttrExpires is the table's TTL attribute (unix seconds).
	AttrExpires = "Expires"
)

const (
	dayLayout = "2006-01-02"
)

// Store is an archive.Store on a DynamoDB table. Safe for concurrent use.
type Store struct {
	client *dynamodb.Client
	table  string
	limits archive.Limits
	now    func() time.Time
}

var _ archive.Store = (*Store)(nil)

// New returns a store on table (the schema of TableInput) with limits l
// (the archive package's defaults for zero fields). The client stays the
// caller's.
func New(client *dynamodb.Client, table string, l archive.Limits) *Store {
	return &Store{client: client, table: table, limits: l.WithDefaults(), now: time.Now}
}

// FromConfig returns a store on table with the default limits, its client
// made from cfg: the filter function's archive (ARCHIVE_TABLE). Only the
// functions that archive or replay link this driver.
func FromConfig(cfg aws.Config, table string) *Store {
	return New(dynamodb.NewFromConfig(cfg), table, archive.Limits{})
}

// TableInput is the table's schema: keys PK/SK (strings), on-demand
// billing. template.yaml declares the same, with TTL on Expires.
func TableInput(table string) *dynamodb.CreateTableInput {
	return dynamotable.Input(table, AttrPK, AttrSK)
}

// CreateTable creates table (TableInput), waits until it is active and
// enables its TTL on Expires.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	return dynamotable.Create(ctx, client, TableInput(table), AttrExpires)
}

// Close implements archive.Store; the client is the caller's.
func (s *Store) Close() error { return nil }

func recordPK(tenant, sub string) string { return "A#" + tenant + "#" + sub }
func bytesPK(tenant string) string       { return "B#" + tenant }
func seqKey(seq int64) string            { return fmt.Sprintf("%019d", max(seq, 0)) }
func str(v string) types.AttributeValue  { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func endOfDay(d time.Time) time.Time { return d.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour) }
func (s *Store) expires(r archive.Record) time.Time {
	if !r.Expires.IsZero() {
		return r.Expires.UTC()
	}
	return r.Accepted().Add(s.limits.Retention)
}

// Append implements archive.Store.
func (s *Store) Append(ctx context.Context, recs ...archive.Record) error {
	if len(recs) == 0 {
		return ctx.Err()
	}
	used := map[string]int64{}
	added := map[[2]string]int64{} // tenant, expiry day → bytes
	var puts []types.WriteRequest
	full := 0
	for _, r := range recs {
		b, ok := used[r.Tenant]
		if !ok {
			var err error
			if b, err = s.tenantBytes(ctx, r.Tenant); err != nil {
				return err
			}
		}
		size := r.Size()
		if b+size > s.limits.MaxTenantBytes {
			used[r.Tenant] = b
			full++
			continue
		}
		used[r.Tenant] = b + size
		body := r.JSON
		if body == nil {
			var err error
			if body, err = json.Marshal(r.Event); err != nil {
				return fmt.Errorf("append to archive: encode event %s: %w", r.Event.ID, err)
			}
		}
		exp := s.expires(r)
		added[[2]string{r.Tenant, exp.Format(dayLayout)}] += size
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			AttrPK:      str(recordPK(r.Tenant, r.Subscription)),
			AttrSK:      str(seqKey(r.Seq) + "#" + r.Event.ID),
			AttrEvent:   &types.AttributeValueMemberB{Value: body},
			AttrSize:    num(size),
			AttrExpires: num(exp.Unix()),
		}}})
	}
	// The bytes first: a failure after them over-counts, never under.
	for k, b := range added {
		day, _ := time.Parse(dayLayout, k[1])
		if _, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       map[string]types.AttributeValue{AttrPK: str(bytesPK(k[0])), AttrSK: str(k[1])},
			UpdateExpression:          aws.String("ADD #b :b SET #exp = :exp"),
			ExpressionAttributeNames:  map[string]string{"#b": AttrBytes, "#exp": AttrExpires},
			ExpressionAttributeValues: map[string]types.AttributeValue{":b": num(b), ":exp": num(endOfDay(day).Unix())},
		}); err != nil {
			return fmt.Errorf("append to archive: count bytes: %w", err)
		}
	}
	if err := dynamobatch.Write(ctx, s.client, s.table, puts); err != nil {
		return fmt.Errorf("append to archive: %w", err)
	}
	if full > 0 {
		return fmt.Errorf("append to archive: %d of %d events not kept: %w", full, len(recs), archive.ErrFull)
	}
	return nil
}

// tenantBytes sums the tenant's live byte counts.
func (s *Store) tenantBytes(ctx context.Context, tenant string) (int64, error) {
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk >= :today"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(bytesPK(tenant)), ":today": str(s.now().UTC().Format(dayLayout))},
		ConsistentRead:            aws.Bool(true),
	})
	var sum int64
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("append to archive: read tenant size: %w", err)
		}
		for _, it := range page.Items {
			n, err := number(it, AttrBytes)
			if err != nil {
				return 0, fmt.Errorf("append to archive: read tenant size: %w", err)
			}
			sum += n
		}
	}
	return sum, nil
}

// query is the Query of q's window, expired records filtered out.
func (s *Store) query(q archive.Query) (*dynamodb.QueryInput, error) {
	lo, hi := q.SeqRange()
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		FilterExpression:         aws.String("#exp > :now"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#exp": AttrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(recordPK(q.Tenant, q.Subscription)), ":lo": str(seqKey(lo)), ":hi": str(seqKey(hi)),
			":now": num(s.now().Unix()),
		},
	}
	if q.After != "" {
		if !strings.Contains(q.After, "#") {
			return nil, fmt.Errorf("read archive: bad cursor %q", q.After)
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{AttrPK: str(recordPK(q.Tenant, q.Subscription)), AttrSK: str(q.After)}
	}
	return in, nil
}

// Range implements archive.Reader.
func (s *Store) Range(ctx context.Context, q archive.Query) (archive.Page, error) {
	in, err := s.query(q)
	if err != nil {
		return archive.Page{}, err
	}
	limit := q.PageLimit()
	var p archive.Page
	var lastSK string
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(p.Records)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return archive.Page{}, fmt.Errorf("read archive: %w", err)
		}
		for _, it := range out.Items {
			if len(p.Records) == limit {
				p.Next = lastSK
				return p, nil
			}
			r, sk, err := decode(it)
			if err != nil {
				return archive.Page{}, err
			}
			r.Tenant, r.Subscription = q.Tenant, q.Subscription
			p.Records = append(p.Records, r)
			lastSK = sk
		}
		if len(out.LastEvaluatedKey) == 0 {
			return p, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Count implements archive.Reader.
func (s *Store) Count(ctx context.Context, q archive.Query) (int, error) {
	q.After = ""
	in, err := s.query(q)
	if err != nil {
		return 0, err
	}
	in.Select = types.SelectCount
	n := 0
	p := dynamodb.NewQueryPaginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("count archive: %w", err)
		}
		n += int(page.Count)
	}
	return n, nil
}

// Prune implements archive.Store: the table's TTL expires records.
func (s *Store) Prune(context.Context, time.Time) (int, error) { return 0, nil }

func decode(it map[string]types.AttributeValue) (archive.Record, string, error) {
	sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
	b, _ := it[AttrEvent].(*types.AttributeValueMemberB)
	if sk == nil || b == nil {
		return archive.Record{}, "", errors.New("read archive: an item has no SK or Event")
	}
	digits, _, _ := strings.Cut(sk.Value, "#")
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return archive.Record{}, "", fmt.Errorf("read archive: sort key %q: %w", sk.Value, err)
	}
	var ev event.Event
	if err := json.Unmarshal(b.Value, &ev); err != nil {
		return archive.Record{}, "", fmt.Errorf("read archive: decode event of %q: %w", sk.Value, err)
	}
	r := archive.Record{Seq: seq, Event: ev}
	if exp, err := number(it, AttrExpires); err == nil {
		r.Expires = time.Unix(exp, 0).UTC()
	}
	return r, sk.Value, nil
}

func number(it map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s missing", name)
	}
	return strconv.ParseInt(v.Value, 10, 64)
}
