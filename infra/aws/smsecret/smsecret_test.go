package smsecret_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/infra/aws/awstest"
	"github.com/herokuevents/herokuevents/infra/aws/smsecret"
)

var moto *awstest.Server

func TestMain(m *testing.M) { awstest.Main(m, &moto) }

// counting counts the GetSecretValue calls that reach moto.
type counting struct {
	*secretsmanager.Client
	calls atomic.Int32
}

func (c *counting) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	return c.Client.GetSecretValue(ctx, in, opts...)
}

// createSecret creates a secret named name plus a random suffix (moto
// lives as long as the test binary: a second -count must not collide) and
// returns its ARN.
func createSecret(t *testing.T, c *secretsmanager.Client, name, value string) string {
	t.Helper()
	name += "-" + rand.Text()[:8]
	out, err := c.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	require.NoError(t, err)
	return aws.ToString(out.ARN)
}

func TestResolver(t *testing.T) {
	sm := secretsmanager.NewFromConfig(moto.Config())
	arn := createSecret(t, sm, "resolver-operator", "s3cret-operator-password")
	env := map[string]string{
		"OPERATOR_PASSWORD_ARN": arn,
		"OPERATOR_PASSWORD":     "ignored when the ARN is set",
		"PLAIN":                 "plain value",
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	client := &counting{Client: sm}
	r := smsecret.New(client, func(k string) string { return env[k] }, smsecret.Options{TTL: time.Minute, Now: func() time.Time { return now }})

	t.Run("secret", func(t *testing.T) {
		v, err := r.Get(t.Context(), "OPERATOR_PASSWORD")
		require.NoError(t, err)
		assert.Equal(t, "s3cret-operator-password", v)
		assert.Equal(t, "s3cret-operator-password", r.Getenv("OPERATOR_PASSWORD"))
		assert.EqualValues(t, 1, client.calls.Load(), "cached within the TTL")
	})
	t.Run("plain variables pass through", func(t *testing.T) {
		assert.Equal(t, "plain value", r.Getenv("PLAIN"))
		assert.Empty(t, r.Getenv("UNSET"))
		assert.EqualValues(t, 1, client.calls.Load())
	})
	t.Run("rotation is seen after the TTL", func(t *testing.T) {
		_, err := sm.PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: aws.String(arn), SecretString: aws.String("rotated-password")})
		require.NoError(t, err)
		assert.Equal(t, "s3cret-operator-password", r.Getenv("OPERATOR_PASSWORD"))
		now = now.Add(time.Minute)
		assert.Equal(t, "rotated-password", r.Getenv("OPERATOR_PASSWORD"))
		assert.EqualValues(t, 2, client.calls.Load())
	})
	t.Run("an unreachable secret serves the last value", func(t *testing.T) {
		_, err := sm.DeleteSecret(t.Context(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)})
		require.NoError(t, err)
		now = now.Add(2 * time.Minute)
		v, err := r.Get(t.Context(), "OPERATOR_PASSWORD")
		require.NoError(t, err)
		assert.Equal(t, "rotated-password", v)
	})
}

func TestLoad(t *testing.T) {
	sm := secretsmanager.NewFromConfig(moto.Config())
	arn := createSecret(t, sm, "load-client-secret", "client-secret-value")
	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"resolved", map[string]string{"SALESFORCE_CLIENT_SECRET_ARN": arn}, "client-secret-value", ""},
		{"no ARN reads the variable", map[string]string{"SALESFORCE_CLIENT_SECRET": "from env"}, "from env", ""},
		{"none", map[string]string{}, "", ""},
		{"missing secret fails the init", map[string]string{"SALESFORCE_CLIENT_SECRET_ARN": arn + "-gone"}, "",
			"resolve SALESFORCE_CLIENT_SECRET from SALESFORCE_CLIENT_SECRET_ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv, err := smsecret.Load(t.Context(), moto.Config(), func(k string) string { return tt.env[k] }, nil, "SALESFORCE_CLIENT_SECRET")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, getenv("SALESFORCE_CLIENT_SECRET"))
		})
	}
}

// front is a proxy to moto that counts the Secrets Manager operations it
// passes (X-Amz-Target), refuses BatchGetSecretValue when refuseBatch,
// and holds each GetSecretValue until holdFor (> 0) of them are in flight
// (or 5 s passed), noting the most in flight at once.
type front struct {
	*httptest.Server
	refuseBatch bool
	holdFor     int32

	gate     chan struct{} // when set, every request waits for it to close
	mu       sync.Mutex
	ops      map[string]int
	inFlight atomic.Int32
	most     atomic.Int32
	all      chan struct{}
	once     sync.Once
}

func newFront(t *testing.T, refuseBatch bool, holdFor int) *front {
	target, err := url.Parse(moto.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &front{refuseBatch: refuseBatch, holdFor: int32(holdFor), ops: map[string]int{}, all: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
		f.mu.Lock()
		f.ops[op]++
		gate := f.gate
		f.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if op == "BatchGetSecretValue" && f.refuseBatch {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"AccessDeniedException","message":"not authorized to perform: secretsmanager:BatchGetSecretValue"}`)
			return
		}
		if op == "GetSecretValue" && f.holdFor > 0 {
			n := f.inFlight.Add(1)
			defer f.inFlight.Add(-1)
			for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
			}
			if n == f.holdFor {
				f.once.Do(func() { close(f.all) })
			}
			select {
			case <-f.all:
			case <-time.After(5 * time.Second):
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *front) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ops[op]
}

func (f *front) config() aws.Config {
	cfg := moto.Config()
	cfg.BaseEndpoint = aws.String(f.URL)
	return cfg
}

// Load reads a function's secrets in one BatchGetSecretValue request;
// when that is refused (the permission missing) it reads them one by one,
// concurrently; either way the values, and the first failing name's
// error, are as when fetched in order.
func TestLoadReadsSecretsInOneRequest(t *testing.T) {
	sm := secretsmanager.NewFromConfig(moto.Config())
	names := []string{"OPERATOR_PASSWORD", "SALESFORCE_CLIENT_SECRET", "HEROKU_SSO_SALT"}
	env := map[string]string{"PLAIN": "plain"}
	for _, n := range names {
		env[n+smsecret.Suffix] = createSecret(t, sm, "batch-"+n, "value of "+n)
	}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name              string
		refuseBatch       bool
		batches, singles  int
		concurrentSingles int32
	}{
		{"batch", false, 1, 0, 0},
		{"batch refused", true, 1, len(names), int32(len(names))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFront(t, tc.refuseBatch, len(names))
			got, err := smsecret.Load(t.Context(), f.config(), getenv, nil, append(names, "PLAIN")...)
			require.NoError(t, err)
			for _, n := range names {
				assert.Equal(t, "value of "+n, got(n))
			}
			assert.Equal(t, "plain", got("PLAIN"))
			assert.Equal(t, tc.batches, f.count("BatchGetSecretValue"))
			assert.Equal(t, tc.singles, f.count("GetSecretValue"))
			assert.Equal(t, tc.concurrentSingles, f.most.Load(), "GetSecretValue calls in flight at once")
		})
	}

	t.Run("one secret is read alone", func(t *testing.T) {
		f := newFront(t, false, 1)
		got, err := smsecret.Load(t.Context(), f.config(), getenv, nil, "HEROKU_SSO_SALT", "PLAIN")
		require.NoError(t, err)
		assert.Equal(t, "value of HEROKU_SSO_SALT", got("HEROKU_SSO_SALT"))
		assert.Equal(t, 0, f.count("BatchGetSecretValue"))
		assert.Equal(t, 1, f.count("GetSecretValue"))
	})

	t.Run("missing secrets", func(t *testing.T) {
		gone := maps.Clone(env)
		gone["SALESFORCE_CLIENT_SECRET_ARN"] += "-gone"
		gone["HEROKU_SSO_SALT_ARN"] += "-gone"
		f := newFront(t, false, 2)
		_, err := smsecret.Load(t.Context(), f.config(), func(k string) string { return gone[k] }, nil, names...)
		require.ErrorContains(t, err, "resolve SALESFORCE_CLIENT_SECRET from SALESFORCE_CLIENT_SECRET_ARN", "the first failing name's error")
		assert.Equal(t, 1, f.count("BatchGetSecretValue"))
		assert.Equal(t, 2, f.count("GetSecretValue"), "what the batch did not return is read alone")
	})
}

// Prefetch returns before Secrets Manager answers: a variable reads at
// once meanwhile, a secret waits for the fetch and is not fetched again.
// A secret that cannot be fetched is logged by name (never a value),
// reads "", and is fetched again by the next read that needs it.
func TestPrefetch(t *testing.T) {
	sm := secretsmanager.NewFromConfig(moto.Config())
	arn := createSecret(t, sm, "prefetch-password", "operator-password-value")
	t.Run("waits only for secrets", func(t *testing.T) {
		f := newFront(t, false, 0)
		f.gate = make(chan struct{})
		env := map[string]string{"OPERATOR_PASSWORD_ARN": arn, "PUBLIC_URL": "https://api.example.com"}
		getenv := smsecret.Prefetch(t.Context(), f.config(), func(k string) string { return env[k] }, nil, "OPERATOR_PASSWORD", "SALESFORCE_CLIENT_SECRET")
		assert.True(t, smsecret.Configured(getenv, "OPERATOR_PASSWORD"))
		assert.False(t, smsecret.Configured(getenv, "SALESFORCE_CLIENT_SECRET"))
		assert.Equal(t, "https://api.example.com", getenv("PUBLIC_URL"), "a variable waits for no fetch")
		// Prefetch returned, and the variable read, while Secrets Manager
		// holds every request: the read below, started meanwhile, has the
		// value once it answers, fetched once, so it waited for the fetch.
		got := make(chan string, 1)
		go func() { got <- getenv("OPERATOR_PASSWORD") }()
		close(f.gate)
		assert.Equal(t, "operator-password-value", <-got)
		assert.Equal(t, "operator-password-value", getenv("OPERATOR_PASSWORD"))
		assert.Equal(t, 1, f.count("GetSecretValue"), "fetched once")
	})
	t.Run("a missing secret is logged and fetched again", func(t *testing.T) {
		f := newFront(t, false, 0)
		var logs strings.Builder
		var mu sync.Mutex
		logger := slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
		env := map[string]string{"OPERATOR_PASSWORD_ARN": arn + "-gone"}
		getenv := smsecret.Prefetch(t.Context(), f.config(), func(k string) string { return env[k] }, logger, "OPERATOR_PASSWORD")
		assert.Equal(t, "", getenv("OPERATOR_PASSWORD"))
		assert.Equal(t, "", getenv("OPERATOR_PASSWORD"))
		assert.Equal(t, 3, f.count("GetSecretValue"), "the prefetch, then each read")
		mu.Lock()
		defer mu.Unlock()
		assert.Contains(t, logs.String(), `"msg":"secret prefetch failed; the reads that need it fetch it again"`)
		assert.Contains(t, logs.String(), "resolve OPERATOR_PASSWORD from OPERATOR_PASSWORD_ARN")
		assert.Equal(t, 3, strings.Count(logs.String(), `"level":"ERROR"`))
		assert.NotContains(t, logs.String(), "operator-password-value")
	})
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
