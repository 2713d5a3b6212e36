// Package sqsqueue implements queue.Sender and queue.DeadLetters on Amazon
// SQS.
//
// Sending and dead-letter listing/redrive live here: in AWS, receiving,
// calling the handler, deleting
// successes and dead-lettering are done by Lambda's SQS event source mapping,
// the Lambda adapter (shared/lambdaio with queue.Settle) and the queue's
// redrive policy.
package sqsqueue

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/herokuevents/herokuevents/shared/queue"
)

const (
	// maxEntries is the most entries of one SendMessageBatch.
	maxEntries = 10
	// maxRequest is the largest total of message sizes (body plus
	// attributes) of one SendMessageBatch, and of one message.
	maxRequest = 1 << 20
	// attempts is how many times an entry that failed on the service's
	// side is sent before Send gives up on it.
	attempts = 4
)

// backoff is the wait before retry n (1-based) of failed entries.
var backoff = func(n int) time.Duration { return 50 * time.Millisecond << (n - 1) }

// api is the part of *sqs.Client that Queue uses.
type api interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Queue sends to one SQS queue. Safe for concurrent use.
type Queue struct {
	client api
	sqs    *sqs.Client
	url    string
	fifo   bool
}

var _ queue.Sender = (*Queue)(nil)

// New returns a Queue sending to queueURL with client. A queue whose name
// ends in ".fifo" is a FIFO queue (ordered delivery lanes): see Send.
func New(client *sqs.Client, queueURL string) *Queue {
	return &Queue{client: client, sqs: client, url: queueURL, fifo: strings.HasSuffix(queueURL, ".fifo")}
}

// ChangeVisibility makes the message received with receipt visible again
// d from now (ChangeMessageVisibility, d capped at queue.MaxDelay): how the
// Lambda adapter retries a message in place (queue.Later).
func (q *Queue) ChangeVisibility(ctx context.Context, receipt string, d time.Duration) error {
	_, err := q.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &q.url, ReceiptHandle: &receipt, VisibilityTimeout: delaySeconds(d)})
	if err != nil {
		return fmt.Errorf("change visibility of a message of %s: %w", q.url, err)
	}
	return nil
}

// URL returns the queue's URL.
func (q *Queue) URL() string { return q.url }

// Send queues msgs with SendMessageBatch, in requests of at most 10 entries
// and 1 MiB. Every attribute becomes a String message attribute (empty
// values are left out: SQS refuses them); Delay becomes DelaySeconds,
// rounded up to whole seconds and capped at 900. A message's
// queue.AttrTenant is its MessageGroupId (GroupID): on a standard queue
// that makes it an SQS fair queue, where one tenant's backlog does not
// hold back the others' messages.
//
// On a FIFO queue a message's queue.Message.Group (else its tenant) is its
// MessageGroupId (GroupID: hashed when SQS would refuse it), each message
// gets a fresh MessageDeduplicationId (a Send retried by its caller may
// duplicate, as on a standard queue, never drop) and Delay is ignored:
// FIFO queues have no per-message delay.
//
// Messages SQS cannot carry fail before anything is sent: bodies over
// queue.MaxBody or with body plus attributes over 1 MiB (queue.ErrTooLarge),
// and bodies that are not valid UTF-8 or hold characters SQS refuses
// (queue.ErrInvalid). The SDK retries whole requests; entries the service
// fails on its side are sent again up to 3 times with backoff. Entries still
// failing, or failed as the sender's fault, make Send return an error naming
// them by index in msgs; the others were queued.
func (q *Queue) Send(ctx context.Context, msgs ...queue.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := queue.Check(msgs...); err != nil {
		return fmt.Errorf("send to %s: %w", q.url, err)
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	sizes := make([]int, len(msgs))
	for i, m := range msgs {
		if err := checkBody(m.Body); err != nil {
			return fmt.Errorf("send to %s: message %d: %w", q.url, i, err)
		}
		entries[i], sizes[i] = entry(i, m, q.fifo)
		if sizes[i] > maxRequest {
			return fmt.Errorf("send to %s: message %d: %d bytes with attributes exceed %d: %w", q.url, i, sizes[i], maxRequest, queue.ErrTooLarge)
		}
	}
	var failed []string
	for start := 0; start < len(entries); {
		end, total := start, 0
		for end < len(entries) && end-start < maxEntries && total+sizes[end] <= maxRequest {
			total += sizes[end]
			end++
		}
		f, err := q.sendBatch(ctx, entries[start:end])
		if err != nil {
			return fmt.Errorf("send messages %d..%d of %d to %s: %w", start, end-1, len(msgs), q.url, err)
		}
		failed = append(failed, f...)
		start = end
	}
	if len(failed) > 0 {
		return fmt.Errorf("send to %s: %d of %d messages failed: %s", q.url, len(failed), len(msgs), strings.Join(failed, "; "))
	}
	return nil
}

// sendBatch sends one request, retrying the entries that failed on the
// service's side; it returns a description of each entry that still failed.
func (q *Queue) sendBatch(ctx context.Context, entries []types.SendMessageBatchRequestEntry) ([]string, error) {
	var failed []string
	for attempt := 1; ; attempt++ {
		out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &q.url, Entries: entries})
		if err != nil {
			return nil, err
		}
		if len(out.Failed) == 0 {
			return failed, nil
		}
		byID := make(map[string]types.SendMessageBatchRequestEntry, len(entries))
		for _, e := range entries {
			byID[*e.Id] = e
		}
		var retry []types.SendMessageBatchRequestEntry
		for _, f := range out.Failed {
			id := aws.ToString(f.Id)
			e, ok := byID[id]
			desc := fmt.Sprintf("message %s: %s: %s", strings.TrimPrefix(id, "m"), aws.ToString(f.Code), aws.ToString(f.Message))
			switch {
			case !ok:
				// An id we did not send: nothing to retry.
			case f.SenderFault || attempt == attempts:
				failed = append(failed, desc)
			default:
				retry = append(retry, e)
			}
		}
		if len(retry) == 0 {
			return failed, nil
		}
		slog.WarnContext(ctx, "sqs entries failed; retrying", "queue_url", q.url, "entries", len(retry), "attempt", attempt)
		select {
		case <-time.After(backoff(attempt)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		entries = retry
	}
}

// entry converts message i to a batch entry and returns its size as SQS
// counts it (body plus attribute names, types and values).
func entry(i int, m queue.Message, fifo bool) (types.SendMessageBatchRequestEntry, int) {
	size := len(m.Body)
	e := types.SendMessageBatchRequestEntry{
		Id:          aws.String("m" + strconv.Itoa(i)),
		MessageBody: aws.String(string(m.Body)),
	}
	switch {
	case fifo:
		g := GroupID(m.Group)
		if g == "" {
			g = cmp.Or(GroupID(m.Attributes[queue.AttrTenant]), "-")
		}
		e.MessageGroupId = aws.String(g)
		e.MessageDeduplicationId = aws.String(rand.Text())
	default:
		e.DelaySeconds = delaySeconds(m.Delay)
		if g := GroupID(m.Attributes[queue.AttrTenant]); g != "" {
			e.MessageGroupId = aws.String(g)
		}
	}
	for k, v := range m.Attributes {
		if v == "" {
			continue
		}
		if e.MessageAttributes == nil {
			e.MessageAttributes = make(map[string]types.MessageAttributeValue, len(m.Attributes))
		}
		e.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		size += len(k) + len("String") + len(v)
	}
	return e, size
}

// GroupID is the MessageGroupId of a tenant's messages (or of an ordered
// group's, on a FIFO queue): the value itself when SQS accepts it (1..128
// characters of ASCII letters, digits and punctuation), else a digest of
// it; "" for none.
func GroupID(tenant string) string {
	if tenant == "" {
		return ""
	}
	ok := len(tenant) <= 128
	for i := 0; ok && i < len(tenant); i++ {
		ok = tenant[i] > ' ' && tenant[i] < 0x7f
	}
	if ok {
		return tenant
	}
	sum := sha256.Sum256([]byte(tenant))
	return hex.EncodeToString(sum[:])
}

// delaySeconds rounds d up to whole seconds within SQS's 0..900.
func delaySeconds(d time.Duration) int32 {
	d = queue.ClampDelay(d)
	return int32(math.Ceil(d.Seconds()))
}

var errBody = errors.New("body is not valid UTF-8 text SQS accepts")

// checkBody reports whether SQS accepts body: UTF-8 of #x9 | #xA | #xD |
// #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
func checkBody(body []byte) error {
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		ok := r == 0x9 || r == 0xA || r == 0xD ||
			(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok || (r == utf8.RuneError && n == 1) {
			return fmt.Errorf("byte %d: %w: %w", i, errBody, queue.ErrInvalid)
		}
		i += n
	}
	return nil
}
