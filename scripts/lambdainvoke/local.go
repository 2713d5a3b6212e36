package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/herokuevents/herokuevents/infra/aws/awslocal"
	"github.com/herokuevents/herokuevents/infra/aws/motoserver"
	"github.com/herokuevents/herokuevents/infra/samtemplate"
	"github.com/herokuevents/herokuevents/shared/config"
	"github.com/herokuevents/herokuevents/shared/partner"
	"github.com/herokuevents/herokuevents/shared/queue"
)

// EnvMotoURL names the endpoint of a running moto server to create the
// local AWS in (tests share one); unset, a moto server runs for the length
// of the call.
const EnvMotoURL = "INVOKE_MOTO_URL"

// SeedFile is the file, in a fixtures folder next to the event, whose
// tenants the local AWS holds before the invocation.
const SeedFile = "fixtures/seed.json"

// LocalSSOSalt is the add-on SSO salt of the local stack (template
// parameter HerokuSsoSalt), so that the dashboard function serves its
// routes.
const LocalSSOSalt = "local-sso-salt"

// seed is what the local AWS holds before the invocation: the tenants the
// samples authenticate as (keys in clear, as the samples' Authorization
// headers carry them) and the subscriptions and publications they name.
type seed struct {
	Tenants []struct {
		ID            string `json:"id"`
		App           string `json:"app"`
		APIKey        string `json:"api_key"`
		PublishKey    string `json:"publish_key"`
		Subscriptions []struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			Platform string `json:"platform"`
		} `json:"subscriptions"`
		// Publications are webhooks; without a url they deliver to a
		// receiver that runs for the call and reports what it got.
		Publications []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"publications"`
	} `json:"tenants"`
	// Partners are legacy add-on partners registered as test partners:
	// they are notified at the receiver that runs for the call.
	Partners []struct {
		ID       string   `json:"id"`
		Password string   `json:"password"`
		Requires []string `json:"requires"`
	} `json:"partners"`
}

// localAWS is template.yaml's resources (queues, table, KMS key) in moto
// for one invocation, with the seed stored and a webhook receiver.
type localAWS struct {
	moto     *motoserver.Server // nil when EnvMotoURL named one
	stack    *awslocal.Stack
	receiver *receiver
	seeded   []string
}

// startLocal creates the local AWS: moto (started, or EnvMotoURL), the
// template's resources under a fresh stack name, and the seed file's
// tenants when the file exists ("" for none).
func startLocal(ctx context.Context, seedPath string) (_ *localAWS, err error) {
	l := &localAWS{}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	endpoint := os.Getenv(EnvMotoURL)
	if endpoint == "" {
		if l.moto, err = motoserver.Start(); err != nil {
			return nil, err
		}
		endpoint = l.moto.URL
	}
	if l.stack, err = awslocal.Deploy(ctx, awslocal.Options{
		Endpoint: endpoint, Binaries: map[string]string{}, Functions: []string{}, // resources only: this command runs the function
		Params: map[string]string{"HerokuSsoSalt": LocalSSOSalt}, // the dashboard function serves its routes
	}); err != nil {
		return nil, fmt.Errorf("create template.yaml's resources in moto on %s: %w", endpoint, err)
	}
	if seedPath == "" {
		return l, nil
	}
	raw, err := os.ReadFile(seedPath)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	var s seed
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w", seedPath, err)
	}
	if err := l.seed(ctx, s); err != nil {
		return nil, fmt.Errorf("seed %s: %w", seedPath, err)
	}
	return l, nil
}

func (l *localAWS) seed(ctx context.Context, s seed) error {
	// What the api function, which provisions tenants and partners, is given.
	api := l.stack.Env("ApiFunction")
	if api["CONFIG_TABLE"] == "" || api["KMS_KEY_ID"] == "" {
		return errors.New("template.yaml gives ApiFunction no CONFIG_TABLE or KMS_KEY_ID")
	}
	store := l.stack.Store("ConfigTable")
	now := time.Now().UTC()
	for _, tn := range s.Tenants {
		tenant := config.Tenant{ID: tn.ID, App: tn.App, Created: now}
		if tn.APIKey != "" {
			tenant.APIKeyHash = config.HashKey(tn.APIKey)
		}
		if tn.PublishKey != "" {
			tenant.PublishKeyHash = config.HashKey(tn.PublishKey)
		}
		if _, err := config.Insert(ctx, store, config.Item{Kind: config.KindTenant, ID: tn.ID, Name: tn.App}, tenant); err != nil {
			return fmt.Errorf("tenant %s: %w", tn.ID, err)
		}
		what := []string{"tenant " + tn.ID + " (app " + tn.App + ")"}
		for _, s := range tn.Subscriptions {
			sub := config.Subscription{ID: s.ID, Name: s.Name, Platform: s.Platform, Created: now}
			if _, err := config.Insert(ctx, store, config.Item{Tenant: tn.ID, Kind: config.KindSubscription, ID: s.ID, Name: s.Name}, sub); err != nil {
				return fmt.Errorf("subscription %s: %w", s.Name, err)
			}
			what = append(what, "subscription "+s.Name)
		}
		for _, p := range tn.Publications {
			url := p.URL
			if url == "" {
				rcv, err := l.startReceiver()
				if err != nil {
					return err
				}
				url = rcv.url + "/" + p.Name
			}
			pub := config.Publication{ID: p.ID, Name: p.Name, Platform: config.PlatformWebhook, Params: config.Params{URL: url}, Created: now}
			if _, err := config.Insert(ctx, store, config.Item{Tenant: tn.ID, Kind: config.KindPublication, ID: p.ID, Name: p.Name}, pub); err != nil {
				return fmt.Errorf("publication %s: %w", p.Name, err)
			}
			what = append(what, "publication "+p.Name+" → "+url)
		}
		l.seeded = append(l.seeded, strings.Join(what, ", "))
	}
	if len(s.Partners) == 0 {
		return nil
	}
	reg := partner.Registry{Store: store, Sealer: l.stack.Sealer("SealKey")}
	for _, p := range s.Partners {
		rcv, err := l.startReceiver()
		if err != nil {
			return err
		}
		var m partner.Manifest
		m.ID, m.API.Password, m.API.Requires = p.ID, p.Password, p.Requires
		m.API.Production.BaseURL = "https://" + p.ID + ".example.com/heroku" // not used: a test partner
		m.API.Test.BaseURL = rcv.url + "/" + p.ID
		if _, err := reg.CreatePartner(ctx, m, partner.CreateOptions{Test: true}); err != nil {
			return fmt.Errorf("partner %s: %w", p.ID, err)
		}
		l.seeded = append(l.seeded, "test partner "+p.ID+" → "+m.API.Test.BaseURL)
	}
	return nil
}

// startReceiver starts the webhook receiver on first use.
func (l *localAWS) startReceiver() (*receiver, error) {
	if l.receiver == nil {
		r, err := startReceiver()
		if err != nil {
			return nil, err
		}
		l.receiver = r
	}
	return l.receiver, nil
}

// describe says what the local AWS is, for the user.
func (l *localAWS) describe(w io.Writer) {
	fmt.Fprintf(w, "lambdainvoke: local AWS for this call: template.yaml's queues, table and key in moto on %s (stack %s)\n",
		aws.ToString(l.stack.AWS.BaseEndpoint), l.stack.Name)
	for _, s := range l.seeded {
		fmt.Fprintf(w, "lambdainvoke: seeded %s\n", s)
	}
}

// environment is the function's environment in the local AWS: what the
// stack gives it (template variables resolved against the stack, the
// Lambda variables, the moto endpoint and test credentials), with the
// caller's values of the template's literal variables (LOG_LEVEL...).
func (l *localAWS) environment(fn samtemplate.Function) []string {
	vars := l.stack.Env(fn.ID)
	for k := range fn.Env {
		if v, ok := os.LookupEnv(k); ok {
			vars[k] = v
		}
	}
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// report prints what the invocation left in the local AWS: the messages
// in the queues and what the webhook receiver got.
func (l *localAWS) report(ctx context.Context, w io.Writer) {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(l.stack.Template.Resources)) {
		if l.stack.Template.Resources[id].Type != samtemplate.TypeQueue {
			continue
		}
		msgs, err := l.stack.Peek(ctx, id)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", id, err)
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s: %d message(s)\n", id, len(msgs))
		for _, m := range msgs {
			fmt.Fprintf(&b, "  %s\n", clip(m.Body, 400))
			if reason := m.Attributes[queue.AttrReason]; reason != "" {
				fmt.Fprintf(&b, "    reason: %s\n", reason)
			}
		}
	}
	if got := l.receiver.all(); len(got) > 0 {
		fmt.Fprintf(&b, "webhook receiver %s: %d request(s)\n", l.receiver.url, len(got))
		for _, r := range got {
			fmt.Fprintf(&b, "  %s\n", clip(r, 400))
		}
	}
	if b.Len() == 0 {
		b.WriteString("every queue is empty\n")
	}
	fmt.Fprintf(w, "--- local AWS after the call ---\n%s", b.String())
}

// close stops the receiver and, when this call started it, moto; the
// resources go with moto (a shared moto keeps them under their stack name).
func (l *localAWS) close() error {
	var errs []error
	if l.stack != nil {
		errs = append(errs, l.stack.Close())
	}
	if l.receiver != nil {
		errs = append(errs, l.receiver.close())
	}
	if l.moto != nil {
		errs = append(errs, l.moto.Close())
	}
	return errors.Join(errs...)
}

// seedPath is the seed file of an event file: fixtures/seed.json in the
// event's folder.
func seedPath(eventFile string) string {
	return filepath.Join(filepath.Dir(eventFile), filepath.FromSlash(SeedFile))
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// receiver is a webhook endpoint on loopback that answers 200 and records
// each request as one line.
type receiver struct {
	url string
	srv *http.Server

	mu   sync.Mutex
	reqs []string
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{url: "http://" + ln.Addr().String()}
	r.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
		var compact bytes.Buffer
		if json.Compact(&compact, body) != nil {
			compact.Reset()
			compact.Write(body)
		}
		line := fmt.Sprintf("%s %s %s %s", req.Method, req.URL.Path, req.Header.Get("Content-Type"), compact.String())
		r.mu.Lock()
		r.reqs = append(r.reqs, line)
		r.mu.Unlock()
	})}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *receiver) all() []string {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

func (r *receiver) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return r.srv.Shutdown(ctx)
}
