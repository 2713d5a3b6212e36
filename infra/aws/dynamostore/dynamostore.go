// Package dynamostore is the AWS driver of config.Store: one DynamoDB table.
//
// Layout (attribute names are exported as constants; see TableInput):
//
//	item record  PK = "T#{tenant}"  SK = "{kind}#ID#{id}"
//	             Tenant, Kind, ID, Name, Index (S), Version (N), Body (B),
//	             GSI1PK = kind, GSI1SK = Index   (only when Index is not empty)
//	name record  PK = "T#{tenant}"  SK = "{kind}#NAME#{name}"  ID (S)
//
// Global items (Tenant "") live under PK "T#". A name record is written in
// the same TransactWriteItems as its item with attribute_not_exists
// conditions, so names stay unique per (tenant, kind); versions are checked
// with condition expressions. List and DeleteTenant query the tenant's
// partition; IndexedBefore queries the sparse global secondary index GSI1
// (kind, Index) — nothing scans the table. Kinds must not contain '#'.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/herokuevents/herokuevents/infra/aws/dynamobatch"
	"github.com/herokuevents/herokuevents/shared/config"
)

// Attribute and index names of the table.
const (
	AttrPK      = "PK"
	AttrSK      = "SK"
	AttrGSI1PK  = "GSI1PK"
	AttrGSI1SK  = "GSI1SK"
	AttrTenant  = "Tenant"
	AttrKind    = "Kind"
	AttrID      = "ID"
	AttrName    = "Name"
	AttrIndex   = "Index"
	AttrVersion = "Version"
	AttrBody    = "Body"
	// GSI1 is the global secondary index behind IndexedBefore: hash key
	// GSI1PK (the kind), range key GSI1SK (the item's Index), projection ALL.
	GSI1 = "GSI1"
)

// Store is a config.Store on a DynamoDB table. It is safe for concurrent use.
// It relies on the SDK client for retries of throttling and transport errors
// and never retries a failed condition except inside Delete without a version.
type Store struct {
	client *dynamodb.Client
	table  string
	// pageSize, when > 0, caps the items per Query page (tests use it to
	// exercise pagination); 0 lets DynamoDB fill 1 MB pages.
	pageSize int32
}

var _ config.Store = (*Store)(nil)

// New returns a store on table, which must have the schema of TableInput.
// The client stays the caller's: Close does not touch it.
func New(client *dynamodb.Client, table string) *Store {
	return &Store{client: client, table: table}
}

// TableInput is the table's schema: keys PK/SK (strings), GSI1 on
// GSI1PK/GSI1SK (strings, projection ALL), on-demand billing. template.yaml
// declares the same.
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
		AttributeDefinitions: []types.AttributeDefinition{str(AttrPK), str(AttrSK), str(AttrGSI1PK), str(AttrGSI1SK)},
		KeySchema:            key(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(GSI1),
			KeySchema:  key(AttrGSI1PK, AttrGSI1SK),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// CreateTable creates table with the schema of TableInput and waits until
// it is active.
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
	return nil
}

func pk(tenant string) string         { return "T#" + tenant }
func idSK(kind, id string) string     { return kind + "#ID#" + id }
func nameSK(kind, name string) string { return kind + "#NAME#" + name }
func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}
func key(p, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s(p), AttrSK: s(sk)}
}

func checkKind(kind string) error {
	if kind == "" || strings.Contains(kind, "#") {
		return fmt.Errorf("invalid kind %q: empty or contains '#'", kind)
	}
	return nil
}

// record encodes an item.
func record(it config.Item) map[string]types.AttributeValue {
	r := key(pk(it.Tenant), idSK(it.Kind, it.ID))
	r[AttrTenant] = s(it.Tenant)
	r[AttrKind] = s(it.Kind)
	r[AttrID] = s(it.ID)
	r[AttrVersion] = n(it.Version)
	if it.Name != "" {
		r[AttrName] = s(it.Name)
	}
	if it.Index != "" {
		r[AttrIndex] = s(it.Index)
		r[AttrGSI1PK] = s(it.Kind)
		r[AttrGSI1SK] = s(it.Index)
	}
	if len(it.Body) > 0 {
		r[AttrBody] = &types.AttributeValueMemberB{Value: it.Body}
	}
	return r
}

// decode reads an item record.
func decode(r map[string]types.AttributeValue) (config.Item, error) {
	str := func(name string) string {
		if v, ok := r[name].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return ""
	}
	it := config.Item{Tenant: str(AttrTenant), Kind: str(AttrKind), ID: str(AttrID), Name: str(AttrName), Index: str(AttrIndex)}
	v, ok := r[AttrVersion].(*types.AttributeValueMemberN)
	if !ok {
		return config.Item{}, fmt.Errorf("decode %s %s: no version", it.Kind, it.ID)
	}
	ver, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return config.Item{}, fmt.Errorf("decode %s %s version: %w", it.Kind, it.ID, err)
	}
	it.Version = ver
	if b, ok := r[AttrBody].(*types.AttributeValueMemberB); ok {
		it.Body = b.Value
	}
	return it, nil
}

func nameRecord(tenant, kind, name, id string) map[string]types.AttributeValue {
	r := key(pk(tenant), nameSK(kind, name))
	r[AttrID] = s(id)
	return r
}

const (
	condAbsent     = "attribute_not_exists(#pk)"
	condVersion    = "#v = :v"
	condNameIsOurs = "attribute_not_exists(#pk) OR #id = :id"
)

var (
	namesPK      = map[string]string{"#pk": AttrPK}
	namesVersion = map[string]string{"#v": AttrVersion}
	namesID      = map[string]string{"#pk": AttrPK, "#id": AttrID}
)

// failed reports whether err is a failed condition or a cancelled
// transaction (a failed condition or a concurrent transaction on the same
// items): the caller lost a race or broke a uniqueness rule.
//
// A transaction cancelled for any other reason (validation, throughput,
// size) is not a race: the caller gets that error as it is.
func failed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "", "None", "ConditionalCheckFailed", "TransactionConflict":
		default:
			return false
		}
	}
	return true
}

// Create implements config.Store.
func (st *Store) Create(ctx context.Context, it config.Item) (config.Item, error) {
	if err := checkKind(it.Kind); err != nil {
		return config.Item{}, fmt.Errorf("create %s: %w", it.ID, err)
	}
	it.Version = 1
	var err error
	if it.Name == "" {
		_, err = st.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.table, Item: record(it),
			ConditionExpression: aws.String(condAbsent), ExpressionAttributeNames: namesPK,
		})
	} else {
		_, err = st.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: &st.table, Item: record(it),
				ConditionExpression: aws.String(condAbsent), ExpressionAttributeNames: namesPK}},
			{Put: &types.Put{TableName: &st.table, Item: nameRecord(it.Tenant, it.Kind, it.Name, it.ID),
				ConditionExpression: aws.String(condAbsent), ExpressionAttributeNames: namesPK}},
		}})
	}
	if failed(err) {
		return config.Item{}, fmt.Errorf("create %s %s: id or name %q taken: %w", it.Kind, it.ID, it.Name, config.ErrConflict)
	}
	if err != nil {
		return config.Item{}, fmt.Errorf("create %s %s: %w", it.Kind, it.ID, err)
	}
	return it, nil
}

// read fetches an item record by id with a strongly consistent read.
func (st *Store) read(ctx context.Context, tenant, kind, id string) (config.Item, error) {
	out, err := st.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.table, Key: key(pk(tenant), idSK(kind, id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return config.Item{}, err
	}
	if out.Item == nil {
		return config.Item{}, config.ErrNotFound
	}
	return decode(out.Item)
}

// Get implements config.Store.
func (st *Store) Get(ctx context.Context, tenant, kind, idOrName string) (config.Item, error) {
	if err := checkKind(kind); err != nil {
		return config.Item{}, fmt.Errorf("get %s: %w", idOrName, err)
	}
	if idOrName == "" {
		return config.Item{}, fmt.Errorf("get %s %q: %w", kind, idOrName, config.ErrNotFound)
	}
	it, err := st.read(ctx, tenant, kind, idOrName)
	if !errors.Is(err, config.ErrNotFound) {
		if err != nil {
			return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, err)
		}
		return it, nil
	}
	out, err := st.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &st.table, Key: key(pk(tenant), nameSK(kind, idOrName)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return config.Item{}, fmt.Errorf("get %s %s by name: %w", kind, idOrName, err)
	}
	id, ok := out.Item[AttrID].(*types.AttributeValueMemberS)
	if !ok {
		return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, config.ErrNotFound)
	}
	it, err = st.read(ctx, tenant, kind, id.Value)
	if err == nil && it.Name != idOrName {
		err = config.ErrNotFound // renamed since the name was read
	}
	if err != nil {
		return config.Item{}, fmt.Errorf("get %s %s: %w", kind, idOrName, err)
	}
	return it, nil
}

// Update implements config.Store.
func (st *Store) Update(ctx context.Context, it config.Item) (config.Item, error) {
	if err := checkKind(it.Kind); err != nil {
		return config.Item{}, fmt.Errorf("update %s: %w", it.ID, err)
	}
	cur, err := st.read(ctx, it.Tenant, it.Kind, it.ID)
	if err != nil {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, err)
	}
	if cur.Version != it.Version {
		return config.Item{}, fmt.Errorf("update %s %s: version %d, stored %d: %w", it.Kind, it.ID, it.Version, cur.Version, config.ErrConflict)
	}
	next := it
	next.Version = it.Version + 1
	values := map[string]types.AttributeValue{":v": n(it.Version)}
	if cur.Name == it.Name {
		_, err = st.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &st.table, Item: record(next),
			ConditionExpression: aws.String(condVersion), ExpressionAttributeNames: namesVersion, ExpressionAttributeValues: values,
		})
	} else {
		ops := []types.TransactWriteItem{{Put: &types.Put{TableName: &st.table, Item: record(next),
			ConditionExpression: aws.String(condVersion), ExpressionAttributeNames: namesVersion, ExpressionAttributeValues: values}}}
		if cur.Name != "" {
			ops = append(ops, types.TransactWriteItem{Delete: &types.Delete{TableName: &st.table, Key: key(pk(it.Tenant), nameSK(it.Kind, cur.Name)),
				ConditionExpression: aws.String(condNameIsOurs), ExpressionAttributeNames: namesID,
				ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(it.ID)}}})
		}
		if it.Name != "" {
			ops = append(ops, types.TransactWriteItem{Put: &types.Put{TableName: &st.table, Item: nameRecord(it.Tenant, it.Kind, it.Name, it.ID),
				ConditionExpression: aws.String(condAbsent), ExpressionAttributeNames: namesPK}})
		}
		_, err = st.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: ops})
	}
	if failed(err) {
		return config.Item{}, fmt.Errorf("update %s %s version %d: %w", it.Kind, it.ID, it.Version, st.whyFailed(ctx, it.Tenant, it.Kind, it.ID))
	}
	if err != nil {
		return config.Item{}, fmt.Errorf("update %s %s: %w", it.Kind, it.ID, err)
	}
	return next, nil
}

// whyFailed explains a failed conditional write: ErrNotFound when the item
// is gone, ErrConflict otherwise (another version, a taken name, a
// concurrent transaction).
func (st *Store) whyFailed(ctx context.Context, tenant, kind, id string) error {
	_, err := st.read(ctx, tenant, kind, id)
	if errors.Is(err, config.ErrNotFound) {
		return config.ErrNotFound
	}
	return config.ErrConflict
}

// deleteAttempts bounds Delete without a version racing concurrent updates.
const deleteAttempts = 10

// Delete implements config.Store. Without a version it re-reads and retries
// when a concurrent update changes the item between its read and its write.
func (st *Store) Delete(ctx context.Context, tenant, kind, id string, version int64) error {
	if err := checkKind(kind); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	for range deleteAttempts {
		cur, err := st.read(ctx, tenant, kind, id)
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
		if version > 0 && cur.Version != version {
			return fmt.Errorf("delete %s %s: version %d, stored %d: %w", kind, id, version, cur.Version, config.ErrConflict)
		}
		del := types.Delete{TableName: &st.table, Key: key(pk(tenant), idSK(kind, id)),
			ConditionExpression: aws.String(condVersion), ExpressionAttributeNames: namesVersion,
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(cur.Version)}}
		if cur.Name == "" {
			_, err = st.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: del.TableName, Key: del.Key,
				ConditionExpression: del.ConditionExpression, ExpressionAttributeNames: del.ExpressionAttributeNames,
				ExpressionAttributeValues: del.ExpressionAttributeValues})
		} else {
			_, err = st.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
				{Delete: &del},
				{Delete: &types.Delete{TableName: &st.table, Key: key(pk(tenant), nameSK(kind, cur.Name)),
					ConditionExpression: aws.String(condNameIsOurs), ExpressionAttributeNames: namesID,
					ExpressionAttributeValues: map[string]types.AttributeValue{":id": s(id)}}},
			}})
		}
		if err == nil {
			return nil
		}
		if !failed(err) {
			return fmt.Errorf("delete %s %s: %w", kind, id, err)
		}
		if version > 0 {
			return fmt.Errorf("delete %s %s version %d: %w", kind, id, version, st.whyFailed(ctx, tenant, kind, id))
		}
	}
	return fmt.Errorf("delete %s %s: changed concurrently %d times: %w", kind, id, deleteAttempts, config.ErrConflict)
}

// DeleteTenant implements config.Store. It refuses the empty tenant, whose
// partition holds the global items (every tenant record).
func (st *Store) DeleteTenant(ctx context.Context, tenant string) error {
	if tenant == "" {
		return errors.New("delete tenant: empty tenant id")
	}
	var keys []map[string]types.AttributeValue
	err := st.query(ctx, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ProjectionExpression:      aws.String("#pk, #sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk(tenant))},
		ConsistentRead:            aws.Bool(true),
	}, func(r map[string]types.AttributeValue) bool {
		keys = append(keys, key(r[AttrPK].(*types.AttributeValueMemberS).Value, r[AttrSK].(*types.AttributeValueMemberS).Value))
		return true
	})
	if err != nil {
		return fmt.Errorf("delete tenant %s: list: %w", tenant, err)
	}
	if err := dynamobatch.Delete(ctx, st.client, st.table, keys); err != nil {
		return fmt.Errorf("delete tenant %s: %w", tenant, err)
	}
	return nil
}

// List implements config.Store.
func (st *Store) List(ctx context.Context, tenant, kind string) ([]config.Item, error) {
	if err := checkKind(kind); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	items, err := st.items(ctx, &dynamodb.QueryInput{
		TableName:                 &st.table,
		KeyConditionExpression:    aws.String("#pk = :pk AND begins_with(#sk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s(pk(tenant)), ":prefix": s(idSK(kind, ""))},
		ConsistentRead:            aws.Bool(true),
	}, 0)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	slices.SortFunc(items, func(a, b config.Item) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return items, nil
}

// IndexedBefore implements config.Store. It reads GSI1, which is eventually
// consistent: a write can take a moment to show. A limit ≤ 0 means no limit.
func (st *Store) IndexedBefore(ctx context.Context, kind, upTo string, limit int) ([]config.Item, error) {
	if err := checkKind(kind); err != nil {
		return nil, fmt.Errorf("list indexed: %w", err)
	}
	items, err := st.items(ctx, &dynamodb.QueryInput{
		TableName:                 &st.table,
		IndexName:                 aws.String(GSI1),
		KeyConditionExpression:    aws.String("#pk = :kind AND #sk <= :upTo"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrGSI1PK, "#sk": AttrGSI1SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":kind": s(kind), ":upTo": s(upTo)},
		ScanIndexForward:          aws.Bool(true),
	}, limit)
	if err != nil {
		return nil, fmt.Errorf("list %s indexed before %s: %w", kind, upTo, err)
	}
	return items, nil
}

// items runs a query of item records, up to limit (≤ 0: all).
func (st *Store) items(ctx context.Context, in *dynamodb.QueryInput, limit int) ([]config.Item, error) {
	var (
		items []config.Item
		bad   error
	)
	err := st.queryLimit(ctx, in, limit, func(r map[string]types.AttributeValue) bool {
		it, err := decode(r)
		if err != nil {
			bad = err
			return false
		}
		items = append(items, it)
		return limit <= 0 || len(items) < limit
	})
	if err == nil {
		err = bad
	}
	return items, err
}

func (st *Store) query(ctx context.Context, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) bool) error {
	return st.queryLimit(ctx, in, 0, each)
}

// queryLimit pages through a query, calling each per record until it
// returns false. limit > 0 caps the records asked of DynamoDB.
func (st *Store) queryLimit(ctx context.Context, in *dynamodb.QueryInput, limit int, each func(map[string]types.AttributeValue) bool) error {
	q := *in
	seen := 0
	for {
		page := st.pageSize
		if limit > 0 {
			left := int32(min(limit-seen, 1<<30))
			if page == 0 || left < page {
				page = left
			}
		}
		if page > 0 {
			q.Limit = aws.Int32(page)
		}
		out, err := st.client.Query(ctx, &q)
		if err != nil {
			return err
		}
		for _, r := range out.Items {
			seen++
			if !each(r) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		q.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Close implements config.Store. It does nothing: the client is the caller's.
func (st *Store) Close() error { return nil }
