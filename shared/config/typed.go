package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Record is a decoded item: the resource value plus its stored identity.
type Record[T any] struct {
	Value   T
	Item    Item // Body is the encoded Value
	Version int64
}

// Load reads and decodes one item by id or name.
func Load[T any](ctx context.Context, s Store, tenant, kind, idOrName string) (Record[T], error) {
	it, err := s.Get(ctx, tenant, kind, idOrName)
	if err != nil {
		return Record[T]{}, err
	}
	return decode[T](it)
}

// LoadAll reads and decodes every item of a kind of a tenant.
func LoadAll[T any](ctx context.Context, s Store, tenant, kind string) ([]Record[T], error) {
	items, err := s.List(ctx, tenant, kind)
	if err != nil {
		return nil, err
	}
	return decodeAll[T](items)
}

func decodeAll[T any](items []Item) ([]Record[T], error) {
	out := make([]Record[T], 0, len(items))
	for _, it := range items {
		r, err := decode[T](it)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Read is Load for a reader that only reads what it gets: from a Cached
// store, each cached item is decoded once per type read into (not at
// every read, as Load does) and the record is shared with every other
// Read of it until the item is written through the cache or its entry
// expires. The record's Value (its maps, slices and pointers included)
// and Item.Body must therefore not be modified: a read-modify-write uses
// Load (or Modify). From any other store it is Load.
func Read[T any](ctx context.Context, s Store, tenant, kind, idOrName string) (Record[T], error) {
	c, ok := s.(*cached)
	if !ok {
		return Load[T](ctx, s, tenant, kind, idOrName)
	}
	it, memo, err := c.getShared(ctx, tenant, kind, idOrName)
	if err != nil {
		return Record[T]{}, err
	}
	typ := reflect.TypeFor[T]()
	if memo != nil {
		if v, ok := memo.Load(typ); ok {
			return v.(Record[T]), nil
		}
	}
	r, err := decode[T](it)
	if err == nil && memo != nil {
		memo.Store(typ, r)
	}
	return r, err
}

// ReadAll is LoadAll as Read is Load: from a Cached store the records (and
// the slice) are shared and must not be modified.
func ReadAll[T any](ctx context.Context, s Store, tenant, kind string) ([]Record[T], error) {
	c, ok := s.(*cached)
	if !ok {
		return LoadAll[T](ctx, s, tenant, kind)
	}
	items, memo, err := c.listShared(ctx, tenant, kind)
	if err != nil {
		return nil, err
	}
	typ := reflect.TypeFor[T]()
	if memo != nil {
		if v, ok := memo.Load(typ); ok {
			return v.([]Record[T]), nil
		}
	}
	out, err := decodeAll[T](items)
	if err == nil && memo != nil {
		memo.Store(typ, out)
	}
	return out, err
}

// Insert encodes v and creates it as a new item.
func Insert[T any](ctx context.Context, s Store, it Item, v T) (Record[T], error) {
	body, err := json.Marshal(v)
	if err != nil {
		return Record[T]{}, fmt.Errorf("encode %s: %w", it.Kind, err)
	}
	it.Body = body
	it, err = s.Create(ctx, it)
	if err != nil {
		return Record[T]{}, err
	}
	return Record[T]{Value: v, Item: it, Version: it.Version}, nil
}

// Save encodes r.Value and updates the item if its version is still r.Version.
func Save[T any](ctx context.Context, s Store, r Record[T]) (Record[T], error) {
	body, err := json.Marshal(r.Value)
	if err != nil {
		return r, fmt.Errorf("encode %s: %w", r.Item.Kind, err)
	}
	it := r.Item
	it.Body = body
	it.Version = r.Version
	it, err = s.Update(ctx, it)
	if err != nil {
		return r, err
	}
	return Record[T]{Value: r.Value, Item: it, Version: it.Version}, nil
}

// Modify is a read-modify-write of one item that survives concurrent
// writers: it loads the item by id or name, lets change edit the record and
// saves it at the version it read. When another writer got there first
// (ErrConflict) it reads the item again and calls change again, up to tries
// times in all, so change must be safe to repeat and must derive what it
// writes from the record it is given.
//
// change may edit r.Value and the index fields of r.Item (Index, Name); it
// must not touch r.Version. It returns false when there is nothing to write
// (Modify then returns the record unsaved, so change should leave it as it
// read it), and an error to stop: that error is returned as is and nothing
// is saved.
//
// Errors of the store (ErrNotFound when the item is absent or was deleted
// between the read and the write, included) are returned unwrapped, as Load
// and Save do; after tries conflicts the error wraps ErrConflict. Modify does
// not hold any lock: several callers may run it on the same item at once.
func Modify[T any](ctx context.Context, s Store, tenant, kind, idOrName string, tries int, change func(r *Record[T]) (bool, error)) (Record[T], error) {
	tries = max(tries, 1)
	for range tries {
		r, err := Load[T](ctx, s, tenant, kind, idOrName)
		if err != nil {
			return Record[T]{}, err
		}
		write, err := change(&r)
		if err != nil {
			return Record[T]{}, err
		}
		if !write {
			return r, nil
		}
		saved, err := Save(ctx, s, r)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Record[T]{}, err
		}
		return saved, nil
	}
	return Record[T]{}, fmt.Errorf("modify %s %s: %w after %d tries", kind, idOrName, ErrConflict, tries)
}

func decode[T any](it Item) (Record[T], error) {
	var v T
	if err := json.Unmarshal(it.Body, &v); err != nil {
		return Record[T]{}, fmt.Errorf("decode %s %s: %w", it.Kind, it.ID, err)
	}
	return Record[T]{Value: v, Item: it, Version: it.Version}, nil
}

// StreamsFrom returns the streams whose source is the subscription id.
func StreamsFrom(ctx context.Context, s Store, tenant, subscriptionID string) ([]Stream, error) {
	all, err := ReadAll[Stream](ctx, s, tenant, KindStream)
	if err != nil {
		return nil, err
	}
	var out []Stream
	for _, r := range all {
		if r.Value.Subscription == subscriptionID {
			out = append(out, r.Value)
		}
	}
	return out, nil
}

// indexLayout is fixed-width UTC with nanoseconds: index order is time order.
const indexLayout = "2006-01-02T15:04:05.000000000Z"

// IndexTime formats t as an Item Index (fixed-width UTC, so that string
// order is time order). Schedulers compare against IndexTime(now).
func IndexTime(t time.Time) string { return t.UTC().Format(indexLayout) }
