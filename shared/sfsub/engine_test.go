package sfsub_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/sfsub"
)

// SALESFORCE_PUBSUB_KEEPALIVE, read by the embedded engine and by the
// sfsubscribe function alike.
func TestKeepaliveFromEnv(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
		err         string
	}{
		{name: "unset: the runner's default", value: "", want: 0},
		{name: "seconds", value: "2s", want: 2 * time.Second},
		{name: "Salesforce's maximum", value: "270s", want: 270 * time.Second},
		{name: "not a duration", value: "60", err: `SALESFORCE_PUBSUB_KEEPALIVE="60": a positive duration such as 60s`},
		{name: "zero", value: "0s", err: `SALESFORCE_PUBSUB_KEEPALIVE="0s": a positive duration`},
		{name: "negative", value: "-1s", err: `SALESFORCE_PUBSUB_KEEPALIVE="-1s": a positive duration`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sfsub.KeepaliveFromEnv(func(k string) string {
				if k == sfsub.EnvKeepalive {
					return tc.value
				}
				return ""
			})
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
