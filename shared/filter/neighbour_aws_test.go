package filter_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/infra/aws/sqsqueue"
)

// TestOneMessageNeverFailsItsNeighboursOnSQS is
// TestOneMessageNeverFailsItsNeighbours with the AWS mode's queue driver:
// SQS (moto), whose sizes count the attributes too.
func TestOneMessageNeverFailsItsNeighboursOnSQS(t *testing.T) {
	srv := awstest.New(t)
	client := sqs.NewFromConfig(srv.Config())
	url := func(name string) string {
		out, err := client.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
		require.NoError(t, err)
		return aws.ToString(out.QueueUrl)
	}
	deliveryURL, dlqURL := url("delivery"), url("ingest-dlq")
	neighbours(t, sqsqueue.New(client, deliveryURL), sqsqueue.New(client, dlqURL), func() [][]byte {
		var out [][]byte
		deadline := time.Now().Add(10 * time.Second)
		for len(out) < 5 && time.Now().Before(deadline) {
			got, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(deliveryURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
			require.NoError(t, err)
			for _, m := range got.Messages {
				out = append(out, []byte(aws.ToString(m.Body)))
			}
		}
		return out
	})
}
