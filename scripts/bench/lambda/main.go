// Command lambda benchmarks the Lambda functions of herokuevents on this
// machine, without an AWS account, and prices them.
//
//	go run ./scripts/bench/lambda [-cold 10] [-warm 5] [-rate 100] [-ttl 2s]
//
// For each function of template.yaml it reports the size of the stripped
// bootstrap (arm64 as deployed, amd64), the init duration under
// aws-lambda-rie (median of -cold cold starts; the emulator's INIT REPORT),
// and the duration of a warm invocation on a 10-record batch (median of
// -warm; HTTP functions: one request; scheduled ones: one tick). Every
// function runs against moto with the queues, table and key of
// template.yaml (infra/aws/awslocal), on real data: a tenant provisioned
// through the api function, events published through ingest and carried
// by the real queue messages to filter and deliver (an httptest webhook).
//
// It then prices one million delivered events (publish → ingest → filter →
// deliver → webhook) at AWS list prices (us-east-1, printed with the
// assumptions) beside Amazon EventBridge (events + API destinations).
// Durations are measured on this machine's CPU (not Graviton) under the
// emulator; treat the cost as an order of magnitude.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

// AWS list prices, us-east-1.
const (
	lambdaARMPerGBs     = 0.0000133334 // Lambda arm64, per GB-second (first 7.5 billion GB-s/month)
	lambdaPerRequest    = 0.20 / 1e6   // Lambda requests
	httpAPIPerRequest   = 1.00 / 1e6   // API Gateway HTTP API, first 300 million requests/month
	sqsPerRequest       = 0.40 / 1e6   // SQS standard queue requests (per 64 KB chunk)
	dynamoPerRRU        = 0.125 / 1e6  // DynamoDB on-demand read request units
	dynamoPerWRU        = 0.625 / 1e6  // DynamoDB on-demand write request units
	eventBridgePerEvent = 1.00 / 1e6   // EventBridge custom events (PutEvents, per 64 KB chunk)
	apiDestPerCall      = 0.20 / 1e6   // EventBridge API destinations invocations
)

// tickWindow is the generate function's TICK_WINDOW in the benchmark.
const tickWindow = 10 * time.Second

func main() {
	cold := flag.Int("cold", 10, "cold starts per function (median reported)")
	warm := flag.Int("warm", 5, "warm invocations per function (median reported)")
	rate := flag.Float64("rate", 100, "sustained events/s assumed for the DynamoDB read estimate")
	ttl := flag.Duration("ttl", 2*time.Second, "config cache ttl of the data plane (CONFIG_CACHE_TTL)")
	reads := flag.Float64("reads", 4, "read units a function spends to refill its config cache for one tenant")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *cold, *warm, *rate, *ttl, *reads); err != nil {
		fmt.Fprintln(os.Stderr, "bench lambda:", err)
		os.Exit(1)
	}
}

type result struct {
	id       string
	size     map[string]int64
	inits    []time.Duration
	firsts   []time.Duration // the cold start's first invocation (REPORT Duration)
	warm     []time.Duration
	warmAPI  []time.Duration // ingest: the same publish through the HTTP API
	warm10   []time.Duration // ingest: a publish of a batch of 10 events through the function URL
	records  int
	written  map[string]float64 // DynamoDB write units by table (metered)
	metered  float64            // events the metered invocations handled
	memoryMB int
	what     string
}

func run(ctx context.Context, cold, warm int, rate float64, ttl time.Duration, reads float64) error {
	if err := setupTools(ctx); err != nil {
		return err
	}
	tpl, err := samtemplate.Parse(herokuevents.Template)
	if err != nil {
		return err
	}
	ids := tpl.Functions()
	var roles []string
	for _, id := range ids {
		roles = append(roles, awslocal.Role(id))
	}
	tmp, err := os.MkdirTemp("", "bench-lambda-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(os.Stderr, "building %d functions (stripped) for arm64 and amd64...\n", len(roles))
	bins := map[string]map[string]string{}
	for _, arch := range []string{"arm64", "amd64"} {
		if bins[arch], err = awslocal.Build(ctx, awslocal.BuildOptions{Dir: filepath.Join(tmp, arch), Arch: arch, Strip: true, Roles: roles}); err != nil {
			return err
		}
	}
	host := bins[runtime.GOARCH]
	if host == nil {
		return fmt.Errorf("no build for the host architecture %s", runtime.GOARCH)
	}

	moto, err := awstest.Start()
	if err != nil {
		return err
	}
	defer moto.Close()
	m, err := newMeter(moto.URL)
	if err != nil {
		return err
	}
	front := httptest.NewServer(m)
	defer front.Close()
	st, err := awslocal.Deploy(ctx, awslocal.Options{
		Endpoint: front.URL, Binaries: host, NoPollers: true, RIELogLevel: "info",
		// a 1s generator then emits ~10 events per tick
		FunctionEnv: map[string]map[string]string{"GenerateFunction": {"TICK_WINDOW": tickWindow.String()}},
	})
	if err != nil {
		return err
	}
	defer st.Close()

	results := map[string]*result{}
	for _, id := range ids {
		fn, err := tpl.Function(id)
		if err != nil {
			return err
		}
		r := &result{id: id, size: map[string]int64{}, memoryMB: fn.MemoryMB}
		for arch, b := range bins {
			fi, err := os.Stat(b[awslocal.Role(id)])
			if err != nil {
				return err
			}
			r.size[arch] = fi.Size()
		}
		results[id] = r
	}

	fmt.Fprintf(os.Stderr, "cold starts (%d per function)...\n", cold)
	floor, err := floorInits(ctx, tmp, cold)
	if err != nil {
		return err
	}
	for _, id := range ids {
		payload, err := sample(awslocal.Role(id))
		if err != nil {
			return err
		}
		env := st.Env(id)
		var list []string
		for k, v := range env {
			list = append(list, k+"="+v)
		}
		for range cold {
			em, err := awslocal.StartEmulator(ctx, awslocal.EmulatorOptions{Bootstrap: host[awslocal.Role(id)], Env: list, LogLevel: "info"})
			if err != nil {
				return err
			}
			_, err = em.Invoke(ctx, payload)
			inits := initReports(em)
			_, durations := em.Reports()
			logs := em.Logs()
			_ = em.Close()
			if err != nil {
				return fmt.Errorf("%s cold start: %w", id, err)
			}
			if len(inits) == 0 {
				return fmt.Errorf("%s cold start: no INIT REPORT in the emulator's output:\n%s", id, logs)
			}
			results[id].inits = append(results[id].inits, inits[0])
			if len(durations) > 0 {
				results[id].firsts = append(results[id].firsts, durations[0])
			}
		}
	}

	fmt.Fprintf(os.Stderr, "warm batches (%d per function)...\n", warm)
	m.tables(st)
	w := &world{st: st, ctx: ctx, meter: m}
	if err := w.setup(); err != nil {
		return err
	}
	defer w.hook.Close()
	// The data plane first, in the order events flow: each fills the next queue.
	order := slices.Clone(ids)
	rank := map[string]int{"IngestFunction": -3, "FilterFunction": -2, "DeliverFunction": -1}
	slices.SortStableFunc(order, func(a, b string) int { return rank[a] - rank[b] })
	for _, id := range order {
		if err := w.measure(results[id], warm); err != nil {
			return err
		}
	}

	out := os.Stdout
	fmt.Fprintf(os.Stderr, "the webhook received %d deliveries, the partner API %d notifications\n", w.delivered.Load(), w.notified.Load())
	fmt.Fprintf(out, "herokuevents Lambda functions under aws-lambda-rie on %s/%s (%d CPUs), moto on loopback\n\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tarm64 MB\tamd64 MB\tinit ms (median of "+fmt.Sprint(cold)+")\tinit ms min-max\tfirst request ms\twarm ms (median of "+fmt.Sprint(warm)+")\tper\tmemory MB\t")
	for _, id := range ids {
		r := results[id]
		lo, hi := slices.Min(r.inits), slices.Max(r.inits)
		first := "-"
		if len(r.firsts) > 0 {
			first = fmt.Sprintf("%.1f", msf(median(r.firsts)))
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f-%.1f\t%s\t%.2f\t%s\t%d\t\n", id,
			mb(r.size["arm64"]), mb(r.size["amd64"]), msf(median(r.inits)), msf(lo), msf(hi), first, msf(median(r.warm)), r.what, r.memoryMB)
	}
	fmt.Fprintf(tw, "(floor: a bootstrap that only starts the runtime)\t\t\t%.1f\t%.1f-%.1f\t\t\t\t\t\n", msf(median(floor)), msf(slices.Min(floor)), msf(slices.Max(floor)))
	tw.Flush()
	fmt.Fprintln(out, "\ninit = the emulator's INIT REPORT durationMs (runtime start to its first /next call); the emulator's own")
	fmt.Fprintln(out, "REPORT \"Init Duration\" is not measured by it (it prints ~0.0x ms). Target: init ≤ 10 ms.")
	fmt.Fprintln(out, "first request = the REPORT Duration of the cold start's invocation (median): what a cold start adds after init.")

	printCost(out, results, rate, ttl, reads)
	return nil
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// billedMs is Lambda's billed duration: rounded up to the millisecond.
func billedMs(d time.Duration) float64 {
	return float64((d + time.Millisecond - 1) / time.Millisecond)
}

func printCost(out io.Writer, rs map[string]*result, rate float64, ttl time.Duration, reads float64) {
	in, fl, dl := rs["IngestFunction"], rs["FilterFunction"], rs["DeliverFunction"]
	if in == nil || fl == nil || dl == nil {
		fmt.Fprintln(out, "\n(no cost: the template lacks ingest, filter or deliver)")
		return
	}
	const n = 1e6
	gbs := func(r *result, invocations float64) float64 {
		return invocations * billedMs(median(r.warm)) / 1000 * float64(r.memoryMB) / 1024
	}
	// One publish = one ingest invocation; filter and deliver take batches of 10.
	inv := map[string]float64{"ingest": n, "filter": n / 10, "deliver": n / 10}
	lambdaGBs := gbs(in, inv["ingest"]) + gbs(fl, inv["filter"]) + gbs(dl, inv["deliver"])
	lambdaReq := inv["ingest"] + inv["filter"] + inv["deliver"]
	// SQS: ingest SendMessage (1/event); filter: Receive + DeleteMessageBatch +
	// SendMessageBatch to DeliveryQueue (per 10); deliver: Receive + Delete (per 10).
	sqsReq := n + 5*n/10
	// DynamoDB with the config cache: each warm container refills once per ttl.
	seconds := n / rate
	containers := 3.0 // one warm container each for ingest, filter, deliver at this rate
	rruCached := containers * reads * seconds / ttl.Seconds()
	rruUncached := 3 * reads * n
	costs := []struct {
		what  string
		basis string
		usd   float64
	}{
		{"Lambda compute (arm64)", fmt.Sprintf("%.0f GB-s at $%.10f", lambdaGBs, lambdaARMPerGBs), lambdaGBs * lambdaARMPerGBs},
		{"Lambda requests", fmt.Sprintf("%.2f M invocations at $0.20/M", lambdaReq/1e6), lambdaReq * lambdaPerRequest},
		{"Publish URL (the ingest function's URL)", "no charge beyond Lambda's", 0},
		{"SQS requests", fmt.Sprintf("%.2f M requests at $0.40/M", sqsReq/1e6), sqsReq * sqsPerRequest},
		{"DynamoDB reads (cached)", fmt.Sprintf("%.0f RRU at $0.125/M", rruCached), rruCached * dynamoPerRRU},
	}
	fmt.Fprintf(out, "\nCost per million delivered events (publish URL → ingest → IngestQueue → filter → DeliveryQueue → deliver → webhook), AWS list prices us-east-1:\n\n")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	total := 0.0
	for _, c := range costs {
		fmt.Fprintf(tw, "  %s\t%s\t$%.4f\n", c.what, c.basis, c.usd)
		total += c.usd
	}
	fmt.Fprintf(tw, "  herokuevents total\t\t$%.4f\n", total)
	fmt.Fprintf(tw, "  (through the HTTP API's /publish route instead)\t1 M requests at $1.00/M: +$%.4f\t$%.4f\n", n*httpAPIPerRequest, total+n*httpAPIPerRequest)
	fmt.Fprintf(tw, "  (DynamoDB without the config cache)\t%.0f RRU: +$%.4f\t$%.4f\n", rruUncached, (rruUncached-rruCached)*dynamoPerRRU, total+(rruUncached-rruCached)*dynamoPerRRU)
	fmt.Fprintf(tw, "  EventBridge\t1 M events at $1.00/M + 1 M API-destination calls at $0.20/M\t$%.4f\n", n*eventBridgePerEvent+n*apiDestPerCall)
	tw.Flush()
	fmt.Fprintf(out, "\nAssumptions: durations = warm medians above, billed per 1 ms, memory from template.yaml; batches of 10\n")
	fmt.Fprintf(out, "(BatchSize) into filter and deliver, one event per publish request; SQS %s; DynamoDB: %.0f sustained\n", "standard queues, every request ≤ 64 KB", rate)
	fmt.Fprintf(out, "events/s, one warm container per data-plane function, each refilling its cache (%.0f RRU per tenant)\n", reads)
	fmt.Fprintf(out, "once per ttl %s; one tenant. Not counted: KMS (data keys cached), CloudWatch Logs ingestion, the pollers'\n", ttl)
	fmt.Fprintf(out, "empty receives (a fixed ~$0.10/month per queue), free tiers. Lambda prices at arm64 ($0.0000133334/GB-s).\n")
	printPaths(out, in, fl, dl, rruCached*dynamoPerRRU)
}

// printPaths prices the publish-URL path as it was (the HTTP API in
// front of ingest) and as it is (the ingest function's URL), from the same
// measured durations, beside modelled variants: streams decided at ingest
// (no filter hop, for streams without a filter) and publishes carrying 10
// events.
func printPaths(out io.Writer, in, fl, dl *result, dynamo float64) {
	const n = 1e6
	ms := func(ds []time.Duration) float64 { return float64(median(ds)) / float64(time.Millisecond) }
	gbs := func(r *result, billed, invocations float64) float64 {
		return invocations * billed / 1000 * float64(r.memoryMB) / 1024
	}
	ceil := func(v float64) float64 { return float64(int64(v + 0.999999)) }
	perEvent := ms(fl.warm) / 10               // the filter's work for one event of its batch of 10
	lambda := func(parts ...float64) float64 { // GB-s, invocations pairs → $
		usd := 0.0
		for i := 0; i < len(parts); i += 2 {
			usd += parts[i]*lambdaARMPerGBs + parts[i+1]*lambdaPerRequest
		}
		return usd
	}
	deliver := []float64{gbs(dl, billedMs(median(dl.warm)), n/10), n / 10}
	three := func(ingestMs float64) float64 {
		return lambda(append([]float64{gbs(in, billedMs(time.Duration(ingestMs*float64(time.Millisecond))), n), n,
			gbs(fl, billedMs(median(fl.warm)), n/10), n / 10}, deliver...)...)
	}
	decided := func(ingestMs float64) float64 {
		return lambda(append([]float64{gbs(in, ceil(ingestMs+perEvent), n), n}, deliver...)...)
	}
	low := func(ingestMs float64) float64 {
		return lambda(gbs(in, ceil(ingestMs), n), n, gbs(fl, ceil(max(ms(fl.warm)/10, 1)), n), n, gbs(dl, ceil(max(ms(dl.warm)/10, 1)), n), n)
	}
	viaURL, viaAPI, batch10 := ms(in.warm), ms(in.warmAPI), ms(in.warm10)
	batched := lambda(append([]float64{gbs(in, billedMs(median(in.warm10)), n/10), n / 10,
		gbs(fl, billedMs(median(fl.warm)), n/10), n / 10}, deliver...)...)
	// writes per delivered event: ingest's per publish, filter's and deliver's per event
	writes := (in.writesPerEvent() + fl.writesPerEvent() + dl.writesPerEvent()) * n * dynamoPerWRU
	sqs3, sqs2 := (n+5*n/10)*sqsPerRequest, (n+2*n/10)*sqsPerRequest
	type path struct {
		name                        string
		http, sqs, lambda, dynamoDB float64
	}
	paths := []path{
		{"before: HTTP API → ingest → IngestQueue → filter → DeliveryQueue → deliver (measured)", n * httpAPIPerRequest, sqs3, three(viaAPI), dynamo},
		{"after: function URL → ingest → IngestQueue → filter → DeliveryQueue → deliver (measured)", 0, sqs3, three(viaURL), dynamo},
		{"HTTP API, streams decided at ingest: no filter hop (modelled)", n * httpAPIPerRequest, sqs2, decided(viaAPI), dynamo},
		{"function URL, streams decided at ingest: no filter hop (modelled)", 0, sqs2, decided(viaURL), dynamo},
		{"function URL, 10 events per publish → IngestQueue → filter → DeliveryQueue → deliver (measured)", 0, (n/10 + 5*n/10) * sqsPerRequest, batched, dynamo},
		{"function URL, decided at ingest, 10 events per publish (modelled)", 0, (n/10 + 2*n/10) * sqsPerRequest,
			lambda(append([]float64{gbs(in, ceil(batch10+10*perEvent), n/10), n / 10}, deliver...)...), dynamo},
		{"HTTP API at low traffic: batches of 1 into filter and deliver (modelled)", n * httpAPIPerRequest, (n + 5*n) * sqsPerRequest, low(viaAPI), dynamo},
		{"function URL at low traffic: batches of 1 into filter and deliver (modelled)", 0, (n + 5*n) * sqsPerRequest, low(viaURL), dynamo},
	}
	eb := n*eventBridgePerEvent + n*apiDestPerCall
	fmt.Fprintf(out, "\nThe publish-URL path, per million delivered events (same durations; EventBridge $%.2f):\n\n", eb)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  path\tHTTP API\tSQS\tLambda\tDynamoDB reads\ttotal\tvs EventBridge\t+ DynamoDB writes\t")
	for _, p := range paths {
		total := p.http + p.sqs + p.lambda + p.dynamoDB
		fmt.Fprintf(tw, "  %s\t$%.3f\t$%.3f\t$%.3f\t$%.3f\t$%.3f\t%.2fx\t$%.3f\t\n", p.name, p.http, p.sqs, p.lambda, p.dynamoDB, total, total/eb, total+writes)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nIngest's warm duration: %.2f ms through the function URL, %.2f ms through the HTTP API (the same function);\n", viaURL, viaAPI)
	fmt.Fprintf(out, "%.2f ms for a publish of 10 events (a JSON array) through the function URL, queued in one SQS request.\n", batch10)
	fmt.Fprintf(out, "Modelled rows reuse the measured warm durations: the filter's per-event work (%.2f ms, its batch of 10 / 10)\n", perEvent)
	fmt.Fprintln(out, "moves into ingest; a 10-event publish costs its measured duration plus ten times that work. Batches of 1 at")
	fmt.Fprintln(out, "low traffic: every receive and delete is a request of its own and every invocation bills at least 1 ms.")
	fmt.Fprintf(out, "\nDynamoDB writes (metered at the AWS endpoint, $0.625 per million write units, GSI copies included): %.2f units per\n", writes/n/dynamoPerWRU)
	fmt.Fprintf(out, "delivered event, $%.3f per million: ", writes)
	var parts []string
	for _, r := range []*result{in, fl, dl} {
		for _, t := range slices.Sorted(maps.Keys(r.written)) {
			parts = append(parts, fmt.Sprintf("%s %s %.2f", strings.TrimSuffix(r.id, "Function"), t, r.written[t]/r.metered))
		}
	}
	fmt.Fprintln(out, strings.Join(parts, ", ")+".")
	fmt.Fprintln(out, "These are the delivery log, the recent events and the archive; EventBridge keeps none of them, so they are")
	fmt.Fprintln(out, "apart from the comparison (the last column adds them).")
}

// world is the data the warm measurements run on.
type world struct {
	st         *awslocal.Stack
	ctx        context.Context
	hook       *httptest.Server
	apiURL     string
	apiKey     string
	publishURL string
	publishAs  [2]string
	meter      *meter
	delivered  atomic.Int64 // webhook requests
	notified   atomic.Int64 // partner notifications
}

func (w *world) do(method, u string, auth func(*http.Request), body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(w.ctx, method, u, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (w *world) must(want int, method, u string, auth func(*http.Request), body string) ([]byte, error) {
	status, b, err := w.do(method, u, auth, body)
	if err != nil {
		return nil, err
	}
	if status != want && !(want == http.StatusOK && status == http.StatusCreated) {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, u, status, b)
	}
	return b, nil
}

func (w *world) tenantCall(want int, method, path, body string) error {
	_, err := w.must(want, method, w.apiURL+path, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+w.apiKey) }, body)
	return err
}

// setup provisions a tenant with an inbound subscription streamed (with a
// filter) to a webhook publication, a generator, and a partner.
func (w *world) setup() error {
	w.hook = httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/heroku/") {
			w.notified.Add(1)
		} else {
			w.delivered.Add(1)
		}
	}))
	op := func(r *http.Request) { r.SetBasicAuth(w.st.Operator()) }
	// 200 or 201: the Partner API's synchronous provisioning answers either
	b, err := w.must(http.StatusOK, "POST", w.st.URL+"/heroku/resources", op, `{"uuid":"00000000-0000-4000-8000-00000000be4c","plan":"test","app":"bench-app"}`)
	if err != nil {
		return err
	}
	var prov struct{ Config map[string]string }
	if err := json.Unmarshal(b, &prov); err != nil {
		return err
	}
	api, err := url.Parse(prov.Config["HEROKUEVENTS_API_URL"])
	if err != nil {
		return err
	}
	w.apiKey, _ = api.User.Password()
	api.User = nil
	w.apiURL = api.String()
	pub, err := url.Parse(prov.Config["HEROKUEVENTS_PUBLISH_URL"])
	if err != nil {
		return err
	}
	pass, _ := pub.User.Password()
	w.publishAs = [2]string{pub.User.Username(), pass}
	pub.User = nil
	w.publishURL = pub.String()

	steps := []struct{ path, body string }{
		{"/platforms/webhook/subscriptions", `{"name":"inbound"}`},
		{"/platforms/webhook/publications", `{"name":"hook","url":"` + w.hook.URL + `","skip_handshake":true}`},
		{"/streams", `{"source":"inbound","target":"hook","filter":"root = if this.kind == \"drop\" { deleted() } else { this }"}`},
		{"/platforms/generate/subscriptions", `{"name":"beat","interval":"1s","target":"hook","mapping":"root = {\"status\": \"up\"}"}`},
	}
	for _, s := range steps {
		if err := w.tenantCall(http.StatusCreated, "POST", s.path, s.body); err != nil {
			return err
		}
	}
	manifest := `{"manifest":{"id":"benchaddon","api":{"password":"pw","production":{"base_url":"https://x.example.com/heroku/resources"},"test":{"base_url":"` +
		w.hook.URL + `/heroku/resources"},"requires":["deploy_notify"]}},"test":true}`
	if _, err := w.must(http.StatusCreated, "POST", w.st.URL+"/v1/partners", op, manifest); err != nil {
		return err
	}
	_, err = w.must(http.StatusCreated, "POST", w.st.URL+"/v1/apps/bench/addon-attachments", op,
		`{"partner":"benchaddon","resource_id":"res-1","heroku_id":"bench@heroku.com"}`)
	return err
}

// measure runs warm invocations of one function and records the durations
// the emulator reports.
func (w *world) measure(r *result, warm int) error {
	em := w.st.Emulator(r.id)
	last := func() time.Duration {
		_, ds := em.Reports()
		if len(ds) == 0 {
			return 0
		}
		return ds[len(ds)-1]
	}
	op := func(req *http.Request) { req.SetBasicAuth(w.st.Operator()) }
	switch r.id {
	case "IngestFunction":
		r.what = "1 publish"
		// the publish URL (the function URL) and the HTTP API's /publish route
		apiPublish := w.st.URL + "/publish"
		for i := range warm + 1 {
			before := w.meter.snapshot()
			for _, base := range []string{w.publishURL, apiPublish} {
				if _, err := w.must(http.StatusAccepted, "POST", base+"/inbound",
					func(req *http.Request) { req.SetBasicAuth(w.publishAs[0], w.publishAs[1]) }, fmt.Sprintf(`{"kind":"keep","n":%d}`, i)); err != nil {
					return err
				}
				if i > 0 && base == apiPublish {
					r.warmAPI = append(r.warmAPI, last())
				} else if i > 0 { // the first warms the config cache
					r.warm = append(r.warm, last())
				}
			}
			if i > 0 {
				r.meterAdd(w.meter.since(before), 2)
			}
			batch := make([]string, 10)
			for j := range batch {
				batch[j] = fmt.Sprintf(`{"kind":"keep","n":%d}`, i*10+j)
			}
			if _, err := w.must(http.StatusAccepted, "POST", w.publishURL+"/inbound",
				func(req *http.Request) { req.SetBasicAuth(w.publishAs[0], w.publishAs[1]) }, "["+strings.Join(batch, ",")+"]"); err != nil {
				return err
			}
			if i > 0 {
				r.warm10 = append(r.warm10, last())
			}
		}
		return nil
	case "ApiFunction":
		r.what = "1 GET"
		for i := range warm + 1 {
			if err := w.tenantCall(http.StatusOK, "GET", "/subscriptions", ""); err != nil {
				return err
			}
			if i > 0 {
				r.warm = append(r.warm, last())
			}
		}
		return nil
	case "DashboardFunction":
		r.what = "1 GET, no session"
		for i := range warm + 1 {
			// 403 without a session; 404 when the stack has no SSO salt
			if status, b, err := w.do("GET", w.st.URL+"/dashboard", nil, ""); err != nil || status >= 500 {
				return fmt.Errorf("GET /dashboard: HTTP %d %s: %v", status, b, err)
			}
			if i > 0 {
				r.warm = append(r.warm, last())
			}
		}
		return nil
	case "GenerateFunction":
		r.what = "1 tick, ~10 events"
		at := time.Now()
		for i := range warm + 1 {
			if _, err := w.st.Tick(w.ctx, r.id, at.Add(time.Duration(i)*tickWindow)); err != nil {
				return err
			}
			if i > 0 {
				r.warm = append(r.warm, last())
			}
		}
		return nil
	case "SfsubscribeFunction":
		r.what = "idle tick"
		for i := range warm + 1 {
			if _, err := w.st.Tick(w.ctx, r.id, time.Now()); err != nil {
				return err
			}
			if i > 0 {
				r.warm = append(r.warm, last())
			}
		}
		return nil
	}
	fn, err := w.st.Template.Function(r.id)
	if err != nil || fn.Queue == "" {
		return fmt.Errorf("%s: no way to measure it (not HTTP, scheduled or SQS)", r.id)
	}
	// Fill the function's queue with 10 real messages.
	switch r.id {
	case "FilterFunction":
		for i := range 10 {
			if _, err := w.must(http.StatusAccepted, "POST", w.publishURL+"/inbound",
				func(req *http.Request) { req.SetBasicAuth(w.publishAs[0], w.publishAs[1]) }, fmt.Sprintf(`{"kind":"keep","n":%d}`, i)); err != nil {
				return err
			}
		}
	case "DeliverFunction":
		// filter's measurement queued its deliveries; nothing to add
	case "PartnernotifyFunction":
		for range 10 {
			if _, err := w.must(http.StatusAccepted, "POST", w.st.URL+"/v1/platform/events", op,
				`{"heroku_id":"bench@heroku.com","event":"deploy","detail":{"app":"bench"}}`); err != nil {
				return err
			}
		}
	}
	payload, n, err := w.st.ReceiveEvent(w.ctx, fn.Queue, 10, 3*time.Second)
	if err != nil {
		return err
	}
	if n != 10 {
		return fmt.Errorf("%s: %d messages in %s, want 10", r.id, n, fn.Queue)
	}
	r.records = n
	r.what = "10 records"
	var resp struct {
		BatchItemFailures []json.RawMessage `json:"batchItemFailures"`
	}
	for i := range warm + 1 {
		before := w.meter.snapshot()
		res, err := em.Invoke(w.ctx, payload)
		if err != nil {
			return err
		}
		if res.FunctionError != "" {
			return fmt.Errorf("%s: %s", r.id, res.FunctionError)
		}
		if err := json.Unmarshal(res.Payload, &resp); err != nil || len(resp.BatchItemFailures) > 0 {
			return fmt.Errorf("%s: batch failed: %s", r.id, res.Payload)
		}
		if i > 0 {
			r.warm = append(r.warm, last())
			r.meterAdd(w.meter.since(before), float64(n))
		}
	}
	return nil
}

// meterAdd adds the DynamoDB write units of one measured invocation (or
// publish pair) that handled events events.
func (r *result) meterAdd(units map[string]float64, events float64) {
	if r.written == nil {
		r.written = map[string]float64{}
	}
	for table, u := range units {
		r.written[table] += u
	}
	r.metered += events
}

// writesPerEvent is the DynamoDB write units the function spends per event.
func (r *result) writesPerEvent() float64 {
	if r.metered == 0 {
		return 0
	}
	total := 0.0
	for _, u := range r.written {
		total += u
	}
	return total / r.metered
}

// floorInits measures the init of the smallest possible bootstrap (the
// aws-lambda-go runtime client and an empty handler, built as the functions
// are) under the emulator: what no function can go below on this machine.
func floorInits(ctx context.Context, tmp string, cold int) ([]time.Duration, error) {
	root, err := awstest.ModuleRoot()
	if err != nil {
		return nil, err
	}
	src, err := os.MkdirTemp(root, "_benchfloor") // in the module, for aws-lambda-go
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(src)
	const prog = "package main\n\nimport \"github.com/aws/aws-lambda-go/lambda\"\n\nfunc main() { lambda.Start(func() error { return nil }) }\n"
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(prog), 0o600); err != nil {
		return nil, err
	}
	bin := filepath.Join(tmp, "floor")
	build := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc,grpcnotrace", "-trimpath", "-ldflags=-s -w", "-o", bin, "./"+filepath.Base(src))
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the floor bootstrap: %w: %s", err, out)
	}
	var inits []time.Duration
	for range cold {
		em, err := awslocal.StartEmulator(ctx, awslocal.EmulatorOptions{Bootstrap: bin, Env: []string{"PATH=/usr/bin:/bin"}, LogLevel: "info"})
		if err != nil {
			return nil, err
		}
		_, err = em.Invoke(ctx, []byte("{}"))
		got := initReports(em)
		logs := em.Logs()
		_ = em.Close()
		if err != nil || len(got) == 0 {
			return nil, fmt.Errorf("floor bootstrap: no init report (%v):\n%s", err, logs)
		}
		inits = append(inits, got[0])
	}
	return inits, nil
}

// initReports returns the emulator's INIT REPORT durations, waiting up
// to 2 s for the first: the emulator may log it after the invocation it
// preceded has answered (the floor's, which answers at once, often is).
func initReports(em *awslocal.Emulator) []time.Duration {
	deadline := time.Now().Add(2 * time.Second)
	for {
		got := em.InitReports()
		if len(got) > 0 || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sample returns the first non-poison events/<role>-*.json.
func sample(role string) ([]byte, error) {
	root, err := awstest.ModuleRoot()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, "events", role+"-*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !strings.Contains(f, "poison") && !strings.Contains(f, "bad-") {
			return os.ReadFile(f)
		}
	}
	return nil, errors.New("no events/" + role + "-*.json sample")
}

// setupTools installs the pinned moto and Lambda runtime interface
// emulator the bench runs on, as make test does (scripts/setup-tools,
// silent when they are there), so that the bench runs on a fresh clone.
func setupTools(ctx context.Context) error {
	root, err := awstest.ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "setup-tools"))
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install the pinned test tools (scripts/setup-tools): %w", err)
	}
	return nil
}
