package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/httpjson"
	"github.com/herokuevents/herokuevents/shared/mapping"
	"github.com/herokuevents/herokuevents/shared/pull"
)

// namePattern is the rule for subscription and publication names.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`) })

func validateName(kind, name string) error {
	if name == "" {
		return Invalid("name is required.")
	}
	if !namePattern().MatchString(name) {
		return Invalid("%s name %q is invalid: use 1 to 64 letters, digits, '_' or '-', starting with a letter.", kind, name)
	}
	if uuid.Validate(name) == nil {
		return Invalid("%s name %q must not look like an id.", kind, name)
	}
	return nil
}

// normalizeFilter returns nil for an absent, null or blank filter, and the
// filter otherwise after compiling it in the pure Bloblang environment and
// test-running it on an empty object under the mapping limits
// (mapping.Check): a filter that exceeds a limit is refused at once.
func normalizeFilter(f *string) (*string, error) {
	if f == nil || strings.TrimSpace(*f) == "" {
		return nil, nil
	}
	if _, err := mapping.Check(*f, []byte(`{}`), nil); err != nil {
		if errors.Is(err, mapping.ErrUnavailable) {
			return nil, err
		}
		return nil, Invalid("filter: %s", err.Error())
	}
	v := *f
	return &v, nil
}

func ref(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}

// ---- JSON views (reference §3) ----

type linkedView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Platform  string        `json:"platform"`
	Filter    *string       `json:"filter"`
	Params    config.Params `json:"params"`
	CreatedAt time.Time     `json:"created_at"`
}

type stateView struct {
	Status       string    `json:"status,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	CheckpointAt time.Time `json:"checkpoint_at,omitzero"`
	NextRun      time.Time `json:"next_run,omitzero"`
}

type subscriptionView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Platform  string        `json:"platform"`
	Params    config.Params `json:"params"`
	Replay    string        `json:"replay,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	State     *stateView    `json:"state,omitempty"`
	Targets   []linkedView  `json:"targets"`
	// Pull: the events are kept for HEROKUEVENTS_SUBSCRIBE_URL (pull.go),
	// with their backlog on a read of one subscription.
	Pull bool `json:"pull,omitempty"`
	// Retention is how long the events are archived for replay.
	Retention   string        `json:"retention,omitempty"`
	PullBacklog *pull.Backlog `json:"pull_backlog,omitempty"`
	// SalesforceUsage: the events Salesforce delivered for the org in the
	// last 24 h (salesforce subscriptions, on a read of one; sfusage.go).
	SalesforceUsage *salesforceUsageView `json:"salesforce_usage,omitempty"`
	// Extra is shown once, in the create answer (platform.Source.Shown).
	Extra map[string]any `json:"extra,omitempty"`
}

type publicationView struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Platform       string         `json:"platform"`
	Params         config.Params  `json:"params"`
	CreatedAt      time.Time      `json:"created_at"`
	Disabled       bool           `json:"disabled,omitempty"`
	DisabledReason string         `json:"disabled_reason,omitempty"`
	Sources        []linkedView   `json:"sources"`
	Extra          map[string]any `json:"extra,omitempty"`
	// Lifecycle (lifecycle.go): paused since, delivery settings that are
	// not the default, and the end of a secret rotation's overlap.
	Paused              bool          `json:"paused,omitempty"`
	PausedAt            time.Time     `json:"paused_at,omitzero"`
	Delivery            *deliveryView `json:"delivery,omitempty"`
	PreviousSecretUntil time.Time     `json:"previous_secret_expires_at,omitzero"`
	// OAuth2 and MTLS describe a webhook publication's credentials, never
	// their secrets (webhookauth.go).
	OAuth2 *oauth2View `json:"oauth2,omitempty"`
	MTLS   *mtlsView   `json:"mtls,omitempty"`
	// Order is an ordered publication's key and blocked lanes (order.go).
	Order *orderView `json:"order,omitempty"`
}

type streamView struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Target    string    `json:"target"`
	Filter    *string   `json:"filter"`
	CreatedAt time.Time `json:"created_at"`
}

func filterOf(st config.Stream) *string {
	if st.Filter == "" {
		return nil
	}
	f := st.Filter
	return &f
}

// graph is every subscription, publication and stream of a tenant.
type graph struct {
	subs    []config.Subscription
	pubs    []config.Publication
	streams []config.Stream
	subByID map[string]config.Subscription
	pubByID map[string]config.Publication
}

func (s *Server) loadGraph(ctx context.Context, tenant string) (graph, error) {
	subs, err := config.LoadAll[config.Subscription](ctx, s.store, tenant, config.KindSubscription)
	if err != nil {
		return graph{}, fmt.Errorf("list subscriptions: %w", err)
	}
	pubs, err := config.LoadAll[config.Publication](ctx, s.store, tenant, config.KindPublication)
	if err != nil {
		return graph{}, fmt.Errorf("list publications: %w", err)
	}
	streams, err := config.LoadAll[config.Stream](ctx, s.store, tenant, config.KindStream)
	if err != nil {
		return graph{}, fmt.Errorf("list streams: %w", err)
	}
	g := graph{subByID: map[string]config.Subscription{}, pubByID: map[string]config.Publication{}}
	for _, r := range subs {
		g.subs = append(g.subs, r.Value)
		g.subByID[r.Value.ID] = r.Value
	}
	for _, r := range pubs {
		g.pubs = append(g.pubs, r.Value)
		g.pubByID[r.Value.ID] = r.Value
	}
	for _, r := range streams {
		g.streams = append(g.streams, r.Value)
	}
	return g, nil
}

func (g graph) subscription(sub config.Subscription) subscriptionView {
	v := subscriptionView{
		ID: sub.ID, Name: sub.Name, Platform: sub.Platform, Params: sub.Params,
		Replay: sub.Replay, CreatedAt: sub.Created, Targets: []linkedView{}, Pull: sub.Pull,
		Retention: retentionOf(sub),
	}
	if st := sub.State; st != nil {
		v.State = &stateView{Status: st.Status, LastError: st.LastError, CheckpointAt: st.CheckedAt, NextRun: st.NextRun}
	}
	for _, st := range g.streams {
		pub, ok := g.pubByID[st.Publication]
		if st.Subscription != sub.ID || !ok {
			continue
		}
		v.Targets = append(v.Targets, linkedView{ID: pub.ID, Name: pub.Name, Platform: pub.Platform,
			Filter: filterOf(st), Params: pub.Params, CreatedAt: pub.Created})
	}
	sortLinked(v.Targets)
	return v
}

func (g graph) publication(pub config.Publication) publicationView {
	v := publicationView{
		ID: pub.ID, Name: pub.Name, Platform: pub.Platform, Params: pub.Params, CreatedAt: pub.Created,
		Disabled: pub.Disabled, DisabledReason: pub.DisabledReason, Sources: []linkedView{},
		Paused: pub.Paused, PausedAt: pub.PausedAt, Delivery: deliveryOf(pub),
		PreviousSecretUntil: previousSecretUntil(pub, time.Now()),
		OAuth2:              oauth2Of(pub), MTLS: mtlsOf(pub),
		Order: orderOf(pub),
	}
	for _, st := range g.streams {
		sub, ok := g.subByID[st.Subscription]
		if st.Publication != pub.ID || !ok {
			continue
		}
		v.Sources = append(v.Sources, linkedView{ID: sub.ID, Name: sub.Name, Platform: sub.Platform,
			Filter: filterOf(st), Params: sub.Params, CreatedAt: sub.Created})
	}
	sortLinked(v.Sources)
	return v
}

func sortLinked(l []linkedView) {
	slices.SortFunc(l, func(a, b linkedView) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
}

// stream renders a stream; ok is false for an orphan whose ends are gone.
func (g graph) stream(st config.Stream) (streamView, bool) {
	sub, okS := g.subByID[st.Subscription]
	pub, okP := g.pubByID[st.Publication]
	return streamView{ID: st.ID, Source: sub.Name, Target: pub.Name, Filter: filterOf(st), CreatedAt: st.Created}, okS && okP
}

// ---- lookups ----

// end describes one kind of stream end: subscriptions (the sources) and
// publications (the targets) are found, created and deleted alike.
type end struct {
	kind  string                     // config.KindSubscription or config.KindPublication, also the noun in messages
	title string                     // the noun starting a sentence
	of    func(config.Stream) string // the id of the stream's end of this kind
}

var (
	subscriptions = end{config.KindSubscription, "Subscription", func(st config.Stream) string { return st.Subscription }}
	publications  = end{config.KindPublication, "Publication", func(st config.Stream) string { return st.Publication }}
)

// find loads the resource of kind e by id or name: 404 when absent.
func find[T any](ctx context.Context, s *Server, e end, tenant, idOrName string) (config.Record[T], error) {
	r, err := config.Load[T](ctx, s.store, tenant, e.kind, idOrName)
	if errors.Is(err, config.ErrNotFound) {
		return r, notFound(fmt.Sprintf("Couldn't find that %s: %s.", e.kind, httpjson.Short(idOrName)))
	}
	if err != nil {
		return r, fmt.Errorf("load %s: %w", e.kind, err)
	}
	return r, nil
}

func (s *Server) findSubscription(ctx context.Context, tenant, idOrName string) (config.Record[config.Subscription], error) {
	return find[config.Subscription](ctx, s, subscriptions, tenant, idOrName)
}

func (s *Server) findPublication(ctx context.Context, tenant, idOrName string) (config.Record[config.Publication], error) {
	return find[config.Publication](ctx, s, publications, tenant, idOrName)
}

// insert creates the new resource v of kind e as it: 409 when its name is
// taken.
func insert[T any](ctx context.Context, s *Server, e end, it config.Item, v T, platform string) error {
	if _, err := config.Insert(ctx, s.store, it, v); err != nil {
		if errors.Is(err, config.ErrConflict) {
			return conflict(fmt.Sprintf("%s %s already exists.", e.title, it.Name), err)
		}
		return fmt.Errorf("create %s: %w", e.kind, err)
	}
	s.log.InfoContext(ctx, e.kind+" created", "tenant", it.Tenant, "kind", e.kind,
		"name", it.Name, "id", it.ID, "platform", platform)
	return nil
}

// remove deletes the resource of kind e named ref at the version read
// (re-reading after a concurrent change, up to deleteAttempts times), then
// the streams to or from it. It answers the view of the resource as it was.
func remove[T, V any](ctx context.Context, s *Server, e end, tenant, ref string, view func(graph, T) V) (int, any, error) {
	for attempt := 1; ; attempt++ {
		rec, err := find[T](ctx, s, e, tenant, ref)
		if err != nil {
			return 0, nil, err
		}
		g, err := s.loadGraph(ctx, tenant)
		if err != nil {
			return 0, nil, err
		}
		v := view(g, rec.Value)
		err = s.store.Delete(ctx, tenant, e.kind, rec.Item.ID, rec.Version)
		if errors.Is(err, config.ErrConflict) {
			if attempt < deleteAttempts {
				continue
			}
			return 0, nil, conflict(fmt.Sprintf("%s %s keeps changing; try again.", e.title, rec.Item.Name), err)
		}
		if errors.Is(err, config.ErrNotFound) {
			return 0, nil, notFound(fmt.Sprintf("Couldn't find that %s: %s.", e.kind, httpjson.Short(ref)))
		}
		if err != nil {
			return 0, nil, fmt.Errorf("delete %s: %w", e.kind, err)
		}
		id := rec.Item.ID
		s.log.InfoContext(ctx, e.kind+" deleted", "tenant", tenant, "kind", e.kind, "name", rec.Item.Name, "id", id)
		if err := s.unlinkWhere(ctx, tenant, func(st config.Stream) bool { return e.of(st) == id }); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, v, nil
	}
}

// link creates the stream sub → pub, then makes sure neither end was
// deleted meanwhile (a concurrent delete would otherwise leave an orphan).
func (s *Server) link(ctx context.Context, tenant string, sub config.Subscription, pub config.Publication, filter *string) (config.Stream, error) {
	st := config.Stream{ID: uuid.NewString(), Subscription: sub.ID, Publication: pub.ID, Created: s.timestamp()}
	if filter != nil {
		st.Filter = *filter
	}
	it := config.Item{Tenant: tenant, Kind: config.KindStream, ID: st.ID, Name: config.StreamName(sub.ID, pub.ID)}
	if _, err := config.Insert(ctx, s.store, it, st); err != nil {
		if errors.Is(err, config.ErrConflict) {
			return st, conflict(fmt.Sprintf("Subscription %s already streams to publication %s.", sub.Name, pub.Name), err)
		}
		return st, fmt.Errorf("create stream: %w", err)
	}
	_, errS := s.store.Get(ctx, tenant, config.KindSubscription, sub.ID)
	_, errP := s.store.Get(ctx, tenant, config.KindPublication, pub.ID)
	if errS != nil || errP != nil {
		_ = s.store.Delete(ctx, tenant, config.KindStream, st.ID, 0)
		if errors.Is(errS, config.ErrNotFound) {
			return st, notFound(fmt.Sprintf("Couldn't find that subscription: %s.", sub.Name))
		}
		if errors.Is(errP, config.ErrNotFound) {
			return st, notFound(fmt.Sprintf("Couldn't find that publication: %s.", pub.Name))
		}
		return st, fmt.Errorf("check stream ends: %w", errors.Join(errS, errP))
	}
	s.log.InfoContext(ctx, "stream created", "tenant", tenant, "kind", config.KindStream, "name", it.Name,
		"id", st.ID, "subscription", sub.ID, "publication", pub.ID, "filtered", filter != nil)
	return st, nil
}

// unlinkWhere deletes the streams of tenant matching keep == false; used
// after deleting one end. Missing streams are ignored.
func (s *Server) unlinkWhere(ctx context.Context, tenant string, match func(config.Stream) bool) error {
	all, err := config.LoadAll[config.Stream](ctx, s.store, tenant, config.KindStream)
	if err != nil {
		return fmt.Errorf("list streams: %w", err)
	}
	for _, r := range all {
		if !match(r.Value) {
			continue
		}
		if err := s.store.Delete(ctx, tenant, config.KindStream, r.Item.ID, 0); err != nil && !errors.Is(err, config.ErrNotFound) {
			return fmt.Errorf("delete stream %s: %w", r.Item.ID, err)
		}
		s.log.InfoContext(ctx, "stream deleted", "tenant", tenant, "kind", config.KindStream, "name", r.Item.Name, "id", r.Item.ID)
	}
	return nil
}

// ---- tenant ----

func (s *Server) getTenant(_ context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	return http.StatusOK, map[string]string{"id": t.ID, "app": t.App}, nil
}

// ---- subscriptions ----

func (s *Server) createSubscription(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	platform := r.PathValue("platform")
	if err := s.platforms.CheckSubscription(platform); err != nil {
		return 0, nil, err
	}
	var common SubscriptionFields
	if err := decode(body, &common, false); err != nil {
		return 0, nil, err
	}
	if err := validateName("subscription", common.Name); err != nil {
		return 0, nil, err
	}
	if err := s.nameFree(ctx, t.ID, config.KindSubscription, common.Name); err != nil {
		return 0, nil, err
	}
	target := ref(common.Target)
	filter, err := normalizeFilter(common.Filter)
	if err != nil {
		return 0, nil, err
	}
	if filter != nil && target == "" {
		return 0, nil, Invalid("filter can only be set together with target.")
	}
	var pub config.Publication
	if target != "" {
		r, err := s.findPublication(ctx, t.ID, target)
		if err != nil {
			return 0, nil, err
		}
		pub = r.Value
	}
	sub, err := s.platforms.Subscription(ctx, t.ID, platform, body)
	if err != nil {
		return 0, nil, err
	}
	sub.ID, sub.Name, sub.Platform, sub.Created = uuid.NewString(), common.Name, platform, s.timestamp()
	sub.Pull = common.Pull
	if sub.Retention, err = parseRetention(common.Retention); err != nil {
		return 0, nil, err
	}
	extra, err := s.platforms.Shown(ctx, t.ID, s.base.String(), sub)
	if err != nil {
		return 0, nil, err
	}
	it := config.Item{Tenant: t.ID, Kind: config.KindSubscription, ID: sub.ID, Name: sub.Name}
	if sub.State != nil && !sub.State.NextRun.IsZero() {
		it.Index = IndexTime(sub.State.NextRun)
	}
	if err := insert(ctx, s, subscriptions, it, sub, platform); err != nil {
		return 0, nil, err
	}
	if err := s.nameFree(ctx, t.ID, config.KindSubscription, sub.Name); err != nil {
		s.undo(ctx, t.ID, config.KindSubscription, sub.ID, sub.Name) // a publication took it meanwhile
		return 0, nil, err
	}
	g := graph{subByID: map[string]config.Subscription{sub.ID: sub}, pubByID: map[string]config.Publication{}}
	if target != "" {
		st, err := s.link(ctx, t.ID, sub, pub, filter)
		if err != nil {
			s.undo(ctx, t.ID, config.KindSubscription, sub.ID, sub.Name)
			return 0, nil, err
		}
		g.streams = []config.Stream{st}
		g.pubByID[pub.ID] = pub
	}
	v := g.subscription(sub)
	v.Extra = extra
	return http.StatusCreated, v, nil
}

// undo removes a resource just created when linking it failed.
func (s *Server) undo(ctx context.Context, tenant, kind, id, name string) {
	if err := s.store.Delete(ctx, tenant, kind, id, 0); err != nil && !errors.Is(err, config.ErrNotFound) {
		s.log.ErrorContext(ctx, "undo create", "tenant", tenant, "kind", kind, "name", name, "id", id, "err", err)
		return
	}
	s.log.InfoContext(ctx, kind+" create undone", "tenant", tenant, "kind", kind, "name", name, "id", id)
}

func (s *Server) listSubscriptions(ctx context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	out := make([]subscriptionView, 0, len(g.subs))
	for _, sub := range g.subs {
		out = append(out, g.subscription(sub))
	}
	return http.StatusOK, out, nil
}

func (s *Server) getSubscription(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	rec, err := s.findSubscription(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, err
	}
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.subscriptionHealth(ctx, t.ID, g, rec.Value)
	if err != nil {
		return 0, nil, err
	}
	s.addBacklog(ctx, t.ID, rec.Value, &v.subscriptionView)
	s.addSalesforceUsage(ctx, t.ID, rec.Value, &v.subscriptionView)
	return http.StatusOK, v, nil
}

// deleteAttempts bounds re-reads after a version conflict on delete.
const deleteAttempts = 3

func (s *Server) deleteSubscription(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	status, v, err := remove(ctx, s, subscriptions, t.ID, r.PathValue("ref"), graph.subscription)
	if sv, ok := v.(subscriptionView); err == nil && ok && sv.Pull {
		s.dropPulled(ctx, t.ID, config.Subscription{ID: sv.ID, Name: sv.Name})
	}
	return status, v, err
}

// ---- publications ----

func (s *Server) createPublication(ctx context.Context, t config.Tenant, r *http.Request, body []byte) (int, any, error) {
	platform := r.PathValue("platform")
	if err := s.platforms.CheckPublication(platform); err != nil {
		return 0, nil, err
	}
	var common PublicationFields
	if err := decode(body, &common, false); err != nil {
		return 0, nil, err
	}
	if err := validateName("publication", common.Name); err != nil {
		return 0, nil, err
	}
	if err := s.nameFree(ctx, t.ID, config.KindPublication, common.Name); err != nil {
		return 0, nil, err
	}
	source := ref(common.Source)
	filter, err := normalizeFilter(common.Filter)
	if err != nil {
		return 0, nil, err
	}
	if filter != nil && source == "" {
		return 0, nil, Invalid("filter can only be set together with source.")
	}
	ord, _, err := changeOrder(common.OrderFields, nil) // order.go
	if err != nil {
		return 0, nil, err
	}
	var sub config.Subscription
	if source != "" {
		r, err := s.findSubscription(ctx, t.ID, source)
		if err != nil {
			return 0, nil, err
		}
		sub = r.Value
	}
	pub, extra, err := s.platforms.Publication(ctx, t.ID, platform, body)
	if err != nil {
		return 0, nil, err
	}
	pub.ID, pub.Name, pub.Platform, pub.Created = uuid.NewString(), common.Name, platform, s.timestamp()
	pub.Order = ord
	it := config.Item{Tenant: t.ID, Kind: config.KindPublication, ID: pub.ID, Name: pub.Name}
	if err := insert(ctx, s, publications, it, pub, platform); err != nil {
		return 0, nil, err
	}
	if err := s.nameFree(ctx, t.ID, config.KindPublication, pub.Name); err != nil {
		s.undo(ctx, t.ID, config.KindPublication, pub.ID, pub.Name) // a subscription took it meanwhile
		return 0, nil, err
	}
	g := graph{subByID: map[string]config.Subscription{}, pubByID: map[string]config.Publication{pub.ID: pub}}
	if source != "" {
		st, err := s.link(ctx, t.ID, sub, pub, filter)
		if err != nil {
			s.undo(ctx, t.ID, config.KindPublication, pub.ID, pub.Name)
			return 0, nil, err
		}
		g.streams = []config.Stream{st}
		g.subByID[sub.ID] = sub
	}
	v := g.publication(pub)
	v.Extra = extra
	return http.StatusCreated, v, nil
}

func (s *Server) listPublications(ctx context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	out := make([]publicationView, 0, len(g.pubs))
	for _, pub := range g.pubs {
		out = append(out, g.publication(pub))
	}
	withHealth, err := s.allWithHealth(ctx, t.ID, g, out)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, withHealth, nil
}

func (s *Server) getPublication(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	rec, err := s.findPublication(ctx, t.ID, r.PathValue("ref"))
	if err != nil {
		return 0, nil, err
	}
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	v, err := s.withHealth(ctx, t.ID, g.publication(rec.Value), rec.Value)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}

func (s *Server) deletePublication(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	status, v, err := remove(ctx, s, publications, t.ID, r.PathValue("ref"), graph.publication)
	if pub, ok := v.(publicationView); ok && err == nil {
		s.remember(ctx, t.ID, pub)
	}
	return status, v, err
}

// ---- streams ----

func (s *Server) listStreams(ctx context.Context, t config.Tenant, _ *http.Request, _ []byte) (int, any, error) {
	g, err := s.loadGraph(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	out := make([]streamView, 0, len(g.streams))
	for _, st := range g.streams {
		if v, ok := g.stream(st); ok {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b streamView) int {
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.Target, b.Target))
	})
	return http.StatusOK, out, nil
}

func (s *Server) createStream(ctx context.Context, t config.Tenant, _ *http.Request, body []byte) (int, any, error) {
	var req struct {
		Source string  `json:"source"`
		Target string  `json:"target"`
		Filter *string `json:"filter"`
	}
	if err := DecodeJSON(body, &req); err != nil {
		return 0, nil, err
	}
	req.Source, req.Target = strings.TrimSpace(req.Source), strings.TrimSpace(req.Target)
	if req.Source == "" {
		return 0, nil, Invalid("source is required: the name or id of a subscription.")
	}
	if req.Target == "" {
		return 0, nil, Invalid("target is required: the name or id of a publication.")
	}
	filter, err := normalizeFilter(req.Filter)
	if err != nil {
		return 0, nil, err
	}
	sub, err := s.findSubscription(ctx, t.ID, req.Source)
	if err != nil {
		return 0, nil, err
	}
	pub, err := s.findPublication(ctx, t.ID, req.Target)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.link(ctx, t.ID, sub.Value, pub.Value, filter)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, streamView{ID: st.ID, Source: sub.Value.Name, Target: pub.Value.Name,
		Filter: filterOf(st), CreatedAt: st.Created}, nil
}

// findStream resolves the stream between the source and target of the path.
func (s *Server) findStream(ctx context.Context, tenant string, r *http.Request) (config.Record[config.Stream], streamView, error) {
	sub, err := s.findSubscription(ctx, tenant, r.PathValue("source"))
	if err != nil {
		return config.Record[config.Stream]{}, streamView{}, err
	}
	pub, err := s.findPublication(ctx, tenant, r.PathValue("target"))
	if err != nil {
		return config.Record[config.Stream]{}, streamView{}, err
	}
	rec, err := config.Load[config.Stream](ctx, s.store, tenant, config.KindStream, config.StreamName(sub.Value.ID, pub.Value.ID))
	if errors.Is(err, config.ErrNotFound) {
		return rec, streamView{}, notFound(fmt.Sprintf("Couldn't find that stream: %s does not stream to %s.", sub.Value.Name, pub.Value.Name))
	}
	if err != nil {
		return rec, streamView{}, fmt.Errorf("load stream: %w", err)
	}
	return rec, streamView{ID: rec.Value.ID, Source: sub.Value.Name, Target: pub.Value.Name,
		Filter: filterOf(rec.Value), CreatedAt: rec.Value.Created}, nil
}

func (s *Server) getStream(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	_, v, err := s.findStream(ctx, t.ID, r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, v, nil
}

func (s *Server) deleteStream(ctx context.Context, t config.Tenant, r *http.Request, _ []byte) (int, any, error) {
	rec, v, err := s.findStream(ctx, t.ID, r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.store.Delete(ctx, t.ID, config.KindStream, rec.Item.ID, 0); err != nil {
		if errors.Is(err, config.ErrNotFound) {
			return 0, nil, notFound(fmt.Sprintf("Couldn't find that stream: %s does not stream to %s.", v.Source, v.Target))
		}
		return 0, nil, fmt.Errorf("delete stream: %w", err)
	}
	s.log.InfoContext(ctx, "stream deleted", "tenant", t.ID, "kind", config.KindStream, "name", rec.Item.Name, "id", rec.Item.ID)
	return http.StatusOK, v, nil
}
