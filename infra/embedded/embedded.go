// Package embedded wires every role of herokuevents into one durable process:
// the embedded mode behind `herokuevents serve`. Configuration lives in an
// SQLite store, queues in SQLite with the same SQS→Lambda contract (batch
// size, visibility timeout, partial batch failures, max receives → DLQ,
// concurrency) and the very numbers of template.yaml.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/herokuevents/herokuevents"
	"github.com/herokuevents/herokuevents/infra/embedded/filesealer"
	"github.com/herokuevents/herokuevents/infra/embedded/openmetrics"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitearchive"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitededup"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitejournal"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitepull"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitequeue"
	"github.com/herokuevents/herokuevents/infra/embedded/sqliterecent"
	"github.com/herokuevents/herokuevents/infra/embedded/sqlitestore"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/api"
	"github.com/herokuevents/herokuevents/shared/archive"
	"github.com/herokuevents/herokuevents/shared/authorization"
	"github.com/herokuevents/herokuevents/shared/backlog"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/deliver"
	"github.com/herokuevents/herokuevents/shared/filter"
	"github.com/herokuevents/herokuevents/shared/ingest"
	"github.com/herokuevents/herokuevents/shared/journal"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/name"
	"github.com/herokuevents/herokuevents/shared/order/keyer"
	"github.com/herokuevents/herokuevents/shared/platform"
	"github.com/herokuevents/herokuevents/shared/platform/catalog"
	"github.com/herokuevents/herokuevents/shared/platform/webhook/cloudevent"
	"github.com/herokuevents/herokuevents/shared/queue"
	"github.com/herokuevents/herokuevents/shared/recent"
	"github.com/herokuevents/herokuevents/shared/replay"
	"github.com/herokuevents/herokuevents/shared/sfsub"
	"github.com/herokuevents/herokuevents/shared/sink"
)

// Queue names; each has a dead-letter queue named NAME-dlq.
const (
	IngestQueue   = "ingest"
	DeliveryQueue = "delivery"
)

// SalesforceScan is how often the embedded subscriber looks for Salesforce
// subscriptions without a consumer (new, released, or due after a
// backoff); the Lambda function ticks each minute instead.
const SalesforceScan = time.Second

// Options configure the embedded mode.
type Options struct {
	// Addr is the listen address, 127.0.0.1:5454 by default; port 0 picks one.
	Addr string
	// DataDir holds the store, the queues, the sealing key and the operator's
	// credentials. One process owns it.
	DataDir string
	// App is the app whose tenant is made ready at start ("" for none).
	App string
	// AllowEgress lists the networks outbound HTTP may reach although they are
	// private, loopback or link-local.
	AllowEgress []netip.Prefix
	// Backoff overrides the delivery retry schedule (tests use a short one).
	Backoff deliver.Backoff
	// DeliveryTimeout bounds one outbound webhook request (10s when zero).
	DeliveryTimeout time.Duration
	// Platforms are the source and target kinds offered; catalog.All() when
	// nil.
	Platforms []platform.Platform
	// Getenv reads settings such as SALESFORCE_PUBSUB_ENDPOINT; os.Getenv
	// when nil.
	Getenv func(string) string
	Logger *slog.Logger
	// Recent bounds the events kept for streams:test (recent.db in the data
	// dir); the recent package's defaults for zero fields.
	Recent recent.Limits
	// PullRetention bounds how long pull subscriptions keep an
	// unacknowledged event (pull.db in the data dir);
	// pull.DefaultRetention when zero.
	PullRetention time.Duration
	// Archive bounds the events kept for replay (archive.db in the data
	// dir); the archive package's defaults for zero fields. ArchiveClock
	// stamps their accept time (time.Now when nil; tests move it).
	Archive      archive.Limits
	ArchiveClock func() time.Time
	// Journal bounds the delivery log (journal.db in the data dir: what
	// deliveries, trace and the health fields read); the journal
	// package's defaults for zero fields.
	Journal journal.Retention
	// ResetQueues starts with empty queues when queues.db is missing or
	// damaged (a damaged file is kept aside as queues.db.damaged-TIME);
	// without it such a data dir is refused (ErrDataDir).
	ResetQueues bool
	// Disk keeps delivery going on a full disk (a reserve released when
	// it fills) and refuses publishes meanwhile.
	Disk DiskOptions
	// HTTP bounds the HTTP server: timeouts and connections per client
	// (the HTTPLimits defaults for zero fields).
	HTTP HTTPLimits
	// NoJournal runs without a delivery log (the throughput benchmark
	// measures its cost).
	NoJournal bool
	// MaxBacklog is how many messages may wait in the ingest and delivery
	// queues before publishes get 503 (tenants with their fair share of
	// them first); DefaultMaxBacklog when zero, no bound when negative.
	// Each tenant is also bounded by its plan (shared/plan).
	MaxBacklog int64
	// DedupWindow is how long a publish's Idempotency-Key (or CloudEvent
	// source+id) is remembered (dedup.db in the data dir);
	// dedup.DefaultWindow when zero.
	DedupWindow time.Duration
	// Addon and Heroku: the add-on manifest and the Platform API (heroku.go).
	HerokuOptions
}

// DefaultMaxBacklog bounds the queues of the embedded mode: beyond it every
// hop slows (the queue's costs grow with its depth) and the latency of
// what is accepted only grows; refusing with Retry-After keeps delivery at
// full speed.
const DefaultMaxBacklog = 10_000

// Server is a running embedded herokuevents.
type Server struct {
	o         Options
	lock      *os.File
	disk      *disk
	pull      *sqlitepull.Buffer
	dedup     *sqlitededup.Store
	store     *sqlitestore.Store
	cached    config.Store
	queues    *sqlitequeue.DB
	metrics   *openmetrics.Registry
	recent    *sqliterecent.Store
	keeper    *recent.Writer
	archive   *sqlitearchive.Store // archive.go
	archiver  *archive.Writer
	replays   *replay.Runner
	journal   *sqlitejournal.Journal
	jw        *journal.Async
	http      *http.Server
	ln        net.Listener
	baseURL   string
	vars      configVars
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	errc      chan error
	closeOnce sync.Once
	closeErr  error
	views     tenantViews // tenantview.go
}

// Start opens the data dir, makes the app's tenant ready, and runs every
// role until Close or ctx is done.
func Start(ctx context.Context, o Options) (_ *Server, err error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:5454"
	}
	if o.DataDir == "" {
		return nil, errors.New("start: a data dir is required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DeliveryTimeout <= 0 {
		o.DeliveryTimeout = 10 * time.Second
	}
	if o.MaxBacklog == 0 {
		o.MaxBacklog = DefaultMaxBacklog
	}
	s := &Server{o: o, errc: make(chan error, 4)}
	defer func() {
		if err != nil {
			s.closeResources()
		}
	}()
	if s.lock, err = lockDir(o.DataDir); err != nil {
		return nil, err
	}
	if err := checkDataDir(ctx, o.DataDir, o.ResetQueues, o.Logger); err != nil {
		return nil, err
	}
	if err := privateFiles(o.DataDir); err != nil {
		return nil, err
	}
	s.disk = newDisk(o.DataDir, o.Disk, o.Logger)
	if o.Disk.Reserve >= 0 {
		s.disk.check(ctx) // the reserve is taken before the files grow
	}
	if s.store, err = sqlitestore.Open(filepath.Join(o.DataDir, "config.db")); err != nil {
		return nil, fmt.Errorf("open config store: %w", err)
	}
	if s.queues, err = sqlitequeue.Open(filepath.Join(o.DataDir, "queues.db")); err != nil {
		return nil, fmt.Errorf("open queues: %w", err)
	}
	if s.recent, err = sqliterecent.Open(filepath.Join(o.DataDir, "recent.db"), o.Recent); err != nil {
		return nil, fmt.Errorf("open recent events: %w", err)
	}
	if err := s.openPull(); err != nil {
		return nil, err
	}
	if err := s.openDedup(); err != nil {
		return nil, err
	}
	// Every routed event is offered; the writer lingers so that a burst
	// becomes one write of each subscription's latest events.
	s.keeper = recent.NewWriter(s.recent, recent.WriterOptions{Logger: o.Logger.With("role", "filter"),
		Linger: 100 * time.Millisecond, PerSubscription: o.Recent.WithDefaults().PerSubscription, Batch: 500})
	if err := s.openArchive(); err != nil {
		return nil, err
	}
	if err := s.openJournal(o); err != nil {
		return nil, err
	}
	o.Logger = s.tenantLogger(o.Logger)
	sealer, err := filesealer.Open(filepath.Join(o.DataDir, "seal.key"))
	if err != nil {
		return nil, fmt.Errorf("open sealing key: %w", err)
	}
	op, err := loadOperator(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("load operator credentials: %w", err)
	}
	filterSettings, err := samtemplate.Settings(herokuevents.Template, "FilterFunction")
	if err != nil {
		return nil, err
	}
	deliverSettings, err := samtemplate.Settings(herokuevents.Template, "DeliverFunction")
	if err != nil {
		return nil, err
	}
	// This process owns the data dir: whatever was in flight belonged to a
	// dead process and is visible again at once.
	n, err := s.queues.ReleaseInFlight(ctx)
	if err != nil {
		return nil, fmt.Errorf("release in-flight messages: %w", err)
	}
	if n > 0 {
		o.Logger.InfoContext(ctx, "released messages in flight at the last stop", "count", n)
	}

	if s.ln, err = net.Listen("tcp", o.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	s.baseURL = "http://" + s.ln.Addr().String()

	// Every role of this process writes through the one cache, so it stays
	// coherent; the ttl only bounds what a bug elsewhere could leave stale.
	s.cached = config.Cached(s.store, 5*time.Second)
	s.metrics = openmetrics.New(o.Logger)
	s.metrics.Gauge("herokuevents_queue_depth", "Messages in a queue, in any state (visible, in flight, delayed).", "queue", s.queueDepths)
	egress := sink.NewEgress(o.AllowEgress)
	operator := api.Operator{ID: op.ID, PasswordHash: api.HashKey(op.Password)}
	ingestQ, ingestDLQ := s.queues.Queue(IngestQueue), s.queues.Queue(IngestQueue+"-dlq")
	deliveryQ, deliveryDLQ := s.queues.Queue(DeliveryQueue), s.queues.Queue(DeliveryQueue+"-dlq")
	// The data plane's sends and settlements are counted per tenant: the
	// backlog ingest bounds.
	waiting := &backlog.Counter{}
	orderedQ := s.queues.Queue(OrderedQueue)
	orderedSettings, toDelivery, err := orderedLanes(waiting, deliveryQ, orderedQ) // ordered.go
	if err != nil {
		return nil, err
	}
	toIngest := waiting.Sender(ingestQ)
	partnerQ, partnerDLQ := s.queues.Queue(PartnerQueue), s.queues.Queue(PartnerDLQ)
	partnerSettings, err := samtemplate.Settings(herokuevents.Template, "PartnernotifyFunction")
	if err != nil {
		return nil, err
	}
	fairLanes(ingestQ, deliveryQ, deliveryDLQ, partnerQ, filterSettings, deliverSettings, partnerSettings)
	if o.Platforms == nil {
		o.Platforms = catalog.All()
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	auth := authorization.FromEnv(o.Getenv, s.cached, sealer, egress, s.baseURL)
	auth.Logger = o.Logger.With("role", "authorization")
	mappings := &mapping.Cache{}
	platforms, err := platform.NewRegistry(platform.Deps{
		Store:          s.cached,
		Sealer:         sealer,
		Egress:         egress,
		Client:         egress.Client(o.DeliveryTimeout),
		Ingest:         toIngest,
		Authorizations: auth,
		Compile:        func(src string) (platform.Program, error) { return mappings.Get(src) },
		Engines:        map[string]platform.Engine{config.PlatformSalesforce: sfsub.Engine{Scan: SalesforceScan}, config.PlatformWebhook: cloudevent.Engine{}},
		Getenv:         o.Getenv,
		Logger:         o.Logger,
		Metrics:        s.metrics.Role("runner"), // generate, salesforce
		Origin:         platform.OriginOf(s.baseURL),
	}, o.Platforms...)
	if err != nil {
		return nil, err
	}
	publishers, err := platforms.Publishers(ctx)
	if err != nil {
		return nil, err
	}

	apiSrv, err := api.New(api.Options{
		Store:          s.cached,
		Platforms:      platforms,
		BaseURL:        s.baseURL,
		Operator:       operator,
		Logger:         o.Logger,
		Authorizations: auth,
		DeadLetters: sqlitequeue.NewDeadLetters(
			sqlitequeue.Pair{DLQ: ingestDLQ, Source: ingestQ},
			sqlitequeue.Pair{DLQ: deliveryDLQ, Source: deliveryQ},
		),
		Recent:     s.recent,
		Wake:       wakeHeld(deliveryQ, orderedQ), // a resumed publication's held deliveries go at once
		Journal:    s.journalReader(),
		Delivery:   deliveryQ, // deliveries:retry
		Pull:       s.pull,
		Replays:    s.replays,
		Addon:      o.Addon,
		Sealer:     sealer,
		Link:       s.herokuLink(sealer),
		Forget:     s.forgetTenant,
		PushConfig: s.herokuPush(sealer),
	})
	if err != nil {
		return nil, err
	}
	flt, err := filter.New(filter.Options{Store: s.cached, Delivery: toDelivery, Logger: o.Logger, Recent: s.keeper, Metrics: s.metrics.Role("filter"), Journal: s.journalWriter(),
		Pull: s.pull, Archive: s.archiver})
	if err != nil {
		return nil, err
	}
	// Events published to a subscription are routed in the publish
	// request (route.go): one queue hop fewer; generated and Salesforce
	// events still take the ingest queue.
	s.replays.Store, s.replays.Route = s.cached, flt // replayed events are routed again by the filter
	direct := routeAtIngest{filter: flt, ingest: toIngest, dlq: countingDLQ{ingestDLQ, s.metrics.Role("filter")}, settings: filterSettings}
	ing, err := ingest.New(ingest.Options{Store: s.cached, Ingest: direct, Delivery: toDelivery, Keys: &keyer.Keyer{}, Logger: o.Logger, Metrics: s.metrics.Role("ingest"), Journal: s.journalWriter(),
		Backlog: waiting, MaxBacklog: max(o.MaxBacklog, 0), Dedup: s.dedup, DedupWindow: o.DedupWindow})
	if err != nil {
		return nil, err
	}
	dlv, err := deliver.New(deliver.Options{
		Store:      s.cached,
		Requeue:    toDelivery,
		Backoff:    o.Backoff,
		Wake:       deliveryQ.WakeHeld, // as a resume does (Wake above)
		Publishers: publishers,
		Logger:     o.Logger,
		Metrics:    s.metrics.Role("deliver"),
		Journal:    s.journalWriter(),
		// The delivery consumer runs for the life of the process.
		KeepWorkers: true,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	partnerAPI, notifier, err := newPartner(s.cached, sealer, egress, operator, partnerQ, s.metrics.Role("partnernotify"), o)
	if err != nil {
		return nil, err
	}
	partnerAPI.Mount(mux)
	mux.Handle("/publish/", s.disk.gate(ing))
	if err := s.mountInbound(mux, sealer, toIngest); err != nil {
		return nil, err
	}
	mux.Handle("GET /metrics", s.metrics.Handler(operator.Check)) // the operator's OpenMetrics
	if err := s.serveTenantViews(mux, op); err != nil {
		return nil, err
	}
	mux.Handle("/", apiSrv.Handler())
	s.http = newHTTPServer(mux, o.HTTP, o.Logger)

	if o.App != "" {
		if s.vars, err = s.ensureApp(ctx, apiSrv, op, o.App); err != nil {
			return nil, err
		}
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.goRun(func() error {
		return ingestQ.Consume(runCtx, waiting.Handler(flt), filterSettings, waiting.Leaving(countingDLQ{ingestDLQ, s.metrics.Role("filter")}))
	})
	s.goRun(func() error {
		return deliveryQ.Consume(runCtx, waiting.Handler(dlv), deliverSettings, waiting.Leaving(countingDLQ{deliveryDLQ, s.metrics.Role("deliver")}))
	})
	s.goRun(func() error {
		return orderedQ.Consume(runCtx, waiting.Handler(dlv), orderedSettings, waiting.Leaving(countingDLQ{deliveryDLQ, s.metrics.Role("deliver")}))
	})
	s.goRun(func() error {
		return partnerQ.Consume(runCtx, notifier, partnerSettings, countingDLQ{partnerDLQ, s.metrics.Role("partnernotify")})
	})
	s.goRun(func() error { return s.disk.run(runCtx) })
	s.goRun(func() error { return s.runArchive(runCtx) })
	for _, f := range platforms.Runners() {
		s.goRun(func() error { return f(runCtx) })
	}
	s.goRun(func() error {
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-runCtx.Done():
		}
	}()
	o.Logger.InfoContext(ctx, "herokuevents serving", "addr", s.ln.Addr().String(), "data_dir", o.DataDir)
	return s, nil
}

func (s *Server) goRun(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil && !errors.Is(err, context.Canceled) {
			s.o.Logger.Error("role stopped", "err", err)
			select {
			case s.errc <- err:
			default:
			}
		}
	}()
}

// ensureApp makes sure the app's tenant exists and returns its config vars,
// kept in the data dir as Heroku keeps an app's config vars.
func (s *Server) ensureApp(ctx context.Context, a *api.Server, op operator, app string) (configVars, error) {
	if !name.IsApp(app) {
		return nil, fmt.Errorf("app name %q: %s", app, name.AppRule)
	}
	path := appVarsPath(s.o.DataDir, app)
	var vars configVars
	err := readPrivateJSON(path, &vars)
	switch {
	case err == nil:
		if _, err := s.cached.Get(ctx, "", config.KindTenant, tenantOf(vars)); err == nil {
			break
		}
		vars = nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	if vars == nil {
		res, err := a.Provision(ctx, api.ProvisionRequest{App: app, Plan: "herokuevents:test"})
		if err != nil {
			return nil, fmt.Errorf("provision app %s: %w", app, err)
		}
		vars = configVars(res.Config)
		if err := writePrivateJSON(path, vars); err != nil {
			return nil, fmt.Errorf("save config vars of %s: %w", app, err)
		}
	}
	out := configVars{}
	for k, v := range vars {
		out[k] = rebase(v, s.baseURL)
	}
	if out["HEROKUEVENTS_SUBSCRIBE_URL"] == "" {
		out["HEROKUEVENTS_SUBSCRIBE_URL"] = subscribeURL(out["HEROKUEVENTS_PUBLISH_URL"])
	}
	out["HEROKUEVENTS_PLATFORM_URL"] = withUser(s.baseURL, op.ID, op.Password)
	return out, nil
}

// tenantOf reads the tenant id from the API URL's path.
func tenantOf(vars configVars) string {
	u, err := url.Parse(vars["HEROKUEVENTS_API_URL"])
	if err != nil {
		return ""
	}
	_, t, _ := strings.Cut(u.Path, "/tenants/")
	return strings.Trim(t, "/")
}

// rebase points a saved URL at the current listen address (it may differ
// from the last run's).
func rebase(raw, base string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	b, err := url.Parse(base)
	if err != nil {
		return raw
	}
	u.Scheme, u.Host = b.Scheme, b.Host
	return u.String()
}

func withUser(base, user, pass string) string {
	u, _ := url.Parse(base)
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// ConfigVars returns the app's config vars in a stable order as NAME=value lines.
func (s *Server) ConfigVars() []string {
	var out []string
	for _, k := range []string{"HEROKUEVENTS_API_URL", "HEROKUEVENTS_PUBLISH_URL", "HEROKUEVENTS_SUBSCRIBE_URL", "HEROKUEVENTS_PLATFORM_URL"} {
		if v, ok := s.vars[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// Var returns one config var of the app.
func (s *Server) Var(name string) string { return s.vars[name] }

// URL returns the base URL the server listens on.
func (s *Server) URL() string { return s.baseURL }

// Store returns the configuration store (tests inspect it).
func (s *Server) Store() config.Store { return s.cached }

// Queue returns a queue by name, e.g. "delivery-dlq" (tests inspect it).
func (s *Server) Queue(name string) *sqlitequeue.Queue { return s.queues.Queue(name) }

// queueDepths counts the messages of every queue and dead-letter queue:
// the backlog gauge of GET /metrics.
func (s *Server) queueDepths(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	for _, name := range []string{IngestQueue, IngestQueue + "-dlq", DeliveryQueue, DeliveryQueue + "-dlq", OrderedQueue, PartnerQueue, PartnerDLQ} {
		n, err := s.queues.Queue(name).Len(ctx)
		if err != nil {
			return nil, err
		}
		out[name] = float64(n)
	}
	return out, nil
}

// Metrics returns the recorder of every role (tests read it).
func (s *Server) Metrics() *openmetrics.Registry { return s.metrics }

// Err reports a role that stopped on an error.
func (s *Server) Err() <-chan error { return s.errc }

// Close stops accepting requests, lets in-flight batches finish and
// releases the data dir. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.cancel == nil {
			s.closeResources()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.closeErr = s.http.Shutdown(ctx)
		s.cancel()
		s.wg.Wait()
		_ = s.keeper.Close(ctx) // the events the filter kept last
		s.closeResources()
	})
	return s.closeErr
}

func (s *Server) closeResources() {
	if s.ln != nil && s.cancel == nil {
		s.ln.Close()
	}
	if s.queues != nil {
		s.queues.Close()
		s.queues = nil
	}
	if s.keeper != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = s.keeper.Close(ctx)
		cancel()
	}
	s.closeJournal()
	s.closeArchive()
	s.closePull()
	s.closeDedup()
	if s.recent != nil {
		s.recent.Close()
		s.recent = nil
	}
	if s.store != nil {
		s.store.Close()
		s.store = nil
	}
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

var _ queue.Sender = (*sqlitequeue.Queue)(nil)

// wakeHeld wakes a resumed publication's held deliveries in every queue
// that holds them: re-queued (unordered) or held in their lane's place
// (ordered).
func wakeHeld(queues ...*sqlitequeue.Queue) func(ctx context.Context, tenant, publication string) (int, error) {
	return func(ctx context.Context, tenant, publication string) (int, error) {
		total := 0
		var errs []error
		for _, q := range queues {
			n, err := q.WakeHeld(ctx, tenant, publication)
			total += n
			errs = append(errs, err)
		}
		return total, errors.Join(errs...)
	}
}
