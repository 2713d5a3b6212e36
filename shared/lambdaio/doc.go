// Package lambdaio is the Lambda edge of herokuevents: it adapts Lambda
// event payloads to the domain ports (API Gateway HTTP API ⇄ net/http, SQS
// batches ⇄ queue.BatchHandler, scheduled events ⇄ a tick function), gives
// the mains a JSON logger that tags records with the Lambda request id, and
// small environment helpers. It is the only package that imports
// aws-lambda-go; function mains call its Start helpers.
package lambdaio
