// Package awsenv builds what a Lambda function of herokuevents needs from its
// environment (the variables template.yaml sets): the AWS SDK config, the
// DynamoDB config store, SQS senders, the egress guard and a JSON logger
// with the Lambda request id. The KMS sealer is kmssealer.FromConfig, so that
// the functions that seal nothing (filter, generate) link no KMS client: each
// SDK service client costs a cold start its package initialisation. Function mains stay thin: settings
// from env → handler → lambdaio.Start….
//
// The SDK reads AWS_ENDPOINT_URL like every AWS tool, so tests point the
// functions at a local AWS API server (moto) without code changes.
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/dynamodedup"
	"github.com/herokuevents/herokuevents/infra/aws/dynamojournal"
	"github.com/herokuevents/herokuevents/infra/aws/dynamopull"
	"github.com/herokuevents/herokuevents/infra/aws/dynamorecent"
	"github.com/herokuevents/herokuevents/infra/aws/dynamostore"
	"github.com/herokuevents/herokuevents/infra/aws/emf"
	"github.com/herokuevents/herokuevents/infra/aws/sqsqueue"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/dedup"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/lambdaio"
	"github.com/herokuevents/herokuevents/shared/metric"
	"github.com/herokuevents/herokuevents/shared/pull"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/sink"
	"github.com/herokuevents/herokuevents/shared/tenantlog"
)

// Env is a function's environment. Fields a function does not use stay
// lazy: nothing is dialled before it is asked for.
type Env struct {
	AWS     aws.Config
	Logger  *slog.Logger
	Metrics metric.Recorder
	Role    string
	sqs     *sqs.Client
	logs    *tenantlog.Shipper // TenantLog (tenantlog.go)
}

// MustLoad loads the environment of role or exits with a clear message:
// a Lambda whose settings are wrong should fail its init, loudly.
func MustLoad(ctx context.Context, role string) *Env {
	level, err := lambdaio.ParseLevel(lambdaio.EnvOr("LOG_LEVEL", "INFO"))
	if err != nil {
		level = slog.LevelInfo
	}
	logger := lambdaio.NewLogger(os.Stderr, level).With("role", role)
	slog.SetDefault(logger)
	cfg, err := Config(os.Getenv)
	if err != nil {
		logger.Error("load AWS config", "err", err)
		os.Exit(1)
	}
	return &Env{AWS: cfg, Logger: logger, Metrics: emf.New(os.Stdout, role), Role: role}
}

// Config is the AWS SDK configuration of a Lambda function, read from the
// variables Lambda sets: AWS_REGION and the execution role's
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, plus
// AWS_ENDPOINT_URL as every AWS tool reads it (tests point it at a local
// AWS API). It links none of the SDK's shared-config, SSO or STS
// machinery that a function never uses.
func Config(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case region == "":
		return aws.Config{}, errors.New("AWS_REGION is not set")
	case id == "" || secret == "":
		return aws.Config{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))),
	}
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" {
		cfg.BaseEndpoint = aws.String(ep)
	}
	return cfg, nil
}

// Store returns the DynamoDB config store of CONFIG_TABLE.
func (e *Env) Store() *dynamostore.Store {
	return dynamostore.New(dynamodb.NewFromConfig(e.AWS), lambdaio.MustEnv("CONFIG_TABLE"))
}

// DataStore returns the config store of the data plane (ingest, filter,
// deliver): reads are cached for CONFIG_CACHE_TTL (default 2s), so a warm
// function reads a tenant's publication or streams once per ttl, not once per
// event; changes made through the API are seen within that time.
func (e *Env) DataStore() config.Store {
	return config.Cached(e.Store(), e.Timeout("CONFIG_CACHE_TTL", 2*time.Second))
}

// Recent returns the store of the latest events of each subscription
// (RECENT_EVENTS_TABLE), which the filter function keeps and the api's
// streams:test reads.
func (e *Env) Recent() *dynamorecent.Store {
	return dynamorecent.New(dynamodb.NewFromConfig(e.AWS), lambdaio.MustEnv("RECENT_EVENTS_TABLE"), recent.Limits{})
}

// Pull is the pull buffers of PULL_TABLE (HEROKUEVENTS_SUBSCRIBE_URL):
// the filter function fills them, the ingest function serves them, the
// api reports their backlog. PULL_RETENTION (a duration) bounds what they
// keep; pull.DefaultRetention when unset.
func (e *Env) Pull() *dynamopull.Buffer {
	return dynamopull.New(dynamodb.NewFromConfig(e.AWS), lambdaio.MustEnv("PULL_TABLE"),
		dynamopull.Options{Retention: e.Timeout("PULL_RETENTION", pull.DefaultRetention)})
}

// Dedup returns the idempotency keys of publishes (PUBLISH_KEYS_TABLE),
// which the ingest function claims, and how long a key is remembered:
// PUBLISH_DEDUP_WINDOW (a duration), dedup.DefaultWindow when unset.
func (e *Env) Dedup() (*dynamodedup.Store, time.Duration) {
	w := e.Timeout("PUBLISH_DEDUP_WINDOW", dedup.DefaultWindow)
	if w <= 0 {
		e.fatal("PUBLISH_DEDUP_WINDOW", fmt.Errorf("%s is not a positive duration", w))
	}
	return dynamodedup.New(dynamodb.NewFromConfig(e.AWS), lambdaio.MustEnv("PUBLISH_KEYS_TABLE"), nil), w
}

// Journal returns the delivery log of JOURNAL_TABLE, keeping entries for
// JOURNAL_RETENTION (a duration in hours such as 168h, the journal default
// when unset) and at most JOURNAL_PER_PUBLICATION attempts per publication.
func (e *Env) Journal() *dynamojournal.Journal {
	r := journal.Retention{Age: e.Timeout("JOURNAL_RETENTION", journal.DefaultAge)}
	if v := os.Getenv("JOURNAL_PER_PUBLICATION"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			e.fatal("JOURNAL_PER_PUBLICATION", fmt.Errorf("%q is not a positive number", v))
		}
		r.PerPublication = n
	}
	return dynamojournal.New(dynamodb.NewFromConfig(e.AWS), lambdaio.MustEnv("JOURNAL_TABLE"), dynamojournal.Options{Retention: r})
}

// JournalWriter returns the roles' writer of the delivery log: it only
// enqueues; wrap the function's handler in journal.FlushBatches or
// journal.FlushRequests so that the entries are written before each
// invocation returns.
func (e *Env) JournalWriter() *journal.Async {
	return journal.NewAsync(e.withTenantLog(e.Journal()), journal.AsyncOptions{Logger: e.Logger}) // tenantlog.go
}

// Queue returns a sender to the queue whose URL is in the variable name
// (e.g. DELIVERY_QUEUE_URL).
func (e *Env) Queue(name string) queue.Sender {
	if e.sqs == nil {
		e.sqs = sqs.NewFromConfig(e.AWS)
	}
	return sqsqueue.New(e.sqs, lambdaio.MustEnv(name))
}

// DeliveryQueue is the delivery queue as the roles that route events to
// publications send to it: an ordered publication's deliveries (those with
// a queue.Message.Group) go to ORDERED_DELIVERY_QUEUE_URL, the FIFO queue
// of ordered lanes, when it is set; every other delivery to
// DELIVERY_QUEUE_URL.
func (e *Env) DeliveryQueue() queue.Sender {
	plain := e.Queue("DELIVERY_QUEUE_URL")
	ordered := e.OrderedQueue()
	if ordered == nil {
		return plain
	}
	return queue.ByGroup(plain, ordered)
}

// OrderedQueue is the FIFO queue of ordered lanes
// (ORDERED_DELIVERY_QUEUE_URL), nil when it is not set.
func (e *Env) OrderedQueue() *sqsqueue.Queue {
	url := os.Getenv("ORDERED_DELIVERY_QUEUE_URL")
	if url == "" {
		return nil
	}
	if e.sqs == nil {
		e.sqs = sqs.NewFromConfig(e.AWS)
	}
	return sqsqueue.New(e.sqs, url)
}

// DeadLetters returns the tenants' dead letters of the ingest and delivery
// dead-letter queues (INGEST_DLQ_URL, DELIVERY_DLQ_URL), redriven to
// INGEST_QUEUE_URL and DELIVERY_QUEUE_URL.
func (e *Env) DeadLetters() queue.DeadLetters {
	if e.sqs == nil {
		e.sqs = sqs.NewFromConfig(e.AWS)
	}
	return sqsqueue.NewDeadLetters(e.sqs,
		sqsqueue.Pair{Name: "ingest", DLQ: lambdaio.MustEnv("INGEST_DLQ_URL"), Source: lambdaio.MustEnv("INGEST_QUEUE_URL")},
		sqsqueue.Pair{Name: "delivery", DLQ: lambdaio.MustEnv("DELIVERY_DLQ_URL"), Source: lambdaio.MustEnv("DELIVERY_QUEUE_URL")},
	)
}

// Egress returns the outbound HTTP guard with ALLOW_EGRESS's networks.
func (e *Env) Egress() *sink.Egress {
	var allow []string
	for _, a := range strings.Split(os.Getenv("ALLOW_EGRESS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			allow = append(allow, a)
		}
	}
	eg, err := sink.ParseAllow(strings.Join(allow, ","))
	if err != nil {
		e.fatal("ALLOW_EGRESS", err)
	}
	return sink.NewEgress(eg)
}

// Timeout is a duration setting with a default.
func (e *Env) Timeout(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.fatal(name, err)
	}
	return d
}

// QueueSettings returns the SQS→Lambda settings template.yaml declares for
// function's SQS event of queueID (the batch numbers SAM deploys), from the
// table generated from the template (herokuevents.QueueSettings), or exits
// the function's init when the template declares no such event.
func (e *Env) QueueSettings(function, queueID string) queue.Settings {
	s, ok := herokuevents.QueueSettings(function, queueID)
	if !ok {
		e.fatal("template.yaml", fmt.Errorf("function %s has no SQS event of queue %s", function, queueID))
	}
	return s
}

// Check exits the function's init when err is set, naming the setting.
func (e *Env) Check(setting string, err error) {
	if err != nil {
		e.fatal(setting, err)
	}
}

func (e *Env) fatal(setting string, err error) {
	e.Logger.Error(fmt.Sprintf("invalid setting %s", setting), "err", err)
	os.Exit(1)
}
