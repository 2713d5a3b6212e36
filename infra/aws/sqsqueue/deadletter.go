package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/herokuevents/herokuevents/shared/queue"
)

// Defaults of DeadLetters.
const (
	DefaultHold    = 30 * time.Second
	DefaultWait    = time.Second
	DefaultMaxScan = 1000
)

// deadLetterAPI is the part of *sqs.Client that DeadLetters uses.
type deadLetterAPI interface {
	api
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// Pair is a dead-letter queue and the queue its messages came from, by URL.
// Name is the source queue's name as DeadLetter.Queue shows it ("delivery").
type Pair struct {
	Name   string
	DLQ    string
	Source string
}

// DeadLetters implements queue.DeadLetters on SQS, which cannot filter or
// peek: a call receives the messages of each dead-letter queue (hiding them
// for Hold), picks the tenant's by their queue.AttrTenant attribute, and
// makes every message it does not move visible again at once
// (ChangeMessageVisibility 0). Redrive sends the chosen messages to their
// source queue (queue.Revive: no reason, attempt reset) and then deletes
// them: a failure in between duplicates, never loses.
//
// Limits: one call looks at no more than MaxScan messages of each
// dead-letter queue; calls running at the same time (or a crash) may hide a
// message from each other for at most Hold. Safe for concurrent use; the SDK
// retries requests, DeadLetters does not.
type DeadLetters struct {
	client deadLetterAPI
	pairs  []Pair
	// Hold is the visibility timeout of the messages a call receives
	// (whole seconds, DefaultHold when zero).
	Hold time.Duration
	// Wait is the long-polling wait of each receive (whole seconds,
	// DefaultWait when zero, none when negative). Long polling asks every
	// SQS server, so an empty answer means an empty queue.
	Wait time.Duration
	// MaxScan bounds the messages received from each dead-letter queue by
	// one call (DefaultMaxScan when zero).
	MaxScan int
	// Logger receives warnings about messages left hidden; slog.Default()
	// when nil.
	Logger *slog.Logger
}

var _ queue.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters returns the dead letters of pairs with client.
func NewDeadLetters(client *sqs.Client, pairs ...Pair) *DeadLetters {
	return &DeadLetters{client: client, pairs: slices.Clone(pairs)}
}

// held is a received dead letter and its receipt handle.
type held struct {
	msg     queue.Message
	receipt string
}

func (d *DeadLetters) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

func seconds(d, def time.Duration) int32 {
	if d == 0 {
		d = def
	}
	if d < 0 {
		return 0
	}
	return int32(math.Ceil(d.Seconds()))
}

// scan receives messages of dlq until it is empty, MaxScan were received or
// want of them match; it returns the matching ones and the others, all
// hidden for Hold.
func (d *DeadLetters) scan(ctx context.Context, dlq string, match func(queue.Message) bool, want int) (matched, others []held, err error) {
	maxScan := d.MaxScan
	if maxScan <= 0 {
		maxScan = DefaultMaxScan
	}
	seen := map[string]bool{}
	for received := 0; received < maxScan && len(matched) < want; {
		out, err := d.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(dlq),
			MaxNumberOfMessages:   int32(min(10, maxScan-received)),
			VisibilityTimeout:     seconds(d.Hold, DefaultHold),
			WaitTimeSeconds:       seconds(d.Wait, DefaultWait),
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameSentTimestamp,
				types.MessageSystemAttributeNameApproximateReceiveCount,
			},
		})
		if err != nil {
			d.release(ctx, dlq, append(matched, others...))
			return nil, nil, fmt.Errorf("receive dead letters from %s: %w", dlq, err)
		}
		if len(out.Messages) == 0 {
			break
		}
		received += len(out.Messages)
		for _, m := range out.Messages {
			h := held{msg: fromSQS(m), receipt: aws.ToString(m.ReceiptHandle)}
			if seen[h.msg.ID] {
				// Received again after Hold ran out: only the newest
				// receipt handle is valid; the old one is dropped.
				others = slices.DeleteFunc(others, func(o held) bool { return o.msg.ID == h.msg.ID })
				matched = slices.DeleteFunc(matched, func(o held) bool { return o.msg.ID == h.msg.ID })
			}
			seen[h.msg.ID] = true
			if match(h.msg) {
				matched = append(matched, h)
			} else {
				others = append(others, h)
			}
		}
	}
	return matched, others, nil
}

func fromSQS(m types.Message) queue.Message {
	qm := queue.Message{ID: aws.ToString(m.MessageId), Body: []byte(aws.ToString(m.Body))}
	if n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		qm.Receives = n
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		qm.SentAt = time.UnixMilli(ms)
	}
	for k, v := range m.MessageAttributes {
		if qm.Attributes == nil {
			qm.Attributes = make(map[string]string, len(m.MessageAttributes))
		}
		qm.Attributes[k] = aws.ToString(v.StringValue)
	}
	return qm
}

// release makes held messages visible again at once, even when ctx is done.
// Messages it fails on come back when Hold ends.
func (d *DeadLetters) release(ctx context.Context, dlq string, hs []held) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for start := 0; start < len(hs); start += 10 {
		chunk := hs[start:min(start+10, len(hs))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(chunk))
		for i, h := range chunk {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String("v" + strconv.Itoa(i)), ReceiptHandle: aws.String(h.receipt), VisibilityTimeout: 0}
		}
		out, err := d.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(dlq), Entries: entries})
		failed := len(chunk)
		if err == nil {
			failed = len(out.Failed)
		}
		if failed > 0 {
			d.logger().WarnContext(ctx, "dead letters stay hidden until their visibility timeout ends",
				"queue_url", dlq, "messages", failed, "hold", seconds(d.Hold, DefaultHold), "error", fmt.Sprint(err))
		}
	}
}

// remove deletes held messages; it returns an error naming how many failed.
func (d *DeadLetters) remove(ctx context.Context, dlq string, hs []held) error {
	var errs []error
	for start := 0; start < len(hs); start += 10 {
		chunk := hs[start:min(start+10, len(hs))]
		entries := make([]types.DeleteMessageBatchRequestEntry, len(chunk))
		for i, h := range chunk {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String("d" + strconv.Itoa(i)), ReceiptHandle: aws.String(h.receipt)}
		}
		out, err := d.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlq), Entries: entries})
		switch {
		case err != nil:
			errs = append(errs, err)
		case len(out.Failed) > 0:
			errs = append(errs, fmt.Errorf("%d of %d deletes failed: %s", len(out.Failed), len(chunk), aws.ToString(out.Failed[0].Message)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("delete dead letters from %s: %w", dlq, errors.Join(errs...))
	}
	return nil
}

func tenantIs(tenant string) func(queue.Message) bool {
	return func(m queue.Message) bool { return tenant != "" && m.Attributes[queue.AttrTenant] == tenant }
}

// List returns up to limit of the tenant's dead letters, oldest first.
func (d *DeadLetters) List(ctx context.Context, tenant string, limit int) ([]queue.DeadLetter, error) {
	if limit < 1 || tenant == "" {
		return nil, nil
	}
	var out []queue.DeadLetter
	for _, p := range d.pairs {
		matched, others, err := d.scan(ctx, p.DLQ, tenantIs(tenant), limit)
		if err != nil {
			return nil, fmt.Errorf("list dead letters of %s: %w", tenant, err)
		}
		d.release(ctx, p.DLQ, append(others, matched...))
		for _, h := range matched {
			out = append(out, queue.Describe(p.Name, h.msg))
		}
	}
	slices.SortStableFunc(out, func(a, b queue.DeadLetter) int { return a.DeadLetteredAt.Compare(b.DeadLetteredAt) })
	return out[:min(limit, len(out))], nil
}

// Redrive moves the tenant's dead letters named by ids (every one found
// when ids is empty) back to their source queues and returns how many it
// moved. Another tenant's messages are made visible again before anything
// is sent. An id not found moves nothing and returns a *queue.MissingError.
func (d *DeadLetters) Redrive(ctx context.Context, tenant string, ids ...string) (int, error) {
	chosen, err := d.choose(ctx, tenant, ids, "redrive")
	if err != nil {
		return 0, err
	}
	moved := 0
	for i, p := range d.pairs {
		if len(chosen[i]) == 0 {
			continue
		}
		msgs := make([]queue.Message, len(chosen[i]))
		for j, h := range chosen[i] {
			msgs[j] = queue.Revive(h.msg)
		}
		to := &Queue{client: d.client, url: p.Source}
		if err := to.Send(ctx, msgs...); err != nil {
			// Some may have been sent: they stay dead letters as well
			// (duplicates, never losses).
			d.releaseFrom(ctx, chosen, i)
			return moved, fmt.Errorf("redrive dead letters of %s to %s: %w", tenant, p.Name, err)
		}
		if err := d.remove(ctx, p.DLQ, chosen[i]); err != nil {
			d.releaseFrom(ctx, chosen, i+1)
			return moved + len(msgs), fmt.Errorf("redrive dead letters of %s (sent, they may be redriven twice): %w", tenant, err)
		}
		moved += len(msgs)
	}
	return moved, nil
}

// Purge deletes the tenant's dead letters named by ids (every one found
// when ids is empty) and returns how many it deleted. Another tenant's
// messages are made visible again. An id not found deletes nothing and
// returns a *queue.MissingError.
func (d *DeadLetters) Purge(ctx context.Context, tenant string, ids ...string) (int, error) {
	chosen, err := d.choose(ctx, tenant, ids, "purge")
	if err != nil {
		return 0, err
	}
	deleted := 0
	for i, p := range d.pairs {
		if len(chosen[i]) == 0 {
			continue
		}
		if err := d.remove(ctx, p.DLQ, chosen[i]); err != nil {
			d.releaseFrom(ctx, chosen, i+1)
			return deleted, fmt.Errorf("purge dead letters of %s: %w", tenant, err)
		}
		deleted += len(chosen[i])
	}
	return deleted, nil
}

// choose holds the tenant's dead letters named by ids (every one found
// when ids is empty), one slice a pair, and makes every other message it
// saw visible again. On an error (op names the operation in it) or an id
// not found (a *queue.MissingError) it releases what it held and returns
// nothing.
func (d *DeadLetters) choose(ctx context.Context, tenant string, ids []string, op string) ([][]held, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	match := tenantIs(tenant)
	if len(ids) > 0 {
		match = func(m queue.Message) bool { return tenantIs(tenant)(m) && want[m.ID] }
	}
	chosen := make([][]held, len(d.pairs))
	found := map[string]bool{}
	for i, p := range d.pairs {
		limit := math.MaxInt
		if len(ids) > 0 {
			limit = len(want) - len(found)
			if limit == 0 {
				break
			}
		}
		matched, others, err := d.scan(ctx, p.DLQ, match, limit)
		if err != nil {
			d.releaseFrom(ctx, chosen, 0)
			return nil, fmt.Errorf("%s dead letters of %s: %w", op, tenant, err)
		}
		d.release(ctx, p.DLQ, others)
		chosen[i] = matched
		for _, h := range matched {
			found[h.msg.ID] = true
		}
	}
	if err := queue.Missing(ids, found); err != nil {
		d.releaseFrom(ctx, chosen, 0)
		return nil, err
	}
	return chosen, nil
}

// releaseFrom makes the messages chosen from the pairs from on visible
// again.
func (d *DeadLetters) releaseFrom(ctx context.Context, chosen [][]held, from int) {
	for i := from; i < len(d.pairs); i++ {
		d.release(ctx, d.pairs[i].DLQ, chosen[i])
	}
}
