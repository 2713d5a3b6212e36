package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOrderedPublication: publications:<platform>:create sends the
// ordering flags, and publications:info shows the key, what a failure
// does and the blocked lanes with their head's event id.
func TestOrderedPublication(t *testing.T) {
	const created = `{"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/hook"},"sources":[]}`
	tests := []struct {
		name, body string
		args       []string
	}{
		{"default key", `{"name":"hook","url":"https://example.com/hook","ordered":true}`, []string{"--ordered"}},
		{"expression, block", `{"name":"hook","url":"https://example.com/hook","ordered_by":"this.order.id","on_failure":"block"}`,
			[]string{"--ordered-by", "this.order.id", "--on-failure", "block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]reply{"POST /v1/tenants/t-123/platforms/webhook/publications": {201, created}})
			r := run(t, nil, append([]string{"publications:webhook:create", "hook", "-u", "https://example.com/hook", "-a", testApp, "--api-url", api.url()}, tt.args...)...)
			require.NoError(t, r.err)
			reqs := api.requests()
			require.Len(t, reqs, 1)
			assert.JSONEq(t, tt.body, reqs[0].Body)
		})
	}

	api := newFakeAPI(t, map[string]reply{"GET /v1/tenants/t-123/publications/hook": {200, `{
		"id":"p1","name":"hook","platform":"webhook","params":{"url":"https://example.com/hook"},"sources":[],
		"order":{"by":"this.order.id","on_failure":"block","blocked":[{"key":"A-1","event_id":"e-7","since":"2026-01-02T03:04:05Z"}]}}`}})
	r := run(t, nil, "publications:info", "hook", "-a", testApp, "--api-url", api.url())
	require.NoError(t, r.err)
	assert.Equal(t, ""+
		"Blocked:    key A-1 at event e-7 since 2026-01-02T03:04:05Z\n"+
		"Id:         p1\n"+
		"Name:       hook\n"+
		"On Failure: block\n"+
		"Ordered By: this.order.id\n"+
		"Platform:   webhook\n"+
		"Url:        https://example.com/hook\n", r.stdout)
}
