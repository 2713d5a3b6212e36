// Package awslocal runs herokuevents' AWS mode on one machine, without an
// AWS account, for `make aws-local`, scripts/invoke, tests and benchmarks:
// a "stack" of template.yaml.
//
//   - Resources: every AWS::SQS::Queue (VisibilityTimeout, retention,
//     RedrivePolicy → the dead-letter queue's ARN and maxReceiveCount), the
//     AWS::DynamoDB::Table (keys, GSIs), the KMS keys and alias and the
//     Secrets Manager secrets (whose condition holds) are
//     created in moto from their template definitions, names prefixed with
//     the stack name. Nothing is copied by hand: Ref/GetAtt/Sub/If/Join and
//     Conditions are evaluated against the created resources.
//   - Functions: each functions/<role> binary (built as deployed: static
//     linux, -tags lambda.norpc; see Build) runs under its own
//     aws-lambda-rie on loopback with the environment the template gives it,
//     plus AWS_ENDPOINT_URL = moto and test credentials (Stack.Env).
//   - HTTP API: Stack.URL serves the template's API Gateway routes, turning
//     requests into payload 2.0 events for the api and ingest functions.
//     PUBLIC_URL (the PublicUrl parameter) is that URL.
//   - Event sources: a poller per SQS event does what Lambda's poller does
//     (BatchSize, batching window, batchItemFailures, deletes; moto's
//     redrive moves exhausted messages). Stack.Tick invokes a scheduled
//     function as EventBridge Scheduler would; Stack.Drain waits until every
//     source queue is empty and no batch is running.
//
// `make aws-local` (scripts/awslocal) runs a stack for a person and
// scripts/invoke provisions one (resources only) for one invocation; tests
// use the awslocaltest sub-package, which shares one moto server and one
// build per test binary and tears each stack down with its test. This
// package links no testing code.
//
// Tools (moto_server, aws-lambda-rie) come pinned from scripts/setup-tools.
package awslocal
