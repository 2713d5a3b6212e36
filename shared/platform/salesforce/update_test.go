package salesforce_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herokuevents/herokuevents/shared/config"
)

// TestUpdatePublication: event and org_name change, checked as at create.
func TestUpdatePublication(t *testing.T) {
	r := newRegistry(t, time.Now)
	current := config.Publication{ID: "p1", Name: "status", Platform: config.PlatformSalesforce,
		Params: config.Params{Event: "/event/Status__e", OrgName: "example-org"}}
	tests := []struct {
		body string
		want config.Params
		err  string
	}{
		{body: `{"event":"/event/Other__e"}`, want: config.Params{Event: "/event/Other__e", OrgName: "example-org"}},
		{body: `{"max_attempts":3}`, want: current.Params},
		{body: `{"event":"/data/AccountChangeEvent"}`, err: "is not a platform event topic"},
		{body: `{"org_name":"other-org"}`, err: "no such authorization"},
		{body: `{"token":"x"}`, err: "token"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			pub, _, err := r.UpdatePublication(t.Context(), tenant, current, []byte(tt.body))
			if tt.err != "" {
				require.ErrorIs(t, err, config.ErrInvalid)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, pub.Params)
		})
	}
	_, _, err := r.RotateSecret(t.Context(), tenant, current, time.Hour)
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Equal(t, "Publication status is a salesforce publication: it has no signing secret to rotate.", err.Error())
}
