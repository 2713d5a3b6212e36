package cloudevent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/event"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/webhook"
	"github.com/herokuevents/herokuevents/shared/queue"
)

var _ platform.BatchPublisher = (*Publisher)(nil)

// PublishBatch posts evs, in that order, as one request: EncodeBatch's
// body, signed once as Publish signs one event, with BatchID(evs) as the
// Standard Webhooks webhook-id and the count in Heroku-Events-Batch-Size.
// Its error is Publish's, for the whole batch.
func (w *Publisher) PublishBatch(ctx context.Context, _ string, pub config.Publication, evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if pub.Params.Mode == webhook.ModeBinary {
		return queue.Permanent(errors.New("a batch is sent in structured mode: binary mode has one event per request"))
	}
	body, err := EncodeBatch(evs)
	if err != nil {
		return queue.Permanent(err)
	}
	ct := webhook.BatchContentType
	if pub.Params.ContentType == webhook.LegacyContentType {
		ct = webhook.LegacyContentType
	}
	hdr := http.Header{"Content-Type": {ct}}
	hdr.Set(webhook.HeaderBatchSize, strconv.Itoa(len(evs)))
	return w.post(ctx, pub, hdr, body, BatchID(evs))
}

// EncodeBatch encodes evs as a JSON array of structured-mode CloudEvents
// (Structured), in order.
func EncodeBatch(evs []event.Event) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, ev := range evs {
		one, err := Structured(ev)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(one)
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// BatchID is the webhook-id of a batch: "batch_" and the hex SHA-256 (its
// first 16 bytes) of its event ids sorted, one per line. The same events
// give the same id whatever their order, so that a receiver de-duplicates
// a batch sent again (a retry) by its webhook-id.
func BatchID(evs []event.Event) string {
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:16])
}
