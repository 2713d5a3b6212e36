// Package smsecret resolves a Lambda function's secrets from AWS Secrets
// Manager at run time: template.yaml gives a function no secret value,
// only the ARN of the secret that holds it, in NAME_ARN (e.g.
// OPERATOR_PASSWORD_ARN for OPERATOR_PASSWORD). Values are kept in
// memory for TTL; a read after that fetches again, and keeps serving the
// last value if Secrets Manager cannot be reached.
//
// Load fetches them at the function's init and fails it, loudly, when one
// is missing. Prefetch starts the same fetch without waiting for it, so
// that a cold start does not wait a Secrets Manager round trip before its
// first request: only a read of a secret waits, and only for what is left
// of the fetch.
//
// Only the functions that hold secrets (api, deliver, sfsubscribe) import
// this package, so the others link no Secrets Manager client.
package smsecret

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Suffix is appended to a setting's name to name the variable that holds
// the ARN (or name) of the secret whose value is the setting.
const Suffix = "_ARN"

// TTL is how long a fetched value is served before it is fetched again
// (a rotated secret reaches warm functions within TTL).
const TTL = 5 * time.Minute

// fetchTimeout bounds one GetSecretValue call.
const fetchTimeout = 10 * time.Second

// ErrEmpty is returned for a secret that holds no string value.
var ErrEmpty = errors.New("secret has no string value")

// API is the part of the Secrets Manager client the resolver uses.
type API interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Resolver answers settings: a name whose NAME_ARN variable is set
// from Secrets Manager (cached for TTL), any other name from the
// environment. Its methods are safe for concurrent use.
type Resolver struct {
	client API
	getenv func(string) string
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu       sync.Mutex
	cache    map[string]entry
	fetching map[string]*sync.Mutex // one fetch of a name at a time
}

type entry struct {
	value   string
	fetched time.Time
}

// Options tune a Resolver; the zero value is production's.
type Options struct {
	// TTL overrides the package TTL.
	TTL time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
	// Logger receives a line per fetch (never a value); slog.Default when nil.
	Logger *slog.Logger
}

// New returns a resolver reading variables with getenv and secrets with client.
func New(client API, getenv func(string) string, o Options) *Resolver {
	r := &Resolver{client: client, getenv: getenv, ttl: o.TTL, now: o.Now, logger: o.Logger, cache: map[string]entry{}, fetching: map[string]*sync.Mutex{}}
	if r.ttl <= 0 {
		r.ttl = TTL
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.logger == nil {
		r.logger = slog.Default()
	}
	return r
}

// Load builds a resolver on cfg and fetches the secrets of names whose
// NAME_ARN is set, so that a missing secret or permission fails the
// function's init. It returns the resolver's Getenv.
//
// Two or more secrets are fetched in one BatchGetSecretValue request: one
// round trip (and, at a cold start, one TLS connection) instead of one per
// secret; the api holds up to four. What that request does not return
// (the batch permission missing, a secret gone) is fetched by
// GetSecretValue, concurrently, whose error names the setting. The error
// is that of the first name, in order, that failed.
func Load(ctx context.Context, cfg aws.Config, getenv func(string) string, logger *slog.Logger, names ...string) (func(string) string, error) {
	r := New(secretsmanager.NewFromConfig(cfg), getenv, Options{Logger: logger})
	if err := r.load(ctx, names); err != nil {
		return nil, err
	}
	return r.Getenv, nil
}

// load fetches the secrets of names whose NAME_ARN is set into the cache
// (Load) and returns the first failing name's error.
func (r *Resolver) load(ctx context.Context, names []string) error {
	var want []string
	for _, name := range names {
		if r.getenv(name+Suffix) != "" {
			want = append(want, name)
		}
	}
	if b, ok := r.client.(batchAPI); ok && len(want) > 1 {
		r.batch(ctx, b, want)
	}
	errs := make([]error, len(want))
	var wg sync.WaitGroup
	for i, name := range want {
		wg.Go(func() { _, errs[i] = r.Get(ctx, name) }) // cached when the batch had it
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Configured reports whether getenv holds setting name: its NAME_ARN (a
// secret, not read here) or the variable name itself.
func Configured(getenv func(string) string, name string) bool {
	return getenv(name+Suffix) != "" || getenv(name) != ""
}

// Prefetch is Load without the wait: it starts fetching the secrets of
// names whose NAME_ARN is set and returns at once. The getenv it returns
// answers a variable at once and waits for the fetch on the first read
// of a secret. A fetch that fails is logged (Error, naming the setting,
// never a value) and fetched again, alone, by the reads that need it,
// each of which logs its failure and reads "" (smsecret.Resolver.Getenv):
// the requests that need a missing secret fail, the others are served.
func Prefetch(ctx context.Context, cfg aws.Config, getenv func(string) string, logger *slog.Logger, names ...string) func(string) string {
	if logger == nil {
		logger = slog.Default()
	}
	done := make(chan struct{})
	var r *Resolver
	go func() {
		defer close(done)
		r = New(secretsmanager.NewFromConfig(cfg), getenv, Options{Logger: logger})
		if err := r.load(ctx, names); err != nil {
			logger.Error("secret prefetch failed; the reads that need it fetch it again", "err", err)
		}
	}()
	return func(name string) string {
		if getenv(name+Suffix) == "" {
			return getenv(name)
		}
		<-done
		return r.Getenv(name)
	}
}

// batchAPI is the batch read of the Secrets Manager client.
type batchAPI interface {
	BatchGetSecretValue(context.Context, *secretsmanager.BatchGetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.BatchGetSecretValueOutput, error)
}

// batchMax is the most secret ids one BatchGetSecretValue takes.
const batchMax = 20

// batch fetches the secrets of names (each with its NAME_ARN set) in
// BatchGetSecretValue requests and caches the values it returns. A failed
// request or secret is only logged (Debug): Get fetches it alone.
func (r *Resolver) batch(ctx context.Context, client batchAPI, names []string) {
	for chunk := range slices.Chunk(names, batchMax) {
		ids := make([]string, len(chunk))
		byID := make(map[string]string, len(chunk)) // ARN or name → setting
		for i, name := range chunk {
			ids[i] = r.getenv(name + Suffix)
			byID[ids[i]] = name
		}
		start := r.now()
		fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		out, err := client.BatchGetSecretValue(fctx, &secretsmanager.BatchGetSecretValueInput{SecretIdList: ids})
		cancel()
		if err != nil {
			r.logger.Debug("batch secret read failed; reading one by one", "settings", chunk, "err", err)
			continue
		}
		now := r.now()
		r.mu.Lock()
		for _, v := range out.SecretValues {
			name, ok := byID[aws.ToString(v.ARN)]
			if !ok {
				name, ok = byID[aws.ToString(v.Name)]
			}
			if !ok || aws.ToString(v.SecretString) == "" {
				continue // not asked for, or no string value: Get says so
			}
			r.cache[name] = entry{value: *v.SecretString, fetched: now}
		}
		r.mu.Unlock()
		r.logger.Debug("secrets resolved", "settings", chunk, "returned", len(out.SecretValues), "errors", len(out.Errors), "duration_ms", now.Sub(start).Milliseconds())
	}
}

// lock takes the lock of name's fetch and returns its release.
func (r *Resolver) lock(name string) func() {
	r.mu.Lock()
	l, ok := r.fetching[name]
	if !ok {
		l = &sync.Mutex{}
		r.fetching[name] = l
	}
	r.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Get returns the value of setting name: the secret named by
// NAME_ARN when that is set, else the variable name itself.
func (r *Resolver) Get(ctx context.Context, name string) (string, error) {
	arn := r.getenv(name + Suffix)
	if arn == "" {
		return r.getenv(name), nil
	}
	// One fetch of a name at a time; other names resolve meanwhile.
	unlock := r.lock(name)
	defer unlock()
	r.mu.Lock()
	e, ok := r.cache[name]
	r.mu.Unlock()
	if ok && r.now().Sub(e.fetched) < r.ttl {
		return e.value, nil
	}
	start := r.now()
	v, err := r.fetch(ctx, arn)
	if err != nil {
		if ok {
			r.logger.Warn("secret refresh failed; serving the cached value", "setting", name, "err", err)
			return e.value, nil
		}
		return "", fmt.Errorf("resolve %s from %s: %w", name, name+Suffix, err)
	}
	r.mu.Lock()
	r.cache[name] = entry{value: v, fetched: r.now()}
	r.mu.Unlock()
	// Debug: resolution happens from init, outside any request (and so
	// without the request id every Info line of a function carries).
	r.logger.Debug("secret resolved", "setting", name, "duration_ms", r.now().Sub(start).Milliseconds())
	return v, nil
}

// Getenv is Get for callers that read settings with a getenv function
// (authorization.FromEnv, platform.Deps): a failed first fetch reads as "".
func (r *Resolver) Getenv(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	v, err := r.Get(ctx, name)
	if err != nil {
		r.logger.Error("secret unavailable", "setting", name, "err", err)
		return ""
	}
	return v
}

func (r *Resolver) fetch(ctx context.Context, arn string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	out, err := r.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("get secret value: %w", err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		return "", ErrEmpty
	}
	return *out.SecretString, nil
}
