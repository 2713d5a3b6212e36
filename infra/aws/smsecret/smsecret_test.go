package smsecret_test

import (
	"context"
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
