// Package dynamojournal is the AWS driver of journal.Journal: one DynamoDB
// table (template.yaml's JournalTable) with a TTL.
//
// Layout (attribute names are exported as constants; see TableInput):
//
//	attempt   PK = "P#{tenant}#{publication}"  SK = "{time}#{seq}"
//	          EK = "E#{tenant}#{event id}", Outcome (S)
//	other     PK = "E#{tenant}#{event id}"     SK = "{time}#{seq}"
//	both      Event (S) = the event id, Detail (B, journal.MarshalDetail),
//	          Kept (B, the event a first attempt keeps), Expires (N, the TTL)
//
// {time} is fixed-width UTC with nanoseconds, so that key order is time
// order; {seq} orders the entries of one Journal written at the same time.
// A publication's attempts are one partition, read newest first. An
// event's entries are its own partition (acceptance, routing) and its
// attempts, found through the sparse global secondary index ByEvent (EK,
// SK, projection ALL), which only attempts enter: an entry already in its
// event's partition is not copied to the index, so it costs one write
// unit instead of two (items written before carry EK too; reads merge
// them once). Nothing scans the table.
//
// Retention: every item carries Expires = its time + Retention.Age (epoch
// seconds), the table's TimeToLiveSpecification attribute, so DynamoDB
// deletes it (within days; reads leave out what is past its age). The
// Retention.PerPublication limit is enforced by the writer: after an
// Append, each publication it wrote attempts to and did not prune in the
// last PruneEvery is read newest first (keys only) and its attempts beyond
// the limit are deleted. In a Lambda function that happens at most once per
// PruneEvery per publication per warm instance.
//
// Batches go through BatchWriteItem (infra/aws/dynamobatch: 25 items a
// request); unprocessed items are re-sent with backoff, as DynamoDB asks,
// and nothing else is retried.
package dynamojournal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/herokuevents/herokuevents/infra/aws/dynamobatch"
	"github.com/herokuevents/herokuevents/shared/journal"
)

// Attribute and index names of the table.
const (
	AttrPK      = "PK"
	AttrSK      = "SK"
	AttrEK      = "EK"
	AttrEvent   = "Event"
	AttrOutcome = "Outcome"
	AttrDetail  = "Detail"
	AttrKept    = "Kept"
	// AttrExpires is the table's TTL attribute.
	AttrExpires = "Expires"
	// ByEvent is the global secondary index of an event's entries: hash key
	// EK, range key SK, projection ALL.
	ByEvent = "ByEvent"
)

// DefaultPruneEvery is how often one Journal prunes a publication it
// writes to.
const DefaultPruneEvery = 10 * time.Minute

// Options configure a Journal.
type Options struct {
	// Retention bounds what is kept (journal defaults for zero fields).
	Retention journal.Retention
	// PruneEvery spaces the prunes of one publication by this Journal
	// (DefaultPruneEvery when 0; after every Append when < 0).
	PruneEvery time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Journal is a journal.Journal on a DynamoDB table. Safe for concurrent
// use.
type Journal struct {
	client *dynamodb.Client
	table  string
	o      Options
	seq    atomic.Uint64
	// pageSize, when > 0, caps the items per Query page (tests use it to
	// exercise pagination).
	pageSize int32

	mu      sync.Mutex
	touched map[string]bool      // publication partitions written since their last prune
	pruned  map[string]time.Time // when each partition was last pruned
}

var _ journal.Journal = (*Journal)(nil)

// New returns a journal on table, which must have the schema of TableInput.
// The client stays the caller's.
func New(client *dynamodb.Client, table string, o Options) *Journal {
	o.Retention = o.Retention.WithDefaults()
	if o.PruneEvery == 0 {
		o.PruneEvery = DefaultPruneEvery
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	j := &Journal{client: client, table: table, o: o, touched: map[string]bool{}, pruned: map[string]time.Time{}}
	j.seq.Store(uint64(time.Now().UnixNano()))
	return j
}

// TableInput is the table's schema: keys PK/SK, the ByEvent index on EK/SK
// (projection ALL), on-demand billing. template.yaml declares the same,
// with TimeToLiveSpecification on AttrExpires.
func TableInput(table string) *dynamodb.CreateTableInput {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str(AttrPK), str(AttrSK), str(AttrEK)},
		KeySchema:            key(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(ByEvent),
			KeySchema:  key(AttrEK, AttrSK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// CreateTable creates table with the schema of TableInput and its TTL, and
// waits until it is active.
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if _, err := client.CreateTable(ctx, TableInput(table)); err != nil {
		return fmt.Errorf("create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 2*time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", table, err)
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(AttrExpires), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL of table %s: %w", table, err)
	}
	return nil
}

// timeLayout is fixed-width UTC with nanoseconds: key order is time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func timeKey(t time.Time) string { return t.UTC().Format(timeLayout) }

func pubKey(tenant, pub string) string  { return "P#" + tenant + "#" + pub }
func eventKey(tenant, id string) string { return "E#" + tenant + "#" + id }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// record encodes an entry (already clipped and checked).
func (j *Journal) record(e journal.Entry) (map[string]types.AttributeValue, error) {
	detail, err := journal.MarshalDetail(e)
	if err != nil {
		return nil, err
	}
	kept, err := journal.MarshalEvent(e)
	if err != nil {
		return nil, err
	}
	ek := eventKey(e.Tenant, e.EventID)
	r := map[string]types.AttributeValue{
		AttrPK:      s(ek),
		AttrSK:      s(timeKey(e.Time) + "#" + strconv.FormatUint(j.seq.Add(1), 16)),
		AttrEvent:   s(e.EventID),
		AttrDetail:  &types.AttributeValueMemberB{Value: detail},
		AttrExpires: &types.AttributeValueMemberN{Value: strconv.FormatInt(e.Time.Add(j.o.Retention.Age).Unix(), 10)},
	}
	if e.Stage == journal.Attempt {
		r[AttrPK] = s(pubKey(e.Tenant, e.Publication))
		r[AttrEK] = s(ek)
		r[AttrOutcome] = s(string(e.Outcome))
	}
	if len(kept) > 0 {
		r[AttrKept] = &types.AttributeValueMemberB{Value: kept}
	}
	return r, nil
}

// Append implements journal.Writer. A batch with an invalid entry writes
// nothing; a failed request may leave the batch partly written.
func (j *Journal) Append(ctx context.Context, entries ...journal.Entry) error {
	reqs := make([]types.WriteRequest, 0, len(entries))
	pubs := map[string]bool{}
	for _, e := range entries {
		e = journal.Clip(e)
		if err := e.Check(); err != nil {
			return fmt.Errorf("append to journal: %w", err)
		}
		r, err := j.record(e)
		if err != nil {
			return fmt.Errorf("append to journal: %w", err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: r}})
		if e.Stage == journal.Attempt {
			pubs[pubKey(e.Tenant, e.Publication)] = true
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	if err := dynamobatch.Write(ctx, j.client, j.table, reqs); err != nil {
		return fmt.Errorf("append to journal: %w", err)
	}
	j.mu.Lock()
	var due []string
	now := j.o.Now()
	for p := range pubs {
		j.touched[p] = true
		if now.Sub(j.pruned[p]) >= j.o.PruneEvery {
			due = append(due, p)
		}
	}
	j.mu.Unlock()
	return j.prune(ctx, due)
}

// cutoff is the oldest time still retained.
func (j *Journal) cutoff() time.Time { return j.o.Now().Add(-j.o.Retention.Age) }

// decode reads an item; with kept, the event it keeps too.
func decode(tenant string, r map[string]types.AttributeValue, kept bool) (journal.Entry, error) {
	id, _ := r[AttrEvent].(*types.AttributeValueMemberS)
	d, _ := r[AttrDetail].(*types.AttributeValueMemberB)
	if id == nil || d == nil {
		return journal.Entry{}, fmt.Errorf("decode journal item: no %s or %s", AttrEvent, AttrDetail)
	}
	e, err := journal.UnmarshalDetail(tenant, id.Value, d.Value)
	if err != nil {
		return journal.Entry{}, err
	}
	if k, ok := r[AttrKept].(*types.AttributeValueMemberB); ok && kept {
		if e.Event, err = journal.UnmarshalEvent(k.Value, e.EventID); err != nil {
			return journal.Entry{}, err
		}
	}
	return e, nil
}

// Attempts implements journal.Reader.
func (j *Journal) Attempts(ctx context.Context, tenant, publication string, q journal.Query) ([]journal.Entry, error) {
	since := j.cutoff()
	if q.Since.After(since) {
		since = q.Since
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(j.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk >= :since"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK, "#ev": AttrEvent, "#d": AttrDetail},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": s(pubKey(tenant, publication)), ":since": s(timeKey(since)),
		},
		ProjectionExpression: aws.String("#ev, #d"),
		ScanIndexForward:     aws.Bool(false),
		ConsistentRead:       aws.Bool(true),
	}
	if len(q.Outcomes) > 0 {
		in.ExpressionAttributeNames["#o"] = AttrOutcome
		filter := "#o IN ("
		for i, o := range q.Outcomes {
			name := ":o" + strconv.Itoa(i)
			if i > 0 {
				filter += ", "
			}
			filter += name
			in.ExpressionAttributeValues[name] = s(string(o))
		}
		in.FilterExpression = aws.String(filter + ")")
	} else if q.Limit > 0 {
		in.Limit = aws.Int32(int32(min(q.Limit, 1000)))
	}
	if j.pageSize > 0 {
		in.Limit = aws.Int32(j.pageSize)
	}
	var out []journal.Entry
	p := dynamodb.NewQueryPaginator(j.client, in)
	for p.HasMorePages() && len(out) < q.Limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read attempts of publication %s: %w", publication, err)
		}
		for _, r := range page.Items {
			e, err := decode(tenant, r, false)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			if len(out) == q.Limit {
				break
			}
		}
	}
	return out, nil
}

// Event implements journal.Reader: the event's partition (read
// consistently) and its attempts through ByEvent, which is eventually
// consistent: an attempt appended a moment ago may be missing.
func (j *Journal) Event(ctx context.Context, tenant, eventID string) ([]journal.Entry, error) {
	ek, since := eventKey(tenant, eventID), timeKey(j.cutoff())
	own, err := j.query(ctx, nil, AttrPK, ek, since)
	if err != nil {
		return nil, fmt.Errorf("read journal of event %s: %w", eventID, err)
	}
	attempts, err := j.query(ctx, aws.String(ByEvent), AttrEK, ek, since)
	if err != nil {
		return nil, fmt.Errorf("read journal of event %s: %w", eventID, err)
	}
	items := mergeItems(own, attempts)
	out := make([]journal.Entry, 0, len(items))
	for _, r := range items {
		e, err := decode(tenant, r, true)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// mergeItems merges two lists of items in key (SK) order into one in SK
// order, an item (PK, SK) in both once: an acceptance or routing written
// before the index became sparse is in its partition and in ByEvent.
func mergeItems(a, b []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	seen := make(map[string]bool, len(a))
	out := make([]map[string]types.AttributeValue, 0, len(a)+len(b))
	for _, it := range a {
		seen[itemKey(it)] = true
		out = append(out, it)
	}
	for _, it := range b {
		if !seen[itemKey(it)] {
			out = append(out, it)
		}
	}
	slices.SortStableFunc(out, func(x, y map[string]types.AttributeValue) int {
		return strings.Compare(stringAttr(x, AttrSK), stringAttr(y, AttrSK))
	})
	return out
}

// itemKey is an item's primary key, PK and SK, as one string.
func itemKey(it map[string]types.AttributeValue) string {
	return stringAttr(it, AttrPK) + "\x00" + stringAttr(it, AttrSK)
}

// stringAttr is the string attribute name of it, or "".
func stringAttr(it map[string]types.AttributeValue, name string) string {
	v, _ := it[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// Prune implements journal.Journal: every publication this Journal wrote
// attempts to since its last prune keeps its newest
// Retention.PerPublication attempts. Age is the TTL's business.
func (j *Journal) Prune(ctx context.Context) error {
	j.mu.Lock()
	due := make([]string, 0, len(j.touched))
	for p := range j.touched {
		due = append(due, p)
	}
	j.mu.Unlock()
	return j.prune(ctx, due)
}

// prune trims the publication partitions pks to the newest
// Retention.PerPublication attempts.
func (j *Journal) prune(ctx context.Context, pks []string) error {
	for _, pk := range pks {
		var extra []map[string]types.AttributeValue
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(j.table),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk)},
			ProjectionExpression:      aws.String("#pk, #sk"),
			ScanIndexForward:          aws.Bool(false),
		}
		if j.pageSize > 0 {
			in.Limit = aws.Int32(j.pageSize)
		}
		seen := 0
		p := dynamodb.NewQueryPaginator(j.client, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("prune journal: %w", err)
			}
			for _, r := range page.Items {
				seen++
				if seen > j.o.Retention.PerPublication {
					extra = append(extra, r)
				}
			}
		}
		if err := dynamobatch.Delete(ctx, j.client, j.table, extra); err != nil {
			return fmt.Errorf("prune journal: %w", err)
		}
		j.mu.Lock()
		delete(j.touched, pk)
		j.pruned[pk] = j.o.Now()
		j.mu.Unlock()
	}
	return nil
}

// Close implements journal.Journal; the client stays the caller's.
func (j *Journal) Close() error { return nil }

// Forget deletes what the journal holds of a deprovisioned tenant that it
// can find without scanning: the attempts of its publications (ids) and
// every entry of the events those attempts name (their partitions and
// their attempts through ByEvent). Entries
// of events that reached no publication expire with the TTL.
func (j *Journal) Forget(ctx context.Context, tenant string, publications []string) error {
	events := map[string]bool{}
	for _, pub := range publications {
		items, err := j.query(ctx, nil, AttrPK, pubKey(tenant, pub), "", AttrPK, AttrSK, AttrEK)
		if err != nil {
			return fmt.Errorf("forget tenant in journal: %w", err)
		}
		for _, it := range items {
			if ek := stringAttr(it, AttrEK); ek != "" {
				events[ek] = true
			}
			delete(it, AttrEK)
		}
		if err := dynamobatch.Delete(ctx, j.client, j.table, items); err != nil {
			return fmt.Errorf("forget tenant in journal: %w", err)
		}
	}
	for ek := range events {
		own, err := j.query(ctx, nil, AttrPK, ek, "", AttrPK, AttrSK)
		if err != nil {
			return fmt.Errorf("forget tenant in journal: %w", err)
		}
		attempts, err := j.query(ctx, aws.String(ByEvent), AttrEK, ek, "", AttrPK, AttrSK)
		if err != nil {
			return fmt.Errorf("forget tenant in journal: %w", err)
		}
		if err := dynamobatch.Delete(ctx, j.client, j.table, mergeItems(own, attempts)); err != nil {
			return fmt.Errorf("forget tenant in journal: %w", err)
		}
	}
	return nil
}

// query reads the items whose attr (the hash key of the table, or of
// index) is value and whose SK is since or later ("": all), in key order:
// whole, or only the attributes proj names. The table is read
// consistently (an index cannot be).
func (j *Journal) query(ctx context.Context, index *string, attr, value, since string, proj ...string) ([]map[string]types.AttributeValue, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(j.table),
		IndexName:                 index,
		KeyConditionExpression:    aws.String("#h = :v"),
		ExpressionAttributeNames:  map[string]string{"#h": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": s(value)},
		ConsistentRead:            aws.Bool(index == nil),
	}
	if since != "" {
		in.KeyConditionExpression = aws.String("#h = :v AND #sk >= :since")
		in.ExpressionAttributeNames["#sk"] = AttrSK
		in.ExpressionAttributeValues[":since"] = s(since)
	}
	if len(proj) > 0 {
		names := make([]string, len(proj))
		for i, a := range proj {
			names[i] = "#p" + strconv.Itoa(i)
			in.ExpressionAttributeNames[names[i]] = a
		}
		in.ProjectionExpression = aws.String(strings.Join(names, ", "))
	}
	if j.pageSize > 0 {
		in.Limit = aws.Int32(j.pageSize)
	}
	var out []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(j.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
	}
	return out, nil
}
