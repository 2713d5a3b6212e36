package smsecret_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
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

func createSecret(t *testing.T, c *secretsmanager.Client, name, value string) string {
	t.Helper()
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

// Load fetches the secrets concurrently: a front holds each
// GetSecretValue until all of them are in flight (fetched one after the
// other, the first would wait for the others until the front gives up),
// and the values and the first failing name's error are as when fetched
// in order.
func TestLoadFetchesConcurrently(t *testing.T) {
	sm := secretsmanager.NewFromConfig(moto.Config())
	names := []string{"OPERATOR_PASSWORD", "SALESFORCE_CLIENT_SECRET", "HEROKU_SSO_SALT"}
	env := map[string]string{"PLAIN": "plain"}
	for _, n := range names {
		env[n+smsecret.Suffix] = createSecret(t, sm, "concurrent-"+n, "value of "+n)
	}
	target, err := url.Parse(moto.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var inFlight, most atomic.Int32
	all := make(chan struct{})
	var once sync.Once
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if n == int32(len(names)) {
			once.Do(func() { close(all) })
		}
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	cfg := moto.Config()
	cfg.BaseEndpoint = aws.String(front.URL)

	getenv, err := smsecret.Load(t.Context(), cfg, func(k string) string { return env[k] }, nil, append(names, "PLAIN")...)
	require.NoError(t, err)
	assert.EqualValues(t, len(names), most.Load(), "GetSecretValue calls in flight at once")
	for _, n := range names {
		assert.Equal(t, "value of "+n, getenv(n))
	}
	assert.Equal(t, "plain", getenv("PLAIN"))

	env["SALESFORCE_CLIENT_SECRET_ARN"] += "-gone"
	env["HEROKU_SSO_SALT_ARN"] += "-gone"
	_, err = smsecret.Load(t.Context(), moto.Config(), func(k string) string { return env[k] }, nil, names...)
	require.ErrorContains(t, err, "resolve SALESFORCE_CLIENT_SECRET from SALESFORCE_CLIENT_SECRET_ARN", "the first failing name's error")
}
