package awsapp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awsapp"
	"github.com/herokuevents/herokuevents/infra/aws/awsenv"
	"github.com/herokuevents/herokuevents/infra/aws/awsingest"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/order/ordertest"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// TestOrderedLanesOnAWS is the acceptance test of ordered lanes in the AWS
// mode, on the template's queues in moto: events published to an ordered
// publication go to OrderedDeliveryQueue.fifo (MessageGroupId: tenant,
// publication, record id), and the deliver function's handler behind the
// Lambda adapter (lambdaio.SQS with WithOrdered, the template's settings of
// its second event source) consumes them through an event source mapping
// emulated here by concurrent pollers. 500 CDC-like events over 25 record
// ids (half the embedded test's count: moto scans the queue on every
// receive), the receiver failing one record (from its first attempt until
// the others are all in, at most 2 min): every record in
// publish order, the others all delivered while that record was still
// failing (ordertest.Check; alone on the host within about 0.5 s of their
// publish, which the test logs).
func TestOrderedLanesOnAWS(t *testing.T) {
	const (
		keys, perKey = 25, 20
		failFor      = 2 * time.Minute // at most: the receiver recovers it once the others are in
		pollers      = 8
	)
	api := apiOnAWS(t, catalog.All(), "71234567-89ab-cdef-0123-456789abcdef")
	// A tenant of its own, whose publish and API URLs the test uses.
	app := provision(t, api, "81234567-89ab-cdef-0123-456789abcdef", "ordered-app")
	pubURL, err := url.Parse(app.Config["HEROKUEVENTS_PUBLISH_URL"])
	require.NoError(t, err)
	rec := ordertest.NewReceiver(t, ordertest.Key(3), failFor)
	require.Equal(t, http.StatusCreated, do(t, api.h, http.MethodPost, app.APIPath+"/platforms/webhook/publications",
		app.Bearer,
		map[string]any{"name": "accounts", "url": rec.URL + "/cdc", "ordered": true}, nil))

	// The publish URL: the ingest function's handler.
	for k, v := range api.st.Env("IngestFunction") {
		t.Setenv(k, v)
	}
	require.NotEmpty(t, api.st.Env("IngestFunction")["ORDERED_DELIVERY_QUEUE_URL"], "the template gives ingest the FIFO queue")
	ing, err := awsingest.Handler(awsenv.MustLoad(t.Context(), "ingest"), nil)
	require.NoError(t, err)

	// The deliver function: one handler per concurrent invocation, as
	// Lambda runs one per instance, behind the Lambda adapter.
	for k, v := range api.st.Env("DeliverFunction") {
		t.Setenv(k, v)
	}
	tpl, err := samtemplate.Parse(herokuevents.Template)
	require.NoError(t, err)
	std, err := tpl.QueueSettings("DeliverFunction", "DeliveryQueue")
	require.NoError(t, err)
	ord, err := tpl.QueueSettings("DeliverFunction", "OrderedDeliveryQueue")
	require.NoError(t, err)
	denv := awsenv.MustLoad(t.Context(), "deliver")
	fifo := denv.OrderedQueue()
	require.NotNil(t, fifo)
	fns := make([]func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), pollers)
	for i := range fns {
		app, err := awsapp.New(denv, awsapp.Options{Platforms: catalog.All(), DataPlane: true,
			Engines: map[string]platform.Engine{config.PlatformSalesforce: sfsub.Engine{}, config.PlatformWebhook: cloudevent.Engine{}}})
		require.NoError(t, err)
		h, err := app.Deliver(t.Context())
		require.NoError(t, err)
		h.Backoff = deliver.Backoff{Base: 200 * time.Millisecond, Cap: time.Second} // FIFO visibility counts whole seconds
		fns[i] = lambdaio.SQS(h, std, denv.Queue("DELIVERY_DLQ_URL"), lambdaio.WithOrdered(ord, fifo.ChangeVisibility))
	}
	ctx, stop := context.WithCancel(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	esm := &fifoESM{sqs: sqs.NewFromConfig(api.st.AWS), url: api.st.Ref("OrderedDeliveryQueue"), arn: api.st.Attr("OrderedDeliveryQueue", "Arn"), batch: ord.BatchSize}
	require.True(t, strings.HasSuffix(esm.url, ".fifo"), esm.url)
	batches := make(chan []sqstypes.Message)
	wg.Go(func() { esm.receive(ctx, batches) })
	for _, fn := range fns {
		wg.Go(func() {
			for b := range batches {
				esm.invoke(ctx, t, fn, b)
			}
		})
	}

	var ks []string
	for i := range keys {
		ks = append(ks, ordertest.Key(i))
	}
	pass, _ := pubURL.User.Password()
	w := ordertest.Publish(t, ks, perKey, 5, 20*time.Millisecond, func(body []byte) error {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, pubURL.Path+"/accounts", strings.NewReader(string(body)))
		req.SetBasicAuth(pubURL.User.Username(), pass)
		req.Header.Set("Content-Type", "application/cloudevents+json")
		rw := httptest.NewRecorder()
		ing.ServeHTTP(rw, req)
		if rw.Code != http.StatusAccepted {
			b, _ := io.ReadAll(rw.Result().Body)
			return fmt.Errorf("publish: %d %s", rw.Code, b)
		}
		return nil
	})
	w.Check(t, rec, failFor)
}

// fifoESM is what Lambda's event source mapping does with a FIFO queue:
// one poller receives batches and hands each to a free instance, which
// invokes the function and deletes what it did not report failed. One
// poller: moto does not lock a queue between concurrent ReceiveMessage
// calls (SQS does), so two could hand out one group.
type fifoESM struct {
	sqs      *sqs.Client
	url, arn string
	batch    int
}

func (e *fifoESM) receive(ctx context.Context, batches chan<- []sqstypes.Message) {
	defer close(batches)
	for ctx.Err() == nil {
		out, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.url), MaxNumberOfMessages: int32(e.batch),
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil || len(out.Messages) == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		select {
		case batches <- out.Messages:
		case <-ctx.Done():
		}
	}
}

func (e *fifoESM) invoke(ctx context.Context, t *testing.T, fn func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), msgs []sqstypes.Message) {
	payload, err := awslocal.SQSEvent(e.arn, msgs)
	if err != nil {
		t.Error(err)
		return
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		t.Error(err)
		return
	}
	res, err := fn(ctx, ev)
	if err != nil {
		return // the whole batch comes back after the visibility timeout
	}
	failed := map[string]bool{}
	for _, f := range res.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) > 0 {
		if _, err := e.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(e.url), Entries: entries}); err != nil && ctx.Err() == nil {
			t.Logf("delete: %v", err)
		}
	}
}
