package ingest

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/herokuevents/herokuevents/shared/config"
)

// decoded keeps what ingest decoded of a config item (the tenant, a
// subscription) beside the bytes it was decoded from: a publish still reads
// the item from the store (its cache), but decodes it again only when its
// bytes changed. Comparing the bytes, not the version, stays right when an
// item is deleted and made again under the same id. Safe for concurrent
// use; one entry per item read, replaced when the item changes.
type decoded struct{ m sync.Map }

type decodedEntry struct {
	body []byte
	v    any
}

// decodeItem returns it.Body decoded into a T, from the cache when the
// bytes are the same as last time.
func decodeItem[T any](d *decoded, it config.Item) (T, error) {
	key := it.Tenant + "\x00" + it.Kind + "\x00" + it.ID
	if e, ok := d.m.Load(key); ok {
		if e := e.(*decodedEntry); bytes.Equal(e.body, it.Body) {
			return e.v.(T), nil
		}
	}
	var v T
	if err := json.Unmarshal(it.Body, &v); err != nil {
		return v, err
	}
	d.m.Store(key, &decodedEntry{body: bytes.Clone(it.Body), v: v})
	return v, nil
}

// credentials are what a publish needs of its tenant.
type credentials struct {
	ID             string `json:"id"`
	Plan           string `json:"plan"`
	PublishKeyHash string `json:"publish_key_hash"`
}

// inbound is what a publish needs of a subscription.
type inbound struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
}
