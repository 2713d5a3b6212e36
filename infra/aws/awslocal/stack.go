package awslocal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/aws/dynamostore"
	"github.com/herokuevents/herokuevents/infra/aws/kmssealer"
	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
)

const (
	region  = motoserver.Region
	account = motoserver.AccountID
	// apiID is the id of the HTTP API (what !Ref HttpApi gives).
	apiID = "stacktest0"
	// Loopback is the AllowEgress default of a test stack: webhooks and
	// partners are httptest servers.
	Loopback = "127.0.0.0/8"
)

// Options configure a stack.
type Options struct {
	// Params are values of template parameters. Parameters without a value
	// take their default; a parameter without default gets a random
	// 40-character test value (e.g. OperatorPassword; read it back from
	// Stack.Params). PublicUrl defaults to the stack's HTTP API URL and
	// AllowEgress to Loopback.
	Params map[string]string
	// Env adds or overrides variables of every function; FunctionEnv of
	// one function (by logical id).
	Env         map[string]string
	FunctionEnv map[string]map[string]string
	// Functions are the logical ids of the functions to run; default every
	// function of the template.
	Functions []string
	// NoPollers leaves the SQS event sources idle: messages stay in their
	// queues until the test invokes the consumers itself.
	NoPollers bool
	// Template is the SAM template; default the module's template.yaml.
	Template []byte

	// Endpoint is the AWS endpoint (moto) and Binaries the function
	// binaries by role: New fills both; Deploy requires them.
	Endpoint string
	Binaries map[string]string
	// Name is the stack name, the prefix of every resource; default a
	// random one.
	Name string
	// RIELogLevel is the emulators' log level (default warn).
	RIELogLevel string
	// Log, when set, receives every function's output too.
	Log io.Writer
}

// Stack is herokuevents' AWS mode on loopback: the template's queues,
// table and key in moto, every function binary under its own emulator with
// the environment the template gives it, the HTTP API in front of the
// HTTP functions and a poller per SQS event source. Its methods are safe
// for concurrent use.
type Stack struct {
	// Name prefixes every resource of the stack.
	Name string
	// URL is the HTTP API's base URL (http://127.0.0.1:port).
	URL string
	// Template is the parsed template.
	Template *samtemplate.Template
	// AWS is an SDK config for the stack's endpoint.
	AWS aws.Config
	// Params are the template parameters' values.
	Params map[string]string

	endpoint string
	res      *resolver
	env      map[string]map[string]string
	fns      map[string]*Emulator
	front    *httptest.Server
	urls     map[string]*httptest.Server // AWS::Lambda::Url resources by logical id
	sqs      *sqs.Client
	pollers  []*poller
	stop     context.CancelFunc
	wg       sync.WaitGroup
	trace    logBuffer
	log      io.Writer
}

// tracef notes what the pollers did (Trace returns it).
func (s *Stack) tracef(format string, args ...any) {
	line := time.Now().Format("15:04:05.000 ") + fmt.Sprintf(format, args...) + "\n"
	_, _ = s.trace.Write([]byte(line))
	if s.log != nil {
		_, _ = io.WriteString(s.log, "awslocal: "+line)
	}
}

// Trace returns what the event source pollers did: one line per batch.
func (s *Stack) Trace() string { return s.trace.String() }

// Deploy creates the stack's resources and starts its functions. The
// caller must Close it. New is the test form.
func Deploy(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Endpoint == "" || o.Binaries == nil {
		return nil, errors.New("deploy stack: Endpoint and Binaries are required")
	}
	if o.Template == nil {
		o.Template = herokuevents.Template
	}
	tpl, err := samtemplate.Parse(o.Template)
	if err != nil {
		return nil, err
	}
	conds, err := conditions(o.Template)
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.Name = "st" + hex.EncodeToString(b)
	}
	s := &Stack{
		Name: o.Name, Template: tpl, endpoint: o.Endpoint,
		AWS: aws.Config{
			Region:       region,
			Credentials:  credentials.NewStaticCredentialsProvider(motoserver.AccessKey, motoserver.SecretKey, ""),
			BaseEndpoint: aws.String(o.Endpoint),
		},
		env: map[string]map[string]string{},
		fns: map[string]*Emulator{},
		log: o.Log,
	}
	s.sqs = sqs.NewFromConfig(s.AWS)
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	rts, err := routes(tpl)
	if err != nil {
		return nil, err
	}
	s.front = httptest.NewUnstartedServer(&front{
		routes: rts,
		invoke: s.Invoke,
		log:    slog.New(slog.NewTextHandler(logOrDiscard(o.Log), nil)),
	})
	s.front.Start()
	s.URL = s.front.URL
	if err := s.startFunctionURLs(o.Log); err != nil {
		return nil, err
	}

	s.Params = map[string]string{}
	for name, p := range tpl.Parameters {
		switch v, ok := o.Params[name]; {
		case ok:
			s.Params[name] = v
		case name == "PublicUrl":
			s.Params[name] = s.URL
		case name == "AllowEgress":
			s.Params[name] = Loopback
		case p["Default"] != nil:
			s.Params[name] = fmt.Sprint(p["Default"])
		default:
			b := make([]byte, 20)
			_, _ = rand.Read(b)
			s.Params[name] = hex.EncodeToString(b)
		}
	}
	for name := range o.Params {
		if _, ok := tpl.Parameters[name]; !ok {
			return nil, fmt.Errorf("deploy stack: parameter %s is not in the template", name)
		}
	}
	s.res = &resolver{
		params: s.Params, conditions: conds,
		refs:  map[string]string{"AWS::StackName": s.Name},
		attrs: map[string]map[string]string{},
	}
	if err := s.provision(ctx); err != nil {
		return nil, err
	}

	for _, id := range tpl.Functions() {
		fn, err := tpl.Function(id)
		if err != nil {
			return nil, err
		}
		vars, err := s.res.env(tpl, id)
		if err != nil {
			return nil, err
		}
		maps.Copy(vars, o.Env)
		maps.Copy(vars, o.FunctionEnv[id])
		s.env[id] = s.processEnv(fn, vars)
	}
	ids := o.Functions
	if ids == nil {
		ids = tpl.Functions()
	}
	for _, id := range ids {
		if _, ok := s.env[id]; !ok {
			return nil, fmt.Errorf("deploy stack: function %s: %w", id, samtemplate.ErrNotFound)
		}
		bin, ok := o.Binaries[Role(id)]
		if !ok {
			return nil, fmt.Errorf("deploy stack: no binary for %s (role %s)", id, Role(id))
		}
		env := make([]string, 0, len(s.env[id]))
		for _, k := range slices.Sorted(maps.Keys(s.env[id])) {
			env = append(env, k+"="+s.env[id][k])
		}
		em, err := StartEmulator(ctx, EmulatorOptions{Bootstrap: bin, Env: env, LogLevel: o.RIELogLevel, Log: o.Log})
		if err != nil {
			return nil, fmt.Errorf("deploy stack: %s: %w", id, err)
		}
		s.fns[id] = em
	}

	pctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	for _, id := range ids {
		fn, _ := tpl.Function(id)
		for _, q := range fn.Queues {
			p, err := s.newPoller(fn, q)
			if err != nil {
				return nil, err
			}
			s.pollers = append(s.pollers, p)
			if o.NoPollers {
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				p.run(pctx)
			}()
		}
	}
	return s, nil
}

func logOrDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// processEnv is the whole environment of a function's emulator: what
// Lambda sets, the template's variables and the local AWS endpoint with
// test credentials. Nothing is inherited from the test process.
func (s *Stack) processEnv(fn samtemplate.Function, vars map[string]string) map[string]string {
	env := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"AWS_REGION":                      region,
		"AWS_DEFAULT_REGION":              region,
		"AWS_ACCESS_KEY_ID":               motoserver.AccessKey,
		"AWS_SECRET_ACCESS_KEY":           motoserver.SecretKey,
		"AWS_ENDPOINT_URL":                s.endpoint,
		"AWS_CONFIG_FILE":                 os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE":     os.DevNull,
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_FUNCTION_NAME":        s.res.refs[fn.ID],
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(fn.Timeout / time.Second)),
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + s.res.refs[fn.ID],
		"_HANDLER":                        fn.Handler,
	}
	maps.Copy(env, vars)
	return env
}

// Env returns the whole environment of function id's process in this
// stack: the variables template.yaml gives it, resolved against the stack
// (plus Options.Env/FunctionEnv), the Lambda variables, and the local AWS
// endpoint (AWS_ENDPOINT_URL) with test credentials. Known for every
// function of the template, running or not.
func (s *Stack) Env(id string) map[string]string { return maps.Clone(s.env[id]) }

// typeFunctionURL is a Lambda function URL: each is served on a port of
// its own (Stack.FunctionURL).
const typeFunctionURL = "AWS::Lambda::Url"

// startFunctionURLs serves each AWS::Lambda::Url of the template on a
// loopback port of its own, invoking its target function.
func (s *Stack) startFunctionURLs(log io.Writer) error {
	s.urls = map[string]*httptest.Server{}
	for _, id := range slices.Sorted(maps.Keys(s.Template.Resources)) {
		res := s.Template.Resources[id]
		if res.Type != typeFunctionURL {
			continue
		}
		target := res.Properties["TargetFunctionArn"]
		fnID, ok := "", false
		switch v := target.(type) {
		case map[string]any:
			if ga, _ := v["Fn::GetAtt"].([]any); len(ga) == 2 && ga[1] == "Arn" {
				fnID, ok = ga[0].(string)
			} else {
				fnID, ok = v["Ref"].(string)
			}
		}
		fn, err := s.Template.Function(fnID)
		if !ok || err != nil {
			return fmt.Errorf("function URL %s: TargetFunctionArn %v: want !GetAtt <Function>.Arn: %w", id, target, ErrUnsupported)
		}
		if auth, _ := res.Properties["AuthType"].(string); auth != "NONE" {
			return fmt.Errorf("function URL %s: AuthType %q: %w (only NONE)", id, auth, ErrUnsupported)
		}
		f := &front{invoke: s.Invoke, log: slog.New(slog.NewTextHandler(logOrDiscard(log), nil))}
		s.urls[id] = httptest.NewServer(functionURL{front: f, function: fn.ID, timeout: fn.Timeout})
	}
	return nil
}

// FunctionURL returns the URL of the AWS::Lambda::Url resource id (what
// !GetAtt id.FunctionUrl gives: http://127.0.0.1:port/, with the trailing
// slash Lambda's URLs have), "" when the template has none of that id.
func (s *Stack) FunctionURL(id string) string {
	if u, ok := s.urls[id]; ok {
		return u.URL + "/"
	}
	return ""
}

// Ref returns what !Ref logical gives in this stack (queue URL, table
// name, key id, parameter value...), "" when unknown.
func (s *Stack) Ref(logical string) string {
	v, _ := s.res.ref(logical)
	return v
}

// Attr returns what !GetAtt logical.attr gives in this stack.
func (s *Stack) Attr(logical, attr string) string {
	v, _ := s.res.getAtt(logical, attr)
	return v
}

// Store returns the DynamoDB config store on the stack's table.
func (s *Stack) Store(table string) *dynamostore.Store {
	return dynamostore.New(dynamodb.NewFromConfig(s.AWS), s.Ref(table))
}

// Sealer returns the KMS sealer of the stack's key (a logical id, e.g.
// SealKey).
func (s *Stack) Sealer(key string) *kmssealer.Sealer {
	return kmssealer.New(kms.NewFromConfig(s.AWS), s.Ref(key))
}

// Emulator returns the emulator running function id, nil if none.
func (s *Stack) Emulator(id string) *Emulator { return s.fns[id] }

// Invoke invokes function id with payload, as Lambda's Invoke API does
// (RequestResponse). It waits while the function runs another invocation.
func (s *Stack) Invoke(ctx context.Context, id string, payload []byte) (Result, error) {
	em, ok := s.fns[id]
	if !ok {
		return Result{}, fmt.Errorf("invoke %s: not running in this stack", id)
	}
	return em.Invoke(ctx, payload)
}

// Logs returns function id's output so far (emulator lines, JSON log
// records, EMF metric lines).
func (s *Stack) Logs(id string) string {
	if em, ok := s.fns[id]; ok {
		return em.Logs()
	}
	return ""
}

// Records returns the JSON objects function id printed, in order: its log
// records and its EMF metric lines.
func (s *Stack) Records(id string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.Logs(id), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// Metric is one CloudWatch Embedded Metric Format observation.
type Metric struct {
	Namespace  string
	Name       string
	Unit       string
	Value      float64
	Dimensions map[string]string
}

// Metrics returns the EMF metric observations function id printed.
func (s *Stack) Metrics(id string) []Metric {
	var out []Metric
	for _, rec := range s.Records(id) {
		meta, _ := rec["_aws"].(map[string]any)
		directives, _ := meta["CloudWatchMetrics"].([]any)
		for _, d := range directives {
			dm, _ := d.(map[string]any)
			ns, _ := dm["Namespace"].(string)
			dims := map[string]string{}
			sets, _ := dm["Dimensions"].([]any)
			for _, set := range sets {
				names, _ := set.([]any)
				for _, n := range names {
					k, _ := n.(string)
					dims[k] = fmt.Sprint(rec[k])
				}
			}
			ms, _ := dm["Metrics"].([]any)
			for _, m := range ms {
				mm, _ := m.(map[string]any)
				name, _ := mm["Name"].(string)
				unit, _ := mm["Unit"].(string)
				v, _ := rec[name].(float64)
				out = append(out, Metric{Namespace: ns, Name: name, Unit: unit, Value: v, Dimensions: dims})
			}
		}
	}
	return out
}

// Message is a message read from a queue.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]string
	Receives   int
}

// Send sends one message to the queue (logical id) with String message
// attributes.
func (s *Stack) Send(ctx context.Context, queue, body string, attrs map[string]string) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(s.Ref(queue)), MessageBody: aws.String(body)}
	if len(attrs) > 0 {
		in.MessageAttributes = map[string]sqstypes.MessageAttributeValue{}
		for k, v := range attrs {
			in.MessageAttributes[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	if _, err := s.sqs.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to %s: %w", queue, err)
	}
	return nil
}

// Peek returns the visible messages of the queue (logical id) without
// consuming them (they stay visible). Use it on dead-letter queues: a
// receive counts towards a source queue's maxReceiveCount.
func (s *Stack) Peek(ctx context.Context, queue string) ([]Message, error) {
	var out []Message
	seen := map[string]bool{}
	for range 10 {
		res, err := s.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.Ref(queue)), MaxNumberOfMessages: 10, VisibilityTimeout: 0,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return nil, fmt.Errorf("peek %s: %w", queue, err)
		}
		fresh := 0
		for _, m := range res.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			msg := Message{ID: id, Body: aws.ToString(m.Body), Attributes: map[string]string{}}
			msg.Receives, _ = strconv.Atoi(m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
			for k, a := range m.MessageAttributes {
				msg.Attributes[k] = aws.ToString(a.StringValue)
			}
			out = append(out, msg)
		}
		if fresh == 0 {
			break
		}
	}
	return out, nil
}

// Depth returns the queue's (logical id) visible, in-flight and delayed
// message counts.
func (s *Stack) Depth(ctx context.Context, queue string) (visible, inFlight, delayed int, err error) {
	res, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.Ref(queue)),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("depth of %s: %w", queue, err)
	}
	n := func(a sqstypes.QueueAttributeName) int {
		v, _ := strconv.Atoi(res.Attributes[string(a)])
		return v
	}
	return n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed), nil
}

// Drain waits until every queue feeding a function is empty (no visible,
// in-flight or delayed message) and no poller is invoking, twice in a row
// 50ms apart: everything published so far has been handled. Messages left
// for redelivery after a failure keep it waiting up to their visibility
// timeout; ctx bounds the wait.
func (s *Stack) Drain(ctx context.Context) error {
	quiet := 0
	for quiet < 2 {
		busy, err := s.busy(ctx)
		if err != nil {
			return err
		}
		if busy == "" {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drain stack: %w (still busy: %s)", ctx.Err(), busy)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// busy names something not yet idle, "" when all is idle.
func (s *Stack) busy(ctx context.Context) (string, error) {
	for _, p := range s.pollers {
		if p.active.Load() {
			return p.fn.ID + " invoking", nil
		}
		v, f, d, err := s.Depth(ctx, p.queue)
		if err != nil {
			return "", err
		}
		if v+f+d > 0 {
			return fmt.Sprintf("%s: %d visible, %d in flight, %d delayed", p.queue, v, f, d), nil
		}
	}
	return "", nil
}

// Close stops the pollers, the HTTP API and the functions. The resources
// stay in moto (the server is discarded with the test binary).
func (s *Stack) Close() error {
	if s.stop != nil {
		s.stop()
	}
	s.wg.Wait()
	if s.front != nil {
		s.front.Close()
	}
	for _, u := range s.urls {
		u.Close()
	}
	var errs []error
	for _, em := range s.fns {
		errs = append(errs, em.Close())
	}
	return errors.Join(errs...)
}

// provision creates the template's queues, table and keys and records the
// values of Ref and GetAtt for every resource.
func (s *Stack) provision(ctx context.Context) error {
	r := s.res
	ids := slices.Sorted(maps.Keys(s.Template.Resources))
	// Names and ARNs first: they are known before anything is created, so
	// redrive policies and environments can refer to any resource.
	for _, id := range ids {
		res := s.Template.Resources[id]
		name := s.Name + "-" + id
		r.attrs[id] = map[string]string{}
		switch res.Type {
		case samtemplate.TypeQueue:
			if n, ok := res.Properties["QueueName"].(string); ok {
				name = s.Name + "-" + n
			}
			if fifo, _ := res.Properties["FifoQueue"].(bool); fifo && !strings.HasSuffix(name, ".fifo") {
				name += ".fifo" // as CloudFormation names a FIFO queue
			}
			r.attrs[id]["QueueName"] = name
			r.attrs[id]["Arn"] = fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, account, name)
		case "AWS::DynamoDB::Table":
			r.refs[id] = name
			r.attrs[id]["Arn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, name)
		case samtemplate.TypeFunction:
			r.refs[id] = name
			r.attrs[id]["Arn"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, name)
		case typeFunctionURL:
			r.attrs[id]["FunctionUrl"] = s.urls[id].URL + "/" // as Lambda gives it
		case "AWS::ApiGatewayV2::Api":
			r.refs[id] = apiID
			r.attrs[id]["ApiEndpoint"] = s.URL
			r.attrs[id]["ApiId"] = apiID
		case "AWS::KMS::Key", "AWS::KMS::Alias", "AWS::SecretsManager::Secret":
			// created below
		default:
			r.refs[id] = name
		}
	}
	sqsc := s.sqs
	// Queues without a redrive policy first: dead-letter queues must exist.
	queues := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return s.Template.Resources[id].Type != samtemplate.TypeQueue })
	slices.SortStableFunc(queues, func(a, b string) int {
		_, ra := s.Template.Resources[a].Properties["RedrivePolicy"]
		_, rb := s.Template.Resources[b].Properties["RedrivePolicy"]
		switch {
		case ra == rb:
			return 0
		case rb:
			return -1
		}
		return 1
	})
	for _, id := range queues {
		attrs, err := s.queueAttributes(id)
		if err != nil {
			return err
		}
		out, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(r.attrs[id]["QueueName"]), Attributes: attrs})
		if err != nil {
			return fmt.Errorf("create queue %s: %w", id, err)
		}
		r.refs[id] = aws.ToString(out.QueueUrl)
		r.attrs[id]["QueueUrl"] = r.refs[id]
	}
	kmsc := kms.NewFromConfig(s.AWS)
	for _, id := range ids {
		res := s.Template.Resources[id]
		switch res.Type {
		case "AWS::DynamoDB::Table":
			if err := s.createTable(ctx, id); err != nil {
				return err
			}
		case "AWS::KMS::Key":
			p, err := r.eval(res.Properties)
			if err != nil {
				return fmt.Errorf("key %s: %w", id, err)
			}
			props := p.(map[string]any)
			in := &kms.CreateKeyInput{}
			if d, ok := props["Description"].(string); ok {
				in.Description = aws.String(d)
			}
			if spec, ok := props["KeySpec"].(string); ok {
				in.KeySpec = kmstypes.KeySpec(spec)
			}
			if pol, ok := props["KeyPolicy"]; ok {
				b, _ := json.Marshal(pol)
				in.Policy = aws.String(string(b))
			}
			out, err := kmsc.CreateKey(ctx, in)
			if err != nil {
				return fmt.Errorf("create key %s: %w", id, err)
			}
			r.refs[id] = aws.ToString(out.KeyMetadata.KeyId)
			r.attrs[id]["Arn"] = aws.ToString(out.KeyMetadata.Arn)
			r.attrs[id]["KeyId"] = r.refs[id]
			if rot, _ := props["EnableKeyRotation"].(bool); rot {
				if _, err := kmsc.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: out.KeyMetadata.KeyId}); err != nil {
					return fmt.Errorf("enable rotation of key %s: %w", id, err)
				}
			}
		}
	}
	for _, id := range ids {
		res := s.Template.Resources[id]
		if res.Type != "AWS::KMS::Alias" {
			continue
		}
		name, err := r.str(res.Properties["AliasName"])
		if err != nil {
			return fmt.Errorf("alias %s: %w", id, err)
		}
		target, err := r.str(res.Properties["TargetKeyId"])
		if err != nil {
			return fmt.Errorf("alias %s: %w", id, err)
		}
		if _, err := kmsc.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(name), TargetKeyId: aws.String(target)}); err != nil {
			return fmt.Errorf("create alias %s: %w", id, err)
		}
		r.refs[id] = name
	}
	return s.createSecrets(ctx, ids)
}

// createSecrets creates the AWS::SecretsManager::Secret resources whose
// condition holds (e.g. the operator password, from its parameter): Ref is
// the secret's ARN, which functions get in NAME_ARN and read from init.
func (s *Stack) createSecrets(ctx context.Context, ids []string) error {
	r := s.res
	smc := secretsmanager.NewFromConfig(s.AWS)
	for _, id := range ids {
		res := s.Template.Resources[id]
		if res.Type != "AWS::SecretsManager::Secret" {
			continue
		}
		if res.Condition != "" {
			ok, err := r.condition(res.Condition)
			if err != nil {
				return fmt.Errorf("secret %s: %w", id, err)
			}
			if !ok {
				continue
			}
		}
		p, err := r.eval(res.Properties)
		if err != nil {
			return fmt.Errorf("secret %s: %w", id, err)
		}
		props := p.(map[string]any)
		in := &secretsmanager.CreateSecretInput{Name: aws.String(s.Name + "-" + id)}
		for _, k := range slices.Sorted(maps.Keys(props)) {
			v, err := r.str(props[k])
			if err != nil {
				return fmt.Errorf("secret %s: %s: %w", id, k, err)
			}
			switch k {
			case "SecretString":
				in.SecretString = aws.String(v)
			case "Description":
				in.Description = aws.String(v)
			case "KmsKeyId":
				in.KmsKeyId = aws.String(v)
			case "Name":
				in.Name = aws.String(s.Name + "-" + v)
			default:
				return fmt.Errorf("secret %s: property %s: %w", id, k, ErrUnsupported)
			}
		}
		out, err := smc.CreateSecret(ctx, in)
		if err != nil {
			return fmt.Errorf("create secret %s: %w", id, err)
		}
		r.refs[id] = aws.ToString(out.ARN)
		r.attrs[id]["Id"] = r.refs[id]
	}
	return nil
}

// queueAttributes maps an AWS::SQS::Queue's properties to CreateQueue
// attributes. Unknown properties are an error: the harness must learn them.
func (s *Stack) queueAttributes(id string) (map[string]string, error) {
	p, err := s.res.eval(s.Template.Resources[id].Properties)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", id, err)
	}
	props := p.(map[string]any)
	attrs := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		v := props[k]
		switch k {
		case "QueueName", "Tags":
		case "VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
			"ReceiveMessageWaitTimeSeconds", "FifoQueue", "ContentBasedDeduplication",
			"SqsManagedSseEnabled", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
			"DeduplicationScope", "FifoThroughputLimit":
			attrs[k] = fmt.Sprint(v)
		case "RedrivePolicy", "RedriveAllowPolicy":
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("queue %s: %s: %w", id, k, err)
			}
			attrs[k] = string(b)
		default:
			return nil, fmt.Errorf("queue %s: property %s: %w", id, k, ErrUnsupported)
		}
	}
	return attrs, nil
}

// createTable creates an AWS::DynamoDB::Table from its properties.
func (s *Stack) createTable(ctx context.Context, id string) error {
	p, err := s.res.eval(s.Template.Resources[id].Properties)
	if err != nil {
		return fmt.Errorf("table %s: %w", id, err)
	}
	props := p.(map[string]any)
	in := map[string]any{"TableName": s.res.refs[id]}
	var ttl map[string]any
	for _, k := range slices.Sorted(maps.Keys(props)) {
		switch k {
		case "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
			"BillingMode", "ProvisionedThroughput", "TableClass":
			in[k] = props[k]
		case "TimeToLiveSpecification":
			ttl, _ = props[k].(map[string]any)
		case "PointInTimeRecoverySpecification", "SSESpecification", "Tags", "DeletionProtectionEnabled",
			"ContributorInsightsSpecification", "StreamSpecification", "TableName":
			// no effect on what the functions see
		default:
			return fmt.Errorf("table %s: property %s: %w", id, k, ErrUnsupported)
		}
	}
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("table %s: %w", id, err)
	}
	var input dynamodb.CreateTableInput
	if err := json.Unmarshal(b, &input); err != nil {
		return fmt.Errorf("table %s: properties do not fit CreateTable: %w", id, err)
	}
	ddb := dynamodb.NewFromConfig(s.AWS)
	if _, err := ddb.CreateTable(ctx, &input); err != nil {
		return fmt.Errorf("create table %s: %w", id, err)
	}
	if ttl != nil {
		if on, _ := ttl["Enabled"].(bool); on {
			attr, _ := ttl["AttributeName"].(string)
			b, _ := json.Marshal(map[string]any{"TableName": s.res.refs[id], "TimeToLiveSpecification": map[string]any{"Enabled": true, "AttributeName": attr}})
			var u dynamodb.UpdateTimeToLiveInput
			if err := json.Unmarshal(b, &u); err != nil {
				return fmt.Errorf("table %s: TimeToLiveSpecification: %w", id, err)
			}
			if _, err := ddb.UpdateTimeToLive(ctx, &u); err != nil {
				return fmt.Errorf("table %s: enable ttl: %w", id, err)
			}
		}
	}
	return nil
}
