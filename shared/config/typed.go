package config

import (
	"context"
	"encoding/json"
	"fmt"
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

func decode[T any](it Item) (Record[T], error) {
	var v T
	if err := json.Unmarshal(it.Body, &v); err != nil {
		return Record[T]{}, fmt.Errorf("decode %s %s: %w", it.Kind, it.ID, err)
	}
	return Record[T]{Value: v, Item: it, Version: it.Version}, nil
}

// StreamsFrom returns the streams whose source is the subscription id.
func StreamsFrom(ctx context.Context, s Store, tenant, subscriptionID string) ([]Stream, error) {
	all, err := LoadAll[Stream](ctx, s, tenant, KindStream)
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
