// Package awslocal runs herokuevents' AWS mode on one machine, without an
// AWS account, for tests and benchmarks: a "stack" of template.yaml.
//
//   - Resources: every AWS::SQS::Queue (VisibilityTimeout, retention,
//     RedrivePolicy → the dead-letter queue's ARN and maxReceiveCount), the
//     AWS::DynamoDB::Table (keys, GSIs) and the KMS key and alias are
//     created in moto from their template definitions, names prefixed with
//     the stack name. Nothing is copied by hand: Ref/GetAtt/Sub/If/Join and
//     Conditions are evaluated against the created resources.
//   - Functions: each functions/<role> binary (built once per test binary as
//     deployed: static linux, -tags lambda.norpc) runs under its own
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
// A test package calls Main from TestMain (one moto and one build per test
// binary) and New per test (a fresh stack, torn down with the test; on
// failure every function's output and the pollers' trace are logged):
//
//	func TestMain(m *testing.M) { awslocal.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		st := awslocal.New(t, awslocal.Options{})  // Params, FunctionEnv (e.g. RUN_FOR) as needed
//		hook := awslocal.NewHook(t)                  // a webhook / partner API on loopback
//		tn := st.Provision(t, "my-app")               // POST /heroku/resources as the operator
//		tn.MustCall(t, 201, "POST", "/platforms/webhook/publications", map[string]any{"name": "out", "url": hook.URL}, nil)
//		id := tn.Publish(t, "out", `{"a":1}`)        // through the ingest function
//		hook.Wait(t, id, 1, 30*time.Second)
//		require.NoError(t, st.Drain(t.Context()))
//		dead, _ := st.Peek(t.Context(), "DeliveryDLQ")
//		metrics := st.Metrics("DeliverFunction")     // EMF lines the function printed
//		...
//	}
//
// Tools (moto_server, aws-lambda-rie) come pinned from scripts/setup-tools;
// a missing tool fails the test, never skips it. Deploy, Build and
// StartEmulator are the same machinery without testing (scripts/bench/lambda).
package awslocal
